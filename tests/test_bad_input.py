"""Bad input reaching the connector: broken frames, odd states, huge snapshots, racing users.

The first class talks to a scripted Home Assistant (``scripted_ha.py``), which sends what a
real one cannot produce on demand; the second races users against the real Home Assistant.
"""

import json
import logging
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from ..hass.const import MAX_FRAME_BYTES
from .common import HaServerCase
from .connector_common import ConnectorCase
from .scripted_ha import ScriptedHA, make_sensors

_logger = logging.getLogger(__name__)

HASS_LOGGER = "odoo.addons.odoo_ha_addon.hass"
# A 10,000-entity snapshot is stored in a few seconds on a 2-core machine (bench/README.md);
# this only bounds how long a broken sync makes the test wait.
BIG_SNAPSHOT = 10_000
BIG_SNAPSHOT_TIMEOUT_S = 120.0
MEGABYTE_TEXT = "é" * (512 * 1024)


@tagged("post_install", "-at_install")
class TestBadInputFromHomeAssistant(ConnectorCase):
    """The connector against a scripted Home Assistant that misbehaves on cue."""

    @classmethod
    def setUpClass(cls):
        # ConnectorCase's helpers without its real Home Assistant: HaServerCase is skipped.
        super(HaServerCase, cls).setUpClass()
        cls.dbname = cls.env.cr.dbname

    def connect(self, entities):
        """A scripted server with ``entities``, an instance for it, connected and mirrored."""
        self.server = ScriptedHA(entities).start()
        self.addCleanup(self.server.stop)
        self.ha = self.server
        instance_id = self.create_instance(name="Scripted")
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.wait_consistent(instance_id)
        return instance_id

    def server_states(self):
        return {
            entity_id: (compressed["s"], compressed["a"])
            for entity_id, compressed in self.server.entities.items()
        }

    def odoo_states(self, instance_id):
        return {
            entity_id: (row["state"], row["attributes"])
            for entity_id, row in self.entity_rows(instance_id).items()
            if row["active"]
        }

    def wait_consistent(self, instance_id, expected=None, timeout_s=20.0):
        """Wait until the active rows hold the server's states (or ``expected``)."""
        seen = {}

        def consistent():
            wanted = expected if expected is not None else self.server_states()
            seen["odoo"] = self.odoo_states(instance_id)
            return seen["odoo"] == wanted

        self.wait_until(
            consistent,
            f"Odoo's rows differ from Home Assistant's states ({len(seen.get('odoo', ()))} rows)",
            timeout_s,
        )

    def wait_reconnected(self, instance_id, connections):
        self.wait_until(
            lambda: self.server.connections >= connections and self.server.subscriber_count(),
            "the connector did not reconnect",
        )
        self.wait_status(instance_id, "connected")

    # Frames ------------------------------------------------------------------------------

    def test_malformed_frame_recycles_the_connection_and_rows_stay_consistent(self):
        instance_id = self.connect(make_sensors(5))
        with self.assertLogs(HASS_LOGGER, "WARNING") as logs:
            self.server.send_raw('{"id": 3, "type": "event", "event": {"c": ')
            self.wait_reconnected(instance_id, 2)
        self.assertIn("Malformed JSON frame", "\n".join(logs.output))
        self.server.set_state("sensor.s_1", "after the malformed frame")
        self.wait_consistent(instance_id)
        self.assertEqual(self.instance_row(instance_id)["entity_count"], 5)

    def test_oversized_frame_recycles_the_connection_and_rows_stay_consistent(self):
        instance_id = self.connect(make_sensors(5))
        with self.assertLogs(HASS_LOGGER, "WARNING") as logs:
            self.server.send_raw(json.dumps({"type": "event", "x": "x" * MAX_FRAME_BYTES}))
            self.wait_reconnected(instance_id, 2)
        self.assertIn("exceeded the frame limit", "\n".join(logs.output))
        self.server.set_state("sensor.s_2", "after the oversized frame")
        self.wait_consistent(instance_id)

    def test_events_that_break_the_protocol_leave_the_connector_running(self):
        instance_id = self.connect(make_sensors(3))
        with self.assertLogs(HASS_LOGGER, "WARNING"):
            for event in (
                None,
                [],
                "text",
                {"c": {"sensor.never_added": {"+": {"s": "1", "lc": time.time()}}}},
                {"r": ["sensor.never_added"]},
                {"c": {"sensor.s_0": {"+": {}}}},
            ):
                self.server.emit(event)
            self.server.send_raw("[1, 2, 3]")
            self.wait_reconnected(instance_id, 2)
        self.server.set_state("sensor.s_0", "still mirrored")
        self.wait_consistent(instance_id)

    # States ------------------------------------------------------------------------------

    def test_odd_states_and_attributes_are_stored_as_they_come(self):
        instance_id = self.connect(make_sensors(2))
        odd = {
            "foo_bar.x": ("whatever", {"friendly_name": "Unknown domain"}),
            "sensor.huge": ("1", {"text": MEGABYTE_TEXT}),
            "sensor.nested": (
                "2",
                {"matrix": [[1, [2, [3, [4, []]]]], {"a": {"b": {"c": None}}}], "empty": {}},
            ),
            "sensor.unicode": (
                "温度 🌡️ שלום é",
                {"friendly_name": "Ünïcödé 🌡️ ∑", "emoji": "🔥" * 100, "rtl": "مرحبا"},
            ),
            "sensor.nan": ("NaN", {"value": "nan", "numbers": ["inf", "-Infinity", 12.5]}),
            "sensor.inf": ("inf", {}),
            "sensor.minus_inf": ("-Infinity", {}),
            "sensor.null_state": (None, {"friendly_name": None, "unit_of_measurement": None}),
            "sensor.long_state": ("x" * 255, {}),
        }
        for entity_id, (state, attributes) in odd.items():
            self.server.set_state(entity_id, state, attributes)
        self.wait_consistent(instance_id)
        Entity = self.env["ha.entity"].with_context(active_test=False)
        rows = Entity.search([("instance_id", "=", instance_id)])
        by_id = {row.entity_id: row for row in rows}
        self.assertEqual(by_id["foo_bar.x"].domain, "foo_bar")
        self.assertEqual(by_id["foo_bar.x"].name, "Unknown domain")
        self.assertEqual(by_id["sensor.unicode"].name, "Ünïcödé 🌡️ ∑")
        self.assertEqual(by_id["sensor.null_state"].name, "sensor.null_state")
        data = {item["entity_id"]: item for item in rows._api_data(self.env.user)}
        # The web client draws an unknown domain read only (static/tests/domain_controls.test.js).
        self.assertEqual(data["foo_bar.x"]["domain"], "foo_bar")
        self.assertEqual(len(data["sensor.huge"]["attributes"]["text"]), len(MEGABYTE_TEXT))
        # Sensors record history: the non-finite states are kept as text, never as numbers.
        history = dict(
            self.query(
                "SELECT e.entity_id, h.is_numeric FROM ha_entity_history h"
                " JOIN ha_entity e ON e.id = h.entity_id WHERE e.instance_id = %s"
                " AND e.entity_id IN ('sensor.nan', 'sensor.inf', 'sensor.minus_inf')",
                (instance_id,),
            )
        )
        self.assertEqual(
            history, {"sensor.nan": False, "sensor.inf": False, "sensor.minus_inf": False}
        )

    def test_values_postgresql_cannot_store_do_not_block_the_writer(self):
        """NUL characters and non-finite numbers: Python's JSON reads them, PostgreSQL's jsonb
        and text columns refuse them. They are stored replaced, and later changes still flow."""
        instance_id = self.connect(make_sensors(2))
        self.server.set_state("sensor.nul", "a\x00b", {"name": "x\x00y", "list": ["\x00"]})
        # Python's json writes NaN and Infinity tokens, as a broken peer could.
        nan, inf = float("nan"), float("inf")
        self.server.set_state("sensor.nan_number", "1", {"v": nan, "w": [inf, -inf]})
        self.server.set_state("sensor.s_0", "after the odd values")
        expected = self.server_states()
        expected["sensor.nul"] = ("a\ufffdb", {"name": "x\ufffdy", "list": ["\ufffd"]})
        expected["sensor.nan_number"] = ("1", {"v": None, "w": [None, None]})
        self.wait_consistent(instance_id, expected)

    # Volume ------------------------------------------------------------------------------

    def test_ten_thousand_entity_snapshot_is_stored_whole(self):
        started = time.monotonic()
        instance_id = self.connect(make_sensors(BIG_SNAPSHOT))
        elapsed = time.monotonic() - started
        _logger.info("Snapshot of %s entities stored in %.1f s", BIG_SNAPSHOT, elapsed)
        self.assertLess(elapsed, BIG_SNAPSHOT_TIMEOUT_S)
        self.assertEqual(self.instance_row(instance_id)["entity_count"], BIG_SNAPSHOT)
        self.server.set_state("sensor.s_9999", "changed after the snapshot")
        self.wait_consistent(instance_id)


