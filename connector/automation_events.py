"""Rules on the connector's side: record candidate events, have them evaluated at once.

``record_events`` runs in the state writer's transaction: one indexed query per flush tells
which of the instance's entities active rules watch (none: nothing more happens), and the
stored states of those entities are inserted into ``ha_automation_event`` with one
statement, their attributes only for entities an attribute rule watches.

``RuleEvaluations`` then evaluates the instance's rules off the writer's path, on the
connector's bookkeeping lane, in a transaction of its own (``ha.automation.rule.
_evaluate_instance``): requests coalesce (one evaluation runs at a time per instance, and
requests made while it runs make one more), and it evaluates again when a "for N seconds"
window or a retry falls due, or shortly after when another transaction held some rule. The
cron (``data/ha_automation_cron.xml``) is the safety net of all this.
"""

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from datetime import UTC

from psycopg2.extras import Json, execute_values

from ..automation import triggers
from ..hass.backoff import Backoff
from .orm import InstanceOrm
from .storable import parse_ha_time

_logger = logging.getLogger(__name__)

# Another transaction held some rule: look again this soon.
BUSY_RETRY_S = 0.2
# Evaluate a little after a window or retry falls due, and never again sooner than this.
DUE_GRACE_S = 0.02
# Never sleep longer than this without looking (clock jumps, windows edited meanwhile).
MAX_SLEEP_S = 60.0
RETRY_INITIAL_S = 0.5
RETRY_MAX_S = 30.0
# The longest an evaluation waits for a saturated state writer (see RuleEvaluations).
MAX_DEFER_S = 10.0
# The longest the rules of a reconnected instance wait for the history of the time it had no
# connection (a gap fill cut short by a new outage ends it this way).
HOLD_S = 120

_WATCHED_QUERY = """
    SELECT rel.entity_id, r."trigger", r.trigger_state, r.threshold, r.attribute,
           r.attribute_value
      FROM ha_automation_rule r
      JOIN ha_automation_rule_entity_rel rel ON rel.rule_id = r.id
     WHERE r.instance_id = %s AND r.active
"""


def watched_entities(cr, instance_id):
    """ha.entity id -> the triggers of the instance's active rules that watch it."""
    cr.execute(_WATCHED_QUERY, (instance_id,))
    watched = defaultdict(set)
    for entity_id, kind, state, threshold, attribute, attribute_value in cr.fetchall():
        with contextlib.suppress(ValueError):
            watched[entity_id].add(
                triggers.Trigger(kind, state, threshold or 0.0, attribute, attribute_value)
            )
    # In a fixed order: ``RuleMemory`` compares the tuples and the outcomes they give.
    return {entity_id: tuple(sorted(found, key=_order)) for entity_id, found in watched.items()}


def attribute_watched(cr, instance_id):
    """The ha.entity ids whose attributes an active rule of the instance watches."""
    return {
        record_id
        for record_id, found in watched_entities(cr, instance_id).items()
        if any(trigger.uses_attributes for trigger in found)
    }


def _order(trigger):
    return (
        trigger.kind,
        trigger.state or "",
        trigger.threshold,
        trigger.attribute or "",
        trigger.attribute_value or "",
    )


class RuleMemory:
    """What the rules' triggers made of each watched entity's last stored state, kept by the
    state writer across its flushes: ha.entity id -> (the triggers, their ``outcome``, the
    state). A state whose outcome is the one remembered changes nothing for any rule and is
    not recorded; the first state of an entity the writer remembers nothing of always is.

    Only committed flushes update it (``record_events`` returns the updates, the writer
    applies them once its transaction committed), and a new connection starts it afresh
    (``clear``): the states stored meanwhile may have come from another node."""

    def __init__(self) -> None:
        self._entries: dict = {}

    def get(self, record_id, rules):
        entry = self._entries.get(record_id)
        return entry if entry is not None and entry[0] == rules else None

    def apply(self, learned):
        """Take in what a committed flush learned (``record_events``): the entities' new
        entries, and which entities rules watch now (the others are forgotten)."""
        if learned is None:
            return
        updates, watched_ids = learned
        for record_id in [rid for rid in self._entries if rid not in watched_ids]:
            del self._entries[record_id]
        self._entries.update(updates)

    def clear(self):
        self._entries.clear()

    def __len__(self):
        return len(self._entries)


