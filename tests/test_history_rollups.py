"""Rolled-up history: statistics equal a direct aggregation of the raw states, whatever order
the states arrive in; retention; access; the history route's choice of resolution."""

import random
import threading
from datetime import timedelta

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.tests import TransactionCase, tagged

from ..connector import history_rollups
from ..connector.history_rows import history_row, insert_history_rows
from . import rollup_reference as reference
from .api_common import ApiCase
from .common import HaTestCommon

FIVE_MINUTES = 300
PROBE = "sensor.history_route_probe"
HOUR = 3600


def random_states(rng, start, count, *, step_s=(0.2, 90.0), missing=0.05):
    """(last_updated, state) of a sensor: irregular steps, a few 'unavailable' states."""
    rows, at = [], start
    for _index in range(count):
        at += timedelta(seconds=rng.uniform(*step_s), microseconds=rng.randrange(1000))
        state = "unavailable" if rng.random() < missing else f"{rng.uniform(-5, 40):.3f}"
        rows.append((at, state))
    return rows


class RollupAssertions:
    """Compares an entity's statistics with the direct aggregation of its raw states;
    ``fetch`` reads committed data in the connector tests."""

    def fetch(self, sql, params):
        self.env.cr.execute(sql, params)
        return self.env.cr.fetchall()

    def insert(self, entity, rows):
        """Store ``rows`` the way the writer and the backfill do; return how many were new."""
        return insert_history_rows(
            self.env.cr,
            [
                history_row(entity.id, entity.instance_id.id, state, None, at, at)
                for at, state in rows
            ],
        )

    def raw_rows(self, entity_id):
        return self.fetch(
            "SELECT last_updated, state FROM ha_entity_history WHERE entity_id = %s",
            (int(entity_id),),
        )

    def stored(self, entity_id, period, source="odoo"):
        rows = self.fetch(
            "SELECT start, minimum, maximum, mean, state_count, seconds"
            "  FROM ha_entity_history_rollup"
            " WHERE entity_id = %s AND period = %s AND source = %s",
            (int(entity_id), period, source),
        )
        return {row[0]: row[1:] for row in rows}

    def assertPeriodsEqual(self, stored, expected, msg):
        self.assertEqual(sorted(stored), sorted(expected), f"{msg}: periods differ")
        for start, (low, high, mean, count, seconds) in expected.items():
            got = stored[start]
            label = f"{msg} at {start}"
            self.assertAlmostEqual(got[0], low, places=9, msg=label)
            self.assertAlmostEqual(got[1], high, places=9, msg=label)
            self.assertAlmostEqual(got[2], mean, places=7, msg=label)
            self.assertEqual(got[3], count, label)
            self.assertAlmostEqual(got[4], seconds, places=3, msg=label)

    def assertRollupsEqualRaw(self, entity_id, until, label=""):
        """Every 5-minute and hourly statistic of the entity up to ``until`` equals the direct
        aggregation of its raw states, the buckets without changes included."""
        rows = self.raw_rows(entity_id)
        first = reference.floor(min(at for at, _state in rows), FIVE_MINUTES)
        for period, seconds in (("5minute", FIVE_MINUTES), ("hour", HOUR)):
            self.assertPeriodsEqual(
                self.stored(entity_id, period),
                reference.aggregate(rows, first, until, seconds),
                f"{label or entity_id} {period}",
            )


