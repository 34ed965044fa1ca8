"""The single writer of Home Assistant state for one instance.

State changes arrive on the instance connector's event loop, often hundreds per second. The
writer keeps the newest state per entity plus every point of the entities that record
history, and writes them by *group commit*: when no flush is running, a change is written at
once; while one runs, changes collect and all go in the next one. An idle home thus sees its
changes committed within milliseconds, and a busy one gets batches as large as the time a
flush takes, which is what keeps the ingest ceiling. A flush starts no sooner than
``MIN_FLUSH_INTERVAL_S`` after the previous one: each flush sends a bus message, and each bus
message makes Odoo's ``/websocket`` process run a dispatch (a cursor, a session check and a
``bus.bus`` read) for every socket listening to the instance, so the rate of flushes times
the number of sockets is what that process pays (docs/PERFORMANCE.md, "Prefork + gevent").

Each flush is ONE transaction: upsert the changed ``ha.entity`` rows (HA-owned columns only),
append ``ha.entity.history`` rows, and send one bus message per access scope. The SQL runs on
the writer's own thread, so batches stay in order and the event loop never waits on
PostgreSQL: Home Assistant drops clients that fall behind.

A flush that fails is merged back into what is waiting and retried with backoff (serialization
failures at once), so a PostgreSQL outage delays changes and loses none.

An entity seen for the first time records history when its domain is in its instance's
``history_domains``; such an entity is also marked for a history backfill, and
``on_new_recording`` (if given) is called on the event loop after the flush that inserted it.

States of monitored machines' power sensors go through ``machine_usage`` in the same
transaction. While the connection is up (``set_listening``), the writer also wakes when a
machine's debounce or silence timeout is due, a little after it (``TICK_GRACE_S``): a reading
stamped before that moment may still be on its way, and one that arrives after the tick would
make the machine replay.
"""

import asyncio
import contextlib
import logging
import time

from psycopg2.extras import Json, execute_values

from ..hass.backoff import Backoff
from . import automation_events, machine_usage
from .history_rows import history_row, insert_history_rows
from .orm import BUS_MAX_CHANGES, InstanceOrm
from .settings import split_domains
from .storable import parse_ha_time, storable_state, storable_text, text_or_none

_logger = logging.getLogger(__name__)

# At most 10 flushes (hence bus messages per scope) a second: an isolated change is still
# written at once, changes that come faster wait at most this long for the next flush.
MIN_FLUSH_INTERVAL_S = 0.1
RETRY_INITIAL_S = 0.2
RETRY_MAX_S = 10.0
# Machine deadlines are decided this long after they fall due (see the module docstring).
TICK_GRACE_S = 1.0
# While a machine is between states, its deadlines are looked at again at least this often:
# thresholds edited in Odoo may have moved them.
MAX_TICK_INTERVAL_S = 5.0