def record_events(cr, instance_id, points, written, memory=None):
    """Insert the states among ``points`` ((entity_id, state dict), as the writer stores
    them) of entities watched by an active rule; ``written``: entity_id -> (ha.entity id,
    ...). Only the states that change what the rules' triggers make of the entity are
    recorded (``triggers.states_that_matter``), measured against the last state ``memory``
    (a ``RuleMemory``) remembers of it: at the writer's ceiling a flush holds hundreds of
    states per entity, and at any rate most states cross nothing. Each event carries the
    entity's state before it, where known.

    Returns ``(recorded, learned)``: ``learned`` is for ``memory.apply`` once the
    transaction committed (None: nothing to learn)."""
    if not points:
        return 0, None
    watched = watched_entities(cr, instance_id)
    if not watched:
        return 0, ({}, frozenset())
    by_entity = defaultdict(list)
    for entity_id, state in points:
        record_id = written.get(entity_id, (None,))[0]
        if record_id in watched:
            by_entity[record_id].append(state)
    rows, updates = [], {}
    for record_id, states in by_entity.items():
        rules = watched[record_id]
        keeps_attributes = any(trigger.uses_attributes for trigger in rules)
        pairs = [(state.get("state"), state.get("attributes") or {}) for state in states]
        remembered = memory.get(record_id, rules) if memory is not None else None
        before = (remembered[1], remembered[2]) if remembered is not None else None
        outcome_before = before[0] if before is not None else None
        for index in triggers.states_that_matter(pairs, rules, outcome_before):
            state = states[index]
            attributes = Json(pairs[index][1]) if keeps_attributes else None
            changed_at = parse_ha_time(state.get("last_updated") or state.get("last_changed"))
            previous = pairs[index - 1][0] if index else (before[1] if before else None)
            rows.append(
                (instance_id, record_id, state.get("state"), previous, attributes, changed_at)
            )
        last_state, last_attributes = pairs[-1]
        updates[record_id] = (
            rules,
            triggers.outcome(rules, last_state, last_attributes),
            last_state,
        )
    _insert_events(cr, rows)
    return len(rows), (updates, frozenset(watched))


def _insert_events(cr, rows):
    """Insert ``rows`` (instance id, ha.entity id, state, previous state, attributes or None,
    HA time) into ``ha_automation_event``."""
    if rows:
        execute_values(
            cr._obj,
            "INSERT INTO ha_automation_event (instance_id, entity_id, state, previous_state,"
            " attributes, changed_at, recorded_at) VALUES %s",
            rows,
            template="(%s, %s, %s, %s, %s, %s, now() AT TIME ZONE 'UTC')",
            page_size=len(rows),
        )


def record_history_events(cr, instance_id, rows, attributes=None):
    """Record as events the states Home Assistant's history gives for the time this instance
    had no connection (``history_backfill.fill_gap``; ``rows``: ``history_row`` tuples;
    ``attributes``: (ha.entity id, last_updated) -> the state's attributes, for the entities
    attribute rules watch), those of watched entities that change what the triggers make of
    them. They are older than the connection's snapshot: the evaluation waits for them
    (``hold_rules``) and applies each entity's events in Home Assistant's order. Returns how
    many were recorded."""
    if not rows:
        return 0
    watched = watched_entities(cr, instance_id)
    if not watched:
        return 0
    attributes = attributes or {}
    by_entity = defaultdict(list)
    for row in rows:
        record_id, _instance_id, state, *_number_and_unit, _last_changed, last_updated = row
        if record_id in watched:
            by_entity[record_id].append(
                (last_updated, state, attributes.get((record_id, last_updated)))
            )
    events = []
    for record_id, states in by_entity.items():
        states.sort(key=lambda point: point[0])
        pairs = [(state, state_attributes) for _at, state, state_attributes in states]
        keeps_attributes = any(trigger.uses_attributes for trigger in watched[record_id])
        for index in triggers.states_that_matter(pairs, watched[record_id]):
            previous = pairs[index - 1][0] if index else None
            at, state, state_attributes = states[index]
            kept = (
                Json(state_attributes)
                if keeps_attributes and state_attributes is not None
                else None
            )
            events.append((instance_id, record_id, state, previous, kept, at))
    _insert_events(cr, events)
    return len(events)


