"""Machine usage sessions: models, access, exactly-once processing and the live connector.

``TestMachineProcessing`` feeds ``machine_usage.process_rows`` on the test's cursor, the way
the state writer and the gap fill do inside their transactions. ``TestMachineLive`` drives a
power sensor of the real Home Assistant through its REST API and watches the sessions the
connector writes.
"""

import contextlib
import random
import time
from datetime import UTC, datetime, timedelta

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..connector import machine_usage
from ..connector.history_rows import history_row
from ..hass import errors
from ..models.ha_realtime_update import MACHINE_STATES, scope_channel
from .common import HaTestCommon
from .connector_common import ConnectorCase
from .test_realtime import BusRowsMixin

T0 = datetime(2026, 3, 1, 8, 0, 0)
# The profile: (seconds after T0, watts). Standby above 5 W, working above 30 W.
PROFILE = [(0, 0), (10, 35), (70, 12), (100, 60), (160, 0), (300, 0.5)]
THRESHOLDS = {
    "standby_threshold_w": 5,
    "working_threshold_w": 30,
    "start_debounce_s": 5,
    "stop_debounce_s": 20,
    "silence_timeout_s": 600,
}


@tagged("post_install", "-at_install")
class TestMachineProcessing(BusRowsMixin, HaTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.meter = cls.env["ha.entity"].create(
            {
                "instance_id": cls.instance.id,
                "entity_id": "sensor.laser_power",
                "name": "Laser power",
                "state": "0",
                "unit_of_measurement": "W",
            }
        )
        cls.customer = cls.env["res.partner"].create({"name": "Maker Club"})
        cls.machine = cls.env["ha.machine"].create(
            {
                "name": "Laser cutter",
                "sensor_id": cls.meter.id,
                "customer_id": cls.customer.id,
                "monitor_since": T0 - timedelta(hours=1),
                "billing_unit_min": 1,
                **THRESHOLDS,
            }
        )

    def rows(self, profile, unit="W"):
        return [
            history_row(
                self.meter.id,
                self.instance.id,
                str(watts),
                unit,
                T0 + timedelta(seconds=offset),
                T0 + timedelta(seconds=offset),
            )
            for offset, watts in profile
        ]

    def process(self, rows):
        self.env.flush_all()
        changed, _deadline = machine_usage.process_rows(self.env.cr, self.instance.id, rows)
        self.env.invalidate_all()
        # As the state writer and the gap fill do after processing.
        self.env["ha.realtime.update"]._notify_machine_states(self.instance, changed)
        return changed

    def sessions(self):
        self.env.cr.execute(
            "SELECT started_at, ended_at, status, working_seconds, standby_seconds,"
            " total_seconds, billing_units, customer_id FROM ha_machine_session"
            " WHERE machine_id = %s ORDER BY started_at",
            (self.machine.id,),
        )
        return self.env.cr.fetchall()

    def test_profile_gives_one_session_with_working_and_standby_time(self):
        self.assertEqual(self.process(self.rows(PROFILE)), [self.machine.id])
        # Worked 10-70 s and 100-160 s, stood by 70-100 s; stopped at 160 s (the 0.5 W
        # reading at 300 s decides the stop debounce).
        self.assertEqual(
            self.sessions(),
            [
                (
                    T0 + timedelta(seconds=10),
                    T0 + timedelta(seconds=160),
                    "completed",
                    120.0,
                    30.0,
                    150.0,
                    3,  # 150 s in 1-minute units, rounded up
                    self.customer.id,
                )
            ],
        )
        self.assertEqual(self.machine.phase, "idle")
        self.assertEqual(self.machine.session_count, 1)

    def test_kilowatts_are_watts_times_a_thousand(self):
        self.process(self.rows([(0, 0), (10, 0.035), (20, 0.035)], unit="kW"))
        self.assertEqual(self.machine.phase, "working")
        self.assertEqual(self.machine.last_power_w, 35.0)

    def test_repeated_rows_are_applied_once(self):
        rows = self.rows(PROFILE[:3])
        self.process(rows)
        first = self.sessions()
        self.assertEqual(self.process(rows), [], "no new reading: nothing changes")
        self.assertEqual(self.sessions(), first)
        self.env.cr.execute(
            "SELECT count(*) FROM ha_machine_reading WHERE machine_id = %s", (self.machine.id,)
        )
        self.assertEqual(self.env.cr.fetchone()[0], 3)
        self.assertEqual(len(first), 1)
        self.assertEqual(first[0][2], "running")

    def test_late_rows_give_the_sessions_of_the_readings_in_order(self):
        profile = [
            *PROFILE,
            (320, 40),
            (322, 0),  # a spike shorter than the start debounce: no session
            (400, 200),
            (430, 3),
            (440, 200),  # a dip shorter than the stop debounce: standby
            (500, 0),
            (600, 0),
        ]
        self.process(self.rows(profile))
        expected = self.sessions()
        self.assertEqual(len(expected), 2)
        rng = random.Random(16)
        for attempt in range(8):
            with self.subTest(attempt=attempt):
                self.env.cr.execute(
                    "DELETE FROM ha_machine_session WHERE machine_id = %(m)s;"
                    " DELETE FROM ha_machine_reading WHERE machine_id = %(m)s;"
                    " DELETE FROM ha_machine_state WHERE machine_id = %(m)s",
                    {"m": self.machine.id},
                )
                # Delivered in random chunks, out of order, some of them twice: a snapshot
                # first, the gap fill after it, a backfill repeating both.
                rows = self.rows(profile)
                rng.shuffle(rows)
                deliveries = rows + rng.sample(rows, 5)
                while deliveries:
                    size = rng.randint(1, 4)
                    self.process(deliveries[:size])
                    deliveries = deliveries[size:]
                self.assertEqual(self.sessions(), expected)

    def test_readings_before_monitoring_started_are_ignored(self):
        self.machine.monitor_since = T0 + timedelta(seconds=50)
        self.process(self.rows(PROFILE))
        # The machine first hears 12 W at 70 s: standing by is no start.
        self.assertEqual([s[0] for s in self.sessions()], [T0 + timedelta(seconds=100)])

    def test_clock_ends_a_session_and_a_silent_sensor_times_out(self):
        self.process(self.rows([(0, 0), (10, 35), (20, 35), (30, 0)]))
        self.assertEqual(self.sessions()[0][2], "running")
        start = T0.replace(tzinfo=UTC).timestamp()
        changed, deadline = machine_usage.advance_due(self.env.cr, self.instance.id, start + 49)
        self.assertEqual((changed, deadline), ([], start + 50), "stop debounce ends at 50 s")
        changed, _deadline = machine_usage.advance_due(self.env.cr, self.instance.id, start + 50)
        self.assertEqual(changed, [self.machine.id])
        self.assertEqual(self.sessions()[0][1:3], (T0 + timedelta(seconds=30), "completed"))

        # A second session whose sensor then goes silent: timed out at its last reading.
        self.process(self.rows([(100, 35), (110, 36)]))
        machine_usage.advance_due(self.env.cr, self.instance.id, start + 110 + 600)
        self.assertEqual(self.sessions()[1][1:3], (T0 + timedelta(seconds=110), "timed_out"))

    def test_unavailable_sensor_times_out_where_it_went_away(self):
        rows = self.rows([(0, 0), (10, 35), (20, 35)])
        rows += [
            history_row(
                self.meter.id, self.instance.id, "unavailable", None, T0, T0 + timedelta(seconds=25)
            ),
            *self.rows([(700, 35)]),
        ]
        self.process(rows)
        sessions = self.sessions()
        self.assertEqual(sessions[0][1:4], (T0 + timedelta(seconds=25), "timed_out", 15.0))
        self.assertEqual(len(sessions), 1, "the reading at 700 s is a new start, not confirmed")

    def test_threshold_changes_apply_from_the_next_reading(self):
        self.process(self.rows([(0, 0), (10, 35), (20, 35)]))
        self.assertEqual(self.machine.phase, "working")
        self.machine.working_threshold_w = 40
        self.process(self.rows([(30, 36)]))
        self.assertEqual(self.machine.phase, "standby")
        self.process(self.rows([(40, 36)]))
        self.assertEqual(self.sessions()[0][3:5], (20.0, 10.0))

    def test_thresholds_are_validated(self):
        for values in (
            {"working_threshold_w": 5},
            {"standby_threshold_w": -1},
            {"silence_timeout_s": 10, "stop_debounce_s": 20},
            {"billing_unit_min": -5},
        ):
            with self.subTest(values=values), self.assertRaises(ValidationError):
                self.machine.write(values)
        sensor = self.env["ha.entity"].create(
            {"instance_id": self.instance.id, "entity_id": "switch.laser", "state": "on"}
        )
        with self.assertRaises(ValidationError):
            self.machine.sensor_id = sensor

    def test_another_sensor_starts_afresh(self):
        self.process(self.rows(PROFILE[:3]))
        other = self.env["ha.entity"].create(
            {"instance_id": self.instance.id, "entity_id": "sensor.cnc_power", "state": "0"}
        )
        self.machine.sensor_id = other
        self.assertEqual(self.machine.phase, "idle")
        self.env.cr.execute(
            "SELECT count(*) FROM ha_machine_reading WHERE machine_id = %s", (self.machine.id,)
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.assertGreater(self.machine.monitor_since, T0)

    def test_machine_health_goes_to_the_channels_of_who_reads_the_sensor(self):
        self.group_kitchen.entity_ids = [Command.link(self.meter.id)]
        group_other = self.env["ha.entity.group"].create(
            {
                "name": "Lights only",
                "instance_id": self.instance.id,
                "entity_ids": [Command.link(self.light_kitchen.id)],
                "user_ids": [Command.link(self.user_outsider.id)],
            }
        )
        share = self.env["ha.entity.share"].create(
            {"entity_id": self.meter.id, "user_id": self.user_outsider.id}
        )
        self.process(self.rows([(0, 0), (10, 35)]))

        def machines_sent(scope):
            scope = scope.sudo()
            return [
                message["payload"]["machines"]
                for message in self._bus_rows(scope_channel(scope))
                if message["type"] == MACHINE_STATES
            ]

        health = machines_sent(self.instance)
        self.assertEqual(len(health), 1)
        self.assertEqual(health[0][str(self.machine.id)]["phase"], "starting")
        self.assertEqual(health[0][str(self.machine.id)]["last_power_w"], 35.0)
        self.assertEqual(machines_sent(self.group_kitchen), health)
        self.assertEqual(machines_sent(group_other), [])
        self.assertEqual(machines_sent(share), [], "a share grants the sensor, not the machine")

    def test_old_readings_are_purged_but_the_newest_and_the_sessions_stay(self):
        self.process(self.rows(PROFILE))
        sessions = self.sessions()
        self.env["ha.machine.reading"]._cron_purge_readings()
        self.env.cr.execute(
            "SELECT ha_time FROM ha_machine_reading WHERE machine_id = %s", (self.machine.id,)
        )
        self.assertEqual(self.env.cr.fetchall(), [(T0 + timedelta(seconds=300),)])
        self.assertEqual(self.sessions(), sessions)
        # The machine goes on from its newest reading.
        self.process(self.rows([(400, 60), (500, 60), (600, 0), (700, 0)]))
        self.assertEqual(len(self.sessions()), 2)
        self.assertEqual(self.sessions()[0], sessions[0])

    def test_members_of_the_sensor_group_read_machines_and_sessions_only(self):
        self.process(self.rows(PROFILE))
        Machine = self.env["ha.machine"]
        Session = self.env["ha.machine.session"]
        self.assertFalse(Machine.with_user(self.user_member).search([]))
        self.assertFalse(Session.with_user(self.user_outsider).search([]))
        with self.assertRaises(AccessError):
            self.machine.with_user(self.user_member).read(["name"])

        self.group_kitchen.entity_ids = [Command.link(self.meter.id)]
        self.assertEqual(Machine.with_user(self.user_member).search([]), self.machine)
        sessions = Session.with_user(self.user_member).search([])
        self.assertEqual(len(sessions), 1)
        self.assertEqual(sessions.read(["billing_units"])[0]["billing_units"], 3)
        self.assertFalse(Session.with_user(self.user_outsider).search([]))
        self.assertEqual(self.machine.with_user(self.user_member).phase, "idle")
        # Members read; only managers configure machines or touch sessions.
        with self.assertRaises(AccessError):
            self.machine.with_user(self.user_member).write({"working_threshold_w": 100})
        with self.assertRaises(AccessError):
            sessions.with_user(self.user_member).write({"note": "mine"})
        with self.assertRaises(AccessError):
            Session.with_user(self.manager).create(
                {"machine_id": self.machine.id, "started_at": T0}
            )


def ha_time(state):
    """HA's ``last_updated`` of a REST state answer, as Odoo stores it (naive UTC)."""
    return datetime.fromisoformat(state["last_updated"]).astimezone(UTC).replace(tzinfo=None)


def seconds(delta):
    return delta.total_seconds()


@tagged("post_install", "-at_install")
class TestMachineLive(ConnectorCase):
    """The issue's proof: a power sensor of the real HA driven over REST, sessions written by
    the connector (debounces 1 s and 2 s)."""

    def setUp(self):
        super().setUp()
        self.instance_id = self.create_instance()
        self.supervisor = self.start_supervisor(self.instance_id)
        self.wait_status(self.instance_id, "connected")
        self.sensor = f"sensor.machine_probe_{int(time.time() * 1000)}"
        self.addCleanup(self._remove_state, self.sensor)
        self.power(0)
        entity_record = self.wait_until(
            lambda: self.query(
                "SELECT id FROM ha_entity WHERE instance_id = %s AND entity_id = %s",
                (self.instance_id, self.sensor),
            ),
            f"{self.sensor} never reached Odoo",
        )[0][0]
        self.machine_id = self.run_committed(
            lambda env: (
                env["ha.machine"]
                .create(
                    {
                        "name": "Probe machine",
                        "sensor_id": entity_record,
                        "standby_threshold_w": 5,
                        "working_threshold_w": 30,
                        "start_debounce_s": 1,
                        "stop_debounce_s": 2,
                        "silence_timeout_s": 60,
                    }
                )
                .id
            )
        )

    def power(self, watts):
        """Set the sensor in HA; return HA's time of the new state."""
        return ha_time(
            self.rest.post(
                f"/api/states/{self.sensor}",
                {"state": str(watts), "attributes": {"unit_of_measurement": "W"}},
            )
        )

    def _remove_state(self, entity_id):
        with contextlib.suppress(errors.CommandFailed):  # 404: already gone
            self.rest.request("DELETE", f"/api/states/{entity_id}")

    def sessions(self):
        return self.query(
            "SELECT started_at, ended_at, status, working_seconds, standby_seconds"
            " FROM ha_machine_session WHERE machine_id = %s ORDER BY started_at",
            (self.machine_id,),
        )

    def phase(self):
        rows = self.query(
            "SELECT phase FROM ha_machine_state WHERE machine_id = %s", (self.machine_id,)
        )
        return rows[0][0] if rows else None

    def wait_sessions(self, statuses, timeout_s=20):
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.sessions()
            if [row[2] for row in found] == statuses:
                return found
            if time.monotonic() > deadline:
                self.fail(f"sessions never became {statuses} in {timeout_s} s: {found}")
            time.sleep(0.05)

    def assert_session(self, session, start, end, working_s, standby_s):
        self.assertEqual(session[0], start)
        self.assertEqual(session[1], end)
        self.assertAlmostEqual(session[3], working_s, delta=0.001)
        self.assertAlmostEqual(session[4], standby_s, delta=0.001)

    def test_profile_makes_exactly_the_expected_session_live(self):
        bus_before = self.last_bus_id()
        self.power(60)
        time.sleep(0.3)
        self.power(0)  # shorter than the start debounce: no session
        started = self.power(35)
        running = self.wait_sessions(["running"])
        self.assertEqual(running[0][0], started)
        time.sleep(0.5)
        standby = self.power(12)
        time.sleep(1.2)
        working = self.power(60)
        time.sleep(1.2)
        stopped = self.power(0)
        (session,) = self.wait_sessions(["completed"])
        self.assert_session(
            session,
            started,
            stopped,
            seconds(standby - started) + seconds(stopped - working),
            seconds(working - standby),
        )
        phases = [
            machine["phase"]
            for payload in self.bus_messages(
                self.instance_id, bus_before, "odoo_ha_addon/machine_states"
            )
            for machine in payload["machines"].values()
        ]
        for phase in ("starting", "working", "standby", "stopping", "idle"):
            self.assertIn(phase, phases, "every phase reached the managers' channel live")

    @mute_logger("odoo.addons.odoo_ha_addon.hass.client")  # "disconnected (reconnect requested)"
    def test_connection_killed_and_host_replaced_mid_session_keep_one_session(self):
        started = self.power(35)
        self.wait_sessions(["running"])
        # The connection to Home Assistant drops mid-session and comes back: the snapshot
        # offers the 35 W reading again.
        (connected_since,) = self.query(
            "SELECT status_since FROM ha_instance WHERE id = %s", (self.instance_id,)
        )[0]
        self.supervisor.connectors[self.instance_id].restart()
        self.wait_until(
            lambda: self.query(
                "SELECT 1 FROM ha_instance WHERE id = %s AND status = 'connected'"
                " AND status_since > %s",
                (self.instance_id, connected_since),
            ),
            "the connection never came back",
        )
        # Then the hosting process goes away; Home Assistant goes on.
        self.supervisor.stop()
        standby = self.power(12)
        time.sleep(0.5)
        self.start_supervisor(self.instance_id)
        self.wait_status(self.instance_id, "connected")
        self.wait_until(lambda: self.phase() == "standby", "the standby reading never arrived")
        stopped = self.power(0)
        (session,) = self.wait_sessions(["completed"])
        self.assert_session(
            session, started, stopped, seconds(standby - started), seconds(stopped - standby)
        )

    def test_readings_recorded_while_away_are_applied_in_order(self):
        self.supervisor.stop()
        started = self.power(35)
        time.sleep(1.5)
        standby = self.power(12)
        time.sleep(1.0)
        working = self.power(60)
        time.sleep(1.0)
        stopped = self.power(0)
        # The reconnect snapshot brings the 0 W first; the gap fill brings the rest after it.
        self.start_supervisor(self.instance_id)
        (session,) = self.wait_sessions(["completed"], timeout_s=30)
        self.assert_session(
            session,
            started,
            stopped,
            seconds(standby - started) + seconds(stopped - working),
            seconds(working - standby),
        )
        readings = [
            row[0]
            for row in self.query(
                "SELECT ha_time FROM ha_machine_reading WHERE machine_id = %s ORDER BY ha_time",
                (self.machine_id,),
            )
        ]
        self.assertEqual(len(readings), len(set(readings)), "each reading stored once")
        self.assertEqual(readings[-4:], [started, standby, working, stopped])

    def test_thresholds_changed_while_running_apply_to_the_next_reading(self):
        started = self.power(35)
        self.wait_sessions(["running"])
        self.wait_until(lambda: self.phase() == "working", "never working")
        self.run_committed(
            lambda env: env["ha.machine"].browse(self.machine_id).write({"working_threshold_w": 40})
        )
        lowered = self.power(36)
        self.wait_until(lambda: self.phase() == "standby", "36 W is standby above 40 W")
        stopped = self.power(0)
        (session,) = self.wait_sessions(["completed"])
        self.assert_session(
            session, started, stopped, seconds(lowered - started), seconds(stopped - lowered)
        )
