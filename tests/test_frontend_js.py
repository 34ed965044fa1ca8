import json
import logging
import re
import threading
import time
from contextlib import contextmanager

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import HttpCase, no_retry, tagged

from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.tests.common import WebsocketCase

from ..controllers import instance_resolver
from ..models import ha_realtime_update as realtime
from ..models.ha_realtime_update import scope_channel
from ..policy.services import ENTITY_SERVICES, allowed_calls
from .common import HaTestCommon

# The hoot suite of this addon: test modules named "@odoo_ha_addon/...".
HOOT_SUITE = "@odoo_ha_addon"
HOOT_SUCCESS = "[HOOT] Test suite succeeded"
# Hoot's summary line, logged whether tests ran or not: "Passed 12 tests (40 assertions, ...".
HOOT_SUMMARY_RE = re.compile(r"Passed (\d+) tests")
# An id that selects nothing makes hoot run EVERY suite of the database (thousands of tests,
# minutes). The test code below is a promise that browser_js awaits: it rejects, which fails
# the test at once, at the first test outside our suite, and resolves when the run ends.
GUARD_JS = """
new Promise((resolve, reject) => {
    const runner = odoo.loader.modules.get("@odoo/hoot").__debug__;
    if (runner.state.status === "done") {
        return resolve();
    }
    runner.afterPostTest((test) => {
        if (!test.fullName.startsWith(%(prefix)s)) {
            reject(new Error(`The filter selected a test outside %(suite)s: ${test.fullName}`));
        }
    });
    runner.afterAll(() => resolve());
})
"""


def hoot_job_id(name):
    """The id hoot gives a suite or test: a 32-bit hash of its full name (see hoot's
    ``generateHash`` and web's ``HOOTCommon._generate_hash``)."""
    value = 0
    for char in name:
        value = ((value << 5) - value + ord(char)) & 0xFFFFFFFF
    return f"{value:08x}"


def hoot_error_checker(message):
    # Hoot reports each failed test with its "[HOOT]" prefix and lets the suite go on; the
    # run ends with an unprefixed error, which (like any other browser error) stops it.
    return "[HOOT]" not in message


class _BrowserLog(logging.Handler):
    """Keeps the browser console messages of a browser_js run; ``on_message`` (optional) is
    called with each of them, in the thread that receives them from Chromium."""

    def __init__(self, on_message=None):
        super().__init__()
        self.messages = []
        self.on_message = on_message

    def emit(self, record):
        message = record.getMessage()
        self.messages.append(message)
        if self.on_message:
            self.on_message(message)

    @contextmanager
    def attached(self, test_case):
        logger = test_case._logger.getChild("browser")
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)


@tagged("post_install", "-at_install")
class TestFrontendJs(HttpCase):
    """Runs the addon's hoot unit tests (static/tests/*.test.js) in headless Chromium."""

    def test_hoot_job_id_matches_web(self):
        self.assertEqual(hoot_job_id("@web/core"), "e39ce9ba")

    @no_retry
    def test_unit_tests(self):
        with _BrowserLog().attached(self) as collected:
            self.browser_js(
                "/web/tests?headless&loglevel=2&preset=desktop&timeout=15000"
                f"&id={hoot_job_id(HOOT_SUITE)}",
                GUARD_JS % {"prefix": json.dumps(f"{HOOT_SUITE}/"), "suite": HOOT_SUITE},
                "odoo.loader.modules.has('@odoo/hoot')",
                login="admin",
                timeout=600,
                success_signal=HOOT_SUCCESS,
                error_checker=hoot_error_checker,
            )
        counts = [
            int(match.group(1))
            for match in map(HOOT_SUMMARY_RE.search, collected.messages)
            if match
        ]
        self.assertTrue(counts, "hoot printed no summary")
        self.assertGreater(counts[-1], 0, f"no hoot test matched {HOOT_SUITE}")


