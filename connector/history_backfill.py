"""Filling in the recent past of entities that start recording, from Home Assistant's recorder.

An entity is marked ``history_backfill_pending`` when it starts recording history: a manager
turned recording on (``ha.entity.write``, which also NOTIFYs "backfill" on the control
channel), or the state writer inserted a new entity whose domain records by default, which
covers every recording entity of an instance's first connection. The process hosting the
instance's connection then asks HA for those entities' states of the last
``history_backfill_days`` (never more than the retention keeps) and appends them like live
states. Rows are unique per (entity, HA ``last_updated``), so backfill and live writes never
double a state, whichever lands first. The flag is cleared per entity once its period is
written; a backfill cut short (connection lost, PostgreSQL down) resumes on the next
connection. Before the states, HA's own hourly and 5-minute statistics of the time before the
backfill (``history_statistics_import_days``) are imported as ``ha.entity.history.rollup``
rows, so long-range charts have a past at once; a HA without them leaves the states' backfill
running.

Every (re)connection also fills the gap: states HA recorded while the instance had no
connection (HA or Odoo down, a takeover, a flush lost with PostgreSQL) are fetched for every
recording entity and every monitored machine's power sensor from the newest stored row of the
instance on, bounded by the same days. Machines get these readings in the same transaction
(``machine_usage``), and replay them in order. Rules get them as events
(``automation_events.record_history_events``), with their attributes for the entities an
attribute rule watches: their evaluation is held from the connection's snapshot until the gap
is filled (both passes), then released.

One round runs at a time per instance; requests arriving meanwhile run one more round after it.
HA answers in one frame per request, so requests are bounded both in entities and in time.
"""

import asyncio
import logging
import math
from datetime import UTC, datetime, timedelta

import psycopg2
from psycopg2.extras import execute_values

from ..hass import errors
from . import automation_events, machine_usage
from .history_rollups import PERIOD_SECONDS, floor_time
from .history_rows import history_row, insert_history_rows
from .orm import InstanceOrm
from .settings import (
    HISTORY_BACKFILL_DAYS_DEFAULT,
    HISTORY_BACKFILL_DAYS_PARAM,
    HISTORY_RETENTION_DAYS_DEFAULT,
    HISTORY_RETENTION_DAYS_PARAM,
    HISTORY_STATISTICS_IMPORT_DAYS_DEFAULT,
    HISTORY_STATISTICS_IMPORT_DAYS_PARAM,
)

_logger = logging.getLogger(__name__)

HISTORY_COMMAND = "history/history_during_period"
# Entities and hours per request. A sensor reporting every second has ~21,600 states in six
# hours, ~1.3 MB without attributes: ten of them stay well under the client's frame limit.
ENTITIES_PER_REQUEST = 10
WINDOW = timedelta(hours=6)
# With attributes (the entities attribute rules watch), one entity and half an hour per
# request: at a state a second with 5 KB of attributes, about 9 MB.
ENTITIES_PER_REQUEST_WITH_ATTRIBUTES = 1
WINDOW_WITH_ATTRIBUTES = timedelta(minutes=30)
# HA selects states strictly inside (start, end): consecutive windows overlap by this much so
# a state stamped exactly on a boundary is fetched twice (and stored once) instead of never.
WINDOW_OVERLAP = timedelta(seconds=1)
# A gap is filled again this long after the first pass (see _run).
GAP_RECHECK_S = 6.0
# A history query over a large recorder database can take several seconds.
REQUEST_TIMEOUT_S = 60.0

STATISTICS_COMMAND = "recorder/statistics_during_period"
# Time per statistics request and period: ten entities' hourly statistics of 30 days are
# 7,200 rows, their 5-minute statistics of a day 2,880.
STATISTICS_WINDOWS = {"hour": timedelta(days=30), "5minute": timedelta(days=1)}
# Home Assistant keeps 5-minute statistics this long by default (recorder keep_days): older
# requests would only come back empty.
SHORT_TERM_STATISTICS_DAYS = 10


