import asyncio
import contextlib
import time

from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import connector
from ..connector.supervisor import ELECTION_INTERVAL_S
from ..hass import errors
from .connector_common import ConnectorCase

LIGHT = "light.bed_light"
CLIENT_LOGGER = "odoo.addons.odoo_ha_addon.hass.client"
CONNECTOR_LOGGERS = (
    CLIENT_LOGGER,
    "odoo.addons.odoo_ha_addon.hass.connection",
    "odoo.addons.odoo_ha_addon.connector.instance_connector",
)


@tagged("post_install", "-at_install")
class TestConnectorSync(ConnectorCase):
    """One supervisor mirrors a real Home Assistant into Odoo and keeps it mirrored."""

    def test_snapshot_mirrors_every_entity_and_the_registries(self):
        instance_id = self.create_instance()
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        # "connected" is recorded only once the snapshot is committed.
        self.assertEqual(self.mismatches(instance_id), [])
        ha_states = self.rest.get_states()
        row = self.instance_row(instance_id)
        self.assertEqual(row["entity_count"], len(ha_states))
        self.assertEqual(row["ha_version"], "2024.3.3")
        self.assertFalse(row["last_error"])
        areas = self.query("SELECT count(*) FROM ha_area WHERE instance_id = %s", (instance_id,))
        devices = self.query(
            "SELECT count(*) FROM ha_device WHERE instance_id = %s", (instance_id,)
        )
        self.assertEqual(areas[0][0], 3, "the demo's Living Room, Kitchen and Bedroom")
        self.assertGreater(devices[0][0], 10)

    def test_command_through_the_queue_reaches_ha_and_comes_back_once_on_the_bus(self):
        instance_id = self.create_instance()
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        before = self.rest.get_state(LIGHT)["state"]
        expected = "off" if before == "on" else "on"
        bus_marker = self.last_bus_id()

        # This test process does not register the supervisor it started, so ws_call takes
        # the path of every other Odoo process: the request queue.
        self.assertIsNone(connector.hosted_connector(self.dbname, instance_id))
        self.ws_call(
            instance_id,
            "call_service",
            {"domain": "light", "service": "toggle", "target": {"entity_id": LIGHT}},
        )
        self.assertEqual(self.rest.get_state(LIGHT)["state"], expected)
        self.wait_until(
            lambda: self.entity_rows(instance_id)[LIGHT]["state"] == expected,
            f"{LIGHT} never became {expected} in Odoo",
        )
        time.sleep(0.5)  # a second bus message, if any, would be written by now
        carrying = [
            payload
            for payload in self.bus_messages(
                instance_id, bus_marker, "odoo_ha_addon/entity_changes"
            )
            if LIGHT in payload["changes"]
        ]
        self.assertEqual(len(carrying), 1, "exactly one bus message carries the change")
        change = carrying[0]["changes"][LIGHT]
        self.assertEqual(change["state"], expected)
        self.assertEqual(carrying[0]["instance_id"], instance_id)

        requests = self.query(
            "SELECT state, message_type, user_id FROM ha_ws_request_queue WHERE instance_id = %s",
            (instance_id,),
        )
        self.assertEqual(requests, [("done", "call_service", self.env.uid)])

    def test_queue_reports_home_assistant_errors_and_not_connected(self):
        instance_id = self.create_instance()
        started = time.monotonic()
        with self.assertRaises(errors.NotConnected):
            self.ws_call(instance_id, "ping", timeout=5)
        self.assertLess(time.monotonic() - started, 1, "nobody hosts it: answered at once")
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.assertEqual(self.ws_call(instance_id, "ping"), None)
        with self.assertRaises(errors.CommandFailed) as caught:
            self.ws_call(
                instance_id,
                "call_service",
                {"domain": "light", "service": "no_such_service", "target": {"entity_id": LIGHT}},
            )
        self.assertEqual(caught.exception.code, "not_found")
        with self.assertRaises(errors.CommandFailed) as caught:
            self.ws_call(instance_id, "no_such_command")
        self.assertEqual(caught.exception.code, "unknown_command")

    def test_direct_path_in_the_hosting_process(self):
        instance_id = self.create_instance()
        connector.ensure_supervisor(self.dbname, [instance_id])
        self.addCleanup(connector.stop_supervisor, self.dbname)
        self.wait_status(instance_id, "connected")
        self.assertIsNotNone(connector.hosted_connector(self.dbname, instance_id))
        config = self.ws_call(instance_id, "get_config")
        self.assertEqual(config["version"], "2024.3.3")
        queued = self.query(
            "SELECT count(*) FROM ha_ws_request_queue WHERE instance_id = %s", (instance_id,)
        )
        self.assertEqual(queued[0][0], 0, "the hosting process needs no queue row")

    def test_removed_entity_is_archived_and_history_is_recorded(self):
        instance_id = self.create_instance()
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        entity = "sensor.connector_test_probe"
        self.addCleanup(self._remove_state, entity)
        for value in ("1.5", "2.5", "3.5"):
            self.rest.post(
                f"/api/states/{entity}",
                {"state": value, "attributes": {"unit_of_measurement": "W"}},
            )
            time.sleep(0.15)
        self.wait_until(
            lambda: self.entity_rows(instance_id).get(entity, {}).get("state") == "3.5",
            f"{entity} never reached 3.5 in Odoo",
        )
        history = self.query(
            "SELECT h.state, h.num_value, h.is_numeric, h.unit FROM ha_entity_history h"
            " JOIN ha_entity e ON e.id = h.entity_id"
            " WHERE e.instance_id = %s AND e.entity_id = %s ORDER BY h.last_updated",
            (instance_id, entity),
        )
        self.assertEqual(
            history,
            [("1.5", 1.5, True, "W"), ("2.5", 2.5, True, "W"), ("3.5", 3.5, True, "W")],
        )

        # A person's edits to Odoo-owned fields survive the writer.
        self.run_committed(
            lambda env: (
                env["ha.entity"]
                .search([("instance_id", "=", instance_id), ("entity_id", "=", entity)])
                .write({"note": "metering probe"})
            )
        )
        self.rest.post(f"/api/states/{entity}", {"state": "4.5"})
        self.wait_until(
            lambda: self.entity_rows(instance_id)[entity]["state"] == "4.5",
            f"{entity} never reached 4.5",
        )
        note = self.query(
            "SELECT note FROM ha_entity WHERE instance_id = %s AND entity_id = %s",
            (instance_id, entity),
        )
        self.assertEqual(note[0][0], "metering probe")

        self.rest.request("DELETE", f"/api/states/{entity}")
        row = self.wait_until(
            lambda: (r := self.entity_rows(instance_id)[entity])["ha_removed"] and r,
            f"{entity} was never marked removed",
        )
        self.assertEqual((row["active"], row["state"]), (False, "unavailable"))

        # It comes back when Home Assistant has it again.
        self.rest.post(f"/api/states/{entity}", {"state": "5.5"})
        row = self.wait_until(
            lambda: (r := self.entity_rows(instance_id)[entity])["active"] and r,
            f"{entity} never came back",
        )
        self.assertEqual((row["state"], row["ha_removed"]), ("5.5", False))

    def test_device_moved_to_an_area_moves_its_entities(self):
        instance_id = self.create_instance()
        supervisor = self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        hosted = supervisor.connectors[instance_id]
        registry = connector.instance_connector.registry_sync
        entities = self._run_on_connection(hosted, "config/entity_registry/list")
        entry = next(e for e in entities if e["entity_id"] == LIGHT)
        self.assertTrue(entry["device_id"], f"the demo gives {LIGHT} a device")
        self.addCleanup(
            self._run_on_connection,
            hosted,
            "config/device_registry/update",
            device_id=entry["device_id"],
            area_id=None,
        )
        self._run_on_connection(
            hosted, "config/device_registry/update", device_id=entry["device_id"], area_id="kitchen"
        )
        kitchen = self.query(
            "SELECT id FROM ha_area WHERE instance_id = %s AND area_id = 'kitchen'", (instance_id,)
        )[0][0]
        self.wait_until(
            lambda: self.entity_rows(instance_id)[LIGHT]["area_id"] == kitchen,
            f"{LIGHT} did not follow its device into the kitchen "
            f"(registry resync after {registry.REGISTRY_UPDATE_EVENTS})",
        )

    def test_floors_and_labels_of_2024_3_are_mirrored_and_categories_hidden(self):
        # Home Assistant 2024.3 has the floor and label registries, not yet categories (2024.4).
        instance_id = self.create_instance()
        supervisor = self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        hosted = supervisor.connectors[instance_id]
        flags = "SELECT has_floor_registry, has_label_registry, has_category_registry"
        self.assertEqual(
            self.query(f"{flags} FROM ha_instance WHERE id = %s", (instance_id,))[0],
            (True, True, False),
        )
        floor = self._run_on_connection(
            hosted, "config/floor_registry/create", name="Cellar (test)", level=-1
        )
        self.addCleanup(
            self._run_quietly, hosted, "config/floor_registry/delete", floor_id=floor["floor_id"]
        )
        label = self._run_on_connection(
            hosted, "config/label_registry/create", name="Test label", color="#aa0000"
        )
        self.addCleanup(
            self._run_on_connection,
            hosted,
            "config/label_registry/delete",
            label_id=label["label_id"],
        )
        # Each arrives through its registry's event.
        floors = "SELECT floor_id, name, level FROM ha_floor WHERE instance_id = %s"
        self.wait_until(
            lambda: (
                self.query(floors, (instance_id,)) == [(floor["floor_id"], "Cellar (test)", -1)]
            ),
            "the floor created in Home Assistant was not mirrored",
        )
        labels = "SELECT label_id, name, color FROM ha_label WHERE instance_id = %s"
        self.wait_until(
            lambda: (
                self.query(labels, (instance_id,)) == [(label["label_id"], "Test label", "#aa0000")]
            ),
            "the label created in Home Assistant was not mirrored",
        )
        self._run_on_connection(hosted, "config/floor_registry/delete", floor_id=floor["floor_id"])
        self.wait_until(
            lambda: not self.query(floors, (instance_id,)),
            "the floor deleted in Home Assistant is still mirrored",
        )
        self.assertFalse(
            self.query("SELECT 1 FROM ha_category WHERE instance_id = %s", (instance_id,))
        )

    def _remove_state(self, entity_id):
        with contextlib.suppress(errors.CommandFailed):  # 404: already gone
            self.rest.request("DELETE", f"/api/states/{entity_id}")

    def _run_quietly(self, hosted, message_type, **payload):
        """A clean-up command, which may find its work done already."""
        with contextlib.suppress(errors.CommandFailed):
            self._run_on_connection(hosted, message_type, **payload)

    def _run_on_connection(self, hosted, message_type, **payload):
        future = asyncio.run_coroutine_threadsafe(
            hosted.client.call(message_type, **payload), hosted.loop
        )
        return future.result(10)