class EntityStateWriter:
    def __init__(self, db, instance_id, executor, on_new_recording=None, on_rule_events=None):
        """``executor`` runs the writer's SQL, one job at a time in order;
        ``on_rule_events`` is called on the event loop after a flush that recorded events
        for rules (automation_events.py)."""
        self.db = db
        self.instance_id = instance_id
        self._on_new_recording = on_new_recording
        self._on_rule_events = on_rule_events
        # Set by the writer's thread when a flush recorded rule events; read by the loop.
        self._rule_events = False
        # The writer's thread only: what the rules made of the states stored last, and what
        # the flush in progress learned of them (applied once it committed).
        self._rule_memory = automation_events.RuleMemory()
        self._rule_learned = None
        self._latest = {}
        self._points = []
        self._snapshot_ids = None
        self._links = None
        self._wake = asyncio.Event()
        self._snapshot_committed = asyncio.Event()
        self._executor = executor
        self.flush_count = 0
        # A flush is running; how long the last one took (event loop's clock); pulsed at the
        # end of each flush (``wait_flush``).
        self._flushing = False
        self._last_flush_s = 0.0
        self._flush_ended = asyncio.Event()
        self._listening = False
        # Epoch seconds at which a machine deadline falls due, None when none is pending; the
        # first tick of a connection looks at every machine.
        self._tick_at = None

    # Event-loop side --------------------------------------------------------------------

    def add_changes(self, changes):
        """``changes``: iterable of (entity_id, new state dict, or None when removed)."""
        for raw_id, raw_state in changes:
            entity_id = storable_text(raw_id)
            state = None if raw_state is None else storable_state(raw_state)
            self._latest[entity_id] = state
            if state is not None:
                self._points.append((entity_id, state))
        self._wake.set()

    def replace_all(self, states):
        """A full snapshot: every entity not in ``states`` is gone from Home Assistant."""
        self._snapshot_ids = {storable_text(entity_id) for entity_id in states}
        self._snapshot_committed.clear()
        self.add_changes(states.items())

    async def wait_snapshot_committed(self):
        """Return once the last snapshot given to ``replace_all`` is committed."""
        await self._snapshot_committed.wait()

    def set_listening(self, listening):
        """Whether the connection is up: machine deadlines are decided only then."""
        self._listening = listening
        if listening:
            self._tick_at = 0.0
            self._wake.set()

    def wake_at(self, deadline):
        """A machine deadline (epoch seconds) set outside the writer (the gap fill)."""
        self._schedule_tick(deadline)
        self._wake.set()

    def set_entity_links(self, links):
        """entity_id -> (ha.area id or None, ha.device id or None), from the registries."""
        self._links = links

    async def run(self):
        backoff = Backoff(initial_s=RETRY_INITIAL_S, max_s=RETRY_MAX_S)
        loop = asyncio.get_running_loop()
        last_flush_at = -MIN_FLUSH_INTERVAL_S
        while True:
            await self._wait_for_work()
            early_s = last_flush_at + MIN_FLUSH_INTERVAL_S - loop.time()
            if early_s > 0:
                await asyncio.sleep(early_s)
            # Group commit: what arrived while the previous flush ran goes in this one.
            last_flush_at = loop.time()
            batch = self._take()
            if batch is not None:
                await self._write_or_merge_back(loop, backoff, batch)
            if self._tick_due():
                await self._tick(loop, backoff)

    @property
    def saturated(self):
        """Whether states arrive faster than one flush per ``MIN_FLUSH_INTERVAL_S`` stores
        them: the last flush took longer than that and more is being written or waiting."""
        return self._last_flush_s >= MIN_FLUSH_INTERVAL_S and (self._flushing or bool(self._latest))

    async def wait_flush(self, timeout_s):
        """Return at the end of the next flush, or after ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flush_ended.wait(), timeout_s)

    async def _write_or_merge_back(self, loop, backoff, batch):
        started = loop.time()
        self._flushing = True
        try:
            await self._write_or_merge_back_now(loop, backoff, batch)
        finally:
            self._flushing = False
            self._last_flush_s = loop.time() - started
            ended, self._flush_ended = self._flush_ended, asyncio.Event()
            ended.set()

    async def _write_or_merge_back_now(self, loop, backoff, batch):
        try:
            new_recording = await loop.run_in_executor(self._executor, self._write, *batch)
            backoff.reset()
            if batch[2] is not None and self._snapshot_ids is None:
                self._snapshot_committed.set()
            if new_recording and self._on_new_recording is not None:
                self._on_new_recording()
            if self._rule_events:
                self._rule_events = False
                if self._on_rule_events is not None:
                    self._on_rule_events()
        except Exception as error:  # noqa: BLE001 - every failure is retried, none dropped
            self._merge_back(*batch)
            delay = backoff.next_delay()
            _logger.warning(
                "Writing Home Assistant states of instance %s failed (%s); retrying in %.1f s",
                self.instance_id,
                str(error).strip() or type(error).__name__,
                delay,
            )
            await asyncio.sleep(delay)

    async def _wait_for_work(self):
        timeout = None
        if self._listening and self._tick_at is not None:
            timeout = max(0.0, self._tick_at + TICK_GRACE_S - time.time())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _tick_due(self):
        return (
            self._listening
            and self._tick_at is not None
            and time.time() >= self._tick_at + TICK_GRACE_S
        )

    def _schedule_tick(self, deadline):
        """Wake for ``deadline`` (epoch seconds), or at least within MAX_TICK_INTERVAL_S."""
        if deadline is None:
            return
        deadline = min(deadline, time.time() + MAX_TICK_INTERVAL_S)
        if self._tick_at is None or deadline < self._tick_at:
            self._tick_at = deadline

    async def _tick(self, loop, backoff):
        self._tick_at = None
        try:
            deadline = await loop.run_in_executor(
                self._executor,
                self.db.run_transaction,
                self._advance_machines,
                time.time() - TICK_GRACE_S,
            )
            backoff.reset()
        except Exception as error:  # noqa: BLE001 - the tick is retried, its readings are kept
            delay = backoff.next_delay()
            _logger.warning(
                "Advancing the machines of instance %s failed (%s); retrying in %.1f s",
                self.instance_id,
                str(error).strip() or type(error).__name__,
                delay,
            )
            self._tick_at = time.time() + delay - TICK_GRACE_S
            return
        self._schedule_tick(deadline)

    def _advance_machines(self, cr, now):
        changed, deadline = machine_usage.advance_due(cr, self.instance_id, now)
        if changed:
            InstanceOrm(self.db, cr, self.instance_id).notify_machine_states(changed)
        return deadline

    async def flush(self):
        """Write what is waiting now (used when stopping)."""
        batch = self._take()
        if batch is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._write, *batch)
            if batch[2] is not None and self._snapshot_ids is None:
                self._snapshot_committed.set()

    def close(self):
        self._executor.shutdown(wait=True)

    def _take(self):
        self._wake.clear()
        if not self._latest and self._snapshot_ids is None:
            return None
        batch = (self._latest, self._points, self._snapshot_ids, self._links)
        self._latest, self._points, self._snapshot_ids = {}, [], None
        return batch

    def _merge_back(self, latest, points, snapshot_ids, _links):
        # Changes that arrived meanwhile are newer: they win over the failed batch.
        latest.update(self._latest)
        self._latest = latest
        self._points = points + self._points
        if self._snapshot_ids is None:
            self._snapshot_ids = snapshot_ids
        self._wake.set()

    # Writer-thread side -----------------------------------------------------------------

    def _write(self, latest, points, snapshot_ids, links):
        """Returns whether the batch inserted entities that record history."""
        self._rule_learned = None
        if snapshot_ids is not None:
            # A new connection: what was stored meanwhile may come from another node.
            self._rule_memory.clear()
        new_recording = self.db.run_transaction(
            self._write_batch, latest, points, snapshot_ids, links
        )
        self._rule_memory.apply(self._rule_learned)
        self.flush_count += 1
        return new_recording

    def _write_batch(self, cr, latest, points, snapshot_ids, links):
        present = {eid: state for eid, state in latest.items() if state is not None}
        removed = [eid for eid, state in latest.items() if state is None]
        written, new_recording = self._upsert_entities(cr, present, links)
        gone = self._archive_entities(cr, removed, snapshot_ids)
        self._append_history(cr, points, written)
        recorded, self._rule_learned = automation_events.record_events(
            cr, self.instance_id, points, written, self._rule_memory
        )
        if recorded:
            self._rule_events = True
        if snapshot_ids is not None:
            # States of the time without a connection come after it (history_backfill).
            automation_events.hold_rules(cr, self.instance_id)
        machines_changed = self._process_machine_readings(cr, points, written)
        orm = InstanceOrm(self.db, cr, self.instance_id)
        if machines_changed:
            orm.notify_machine_states(machines_changed)
        cr.execute(
            "UPDATE ha_instance SET last_event_at = now() at time zone 'UTC',"
            " entity_count = (SELECT count(*) FROM ha_entity"
            "                  WHERE instance_id = %s AND NOT ha_removed)"
            " WHERE id = %s",
            (self.instance_id, self.instance_id),
        )
        if len(present) + len(gone) > BUS_MAX_CHANGES:
            orm.notify_entities_reload()
        else:
            changes = {
                eid: {
                    "id": written[eid][0],
                    "state": state["state"],
                    "attributes": state.get("attributes", {}),
                    "last_changed": state.get("last_changed"),
                    "last_updated": state.get("last_updated"),
                }
                for eid, state in present.items()
            }
            changes.update(dict.fromkeys(gone))
            orm.notify_entity_changes(changes)
        return new_recording

    def _upsert_entities(self, cr, present, links):
        """Insert or update the HA-owned columns.

        Returns (entity_id -> (id, record_history), whether an inserted entity records).
        """
        if not present:
            return {}, False
        cr.execute("SELECT history_domains FROM ha_instance WHERE id = %s", (self.instance_id,))
        row = cr.fetchone()
        recorded_domains = split_domains(row[0] if row else None)
        rows = []
        for entity_id, state in present.items():
            attributes = state.get("attributes") or {}
            domain = entity_id.split(".", 1)[0]
            records = domain in recorded_domains
            area_id, device_id = (links or {}).get(entity_id, (None, None))
            rows.append(
                (
                    self.instance_id,
                    entity_id,
                    domain,
                    text_or_none(attributes.get("friendly_name")) or entity_id,
                    state.get("state"),
                    Json(attributes),
                    parse_ha_time(state.get("last_changed")),
                    parse_ha_time(state.get("last_updated") or state.get("last_changed")),
                    text_or_none(attributes.get("unit_of_measurement")),
                    area_id,
                    device_id,
                    records,  # record_history
                    records,  # history_backfill_pending
                )
            )
        links_clause = (
            ", area_id = EXCLUDED.area_id, device_id = EXCLUDED.device_id" if links else ""
        )
        result = execute_values(
            cr._obj,
            f"""
            INSERT INTO ha_entity AS e
                (instance_id, entity_id, domain, name, state, attributes, last_changed,
                 last_updated, unit_of_measurement, area_id, device_id, record_history,
                 history_backfill_pending,
                 ha_removed, active, create_uid, write_uid, create_date, write_date)
            VALUES %s
            ON CONFLICT (instance_id, entity_id) DO UPDATE SET
                name = EXCLUDED.name, state = EXCLUDED.state, attributes = EXCLUDED.attributes,
                last_changed = EXCLUDED.last_changed, last_updated = EXCLUDED.last_updated,
                unit_of_measurement = EXCLUDED.unit_of_measurement,
                active = e.active OR e.ha_removed, ha_removed = FALSE,
                write_date = EXCLUDED.write_date{links_clause}
            RETURNING id, entity_id, record_history, (xmax = 0) AS inserted
            """,
            rows,
            # A new entity that records history is marked for a backfill of its recent past.
            template=(
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, FALSE, TRUE, 1, 1,"
                " now() at time zone 'UTC', now() at time zone 'UTC')"
            ),
            page_size=len(rows),
            fetch=True,
        )
        # xmax = 0: the row was inserted by this statement, not updated on conflict.
        written = {entity_id: (record_id, record) for record_id, entity_id, record, _i in result}
        return written, any(record and inserted for _id, _eid, record, inserted in result)

    def _archive_entities(self, cr, removed, snapshot_ids):
        """Entities gone from Home Assistant stay in Odoo, unavailable and archived (their
        history and group memberships survive); ``ha_removed`` tells them apart from entities
        a person archived, which the writer never brings back."""
        gone = []
        if removed:
            cr.execute(
                """
                UPDATE ha_entity SET state = 'unavailable', active = FALSE, ha_removed = TRUE,
                       write_date = now() at time zone 'UTC'
                 WHERE instance_id = %s AND entity_id = ANY(%s) AND NOT ha_removed
                RETURNING entity_id
                """,
                (self.instance_id, removed),
            )
            gone += [row[0] for row in cr.fetchall()]
        if snapshot_ids is not None:
            cr.execute(
                """
                UPDATE ha_entity SET state = 'unavailable', active = FALSE, ha_removed = TRUE,
                       write_date = now() at time zone 'UTC'
                 WHERE instance_id = %s AND NOT ha_removed AND NOT (entity_id = ANY(%s))
                RETURNING entity_id
                """,
                (self.instance_id, list(snapshot_ids)),
            )
            gone += [row[0] for row in cr.fetchall()]
        return gone

    def _process_machine_readings(self, cr, points, written):
        """Feed the states of machines' power sensors to their usage state machines; return
        the ids of the machines that changed."""
        sensors = machine_usage.monitored_sensors(cr, self.instance_id)
        if not sensors:
            return []
        rows = []
        for entity_id, state in points:
            record_id = written.get(entity_id, (None,))[0]
            if record_id not in sensors:
                continue
            rows.append(self._point_row(record_id, state))
        changed, deadline = machine_usage.process_rows(cr, self.instance_id, rows)
        # Read by the event loop once the flush returns; a plain attribute is enough, as the
        # loop waits for this thread.
        self._schedule_tick(deadline)
        return changed

    def _append_history(self, cr, points, written):
        rows = []
        for entity_id, state in points:
            record_id, records_history = written.get(entity_id, (None, False))
            if not records_history:
                continue
            rows.append(self._point_row(record_id, state))
        insert_history_rows(cr, rows)

    def _point_row(self, record_id, state):
        """The ``history_row`` of one state of the entity ``record_id``."""
        attributes = state.get("attributes") or {}
        return history_row(
            record_id,
            self.instance_id,
            state.get("state"),
            text_or_none(attributes.get("unit_of_measurement")),
            parse_ha_time(state.get("last_changed")),
            parse_ha_time(state.get("last_updated") or state.get("last_changed")),
        )