@tagged("post_install", "-at_install")
class TestConcurrentUsers(ConnectorCase):
    """Several managers toggle the same light at once through the request queue."""

    USERS = 4
    TOGGLES_PER_USER = 8
    LIGHT = "light.kitchen_lights"

    def thread_env(self, cr, uid):
        """An environment for another thread: ``api.Environment`` would look the registry up
        with ``Registry(dbname)``, whose lock the test runner holds while tests run."""
        cr.transaction = api.Transaction(self.registry)
        return api.Environment(cr, uid, {})

    def test_simultaneous_toggles_end_consistent_in_odoo_and_home_assistant(self):
        instance_id = self.create_instance(name="Racing users")
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        manager_group = self.env.ref("odoo_ha_addon.group_ha_manager").id
        user_ids = self.run_committed(
            lambda env: [
                env["res.users"]
                .create(
                    {
                        "name": f"Racing manager {n}",
                        "login": f"racing_manager_{instance_id}_{n}",
                        "groups_id": [(6, 0, [manager_group])],
                    }
                )
                .id
                for n in range(self.USERS)
            ]
        )
        self.addCleanup(self.run_committed, lambda env: env["res.users"].browse(user_ids).unlink())
        failures, results = [], []
        start = threading.Barrier(self.USERS)

        def toggle_repeatedly(uid):
            try:
                with self.registry.cursor() as cr:
                    instance = self.thread_env(cr, uid)["ha.instance"].browse(instance_id)
                    start.wait(10)
                    for _n in range(self.TOGGLES_PER_USER):
                        payload = {
                            "domain": "light",
                            "service": "toggle",
                            "target": {"entity_id": self.LIGHT},
                        }
                        results.append(instance.ws_call("call_service", payload, timeout=10))
            except Exception as error:  # noqa: BLE001 - reported by the test below
                failures.append(repr(error))

        threads = [threading.Thread(target=toggle_repeatedly, args=(uid,)) for uid in user_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(failures, [])
        self.assertEqual(len(results), self.USERS * self.TOGGLES_PER_USER)
        requests = self.query(
            "SELECT state, count(*) FROM ha_ws_request_queue"
            " WHERE instance_id = %s AND user_id = ANY(%s) GROUP BY state",
            (instance_id, user_ids),
        )
        self.assertEqual(dict(requests), {"done": self.USERS * self.TOGGLES_PER_USER})

        def same_state():
            ha_state = self.rest.get_state(self.LIGHT)["state"]
            rows = self.query(
                "SELECT state FROM ha_entity WHERE instance_id = %s AND entity_id = %s",
                (instance_id, self.LIGHT),
            )
            return rows[0][0] == ha_state

        self.wait_until(same_state, "Odoo's state of the light differs from Home Assistant's")
        self.wait_in_sync(instance_id)

    def test_queue_runs_concurrent_commands_of_one_process_without_error(self):
        instance_id = self.create_instance(name="Racing threads")
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        errors_seen, answers = [], []

        def ping():
            try:
                with self.registry.cursor() as cr:
                    env = self.thread_env(cr, SUPERUSER_ID)
                    answers.append(env["ha.instance"].browse(instance_id).ws_call("ping"))
            except Exception as error:  # noqa: BLE001 - reported by the test below
                errors_seen.append(repr(error))

        threads = [threading.Thread(target=ping) for _n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual((errors_seen, len(answers)), ([], 20))