# Loads the current instance through ha_data in the real web client, says so, then waits for
# the entity change the test sends over the bus.
BRIDGE_JS = """
(async () => {
    const haData = odoo.__WOWL_DEBUG__.root.env.services.ha_data;
    if (!(await haData.load()) || haData.state.entities["light.kitchen"]?.state !== "on") {
        const error = JSON.stringify(haData.state.error);
        throw new Error(`ha_data did not load the kitchen light: ${error}`);
    }
    console.log("%(loaded)s");
    const deadline = Date.now() + 20000;
    while (haData.state.entities["light.kitchen"].state !== "off") {
        if (Date.now() > deadline) {
            throw new Error("The entity change sent on the bus never reached ha_data");
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log("test successful");
})()
"""
BRIDGE_LOADED = "odoo_ha_addon: entities loaded"
# On the dashboard as rendered: the kitchen light's card is shown, then leaves the page when
# the test withdraws it from the user (the outside sensor, granted by another group, stays).
WITHDRAW_JS = """
(async () => {
    const card = (id) => document.querySelector(`.o_ha_entity_card[data-entity-id='${id}']`);
    const waitFor = async (what, predicate) => {
        const deadline = Date.now() + 20000;
        while (!predicate()) {
            if (Date.now() > deadline) {
                throw new Error(`The dashboard never showed: ${what}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    };
    await waitFor("both cards", () => card("light.kitchen") && card("sensor.outside_temperature"));
    console.log("%(loaded)s");
    await waitFor("the withdrawn card gone", () => !card("light.kitchen"));
    if (!card("sensor.outside_temperature")) {
        throw new Error("The card of an entity still granted left the page too");
    }
    console.log("test successful");
})()
"""
SUBSCRIBE_TIMEOUT_S = 30


@tagged("post_install", "-at_install")
class TestBusBridgeInBrowser(WebsocketCase, HaTestCommon):
    """In the real web client, a notification on a scope's bus channel reaches ha_data
    through the browser's websocket and HaBusBridge (WebsocketCase lets the test server accept
    the browser's websocket)."""

    def _send_change_when_subscribed(self, errors):
        channel = self._kitchen_channel
        try:
            deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
            while not dispatch._channels_to_ws.get(channel):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        "the browser never subscribed to its entity group's channel"
                    )
                time.sleep(0.05)
            # The test cursor of HttpCase, as the server's request threads use it.
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["ha.realtime.update"]._notify_entity_changes(
                    env["ha.instance"].browse(self.instance.id),
                    {
                        "light.kitchen": {
                            "id": self.light_kitchen.id,
                            "state": "off",
                            "attributes": {"friendly_name": "Kitchen light"},
                            "last_changed": "2024-03-01T12:00:00+00:00",
                            "last_updated": "2024-03-01T12:00:00+00:00",
                        }
                    },
                )
            # The bus is told of new rows by a NOTIFY after commit, which tests never do.
            for websocket in list(dispatch._channels_to_ws.get(channel, ())):
                websocket.trigger_notification_dispatching()
        except Exception as error:  # noqa: BLE001 - reported by the test's main thread
            errors.append(error)

    def _withdraw_when_subscribed(self, errors):
        channel = self._kitchen_channel
        try:
            deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
            while not dispatch._channels_to_ws.get(channel):
                if time.monotonic() > deadline:
                    raise AssertionError("the browser never subscribed to its group's channel")
                time.sleep(0.05)
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["ha.entity.group"].browse(self.group_kitchen.id).write(
                    {"user_ids": [Command.unlink(self.user_member.id)]}
                )
            for websocket in list(dispatch._channels_to_ws.get(channel, ())):
                websocket.trigger_notification_dispatching()
        except Exception as error:  # noqa: BLE001 - reported by the test's main thread
            errors.append(error)

    @no_retry
    def test_a_withdrawn_entity_leaves_the_open_dashboard(self):
        self.env["ha.entity.group"].create(
            {
                "name": "Outside",
                "instance_id": self.instance.id,
                "entity_ids": [Command.link(self.sensor_outside.id)],
                "user_ids": [Command.link(self.user_member.id)],
            }
        )
        self._run_when_loaded(
            self._withdraw_when_subscribed,
            "/odoo/action-odoo_ha_addon.ha_dashboard_action",
            WITHDRAW_JS % {"loaded": BRIDGE_LOADED},
        )

    @no_retry
    def test_entity_change_reaches_ha_data(self):
        self._run_when_loaded(
            self._send_change_when_subscribed, "/odoo", BRIDGE_JS % {"loaded": BRIDGE_LOADED}
        )

    def _run_when_loaded(self, action, url, code):
        """Run ``code`` in the member's browser at ``url``; ``action(errors)`` runs on a thread
        of its own once the page logs BRIDGE_LOADED, and must leave ``errors`` empty."""
        # The member's scope: the entity group that grants light.kitchen. Read here: the
        # test's cursor is not for the worker thread, the server's requests use it.
        self._kitchen_channel = hashable(
            channel_with_db(self.registry.db_name, scope_channel(self.group_kitchen))
        )
        errors = []
        worker = threading.Thread(target=action, args=(errors,))

        def on_message(message):
            if message == BRIDGE_LOADED:
                worker.start()

        with _BrowserLog(on_message).attached(self):
            self.browser_js(url, code, "odoo.isReady === true", login="ha_test_member", timeout=60)
        worker.join(SUBSCRIBE_TIMEOUT_S)
        self.assertFalse(errors)