@tagged("post_install", "-at_install")
class TestRollups(RollupAssertions, HaTestCommon):
    """The roll-up job on the states the writer, the backfill and the gap fill store."""

    def setUp(self):
        super().setUp()
        self.sensor = self.sensor_outside
        self.Rollup = self.env["ha.entity.history.rollup"]
        self.start = reference.floor(fields.Datetime.now() - timedelta(hours=8), HOUR)

    def roll_up(self, now):
        self.Rollup._roll_up(now=now, entities=self.sensor)
        return history_rollups.closed_until(now)

    def test_rollups_equal_a_direct_aggregation_of_the_states(self):
        rng = random.Random(18)
        rows = random_states(rng, self.start + timedelta(minutes=7, seconds=13), 150)
        # A quiet hour: the last state holds, and every bucket of it has a statistic.
        quiet = rows[-1][0] + timedelta(minutes=65)
        rows += random_states(rng, quiet, 60, step_s=(0.05, 3.0))
        rows.append((rows[-1][0] + timedelta(seconds=30), "unknown"))
        self.assertEqual(self.insert(self.sensor, rows), len(rows))
        until = self.roll_up(rows[-1][0] + timedelta(minutes=20))

        self.assertRollupsEqualRaw(self.sensor.id, until)
        held = self.stored(self.sensor.id, "5minute")[
            reference.floor(quiet - timedelta(minutes=20), FIVE_MINUTES)
        ]
        self.assertEqual(held[3], 0, "no state changed in that bucket")
        self.assertEqual(held[0], held[1])
        self.assertAlmostEqual(held[4], FIVE_MINUTES)
        last = self.stored(self.sensor.id, "5minute")
        self.assertLess(max(last), until, "only closed buckets are rolled up")
        self.assertEqual(
            self.env["ha.entity.history.rollup.cursor"]
            .search([("entity_id", "=", self.sensor.id)])
            .rolled_until,
            until,
        )
        self.assertFalse(self.env["ha.entity.history.rollup.mark"].search_count([]))

    def test_late_repeated_and_live_rows_give_the_same_statistics(self):
        rng = random.Random(5)
        rows = random_states(rng, self.start, 300, step_s=(1.0, 60.0))
        order = list(rows)
        rng.shuffle(order)
        # Live rows first, rolled up; the rest arrive late (a backfill, a gap fill) in random
        # order and in several batches, some of them twice.
        live, late = order[:150], order[150:]
        self.insert(self.sensor, sorted(live))
        until = self.roll_up(max(live)[0] + timedelta(minutes=30))
        self.assertRollupsEqualRaw(self.sensor.id, until)
        for index in range(0, len(late), 40):
            batch = late[index : index + 40] + live[index : index + 5]
            self.insert(self.sensor, batch)
            self.assertGreater(
                self.env["ha.entity.history.rollup.mark"].search_count(
                    [("entity_id", "=", self.sensor.id)]
                ),
                0,
                "late rows mark their buckets",
            )
            until = self.roll_up(max(rows)[0] + timedelta(minutes=30 + index))
            self.assertRollupsEqualRaw(self.sensor.id, until)
        self.assertEqual(len(self.raw_rows(self.sensor.id)), len(rows), "each state stored once")

    def test_the_job_works_in_bounded_steps(self):
        rows = random_states(
            random.Random(3), self.start - timedelta(days=5), 400, step_s=(1, 1800), missing=0
        )
        self.insert(self.sensor, rows)
        now = rows[-1][0] + timedelta(hours=1)
        written, more = self.Rollup._roll_up(now=now, max_chunks=1, entities=self.sensor)
        self.assertTrue(more, "five days are more than one step of MAX_SPAN")
        self.assertEqual(written, history_rollups.MAX_SPAN.total_seconds() / FIVE_MINUTES)
        while more:
            _written, more = self.Rollup._roll_up(now=now, max_chunks=1, entities=self.sensor)
        self.assertRollupsEqualRaw(self.sensor.id, history_rollups.closed_until(now))

    def test_purging_states_keeps_the_statistics(self):
        old = fields.Datetime.now() - timedelta(days=40)
        rows = random_states(random.Random(9), old, 200, step_s=(10, 600))
        self.insert(self.sensor, rows)
        until = self.roll_up(rows[-1][0] + timedelta(hours=2))
        before = {period: self.stored(self.sensor.id, period) for period in ("5minute", "hour")}
        self.assertTrue(before["hour"])

        deleted, _left = self.env["ha.entity.history"]._purge_expired_history(30)
        self.assertEqual(deleted, len(rows))
        self.assertFalse(self.raw_rows(self.sensor.id))
        self.assertEqual(
            {period: self.stored(self.sensor.id, period) for period in ("5minute", "hour")}, before
        )
        # The chart of that time still has its curve, from the hourly statistics.
        start = reference.floor(old - timedelta(days=1), 86400)
        series = self.env["ha.entity.history"]._api_series(
            self.sensor, start, start + timedelta(days=10), 240
        )[0]
        self.assertEqual((series["kind"], series["resolution"]), ("numeric", "hour"))
        self.assertEqual(
            [point["t"] for point in series["points"]],
            [f"{hour.isoformat()}Z" for hour in sorted(before["hour"]) if hour < until],
        )

        # Statistics have their own retention: 5-minute ones a year, hourly ones for good.
        self.env["ir.config_parameter"].sudo().set_param(
            "odoo_ha_addon.history_rollup_5min_days", "30"
        )
        self.Rollup._cron_purge_expired()
        self.assertFalse(self.stored(self.sensor.id, "5minute"))
        self.assertEqual(self.stored(self.sensor.id, "hour"), before["hour"])
        # A chart fine enough for 5-minute statistics draws the hourly ones where those are
        # gone.
        series = self.env["ha.entity.history"]._api_series(
            self.sensor, start, start + timedelta(days=10), 2000
        )[0]
        self.assertEqual(series["resolution"], "5minute")
        self.assertEqual(
            [(point["t"], point["min"], point["max"], point["avg"]) for point in series["points"]],
            [
                (f"{hour.isoformat()}Z", *before["hour"][hour][:3])
                for hour in sorted(before["hour"])
            ],
        )

    def test_stopping_recording_ends_the_statistics(self):
        rows = random_states(random.Random(4), self.start, 50)
        self.insert(self.sensor, rows)
        self.roll_up(rows[-1][0] + timedelta(minutes=10))
        self.sensor.record_history = False
        self.assertFalse(
            self.env["ha.entity.history.rollup.cursor"].search([("entity_id", "=", self.sensor.id)])
        )
        count = len(self.stored(self.sensor.id, "5minute"))
        self.roll_up(rows[-1][0] + timedelta(hours=3))
        self.assertEqual(
            len(self.stored(self.sensor.id, "5minute")), count, "no state is carried on unrecorded"
        )

    def test_history_recorded_before_statistics_existed_is_rolled_up_after_the_upgrade(self):
        rows = random_states(
            random.Random(12), self.start - timedelta(days=3), 200, step_s=(60, 900)
        )
        self.insert(self.sensor, rows)
        # As an older version stored them: states without marks.
        self.env.cr.execute("DELETE FROM ha_entity_history_rollup_mark")
        self.env["ha.entity.history.rollup.cursor"].init()
        until = self.roll_up(rows[-1][0] + timedelta(minutes=30))
        self.assertRollupsEqualRaw(self.sensor.id, until)

    def test_on_off_states_are_not_rolled_up(self):
        light = self.light_kitchen
        light.record_history = True
        self.insert(
            light, [(self.start + timedelta(minutes=i), ("on", "off")[i % 2]) for i in range(20)]
        )
        self.Rollup._roll_up(now=self.start + timedelta(hours=1), entities=light)
        self.assertFalse(self.stored(light.id, "5minute"))

    def test_users_read_the_statistics_of_their_groups_only(self):
        self.group_kitchen.entity_ids = [Command.link(self.sensor.id)]
        other = self.env["ha.entity"].create(
            {"instance_id": self.instance.id, "entity_id": "sensor.cellar", "state": "3"}
        )
        for entity in (self.sensor, other):
            self.insert(entity, random_states(random.Random(entity.id), self.start, 30))
        self.Rollup._roll_up(now=self.start + timedelta(hours=2), entities=self.sensor | other)
        everything = self.Rollup.search([])
        self.assertEqual(everything.entity_id, self.sensor | other)
        Rollup = self.Rollup.with_user(self.user_member)
        self.assertEqual(Rollup.search([]).entity_id, self.sensor)
        self.assertFalse(Rollup.search([("entity_id", "=", other.id)]))
        self.assertFalse(self.Rollup.with_user(self.user_outsider).search([]))
        self.assertEqual(self.Rollup.with_user(self.manager).search([]), everything)