def hold_rules(cr, instance_id):
    """Hold the evaluation of the instance's rules until the history of the time it had no
    connection is recorded (``release_rules``), at most ``HOLD_S``: a state from that time,
    applied after the connection's snapshot, would look like a replay. Called in the
    transaction that stores the snapshot."""
    cr.execute(
        """
        UPDATE ha_instance
           SET rules_held_until = (now() AT TIME ZONE 'UTC') + make_interval(secs => %s)
         WHERE id = %s
           AND EXISTS (SELECT 1 FROM ha_automation_rule WHERE instance_id = %s AND active)
        """,
        (HOLD_S, instance_id, instance_id),
    )


def release_rules(cr, instance_id):
    cr.execute(
        "UPDATE ha_instance SET rules_held_until = NULL"
        " WHERE id = %s AND rules_held_until IS NOT NULL",
        (instance_id,),
    )


def evaluate_instance(db, instance_id):
    """Evaluate the instance's rules in a transaction of its own on ``db`` (a
    ``ConnectorDatabase``); returns ``(next_due, busy)`` of ``_evaluate_instance``."""

    return db.run_transaction(lambda cr: InstanceOrm(db, cr, instance_id).evaluate_rules())


class RuleEvaluations:
    """Evaluations of one instance's rules, requested from its event loop.

    While the instance's state writer is saturated (a burst of thousands of changes a
    second), storing them comes first: an evaluation waits for the writer to catch up, at
    most ``MAX_DEFER_S``, instead of taking the process's time from it. The events wait in
    the database meanwhile; nothing is lost, the firings come later."""

    def __init__(self, db, instance_id, executor, writer=None):
        """``executor``: the connector's bookkeeping lane; ``writer``: the instance's
        ``EntityStateWriter`` (``saturated``, ``wait_flush``), or None."""
        self.db = db
        self.instance_id = instance_id
        self._executor = executor
        self.writer = writer
        self._wake = asyncio.Event()
        # Epoch seconds of the next evaluation the rules asked for, None when none.
        self._due_at = None
        self.evaluation_count = 0

    def request(self):
        """Evaluate as soon as possible (new events were committed). Event loop only."""
        self._wake.set()

    async def run(self):
        loop = asyncio.get_running_loop()
        backoff = Backoff(initial_s=RETRY_INITIAL_S, max_s=RETRY_MAX_S)
        while True:
            await self._wait()
            await self._yield_to_writer(loop)
            self._wake.clear()
            self._due_at = None
            try:
                next_due, busy = await loop.run_in_executor(
                    self._executor, evaluate_instance, self.db, self.instance_id
                )
            except Exception as error:  # noqa: BLE001 - evaluated again later; the cron too
                delay = backoff.next_delay()
                _logger.warning(
                    "Evaluating the rules of instance %s failed (%s); retrying in %.1f s",
                    self.instance_id,
                    str(error).strip() or type(error).__name__,
                    delay,
                )
                self._due_at = time.time() + delay
                continue
            backoff.reset()
            self.evaluation_count += 1
            if busy:
                self._due_at = time.time() + BUSY_RETRY_S
            if next_due is not None:
                at = max(next_due.replace(tzinfo=UTC).timestamp(), time.time()) + DUE_GRACE_S
                if self._due_at is None or at < self._due_at:
                    self._due_at = at

    async def _yield_to_writer(self, loop):
        if self.writer is None:
            return
        deadline = loop.time() + MAX_DEFER_S
        while self.writer.saturated and (remaining := deadline - loop.time()) > 0:
            await self.writer.wait_flush(remaining)

    async def _wait(self):
        timeout = None
        if self._due_at is not None:
            timeout = min(max(0.0, self._due_at - time.time()), MAX_SLEEP_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