def _int_param(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def read_backfill_days(cr):
    """How many days of the past a backfill fetches at most."""
    cr.execute(
        "SELECT key, value FROM ir_config_parameter WHERE key IN %s",
        ((HISTORY_BACKFILL_DAYS_PARAM, HISTORY_RETENTION_DAYS_PARAM),),
    )
    params = dict(cr.fetchall())
    days = _int_param(params.get(HISTORY_BACKFILL_DAYS_PARAM), HISTORY_BACKFILL_DAYS_DEFAULT)
    retention = _int_param(params.get(HISTORY_RETENTION_DAYS_PARAM), HISTORY_RETENTION_DAYS_DEFAULT)
    if retention > 0:
        # Rows past the retention would be purged by the next daily run.
        days = min(days, retention)
    return days


def read_statistics_days(cr):
    """How many days of Home Assistant's long-term statistics an entity that starts recording
    imports, before its backfill."""
    cr.execute(
        "SELECT value FROM ir_config_parameter WHERE key = %s",
        (HISTORY_STATISTICS_IMPORT_DAYS_PARAM,),
    )
    row = cr.fetchone()
    return _int_param(row and row[0], HISTORY_STATISTICS_IMPORT_DAYS_DEFAULT)


def read_plan(cr, instance_id):
    """([(ha.entity id, entity_id, unit)] waiting for a backfill, days to fetch)."""
    days = read_backfill_days(cr)
    cr.execute(
        """
        SELECT id, entity_id, unit_of_measurement FROM ha_entity
         WHERE instance_id = %s AND history_backfill_pending AND record_history AND active
      ORDER BY entity_id
        """,
        (instance_id,),
    )
    return cr.fetchall(), days


def read_newest_history(cr, instance_id):
    """The newest state of the instance stored, as history or as a machine's power reading,
    or None."""
    cr.execute(
        """
        SELECT greatest(
            (SELECT max(last_updated) FROM ha_entity_history WHERE instance_id = %(instance)s),
            (SELECT max(reading.ha_time) FROM ha_machine_reading reading
               JOIN ha_machine machine ON machine.id = reading.machine_id
              WHERE machine.instance_id = %(instance)s))
        """,
        {"instance": instance_id},
    )
    return cr.fetchone()[0]


def read_gap_plan(cr, instance_id):
    """(newest stored state of the instance or None, [(id, entity_id, unit)] of the recording
    entities and the power sensors of active machines, days to fetch at most, the ids among
    them whose attributes an active rule watches)."""
    days = read_backfill_days(cr)
    since = read_newest_history(cr, instance_id)
    cr.execute(
        """
        SELECT id, entity_id, unit_of_measurement FROM ha_entity entity
         WHERE instance_id = %(instance)s AND active
           AND ((record_history AND NOT history_backfill_pending)
                OR id IN (SELECT sensor_id FROM ha_machine
                           WHERE instance_id = %(instance)s AND active))
      ORDER BY entity_id
        """,
        {"instance": instance_id},
    )
    entities = cr.fetchall()
    return since, entities, days, automation_events.attribute_watched(cr, instance_id)


def history_request(entity_ids, start, end=None, *, attributes=False):
    """The websocket command for every recorded state of ``entity_ids`` in (start, end).

    Every state HA recorded, like the live stream (``significant_changes_only`` would drop
    attribute-only updates). Without attributes unless ``attributes`` (for the entities an
    attribute rule watches): the unit is taken from the entity, which keeps a day of a chatty
    sensor a small frame.
    """
    message = {
        "type": HISTORY_COMMAND,
        "start_time": start.isoformat(),
        "entity_ids": list(entity_ids),
        # Otherwise HA adds a made-up state stamped ``start_time`` for each entity.
        "include_start_time_state": False,
        "significant_changes_only": False,
        "minimal_response": False,
        "no_attributes": not attributes,
    }
    if end is not None:
        message["end_time"] = end.isoformat()
    return message


def _from_epoch(timestamp):
    # The same conversion as the live path (hass.messages then storable.parse_ha_time),
    # so a state yields the same key whichever way it arrives.
    return datetime.fromtimestamp(timestamp, tz=UTC).replace(tzinfo=None)


def rows_from_history(result, entities, instance_id):
    """History rows from HA's compressed answer ``{entity_id: [{"s", "lu", "lc"?}]}``."""
    rows = []
    for record_id, entity_id, unit in entities:
        for point in (result or {}).get(entity_id) or ():
            last_updated = _from_epoch(point["lu"])
            last_changed = _from_epoch(point["lc"]) if "lc" in point else last_updated
            rows.append(
                history_row(
                    record_id, instance_id, point.get("s"), unit, last_changed, last_updated
                )
            )
    return rows


def attributes_from_history(result, entities):
    """(ha.entity id, last_updated) -> attributes, of the states of HA's compressed answer
    that carry them (``"a"``, asked for with ``history_request(..., attributes=True)``)."""
    found = {}
    for record_id, entity_id, _unit in entities:
        for point in (result or {}).get(entity_id) or ():
            if isinstance(point.get("a"), dict):
                found[(record_id, _from_epoch(point["lu"]))] = point["a"]
    return found


def statistics_request(entity_ids, period, start, end):
    """The websocket command for ``period`` statistics of ``entity_ids`` starting in
    [start, end): min, max and mean of measurements, the state of meters (which have no
    mean)."""
    return {
        "type": STATISTICS_COMMAND,
        "start_time": start.isoformat(),
        "end_time": end.isoformat(),
        "statistic_ids": list(entity_ids),
        "period": period,
        "types": ["mean", "min", "max", "state"],
    }


def _finite(value):
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rows_from_statistics(result, entities, instance_id, period):
    """Statistics rows from HA's answer ``{statistic_id: [{"start": ms, "mean", "min",
    "max", "state"}]}``. A meter's statistics (total, total_increasing) have no mean: its
    reading at the period's end stands for all three, as its raw states would chart it."""
    rows = []
    for record_id, entity_id, _unit in entities:
        for item in (result or {}).get(entity_id) or ():
            values = (item.get("min"), item.get("max"), item.get("mean"))
            if not all(_finite(value) for value in values):
                state = item.get("state")
                if not _finite(state):
                    continue
                values = (state, state, state)
            start = item.get("start")
            if not _finite(start):
                continue
            rows.append(
                (
                    record_id,
                    instance_id,
                    period,
                    _from_epoch(start / 1000),
                    *(float(value) for value in values),
                    PERIOD_SECONDS[period],
                )
            )
    return rows


def store_statistics(cr, rows):
    """Store imported statistics; a period Odoo rolled up from its own states keeps its own,
    an imported one is refreshed. Returns how many rows were written."""
    if not rows:
        return 0
    execute_values(
        cr._obj,
        """
        INSERT INTO ha_entity_history_rollup AS rollup
            (entity_id, instance_id, period, start, minimum, maximum, mean, seconds,
             state_count, source)
        VALUES %s
        ON CONFLICT (entity_id, period, start) DO UPDATE SET
            minimum = EXCLUDED.minimum, maximum = EXCLUDED.maximum, mean = EXCLUDED.mean,
            seconds = EXCLUDED.seconds
        WHERE rollup.source = 'ha'
        """,
        rows,
        template="(%s, %s, %s, %s, %s, %s, %s, %s, 0, 'ha')",
        page_size=1000,
    )
    return len(rows)


def store_rows(cr, rows, finished_ids=()):
    """Append ``rows`` of recording entities as history and hand those of machines' power
    sensors to their state machines; clear the pending flag of ``finished_ids``.

    Returns (new history rows, ids of the machines that changed, the earliest deadline of
    those machines or None).
    """
    inserted, machines_changed, deadline = 0, [], None
    if rows:
        cr.execute(
            "SELECT id FROM ha_entity WHERE id = ANY(%s) AND record_history",
            (list({row[0] for row in rows}),),
        )
        recording = {row[0] for row in cr.fetchall()}
        inserted = insert_history_rows(cr, [row for row in rows if row[0] in recording])
    # Entity rows before machine states, in the state writer's order: two transactions that
    # lock them in opposite orders deadlock.
    clear_pending(cr, finished_ids)
    if rows:
        machines_changed, deadline = machine_usage.process_rows(cr, rows[0][1], rows)
    return inserted, machines_changed, deadline


def clear_pending(cr, entity_ids):
    if entity_ids:
        cr.execute(
            "UPDATE ha_entity SET history_backfill_pending = FALSE WHERE id = ANY(%s)",
            (list(entity_ids),),
        )


class HistoryBackfill:
    """Backfill rounds of one instance, run on its connector's event loop.

    ``run_in_thread(function, *args)`` runs blocking SQL off the loop (the connector's
    bookkeeping pool); ``wait_snapshot()`` returns once the writer has committed the state
    snapshot, so new entities and their pending flags exist before a round reads them.
    """

    def __init__(
        self,
        instance_id,
        client,
        db,
        run_in_thread,
        wait_snapshot,
        on_machine_deadline=None,
        on_gap_filled=None,
    ):
        self.instance_id = instance_id
        # Told when the gap's states are recorded and the rules released (they evaluate).
        self._on_gap_filled = on_gap_filled
        # Told when stored readings left a machine waiting for the clock (the writer ticks).
        self._on_machine_deadline = on_machine_deadline
        self.client = client
        self.db = db
        self._run_in_thread = run_in_thread
        self._wait_snapshot = wait_snapshot
        self._wanted = False
        self._gap_wanted = False
        # Where the gap of the current connection starts: the newest stored history before
        # that connection's snapshot was written (the snapshot's own rows are newer than the
        # states HA recorded during the outage).
        self._gap_since = None
        self._task = None

    def request(self, *, gap=False):
        """Run a round soon; ``gap``: fill in what HA recorded since the newest stored row
        too (after a (re)connection). Event-loop thread only."""
        self._wanted = True
        self._gap_wanted = self._gap_wanted or gap
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
            self._task.add_done_callback(self._task_done)

    def cancel(self):
        if self._task is not None:
            self._task.cancel()

    def _task_done(self, task):
        if not task.cancelled() and task.exception() is not None:
            _logger.error(
                "History backfill of instance %s failed; it runs again on the next connection",
                self.instance_id,
                exc_info=task.exception(),
            )

    async def _run(self):
        while self._wanted:
            self._wanted = False
            await self._wait_snapshot()
            gap, self._gap_wanted = self._gap_wanted, False
            try:
                if gap:
                    await self._fill_gap_and_release_rules()
                await self.backfill_pending()
            except (errors.NotConnected, errors.ConnectionLost) as error:
                # The flags stay: the next connection resumes where this one stopped.
                _logger.info(
                    "History backfill of instance %s paused until it reconnects: %s",
                    self.instance_id,
                    error,
                )
                return
            except (errors.HAError, psycopg2.Error) as error:
                _logger.warning(
                    "History backfill of instance %s failed, retried on the next connection: %s",
                    self.instance_id,
                    error,
                )
                if gap:
                    # The rules wait no longer for a gap that will not be filled now.
                    await self._release_rules()
                return

    async def _fill_gap_and_release_rules(self):
        if await self.fill_gap() is not None:
            # Home Assistant's recorder writes its database every commit_interval (5 s by
            # default): the outage's last states may land there after the first pass. The
            # same window again; stored rows are not repeated.
            await asyncio.sleep(GAP_RECHECK_S)
            await self.fill_gap()
        self._gap_since = None
        await self._release_rules()

    async def _release_rules(self):
        await self._in_transaction(automation_events.release_rules, self.instance_id)
        if self._on_gap_filled is not None:
            self._on_gap_filled()

    async def backfill_pending(self):
        """Fetch and store the recent past of every entity waiting for it; return new rows."""
        entities, days = await self._in_transaction(read_plan, self.instance_id)
        if not entities:
            return 0
        if days <= 0:
            await self.import_statistics(entities, datetime.now(UTC))
            await self._in_transaction(clear_pending, [entity[0] for entity in entities])
            return 0
        end = datetime.now(UTC)
        await self.import_statistics(entities, end - timedelta(days=days))
        inserted = await self._fetch(entities, end - timedelta(days=days), end)
        _logger.info(
            "Backfilled %s history rows of %s entities of instance %s (last %s days)",
            inserted,
            len(entities),
            self.instance_id,
            days,
        )
        return inserted

    async def import_statistics(self, entities, until):
        """Import Home Assistant's hourly and 5-minute statistics of ``entities`` from the
        configured number of days ago up to ``until`` (where their backfilled states begin),
        so their long-range charts show the time before Odoo recorded them; return the
        number of statistics stored. Entities HA keeps no statistics of get none."""
        days = await self._in_transaction(read_statistics_days)
        if days <= 0:
            return 0
        now = datetime.now(UTC)
        stored = 0
        for period, window in STATISTICS_WINDOWS.items():
            horizon = days if period == "hour" else min(days, SHORT_TERM_STATISTICS_DAYS)
            start = floor_time(now - timedelta(days=horizon), PERIOD_SECONDS[period])
            # Whole periods only: the one ``until`` falls in is rolled up from the states.
            end = floor_time(until, PERIOD_SECONDS[period])
            start, end = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
            for index in range(0, len(entities), ENTITIES_PER_REQUEST):
                chunk = entities[index : index + ENTITIES_PER_REQUEST]
                window_start = start
                while window_start < end:
                    window_end = min(window_start + window, end)
                    try:
                        result = await self.client.command(
                            statistics_request(
                                [entity_id for _id, entity_id, _unit in chunk],
                                period,
                                window_start,
                                window_end,
                            ),
                            timeout_s=REQUEST_TIMEOUT_S,
                        )
                    except errors.CommandFailed as error:
                        # A Home Assistant without the recorder (or one that refuses the
                        # request) has no statistics to give: the states' backfill goes on.
                        _logger.info(
                            "Home Assistant statistics of instance %s not imported: %s",
                            self.instance_id,
                            error,
                        )
                        return stored
                    rows = rows_from_statistics(result, chunk, self.instance_id, period)
                    stored += await self._in_transaction(store_statistics, rows)
                    window_start = window_end
        if stored:
            _logger.info(
                "Imported %s Home Assistant statistics of %s entities of instance %s",
                stored,
                len(entities),
                self.instance_id,
            )
        return stored

    async def mark_gap_start(self):
        """Note where the gap of a new connection starts; call it before the connection's
        state snapshot is written (``on_connect``). A gap not filled yet keeps its start."""
        if self._gap_since is not None:
            return
        try:
            self._gap_since = await self._in_transaction(read_newest_history, self.instance_id)
        except psycopg2.Error as error:
            # The fill then starts at the newest stored row, snapshot included.
            _logger.warning(
                "History gap of instance %s: could not read where it starts: %s",
                self.instance_id,
                error,
            )

    async def fill_gap(self):
        """Fetch and store what HA recorded since the newest row stored before this
        connection (``mark_gap_start``; else the newest stored row), and record it for the
        rules; return new rows, None when there is no gap to fill."""
        since, entities, days, attribute_ids = await self._in_transaction(
            read_gap_plan, self.instance_id
        )
        if self._gap_since is not None:
            since = self._gap_since
        if since is None or not entities or days <= 0:
            return None
        end = datetime.now(UTC)
        start = max(since.replace(tzinfo=UTC) - WINDOW_OVERLAP, end - timedelta(days=days))
        # The entities attribute rules watch come with their attributes, in requests of their
        # own: the rules see the attribute changes of the gap as they would have live.
        inserted = 0
        for with_attributes in (False, True):
            inserted += await self._fetch(
                [entity for entity in entities if (entity[0] in attribute_ids) == with_attributes],
                start,
                end,
                clear_pending=False,
                rule_events=True,
                attributes=with_attributes,
            )
        if inserted:
            _logger.info(
                "Filled in %s history rows of instance %s recorded by Home Assistant since %s",
                inserted,
                self.instance_id,
                since,
            )
        return inserted

    async def _fetch(
        self, entities, start, end, *, clear_pending=True, rule_events=False, attributes=False
    ):
        """Store HA's states of ``entities`` between ``start`` and ``end``, a bounded number of
        entities per request; ``clear_pending``: their backfill is done once stored;
        ``rule_events``: record them for the rules too, with their attributes if
        ``attributes``."""
        inserted = 0
        per_request = ENTITIES_PER_REQUEST_WITH_ATTRIBUTES if attributes else ENTITIES_PER_REQUEST
        for index in range(0, len(entities), per_request):
            chunk = entities[index : index + per_request]
            inserted += await self._backfill_chunk(
                chunk,
                start,
                end,
                clear_pending=clear_pending,
                rule_events=rule_events,
                attributes=attributes,
            )
        return inserted

    async def _backfill_chunk(self, chunk, start, end, *, clear_pending, rule_events, attributes):
        entity_ids = [entity_id for _id, entity_id, _unit in chunk]
        inserted = 0
        window_start = start
        window = WINDOW_WITH_ATTRIBUTES if attributes else WINDOW
        while True:
            window_end = window_start + window
            last = window_end >= end
            result = await self.client.command(
                history_request(
                    entity_ids,
                    window_start,
                    None if last else window_end,
                    attributes=attributes,
                ),
                timeout_s=REQUEST_TIMEOUT_S,
            )
            rows = rows_from_history(result, chunk, self.instance_id)
            # For the rules: what the states' attributes were, where HA gave them.
            rule_attributes = attributes_from_history(result, chunk) if rule_events else None
            finished = (
                [record_id for record_id, _eid, _unit in chunk] if last and clear_pending else ()
            )
            stored, deadline = await self._in_transaction(
                self._store, rows, finished, rule_attributes
            )
            inserted += stored
            if deadline is not None and self._on_machine_deadline is not None:
                self._on_machine_deadline(deadline)
            if last:
                return inserted
            window_start = window_end - WINDOW_OVERLAP

    def _store(self, cr, rows, finished_ids, rule_attributes):
        """Store ``rows``; unless ``rule_attributes`` is None, record them for the rules too,
        with those attributes (``attributes_from_history``)."""
        inserted, machines_changed, deadline = store_rows(cr, rows, finished_ids)
        if rule_attributes is not None:
            automation_events.record_history_events(cr, self.instance_id, rows, rule_attributes)
        if machines_changed:
            InstanceOrm(self.db, cr, self.instance_id).notify_machine_states(machines_changed)
        return inserted, deadline

    async def _in_transaction(self, function, *args):
        return await self._run_in_thread(self.db.run_transaction, function, *args)
