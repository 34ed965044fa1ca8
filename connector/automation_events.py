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
    return {entity_id: tuple(found) for entity_id, found in watched.items()}


def record_events(cr, instance_id, points, written):
    """Insert the states among ``points`` ((entity_id, state dict), as the writer stores
    them) of entities watched by an active rule; ``written``: entity_id -> (ha.entity id,
    ...). Of the states one flush stores for an entity, only those that change what the
    rules' triggers make of it are recorded (``triggers.states_that_matter``): at the
    writer's ceiling a flush holds hundreds of states per entity. Returns how many were
    recorded."""
    if not points:
        return 0
    watched = watched_entities(cr, instance_id)
    if not watched:
        return 0
    by_entity = defaultdict(list)
    for entity_id, state in points:
        record_id = written.get(entity_id, (None,))[0]
        if record_id in watched:
            by_entity[record_id].append(state)
    rows = []
    for record_id, states in by_entity.items():
        rules = watched[record_id]
        keeps_attributes = any(trigger.uses_attributes for trigger in rules)
        pairs = [(state.get("state"), state.get("attributes") or {}) for state in states]
        for index in triggers.states_that_matter(pairs, rules):
            state = states[index]
            attributes = Json(pairs[index][1]) if keeps_attributes else None
            changed_at = parse_ha_time(state.get("last_updated") or state.get("last_changed"))
            rows.append((instance_id, record_id, state.get("state"), attributes, changed_at))
    if rows:
        execute_values(
            cr._obj,
            "INSERT INTO ha_automation_event"
            " (instance_id, entity_id, state, attributes, changed_at, recorded_at) VALUES %s",
            rows,
            template="(%s, %s, %s, %s, %s, now() AT TIME ZONE 'UTC')",
            page_size=len(rows),
        )
    return len(rows)


def evaluate_instance(db, instance_id):
    """Evaluate the instance's rules in a transaction of its own on ``db`` (a
    ``ConnectorDatabase``); returns ``(next_due, busy)`` of ``_evaluate_instance``."""

    def evaluate(cr):
        env = db.environment(cr)
        return env["ha.automation.rule"]._evaluate_instance(instance_id)

    return db.run_transaction(evaluate)


class RuleEvaluations:
    """Evaluations of one instance's rules, requested from its event loop."""

    def __init__(self, db, instance_id, executor):
        """``executor``: the connector's bookkeeping lane."""
        self.db = db
        self.instance_id = instance_id
        self._executor = executor
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

    async def _wait(self):
        timeout = None
        if self._due_at is not None:
            timeout = min(max(0.0, self._due_at - time.time()), MAX_SLEEP_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