@tagged("post_install", "-at_install")
class TestHistoryRouteResolution(RollupAssertions, ApiCase):
    """The history route, as a user who may only view the sensor: raw states for short ranges,
    statistics beyond, and the same points either way."""

    def setUp(self):
        super().setUp()
        self.History = self.env["ha.entity.history"]
        # An entity Home Assistant does not have, so the live connection writes none of its
        # rows (its rows in a bucket this transaction writes would fail it under REPEATABLE
        # READ); the member views it through the group "Watch only".
        self.probe = self.env["ha.entity"].create(
            {
                "instance_id": self.live_id,
                "entity_id": PROBE,
                "unit_of_measurement": "W",
                "record_history": True,
            }
        )
        self.env["ha.entity.group"].search(
            [("instance_id", "=", self.live_id), ("name", "=", "Watch only")]
        ).entity_ids = [Command.link(self.probe.id)]
        self.env.flush_all()
        now = fields.Datetime.now()
        self.end = reference.floor(now, HOUR)
        rng = random.Random(30)
        # One state a second for the last day, one every ~10 minutes for 40 days before.
        rows = random_states(
            rng, self.end - timedelta(days=41), 5500, step_s=(300, 900), missing=0.01
        )
        day_start = self.end - timedelta(days=1)
        rows = [row for row in rows if row[0] < day_start]
        rows += [
            (
                day_start + timedelta(seconds=second, microseconds=500),
                f"{20 + (second % 600) / 100:.2f}",
            )
            for second in range(86400)
        ]
        self.insert(self.probe, rows)

    def chart(self, start, end, max_points):
        self.login(self.member)
        data = self.ok(
            "entity_history",
            ha_instance_id=self.live_id,
            entity_ids=[PROBE],
            start=fields.Datetime.to_string(start),
            end=fields.Datetime.to_string(end),
            max_points=max_points,
        )
        (series,) = data["series"]
        return series

    def assertPointsEqualRaw(self, series, start, end):
        expected = reference.aggregate(
            self.raw_rows(self.probe.id), start, end, series["bucket_seconds"]
        )
        self.assertEqual(
            [point["t"] for point in series["points"]],
            [f"{max(at, start).isoformat()}Z" for at in sorted(expected)],
        )
        for point in series["points"]:
            at = fields.Datetime.to_datetime(point["t"][:-1].replace("T", " "))
            low, high, mean, count, _seconds = expected[
                reference.floor(at, series["bucket_seconds"])
            ]
            self.assertAlmostEqual(point["min"], low, places=9)
            self.assertAlmostEqual(point["max"], high, places=9)
            self.assertAlmostEqual(point["avg"], mean, places=7)
            self.assertEqual(point["count"], count)

    def test_the_route_reads_statistics_for_long_ranges_and_the_same_points_come_out(self):
        Rollup = self.env["ha.entity.history.rollup"]
        # Rolled up to two hours ago: the last two hours come from the raw states.
        Rollup._roll_up(now=self.end - timedelta(hours=2), entities=self.probe)

        hour = self.chart(self.end - timedelta(hours=1), self.end, 300)
        self.assertEqual((hour["kind"], hour["resolution"]), ("numeric", "raw"))
        self.assertEqual(sum(point["count"] for point in hour["points"]), 3600)

        # A day of one state a second: 86,400 states, read as 288 5-minute statistics.
        day = self.chart(self.end - timedelta(days=1), self.end, 300)
        self.assertEqual((day["resolution"], day["bucket_seconds"]), ("5minute", 300))
        self.assertEqual(len(day["points"]), 288)
        self.assertPointsEqualRaw(day, self.end - timedelta(days=1), self.end)

        week = self.chart(self.end - timedelta(days=7), self.end, 336)
        self.assertEqual((week["resolution"], week["bucket_seconds"]), ("5minute", 1800))
        self.assertPointsEqualRaw(week, self.end - timedelta(days=7), self.end)

        month = self.chart(self.end - timedelta(days=30), self.end, 360)
        self.assertEqual((month["resolution"], month["bucket_seconds"]), ("hour", 7200))
        self.assertPointsEqualRaw(month, self.end - timedelta(days=30), self.end)

        year = self.chart(self.end - timedelta(days=365), self.end, 365)
        self.assertEqual((year["resolution"], year["bucket_seconds"]), ("hour", 86400))
        self.assertPointsEqualRaw(year, self.end - timedelta(days=365), self.end)

    def test_without_statistics_the_route_reads_the_states(self):
        month = self.chart(self.end - timedelta(days=30), self.end, 360)
        self.assertEqual((month["kind"], month["resolution"]), ("numeric", "raw"))
        numeric_states = [
            at
            for at, state in self.raw_rows(self.probe.id)
            if self.end - timedelta(days=30) <= at < self.end
            and reference.value_of(state) is not None
        ]
        self.assertEqual(sum(point["count"] for point in month["points"]), len(numeric_states))


