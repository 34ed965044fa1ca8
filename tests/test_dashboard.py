import asyncio
import json
import logging
import threading
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.modules.registry import Registry
from odoo.tests import HttpCase, get_db_name, new_test_user, tagged

from ..hass.connection import HAConnection
from ..hass.rest import HARestClient
from .cdp_browser import Chromium
from .common import HaTestCommon, _running_ha_server
from .front_router import FrontRouter
from .odoo_server import OdooServer
from .test_frontend_js import _BrowserLog

_logger = logging.getLogger(__name__)

LIVE_TIMEOUT_S = 30.0

# On the live dashboard: wait until it shows the light in its area's tab, say so, then wait for
# what the test does in Home Assistant to show: the area renamed, then the outage.
REGISTRY_AND_OUTAGE_JS = """
(async () => {
    const tabs = () => [...document.querySelectorAll(".o_ha_area_tab")].map((t) => t.textContent);
    const waitFor = async (what, predicate) => {
        const deadline = Date.now() + 60000;
        while (!predicate()) {
            if (Date.now() > deadline) {
                throw new Error(`The open dashboard never showed ${what}; tabs: ${tabs()}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    };
    const badge = () => document.querySelector(".o_ha_status")?.dataset.status;
    await waitFor("the connection", () => badge() === "connected");
    await waitFor("the light in the Living Room tab", () =>
        tabs().some((tab) => tab.includes("Living Room"))
    );
    console.log("%(ready)s");
    await waitFor("the area renamed", () => tabs().some((tab) => tab.includes("Lounge")));
    console.log("%(renamed)s");
    await waitFor("the outage", () => badge() && badge() !== "connected");
    console.log("test successful");
})()
"""
# In a second browser on the dashboard: search the light, wait for its card, then record when
# the card shows the new name and the Kitchen tab counts one more entity.
SECOND_PAGE_WATCH_JS = """
new Promise((resolve, reject) => {
    const kitchen = () => {
        const tab = [...document.querySelectorAll(".o_ha_area_tab")].find((el) =>
            el.textContent.includes("Kitchen")
        );
        return tab ? parseInt(tab.querySelector(".badge").textContent) : 0;
    };
    const card = () => document.querySelector(".o_ha_entity_card[data-entity-id='%(light)s']");
    const deadline = Date.now() + 60000;
    // Search the light by its id: renamed, it would sort out of the first page of cards.
    const search = document.querySelector(".o_ha_search");
    search.value = "%(light)s";
    search.dispatchEvent(new Event("input", { bubbles: true }));
    const ready = () => {
        if (!card()) {
            const late = Date.now() > deadline;
            return late ? reject(new Error("no light card")) : setTimeout(ready, 50);
        }
        const before = kitchen();
        const watch = () => {
            const name = card()?.querySelector(".o_ha_entity_name").textContent || "";
            if (name.includes("Reading lamp") && kitchen() === before + 1) {
                window.__haFollowedAt = Date.now();
                return;
            }
            requestAnimationFrame(watch);
        };
        watch();
        resolve(before);
    };
    ready();
})
"""
LIVE_READY = "odoo_ha_addon: live page ready"
LIVE_RENAMED = "odoo_ha_addon: area rename shown"
PORTAL_TOGGLED = "odoo_ha_addon: portal toggled"

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


def _committed(dbname, function):
    with Registry(dbname).cursor() as cr:
        result = function(api.Environment(cr, SUPERUSER_ID, {"active_test": False}))
        # Committed on purpose: the live server and its connector see committed data only.
        cr.commit()
        return result


def _committed_now(dbname, function):
    """``_committed`` while a test runs: the registry then hands out the test's own cursor,
    whose commits the live server never sees, so this one opens a connection of its own."""
    with sql_db.db_connect(dbname).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        result = function(env)
        env.flush_all()
        cr.commit()
        return result


def _tour_share(env, instance_id):
    """A portal user ("tour_tenant") who may control light.bed_light; the share's id."""
    user = new_test_user(env, login="tour_tenant", groups="base.group_portal")
    light = env["ha.entity"].search(
        [("instance_id", "=", instance_id), ("entity_id", "=", "light.bed_light")]
    )
    share = env["ha.entity.share"].create(
        {"entity_id": light.id, "user_id": user.id, "permission": "control"}
    )
    return share.id


def _forget_tour_share(env, share_id):
    share = env["ha.entity.share"].with_context(active_test=False).browse(share_id).exists()
    user = share.user_id
    share.unlink()
    user.unlink()


def _page_shows(browser, selector):
    """Whether the page of ``browser`` (a cdp_browser.Chromium) has ``selector``; False while
    it is still navigating."""
    try:
        return browser.evaluate(f"document.querySelector({json.dumps(selector)}) !== null")
    except RuntimeError:
        return False


def _page_url(browser):
    try:
        return browser.evaluate("location.href")
    except RuntimeError as error:
        return str(error)


