"""History lifecycle: which entities record, backfill from Home Assistant's recorder, retention."""

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..connector import history_backfill
from ..connector.history_backfill import HistoryBackfill
from ..connector.history_rollups import closed_until
from ..hass import errors
from ..models import ha_entity_history
from . import rollup_reference as reference
from .common import HaTestCommon
from .connector_common import ConnectorCase
from .test_history_rollups import RollupAssertions

HISTORY_COMMAND = "history/history_during_period"
LIGHT = "light.bed_light"
HISTORY_LOGGER = "odoo.addons.odoo_ha_addon.models.ha_entity_history"


def naive_utc(timestamp):
    """HA's float epoch seconds as the naive UTC datetime Odoo stores."""
    return datetime.fromtimestamp(timestamp, tz=UTC).replace(tzinfo=None)


@tagged("post_install", "-at_install")
class TestHistoryRecordingChoice(HaTestCommon):
    """What records history: per entity, defaults per instance and in Settings, bulk actions."""

    def test_new_instances_take_the_default_domains_of_settings(self):
        self.assertEqual(self.instance.history_domains, "sensor, binary_sensor")
        self.env["ir.config_parameter"].sudo().set_param(
            "odoo_ha_addon.history_default_domains", "light Switch,,sensor"
        )
        instance = self.env["ha.instance"].create({"name": "Barn", "url": "http://barn:8123"})
        self.assertEqual(instance.history_domains, "light, switch, sensor")

    def test_the_instance_list_decides_for_new_entities_only(self):
        self.instance.history_domains = "light,climate"
        Entity = self.env["ha.entity"]
        light = Entity.create({"instance_id": self.instance.id, "entity_id": "light.porch"})
        sensor = Entity.create({"instance_id": self.instance.id, "entity_id": "sensor.rain"})
        self.assertTrue(light.record_history)
        self.assertFalse(sensor.record_history)
        self.assertTrue(self.sensor_outside.record_history, "existing choices are kept")
        self.assertFalse(self.light_kitchen.record_history)
        self.assertEqual(self.instance.history_domains, "light, climate")

    def test_domain_lists_are_validated(self):
        for bad in ("sensor; light", "Not-A-Domain", "sensor.temperature"):
            with self.assertRaises(ValidationError, msg=bad):
                self.instance.history_domains = bad
            with self.assertRaises(ValidationError, msg=bad):
                self.env["res.config.settings"].create({"ha_history_default_domains": bad})
        self.instance.history_domains = ""
        motion = self.env["ha.entity"].create(
            {"instance_id": self.instance.id, "entity_id": "binary_sensor.motion"}
        )
        self.assertFalse(motion.record_history, "an empty list records nothing by default")

    def test_settings_store_the_history_parameters(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.ha_history_default_domains, "sensor, binary_sensor")
        settings.ha_history_default_domains = "sensor, light"
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("odoo_ha_addon.history_default_domains"),
            "sensor, light",
        )

    def test_settings_store_the_statistics_parameters(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(
            (
                settings.ha_history_rollup_5min_days,
                settings.ha_history_rollup_hour_days,
                settings.ha_history_statistics_import_days,
            ),
            (365, 0, 365),
        )
        settings.write(
            {
                "ha_history_rollup_5min_days": 90,
                "ha_history_rollup_hour_days": 3650,
                "ha_history_statistics_import_days": 30,
            }
        )
        settings.execute()
        params = self.env["ir.config_parameter"].sudo()
        self.assertEqual(
            [
                params.get_param(f"odoo_ha_addon.{key}")
                for key in (
                    "history_rollup_5min_days",
                    "history_rollup_hour_days",
                    "history_statistics_import_days",
                )
            ],
            ["90", "3650", "30"],
        )

    def test_recording_switch_marks_a_backfill(self):
        self.assertTrue(self.sensor_outside.history_backfill_pending, "records from creation")
        self.assertFalse(self.light_kitchen.history_backfill_pending)
        entities = (self.light_kitchen | self.sensor_outside).with_user(self.manager)
        entities.action_stop_recording()
        self.assertEqual(entities.mapped("record_history"), [False, False])
        self.assertEqual(entities.mapped("history_backfill_pending"), [False, False])
        entities.action_record_history()
        self.assertEqual(entities.mapped("record_history"), [True, True])
        self.assertEqual(entities.mapped("history_backfill_pending"), [True, True])

    def test_only_managers_change_what_records(self):
        entity = self.light_kitchen.with_user(self.user_member)
        with self.assertRaises(AccessError):
            entity.action_record_history()
        with self.assertRaises(AccessError):
            entity.action_stop_recording()
        for xml_id in (
            "odoo_ha_addon.ha_entity_action_record_history",
            "odoo_ha_addon.ha_entity_action_stop_recording",
        ):
            action = self.env.ref(xml_id)
            self.assertEqual(action.binding_model_id.model, "ha.entity")
            self.assertIn("list", action.binding_view_types)
            self.assertEqual(action.groups_id, self.env.ref("odoo_ha_addon.group_ha_manager"))

    def test_server_action_runs_on_the_selection(self):
        action = self.env.ref("odoo_ha_addon.ha_entity_action_record_history")
        action.with_user(self.manager).with_context(
            active_model="ha.entity", active_ids=self.light_kitchen.ids
        ).run()
        self.assertTrue(self.light_kitchen.record_history)
        self.assertTrue(self.light_kitchen.history_backfill_pending)


@tagged("post_install", "-at_install")
class TestHistoryRetention(HaTestCommon):
    """The daily purge removes exactly the rows past the retention, in bounded batches."""

    def _record(self, entity, state, when):
        return self.env["ha.entity.history"].create(
            {"entity_id": entity.id, "state": state, "last_updated": when, "last_changed": when}
        )

    def _rows(self, ages):
        now = fields.Datetime.now()
        History = self.env["ha.entity.history"]
        for index, age in enumerate(ages):
            History |= self._record(self.sensor_outside, str(index), now - age)
        return History

    def test_purge_removes_exactly_the_rows_past_retention(self):
        old = self._rows([timedelta(days=30, minutes=1), timedelta(days=45), timedelta(days=400)])
        kept = self._rows([timedelta(days=29, hours=23), timedelta(hours=1), timedelta(0)])
        other_entity = self._record(
            self.light_kitchen, "on", fields.Datetime.now() - timedelta(days=31)
        )
        with (
            patch.object(ha_entity_history, "PURGE_BATCH_ROWS", 2),
            self.assertLogs(HISTORY_LOGGER, logging.INFO) as logs,
        ):
            removed = self.env["ha.entity.history"]._cron_purge_expired_history()
        self.assertEqual(removed, 4)
        self.assertFalse((old | other_entity).exists())
        self.assertEqual(kept.exists(), kept)
        self.assertIn("Removed 4 history rows older than 30 days", logs.output[0])

    def test_cron_reports_progress_and_continues_while_rows_remain(self):
        cron = self.env.ref("odoo_ha_addon.ha_cron_purge_expired_history")
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        self.env["ir.config_parameter"].sudo().set_param(
            "odoo_ha_addon.history_retention_days", "7"
        )
        old = self._rows([timedelta(days=8 + n) for n in range(5)])
        kept = self._rows([timedelta(days=6)])
        with (
            patch.object(ha_entity_history, "PURGE_BATCH_ROWS", 2),
            patch.object(ha_entity_history, "PURGE_ROWS_PER_RUN", 3),
            mute_logger(HISTORY_LOGGER, "odoo.addons.base.models.ir_cron"),
        ):
            cron.method_direct_trigger()
            progress = self.env["ir.cron.progress"].search(
                [("cron_id", "=", cron.id)], order="id desc", limit=1
            )
            self.assertEqual((progress.done, progress.remaining), (3, 2))
            self.assertEqual(len(old.exists()), 2, "the oldest rows go first")
            cron.method_direct_trigger()
        progress = self.env["ir.cron.progress"].search(
            [("cron_id", "=", cron.id)], order="id desc", limit=1
        )
        self.assertEqual((progress.done, progress.remaining), (2, 0))
        self.assertFalse(old.exists())
        self.assertEqual(kept.exists(), kept)

    def test_zero_days_keeps_everything(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "odoo_ha_addon.history_retention_days", "0"
        )
        ancient = self._rows([timedelta(days=3650)])
        self.assertEqual(self.env["ha.entity.history"]._cron_purge_expired_history(), 0)
        self.assertTrue(ancient.exists())

    def test_last_updated_is_indexed_for_the_purge(self):
        self.env.cr.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'ha_entity_history'")
        definitions = [row[0] for row in self.env.cr.fetchall()]
        self.assertTrue(any(d.endswith("(last_updated)") for d in definitions), definitions)
        self.assertTrue(
            any(d.endswith("(entity_id, last_updated)") and "UNIQUE" in d for d in definitions),
            definitions,
        )


@tagged("post_install", "-at_install")
class TestHistoryBackfill(RollupAssertions, ConnectorCase):
    """Backfill from a real Home Assistant's recorder, together with live recording; the
    statistics rolled up from what they store, and those imported from Home Assistant."""

    def fetch(self, sql, params):
        return self.query(sql, params)

    def test_first_connection_backfills_what_home_assistant_recorded(self):
        probe = f"sensor.backfill_probe_{int(time.time() * 1000)}"
        self.addCleanup(self._remove_state, probe)
        started = datetime.now(UTC) - timedelta(seconds=1)
        # Before the instance exists: only Home Assistant's recorder keeps these.
        for value in ("1.5", "unknown", "2.5", "3"):
            self.rest.post(
                f"/api/states/{probe}", {"state": value, "attributes": {"unit_of_measurement": "W"}}
            )
            time.sleep(0.02)
        for _toggle in range(3):
            self.rest.call_service("light", "toggle", {"entity_id": LIGHT})
        self.wait_until(
            lambda: len(self._rest_history(probe, started)) == 4,
            "Home Assistant never recorded the probe's four states",
        )

        instance_id = self.create_instance(history_domains="sensor, light")
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.wait_backfilled(instance_id)

        recording = dict(
            self.query(
                "SELECT entity_id, record_history FROM ha_entity WHERE instance_id = %s",
                (instance_id,),
            )
        )
        self.assertTrue(recording[probe] and recording[LIGHT])
        self.assertFalse(any(v for k, v in recording.items() if k.startswith("binary_sensor.")))
        entity_ids = sorted(eid for eid, records in recording.items() if records)
        time.sleep(1.1)  # the changes of the connection itself lie before ``end``
        end = datetime.now(UTC) - timedelta(seconds=1)
        expected = self.ha_points(instance_id, entity_ids, started, end)
        self.assertEqual(
            [state for state, _lu, _lc in expected[probe]], ["1.5", "unknown", "2.5", "3"]
        )
        self.assertGreaterEqual(len(expected[LIGHT]), 3)
        self.assertEqual(self.odoo_points(instance_id, entity_ids, started, end), expected)

        numbers = self.query(
            "SELECT h.state, h.is_numeric, h.num_value, h.unit FROM ha_entity_history h"
            " JOIN ha_entity e ON e.id = h.entity_id"
            " WHERE e.instance_id = %s AND e.entity_id = %s ORDER BY h.last_updated",
            (instance_id, probe),
        )
        self.assertEqual(
            numbers,
            [
                ("1.5", True, 1.5, "W"),
                ("unknown", False, 0.0, "W"),
                ("2.5", True, 2.5, "W"),
                ("3", True, 3.0, "W"),
            ],
        )
        self.assertRolledUpLikeRaw(instance_id, probe)

    def test_recording_turned_on_backfills_and_live_changes_never_duplicate(self):
        instance_id = self.create_instance()
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.wait_backfilled(instance_id)
        started = datetime.now(UTC) - timedelta(seconds=1)
        for _toggle in range(3):
            self.rest.call_service("light", "toggle", {"entity_id": LIGHT})
        self.wait_entity_state(instance_id, LIGHT, self.rest.get_state(LIGHT)["state"])
        self.assertEqual(self.history_count(instance_id, LIGHT), 0, "lights do not record")

        self.set_recording(instance_id, LIGHT, True)
        self.wait_backfilled(instance_id)
        time.sleep(1.1)  # every toggle lies before ``end``
        end = datetime.now(UTC) - timedelta(seconds=1)
        expected = self.ha_points(instance_id, [LIGHT], started, end)
        self.assertEqual(len(expected[LIGHT]), 3)
        self.assertEqual(self.odoo_points(instance_id, [LIGHT], started, end), expected)

        # Live changes, then a second backfill over the same period: each state once.
        for _toggle in range(2):
            self.rest.call_service("light", "toggle", {"entity_id": LIGHT})
        self.wait_entity_state(instance_id, LIGHT, self.rest.get_state(LIGHT)["state"])
        self.set_recording(instance_id, LIGHT, False)
        self.set_recording(instance_id, LIGHT, True)
        self.wait_backfilled(instance_id)
        time.sleep(1.1)  # every toggle lies before ``end``
        end = datetime.now(UTC) - timedelta(seconds=1)
        expected = self.ha_points(instance_id, [LIGHT], started, end)
        self.assertEqual(len(expected[LIGHT]), 5)
        self.assertEqual(self.odoo_points(instance_id, [LIGHT], started, end), expected)
        duplicates = self.query(
            "SELECT h.last_updated, count(*) FROM ha_entity_history h"
            " JOIN ha_entity e ON e.id = h.entity_id WHERE e.instance_id = %s"
            " GROUP BY h.entity_id, h.last_updated HAVING count(*) > 1",
            (instance_id,),
        )
        self.assertEqual(duplicates, [])

    def test_stopping_recording_stops_new_rows(self):
        instance_id = self.create_instance()
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        probe = f"sensor.stop_probe_{int(time.time() * 1000)}"
        self.addCleanup(self._remove_state, probe)
        self.rest.post(f"/api/states/{probe}", {"state": "10"})
        self.wait_entity_state(instance_id, probe, "10")
        self.rest.post(f"/api/states/{probe}", {"state": "11"})
        self.wait_until(
            lambda: self.history_count(instance_id, probe) == 2, f"{probe} never recorded 2 rows"
        )

        self.set_recording(instance_id, probe, False)
        for value in ("12", "13", "14"):
            self.rest.post(f"/api/states/{probe}", {"state": value})
        self.wait_entity_state(instance_id, probe, "14")
        time.sleep(0.5)  # a flush carrying a late row would have landed by now
        self.assertEqual(self.history_count(instance_id, probe), 2)

        # Recording again fills in what was missed while it was off.
        self.set_recording(instance_id, probe, True)
        self.wait_backfilled(instance_id)
        self.assertEqual(self.history_count(instance_id, probe), 5)

    def test_changes_made_while_disconnected_are_filled_in_on_reconnect(self):
        instance_id = self.create_instance()
        supervisor = self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.wait_backfilled(instance_id)
        probe = f"sensor.gap_probe_{int(time.time() * 1000)}"
        self.addCleanup(self._remove_state, probe)
        started = datetime.now(UTC) - timedelta(seconds=1)
        self.rest.post(f"/api/states/{probe}", {"state": "1"})
        self.wait_until(
            lambda: self.history_count(instance_id, probe) == 1, f"{probe} never recorded"
        )

        # No connection (Odoo down, a takeover, a lost flush): HA goes on recording.
        supervisor.stop()
        for value in ("2", "3", "4"):
            self.rest.post(f"/api/states/{probe}", {"state": value})
        self.assertEqual(self.history_count(instance_id, probe), 1)

        self.start_supervisor(instance_id)
        self.wait_until(
            lambda: self.history_count(instance_id, probe) == 4,
            f"the states {probe} took while disconnected were never filled in",
        )
        time.sleep(1.1)  # every state lies before ``end``
        end = datetime.now(UTC) - timedelta(seconds=1)
        expected = self.ha_points(instance_id, [probe], started, end)
        self.assertEqual([point[0] for point in expected[probe]], ["1", "2", "3", "4"])
        self.assertEqual(self.odoo_points(instance_id, [probe], started, end), expected)
        self.assertRolledUpLikeRaw(instance_id, probe)

    def test_statistics_follow_live_states_and_late_ones_from_the_gap_fill(self):
        instance_id = self.create_instance()
        supervisor = self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.wait_backfilled(instance_id)
        probe = f"sensor.rollup_probe_{int(time.time() * 1000)}"
        self.addCleanup(self._remove_state, probe)
        for value in ("10", "12.5", "unavailable", "11"):
            self.rest.post(f"/api/states/{probe}", {"state": value})
            time.sleep(0.05)
        self.wait_until(lambda: self.history_count(instance_id, probe) == 4, "live rows missing")
        # Rolled up past the live states: a quarter of an hour of closed buckets.
        now = self.assertRolledUpLikeRaw(instance_id, probe)

        # States HA records while Odoo is away arrive later through the gap fill, into
        # buckets rolled up already.
        supervisor.stop()
        for value in ("30", "31.5"):
            self.rest.post(f"/api/states/{probe}", {"state": value})
            time.sleep(0.05)
        self.start_supervisor(instance_id)
        self.wait_until(
            lambda: self.history_count(instance_id, probe) == 6, "the gap was never filled"
        )
        self.assertRolledUpLikeRaw(instance_id, probe, now)

    def test_home_assistants_statistics_are_imported_for_the_time_before_the_backfill(self):
        instance_id = self.create_instance()
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        self.wait_backfilled(instance_id)
        stamp = int(time.time() * 1000)
        thermometer, meter = f"sensor.stats_probe_{stamp}", f"sensor.meter_probe_{stamp}"
        for probe in (thermometer, meter):
            self.addCleanup(self._remove_state, probe)
        # Hourly statistics HA's recorder keeps, 3 to 8 days and 40 days old: a measurement
        # (mean, min, max) and a meter (state and sum only).
        first = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        hours = [first - timedelta(hours=72 + i) for i in range(120)]
        hours += [first - timedelta(days=40, hours=i) for i in range(3)]
        self.ws_call(
            instance_id,
            "recorder/import_statistics",
            {
                "metadata": self._statistics_metadata(thermometer, has_mean=True),
                "stats": [
                    {
                        "start": hour.isoformat(),
                        "mean": 20 + (i % 7) / 4,
                        "min": 15 + (i % 5) / 3,
                        "max": 25 + (i % 3) / 2,
                    }
                    for i, hour in enumerate(hours)
                ],
            },
        )
        self.ws_call(
            instance_id,
            "recorder/import_statistics",
            {
                "metadata": self._statistics_metadata(meter, has_mean=False),
                "stats": [
                    {"start": hour.isoformat(), "state": 1000.0 + i, "sum": float(i)}
                    for i, hour in enumerate(reversed(hours))
                ],
            },
        )
        window = (first - timedelta(days=365), first - timedelta(days=1))
        self.wait_until(
            lambda: all(
                len(self._ha_statistics(instance_id, probe, *window).get(probe, ())) == 123
                for probe in (thermometer, meter)
            ),
            "Home Assistant never stored the statistics",
        )

        # Both start recording (sensors do by default): the backfill imports them first.
        for probe in (thermometer, meter):
            self.rest.post(f"/api/states/{probe}", {"state": "21", "attributes": {}})
        self.wait_until(
            lambda: (
                self.history_count(instance_id, thermometer) >= 1
                and self.history_count(instance_id, meter) >= 1
            ),
            "the probes never reached Odoo",
        )
        self.wait_backfilled(instance_id)
        for probe in (thermometer, meter):
            answer = self._ha_statistics(instance_id, probe, *window)[probe]
            expected = {}
            for item in answer:
                values = (item.get("min"), item.get("max"), item.get("mean"))
                if probe == meter:
                    self.assertEqual(values, (None, None, None))
                    values = (item["state"],) * 3
                start = naive_utc(item["start"] / 1000)
                expected[start] = (*values, 0, 3600.0)
            entity_id = self.query(
                "SELECT id FROM ha_entity WHERE instance_id = %s AND entity_id = %s",
                (instance_id, probe),
            )[0][0]
            self.assertPeriodsEqual(self.stored(entity_id, "hour", "ha"), expected, probe)

        # A month's chart of the thermometer draws them.
        def chart(env):
            entity = env["ha.entity"].search(
                [("instance_id", "=", instance_id), ("entity_id", "=", thermometer)]
            )
            end = fields.Datetime.now()
            start = end - timedelta(days=30)
            return start, env["ha.entity.history"]._api_series(entity, start, end, 360)[0]

        start, series = self.run_committed(chart)
        self.assertEqual((series["kind"], series["resolution"]), ("numeric", "hour"))
        imported = {reference.floor(hour.replace(tzinfo=None), 7200) for hour in hours}
        self.assertEqual(
            [point["t"] for point in series["points"] if point["count"] == 0],
            [
                f"{max(at, start).isoformat()}Z"
                for at in sorted(imported)
                if at + timedelta(hours=2) > start
            ],
        )

    # Helpers ------------------------------------------------------------------------------

    def assertRolledUpLikeRaw(self, instance_id, entity_id, now=None):
        """Roll up the entity up to ``now`` (default: a quarter of an hour from now, so every
        state stored so far lies in a closed bucket) and compare with its raw states; return
        ``now``."""
        record_id = self.query(
            "SELECT id FROM ha_entity WHERE instance_id = %s AND entity_id = %s",
            (instance_id, entity_id),
        )[0][0]
        now = now or fields.Datetime.now() + timedelta(minutes=15)
        self.run_committed(
            lambda env: env["ha.entity.history.rollup"]._roll_up(
                now=now, entities=env["ha.entity"].browse(record_id)
            )
        )
        self.assertRollupsEqualRaw(record_id, closed_until(now), entity_id)
        return now

    def _statistics_metadata(self, statistic_id, *, has_mean):
        return {
            "has_mean": has_mean,
            "has_sum": not has_mean,
            "name": None,
            "source": "recorder",
            "statistic_id": statistic_id,
            "unit_of_measurement": "°C" if has_mean else "kWh",
        }

    def _ha_statistics(self, instance_id, statistic_id, start, end):
        return self.ws_call(
            instance_id,
            "recorder/statistics_during_period",
            {
                "start_time": start.isoformat(),
                "end_time": end.isoformat(),
                "statistic_ids": [statistic_id],
                "period": "hour",
                "types": ["mean", "min", "max", "state"],
            },
            timeout=30,
        )

    def set_recording(self, instance_id, entity_id, record):
        def switch(env):
            entity = env["ha.entity"].search(
                [("instance_id", "=", instance_id), ("entity_id", "=", entity_id)]
            )
            if record:
                entity.action_record_history()
            else:
                entity.action_stop_recording()

        self.run_committed(switch)

    def wait_backfilled(self, instance_id):
        self.wait_until(
            lambda: (
                not self.query(
                    "SELECT entity_id FROM ha_entity WHERE instance_id = %s"
                    " AND history_backfill_pending",
                    (instance_id,),
                )
            ),
            "entities are still waiting for their history backfill",
        )

    def wait_entity_state(self, instance_id, entity_id, state):
        self.wait_until(
            lambda: self.entity_rows(instance_id).get(entity_id, {}).get("state") == state,
            f"{entity_id} never became {state!r} in Odoo",
        )

    def history_count(self, instance_id, entity_id):
        return self.query(
            "SELECT count(*) FROM ha_entity_history h JOIN ha_entity e ON e.id = h.entity_id"
            " WHERE e.instance_id = %s AND e.entity_id = %s",
            (instance_id, entity_id),
        )[0][0]

    def ha_points(self, instance_id, entity_ids, start, end):
        """entity_id -> [(state, last_updated, last_changed)] that HA's recorder has."""
        result = self.ws_call(
            instance_id,
            HISTORY_COMMAND,
            {
                "start_time": start.isoformat(),
                "end_time": end.isoformat(),
                "entity_ids": entity_ids,
                "include_start_time_state": False,
                "significant_changes_only": False,
                "no_attributes": True,
            },
            timeout=30,
        )
        return {
            entity_id: [
                (p["s"], naive_utc(p["lu"]), naive_utc(p.get("lc", p["lu"]))) for p in points
            ]
            for entity_id, points in result.items()
            if points
        }

    def odoo_points(self, instance_id, entity_ids, start, end):
        rows = self.query(
            "SELECT e.entity_id, h.state, h.last_updated, h.last_changed"
            "  FROM ha_entity_history h JOIN ha_entity e ON e.id = h.entity_id"
            " WHERE e.instance_id = %s AND e.entity_id = ANY(%s)"
            "   AND h.last_updated > %s AND h.last_updated < %s"
            " ORDER BY e.entity_id, h.last_updated",
            (
                instance_id,
                list(entity_ids),
                start.replace(tzinfo=None),
                end.replace(tzinfo=None),
            ),
        )
        points = {}
        for entity_id, state, last_updated, last_changed in rows:
            points.setdefault(entity_id, []).append((state, last_updated, last_changed))
        return points

    def _rest_history(self, entity_id, start):
        periods = self.rest.get(
            f"/api/history/period/{start.isoformat()}",
            filter_entity_id=entity_id,
            significant_changes_only="0",
            no_attributes="1",
        )
        return periods[0] if periods else []

    def _remove_state(self, entity_id):
        with contextlib.suppress(errors.CommandFailed):  # 404: already gone
            self.rest.request("DELETE", f"/api/states/{entity_id}")


@tagged("post_install", "-at_install")
class TestStatisticsImportRefused(HaTestCommon):
    """A Home Assistant without the recorder's statistics answers unknown_command: the import
    gives up quietly and the states' backfill goes on (a real HA with a recorder always has
    the command, so a stand-in client refuses it here)."""

    def test_a_refused_statistics_request_does_not_stop_the_backfill(self):
        class RefusingClient:
            requests = []

            async def command(self, message, timeout_s=None):
                self.requests.append(message["type"])
                raise errors.CommandFailed("unknown_command", f"Unknown command {message['type']}.")

        async def in_thread(function, *args):
            return function(*args)

        backfill = HistoryBackfill(
            self.instance.id, RefusingClient(), None, in_thread, wait_snapshot=None
        )
        backfill._in_transaction = lambda function, *args: in_thread(function, self.env.cr, *args)
        entities = [(self.sensor_outside.id, self.sensor_outside.entity_id, "°C")]
        with (
            patch.object(history_backfill._logger, "info") as info,
            patch.object(history_backfill._logger, "warning") as warning,
        ):
            stored = asyncio.run(backfill.import_statistics(entities, datetime.now(UTC)))
        self.assertEqual(stored, 0)
        self.assertEqual(RefusingClient.requests, ["recorder/statistics_during_period"])
        self.assertFalse(warning.called)
        self.assertEqual(info.call_count, 1)
        self.assertIn("not imported", info.call_args.args[0])