@tagged("post_install", "-at_install")
class TestRollupConcurrency(RollupAssertions, TransactionCase):
    """The roll-up job and a transaction inserting states into the same buckets, committed
    in separate connections: no state is ever left out of the statistics."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            instance = env["ha.instance"].create({"name": "Concurrency", "url": "http://x:1"})
            self.entity_id = (
                env["ha.entity"]
                .create({"instance_id": instance.id, "entity_id": "sensor.concurrency"})
                .id
            )
            self.instance_id = instance.id
        self.addCleanup(
            self.committed, lambda env: env["ha.instance"].browse(self.instance_id).unlink()
        )
        self.start = reference.floor(fields.Datetime.now() - timedelta(hours=3), HOUR)
        self.now = self.start + timedelta(hours=1)

    def committed(self, function):
        with self.registry.cursor() as cr:
            return function(api.Environment(cr, SUPERUSER_ID, {}))

    def fetch(self, sql, params):
        with self.registry.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall()

    def write_states(self, cr, rows):
        insert_history_rows(
            cr, [history_row(self.entity_id, self.instance_id, s, None, at, at) for at, s in rows]
        )

    def roll_up(self):
        # What the cron runs, without an Environment (none can be built in another thread
        # while the test runner holds the registry).
        history_rollups.roll_up_in_transactions(
            self.registry.cursor, self.now, entity_ids=[self.entity_id]
        )

    def test_a_bucket_being_written_is_rolled_up_after_the_writer_commits(self):
        with self.registry.cursor() as cr:
            self.write_states(cr, [(self.start + timedelta(seconds=10), "1")])
        # The bucket is marked (committed); a writer adds a state to it and has not committed
        # when the job runs: the job waits for it, then reads its state.
        writer = self.registry.cursor()
        self.write_states(writer, [(self.start + timedelta(seconds=100), "50")])
        job = threading.Thread(target=self.roll_up)
        job.start()
        job.join(0.5)
        self.assertTrue(job.is_alive(), "the job waits for the writer's lock on the mark")
        writer.commit()
        writer.close()
        job.join(10)
        self.assertFalse(job.is_alive())
        self.assertRollupsEqualRaw(self.entity_id, history_rollups.closed_until(self.now))

    def test_a_late_state_committed_after_the_job_is_rolled_up_on_its_next_run(self):
        with self.registry.cursor() as cr:
            self.write_states(cr, [(self.start + timedelta(seconds=10), "1")])
        self.roll_up()
        # A late state for a rolled-up bucket, not committed while the job runs.
        writer = self.registry.cursor()
        self.write_states(writer, [(self.start + timedelta(seconds=400), "9")])
        self.roll_up()
        writer.commit()
        writer.close()
        # The cron's run (up to the present) picks it up.
        self.committed(lambda env: env["ha.entity.history.rollup"]._cron_roll_up())
        ((rolled_until,),) = self.fetch(
            "SELECT rolled_until FROM ha_entity_history_rollup_cursor WHERE entity_id = %s",
            (self.entity_id,),
        )
        self.assertGreater(rolled_until, fields.Datetime.now() - timedelta(minutes=6))
        self.assertRollupsEqualRaw(self.entity_id, rolled_until)