@tagged("post_install", "-at_install")
class TestLiveDashboard(HttpCase):
    """The dashboard in a browser, served by a real Odoo server (``OdooServer``) that holds
    the connection to the real Home Assistant: clicks reach HA, HA's changes reach the page
    through the bus."""

    WORKERS = 0

    @classmethod
    def setUpClass(cls):
        cls.ha = _running_ha_server()
        # Also stopped right away if this setup fails (then the cleanups below never register).
        cls.addClassCleanup(cls.ha.stop)
        cls.rest = HARestClient(cls.ha.url, cls.ha.token)
        cls.addClassCleanup(cls.rest.close)
        for light in ("light.bed_light", "light.ceiling_lights"):
            cls.rest.call_service("light", "turn_on", {"entity_id": light})
        dbname = get_db_name()
        values = {"name": "Tour home", "url": cls.ha.url, "token": cls.ha.token}
        cls.instance_id = _committed(dbname, lambda env: env["ha.instance"].create(values).id)
        cls.addClassCleanup(
            _committed,
            dbname,
            lambda env: env["ha.instance"].browse(cls.instance_id).exists().unlink(),
        )
        cls.server = OdooServer(dbname, workers=cls.WORKERS)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls.front_url = cls.server.url
        if cls.WORKERS:
            # The browser reaches the workers and the gevent process through one address.
            router = FrontRouter(cls.server.http_port, cls.server.gevent_port).start()
            cls.addClassCleanup(router.stop)
            cls.front_url = router.url
        cls._wait_for(
            lambda: _committed(
                dbname,
                lambda env: (
                    env["ha.entity"].search_count(
                        [
                            ("instance_id", "=", cls.instance_id),
                            ("entity_id", "in", ("light.bed_light", "light.ceiling_lights")),
                            ("state", "=", "on"),
                        ]
                    )
                    == 2
                ),
            ),
            "the live server never mirrored the lights",
        )
        # A portal user for the shares' tour: committed, as the live server must see it.
        cls.tour_share_id = _committed(dbname, lambda env: _tour_share(env, cls.instance_id))
        cls.addClassCleanup(
            _committed, dbname, lambda env: _forget_tour_share(env, cls.tour_share_id)
        )
        super().setUpClass()
        # Last in, first out: the Odoo server and Home Assistant stop before Odoo's own
        # check for child processes still running.
        cls.addClassCleanup(cls.ha.stop)
        cls.addClassCleanup(cls.server.stop)

    @classmethod
    def base_url(cls):
        return cls.front_url

    @classmethod
    def _wait_for(cls, predicate, message):
        cls.server.wait_for(predicate, message, LIVE_TIMEOUT_S)

    def test_dashboard_controls_home_assistant_and_follows_it_live(self):
        self.start_tour(
            "/odoo/action-odoo_ha_addon.ha_dashboard_action?debug=tests",
            "odoo_ha_addon_live_dashboard",
            login="admin",
            timeout=120,
        )
        self._wait_for(
            lambda: self.rest.get_state("light.bed_light")["state"] == "off",
            "the click on the card never turned the light off in Home Assistant",
        )
        self.assertEqual(self.rest.get_state("light.ceiling_lights")["state"], "off")
        errors = [line for line in self.server.log_tail().splitlines() if " ERROR " in line]
        self.assertEqual(errors, [], "the live server logged errors")

    def _registry_call(self, message_type, **payload):
        async def call():
            connection = await HAConnection.connect(
                self.ha.url, self.ha.token, ping_interval_s=None, coalesce_messages=False
            )
            try:
                return await connection.call(message_type, **payload)
            finally:
                await connection.close()

        return asyncio.run(call())

    def test_registry_changes_and_an_outage_reach_the_open_page(self):
        areas = self._registry_call("config/area_registry/list")
        living = next(
            (area for area in areas if area["name"] == "Living Room"), None
        ) or self._registry_call("config/area_registry/create", name="Living Room")
        self.addCleanup(
            self._registry_call,
            "config/area_registry/update",
            area_id=living["area_id"],
            name="Living Room",
        )
        self.addCleanup(
            self._registry_call,
            "config/entity_registry/update",
            entity_id="light.ceiling_lights",
            area_id=None,
        )
        errors = []

        def act_in_home_assistant(message):
            try:
                if message == LIVE_READY:
                    self._registry_call(
                        "config/area_registry/update", area_id=living["area_id"], name="Lounge"
                    )
                elif message == LIVE_RENAMED:
                    self.ha.stop()
            except Exception as error:  # noqa: BLE001 - reported by the test's main thread
                errors.append(error)

        # The light moves into the area while the page is already open.
        mover = threading.Timer(
            3.0,
            self._registry_call,
            args=("config/entity_registry/update",),
            kwargs={"entity_id": "light.ceiling_lights", "area_id": living["area_id"]},
        )
        mover.start()
        self.addCleanup(mover.cancel)
        # The next test class gets Home Assistant back.
        self.addCleanup(self.ha.start)
        watcher = _BrowserLog(
            lambda message: (
                threading.Thread(target=act_in_home_assistant, args=(message,)).start()
                if message in (LIVE_READY, LIVE_RENAMED)
                else None
            )
        )
        with watcher.attached(self):
            self.browser_js(
                "/odoo/action-odoo_ha_addon.ha_dashboard_action",
                REGISTRY_AND_OUTAGE_JS % {"ready": LIVE_READY, "renamed": LIVE_RENAMED},
                "odoo.isReady === true",
                login="admin",
                timeout=120,
            )
        self.assertFalse(errors)

    def test_manager_edits_an_entity_from_the_dashboard_and_another_tab_follows(self):
        light = "light.ceiling_lights"
        self.addCleanup(
            self._registry_call, "config/entity_registry/update", entity_id=light, name=None
        )
        self.addCleanup(
            self._registry_call, "config/entity_registry/update", entity_id=light, area_id=None
        )
        # The second tab: another browser on the dashboard, watched over DevTools, with a
        # session of its own (the live server shares this test case's session store). The
        # tour's login would delete this test case's current session: it is let go first.
        session = self.authenticate("admin", "admin")
        self.session = None
        second = Chromium()
        self.addCleanup(second.close)
        second.open(f"{self.server.url}/odoo/action-odoo_ha_addon.ha_dashboard_action", session.sid)
        self._wait_for(
            lambda: _page_shows(second, f".o_ha_entity_card[data-entity-id='{light}']"),
            f"the second page never showed the dashboard; it is at {_page_url(second)}",
        )
        second.evaluate(SECOND_PAGE_WATCH_JS % {"light": light})
        saved = []
        watcher = _BrowserLog(
            lambda message: (
                saved.append(int(message.rsplit(" ", 1)[1]))
                if message.startswith("odoo_ha_addon: saved at")
                else None
            )
        )
        with watcher.attached(self):
            self.start_tour(
                "/odoo/action-odoo_ha_addon.ha_dashboard_action?debug=tests",
                "odoo_ha_addon_registry_edit",
                login="admin",
                timeout=120,
            )
        entry = next(
            e for e in self._registry_call("config/entity_registry/list") if e["entity_id"] == light
        )
        self.assertEqual((entry["name"], entry["area_id"]), ("Reading lamp", "kitchen"))
        try:
            self._wait_for(
                lambda: second.evaluate("window.__haFollowedAt || null"),
                "the second page never showed the new name and area",
            )
        except AssertionError:
            shown = second.evaluate(
                f"[document.querySelector(\".o_ha_entity_card[data-entity-id='{light}']\")"
                "?.textContent, [...document.querySelectorAll('.o_ha_area_tab')]"
                ".map((t) => t.textContent.trim())]"
            )
            raise AssertionError(f"the second page shows {shown}") from None
        followed_ms = second.evaluate("window.__haFollowedAt") - saved[0]
        _logger.info("the second page showed the edit %d ms after the save click", followed_ms)

    def test_a_portal_user_operates_a_shared_light_until_the_share_expires(self):
        share_id = self.tour_share_id
        self.addCleanup(
            self.rest.call_service, "light", "turn_on", {"entity_id": "light.bed_light"}
        )
        expiries = []

        def expire_soon(message):
            if message != PORTAL_TOGGLED:
                return
            # Nothing is written at the expiry itself: the open page follows the share's end.
            expiry = fields.Datetime.now() + timedelta(seconds=3)
            expiries.append(expiry)
            _committed_now(
                get_db_name(),
                lambda env: env["ha.entity.share"].browse(share_id).write({"date_end": expiry}),
            )

        with _BrowserLog(expire_soon).attached(self):
            self.start_tour(
                "/my/ha?debug=tests", "odoo_ha_addon_portal_share", login="tour_tenant", timeout=120
            )
        self.assertEqual(len(expiries), 1, "the tour never reported the toggle")
        self.assertEqual(self.rest.get_state("light.bed_light")["state"], "off")
        self.assertGreaterEqual(fields.Datetime.now(), expiries[0])
        errors = [line for line in self.server.log_tail().splitlines() if " ERROR " in line]
        self.assertEqual(errors, [], "the live server logged errors")


@tagged("post_install", "-at_install")
class TestLiveDashboardPrefork(TestLiveDashboard):
    """The same dashboard on Odoo as production runs it: prefork HTTP workers, the gevent
    process alone serving ``/websocket``, both behind one address as behind the proxy (the
    sockets there are dispatched in batches, ``bus_batch.py``)."""

    WORKERS = 2

    def test_dashboard_controls_home_assistant_and_follows_it_live(self):
        super().test_dashboard_controls_home_assistant_and_follows_it_live()