# Every service call the web client's control table can make, as
# "domain.service key1,key2" lines: each action tried with values of every control kind.
CONTROL_CALLS_JS = """
(async () => {
    const { DOMAIN_CONTROLS } = odoo.loader.modules.get("@odoo_ha_addon/controls/domain_controls");
    const samples = [undefined, true, false, 0, 50, 100, "#ff8800", "auto"];
    const calls = new Set();
    for (const [domain, spec] of Object.entries(DOMAIN_CONTROLS)) {
        for (const action of Object.values(spec.actions || {})) {
            for (const value of samples) {
                const entity = { entity_id: `${domain}.x`, domain, state: "on", attributes: {} };
                let service, data;
                try {
                    service = typeof action.service === "function"
                        ? action.service(entity, value) : action.service;
                    data = action.data ? action.data(entity, value) : {};
                } catch {
                    continue;
                }
                calls.add(`${domain}.${service} ${Object.keys(data).sort().join(",")}`);
            }
        }
    }
    console.log("%(prefix)s" + JSON.stringify([...calls].sort()));
    console.log("test successful");
})()
"""
CONTROL_CALLS_PREFIX = "odoo_ha_addon control calls: "


@tagged("post_install", "-at_install")
class TestControlTableMatchesServicePolicy(HttpCase):
    """The services a user who is not a manager may call (policy/services.py) are exactly
    those the web client's controls call, with the data fields they send."""

    def test_controls_and_policy_agree(self):
        with _BrowserLog().attached(self) as collected:
            self.browser_js(
                "/odoo",
                CONTROL_CALLS_JS % {"prefix": CONTROL_CALLS_PREFIX},
                "odoo.isReady === true",
                login="admin",
                timeout=60,
            )
        (line,) = [m for m in collected.messages if m.startswith(CONTROL_CALLS_PREFIX)]
        calls = json.loads(line[len(CONTROL_CALLS_PREFIX) :])
        from_controls = {}
        for call in calls:
            name, _space, keys = call.partition(" ")
            domain, service = name.split(".", 1)
            from_controls.setdefault((domain, service), set()).update(filter(None, keys.split(",")))
        self.assertEqual(set(from_controls), allowed_calls())
        for (domain, service), keys in sorted(from_controls.items()):
            with self.subTest(service=f"{domain}.{service}"):
                self.assertEqual(keys, set(ENTITY_SERVICES[domain][service]))


def bus_names():
    """What the web client and the server must spell alike: the names ha_data_service.js
    exports, each with the server's value."""
    return {
        "INSTANCE_STATUS_KEYS": list(realtime.INSTANCE_STATUS_FIELDS),
        "ENTITY_CHANGES": realtime.ENTITY_CHANGES,
        "ENTITIES_RELOAD": realtime.ENTITIES_RELOAD,
        "INSTANCE_STATUS": realtime.INSTANCE_STATUS,
        "REGISTRY_CHANGED": realtime.REGISTRY_CHANGED,
        "MACHINE_STATES": realtime.MACHINE_STATES,
        "ACCESS_CHANGED": realtime.ACCESS_CHANGED,
        "INSTANCE_SWITCHED": instance_resolver.INSTANCE_SWITCHED,
        "INSTANCE_FALLBACK": instance_resolver.INSTANCE_FALLBACK,
    }


BUS_NAMES_JS = """
(() => {
    const module = odoo.loader.modules.get("@odoo_ha_addon/services/ha_data_service");
    const values = Object.fromEntries(%(names)s.map((name) => [name, module[name]]));
    console.log("%(prefix)s" + JSON.stringify(values));
    console.log("test successful");
})()
"""
BUS_NAMES_PREFIX = "odoo_ha_addon bus names: "


@tagged("post_install", "-at_install")
class TestBusNamesMatchServer(HttpCase):
    """The bus notification types and the instance status fields the server sends
    (ha.realtime.update, controllers/instance_resolver.py) are those the web client's ha_data
    service listens to and keeps, in the same order."""

    def test_bus_names_agree(self):
        expected = bus_names()
        with _BrowserLog().attached(self) as collected:
            self.browser_js(
                "/odoo",
                BUS_NAMES_JS % {"prefix": BUS_NAMES_PREFIX, "names": json.dumps(list(expected))},
                "odoo.isReady === true",
                login="admin",
                timeout=60,
            )
        (line,) = [m for m in collected.messages if m.startswith(BUS_NAMES_PREFIX)]
        self.assertEqual(json.loads(line[len(BUS_NAMES_PREFIX) :]), expected)
