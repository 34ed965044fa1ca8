from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged

from .common import HaTestCommon


@tagged("post_install", "-at_install")
class TestHistoryAction(HttpCase, HaTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        now = fields.Datetime.now()
        cls.env["ha.entity.history"].create(
            [
                {
                    "entity_id": cls.sensor_outside.id,
                    "state": state,
                    "last_updated": now - timedelta(minutes=minutes),
                }
                for state, minutes in (("11.5", 150), ("12", 90), ("12.5", 30), ("13", 5))
            ]
            + [
                {
                    "entity_id": cls.light_kitchen.id,
                    "state": state,
                    "last_updated": now - timedelta(minutes=minutes),
                }
                for state, minutes in (("off", 120), ("on", 60))
            ]
        )

    def test_entity_form_opens_its_history(self):
        action = self.sensor_outside.action_open_history()
        self.assertEqual(action["type"], "ir.actions.client")
        self.assertEqual(action["tag"], "odoo_ha_addon.history")
        self.assertEqual(
            action["params"],
            {"entity_ids": ["sensor.outside_temperature"], "ha_instance_id": self.instance.id},
        )

    def test_history_charts_numbers_and_states(self):
        self.start_tour(
            "/odoo/action-odoo_ha_addon.ha_history_action",
            "odoo_ha_addon_history",
            login="ha_test_manager",
        )
