from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import HaTestCommon

CLICKBOT_JS = (
    "odoo.loader.modules.get('@web/webclient/clickbot/clickbot_loader')"
    ".startClickEverywhere('odoo_ha_addon.ha_root_menu');"
)


@tagged("post_install", "-at_install")
class TestWebClient(HttpCase, HaTestCommon):
    allow_end_on_form = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ha.entity.history"].create(
            [
                {"entity_id": cls.light_kitchen.id, "state": state, "last_updated": when}
                for state, when in (
                    ("on", fields.Datetime.now()),
                    ("off", fields.Datetime.subtract(fields.Datetime.now(), hours=1)),
                )
            ]
        )

    def test_dashboard_lists_accessible_instances(self):
        self.start_tour(
            "/odoo/action-odoo_ha_addon.ha_dashboard_action",
            "odoo_ha_addon_dashboard",
            login="ha_test_member",
        )

    def _click_everywhere(self, login):
        # Opens every menu of the app, every view of each action and every filter: a view
        # the web client cannot render fails here.
        self.browser_js(
            "/odoo",
            CLICKBOT_JS,
            "odoo.isReady === true",
            login=login,
            timeout=300,
            success_signal="clickbot test succeeded",
        )

    def test_every_menu_renders_for_a_manager(self):
        self._click_everywhere("ha_test_manager")

    def test_every_menu_renders_for_a_user(self):
        self._click_everywhere("ha_test_member")