@tagged("post_install", "-at_install")
class TestConnectorLifecycle(ConnectorCase):
    """Reconnects, elections, bad tokens and archiving, against a real Home Assistant."""

    @mute_logger(*CONNECTOR_LOGGERS)
    def test_home_assistant_restart_resyncs_everything(self):
        instance_id = self.create_instance()
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.ws_call(
            instance_id,
            "call_service",
            {"domain": "light", "service": "toggle", "target": {"entity_id": LIGHT}},
        )
        self.ha.stop()
        try:
            seen = self.wait_status(instance_id, "unreachable")
            # Read while HA is down: once it is back the connector clears the error.
            unreachable_error = self.instance_row(instance_id)["last_error"]
        finally:
            self.ha.start()
        self.assertIn("unreachable", seen)
        self.assertTrue(unreachable_error)
        self.wait_status(instance_id, "connected")
        # The restarted demo has its default states again: everything must follow.
        self.wait_in_sync(instance_id)

    def test_two_hosts_one_connection_and_takeover(self):
        baseline = self.connected_clients()
        instance_id = self.create_instance()
        first = self.start_supervisor(instance_id)
        second = self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        time.sleep(2 * ELECTION_INTERVAL_S + 0.5)  # several election rounds for both
        hosts = [s for s in (first, second) if instance_id in s.connectors]
        self.assertEqual(len(hosts), 1, "exactly one supervisor hosts the instance")
        self.assertEqual(self.connected_clients(), baseline + 1)

        holder, other = hosts[0], (second if hosts[0] is first else first)
        started = time.monotonic()
        holder.stop()
        self.wait_until(
            lambda: instance_id in other.connectors,
            "the other supervisor never took over",
            timeout_s=10,
        )
        self.wait_status(instance_id, "connected", timeout_s=10)
        self.assertLess(time.monotonic() - started, 10)
        self.wait_until(
            lambda: self.connected_clients() == baseline + 1,
            "HA should count exactly one connection after the takeover",
        )

    @mute_logger(*CONNECTOR_LOGGERS)
    def test_invalid_token_stops_retrying_until_the_token_changes(self):
        instance_id = self.create_instance(token="not-a-valid-token")
        supervisor = self.start_supervisor(instance_id)
        self.wait_status(instance_id, "auth_failed")
        self.assertIn("invalid", self.instance_row(instance_id)["last_error"].lower())
        hosted = supervisor.connectors[instance_id]
        time.sleep(3 * ELECTION_INTERVAL_S)
        self.assertIs(supervisor.connectors[instance_id], hosted, "no new connector was started")
        self.assertEqual(hosted.client.connect_attempts, 1, "no reconnect storm")
        self.assertEqual(self.instance_row(instance_id)["status"], "auth_failed")

        self.write_instance(instance_id, {"token": self.ha.token})
        self.wait_status(instance_id, "connected")

    @mute_logger(CLIENT_LOGGER)  # "disconnected (reconnect requested)"
    def test_archiving_closes_the_connection_and_restart_reconnects(self):
        baseline = self.connected_clients()
        instance_id = self.create_instance()
        supervisor = self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.assertEqual(self.connected_clients(), baseline + 1)

        hosted = supervisor.connectors[instance_id]
        attempts = hosted.client.connect_attempts
        self.run_committed(
            lambda env: env["ha.instance"].browse(instance_id).action_restart_connection()
        )
        self.wait_until(
            lambda: hosted.client.connect_attempts > attempts, "the restart never reconnected"
        )
        self.wait_status(instance_id, "connected")

        self.write_instance(instance_id, {"active": False})
        self.wait_until(lambda: instance_id not in supervisor.connectors, "still hosted")
        self.wait_status(instance_id, "disconnected")
        self.wait_until(
            lambda: self.connected_clients() == baseline,
            "HA still counts the archived instance's connection",
        )
        with self.assertRaises(errors.NotConnected):
            self.ws_call(instance_id, "ping")
