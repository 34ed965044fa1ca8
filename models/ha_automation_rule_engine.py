"""The evaluation of rules (see ``ha.automation.rule``).

The state writer records the states of watched entities that change what a trigger makes of
them as ``ha.automation.event`` rows, in the transaction that stores them
(``connector/automation_events.py``; so does the fill of a gap in the history), and once it
committed has the instance evaluated on the connector's bookkeeping lane; the cron
``_cron_evaluate`` does the same every minute for every instance with active rules (after a
restart, for "for N seconds" windows that fell due, for retries).

An evaluation of an instance (``_evaluate_instance``), in one transaction:

1. locks the instance's active rules (``FOR UPDATE SKIP LOCKED``): a rule another transaction
   is evaluating or editing is left to it, so no rule is evaluated twice at once by any
   process; nothing is evaluated while a new connection records the states of the time the
   instance had none (``ha_instance.rules_held_until``);
2. reads the instance's events after the oldest ``last_event_id`` of those rules, each
   entity's in Home Assistant's order, and the entities' current rows;
3. applies each rule's new events, per entity, to what the rule saw last
   (``ha.automation.rule.state``, ``automation/watch.py``), then the entity's current state
   if it is newer than any event (a state stored while the rule was being saved has no
   event), then the clock for open "for N seconds" windows;
4. fires each crossing that comes due, if the conditions hold and the owner may still read
   the entity: an ``ha.automation.firing`` keyed by the entity and the crossing's Home
   Assistant time, inserted with ``ON CONFLICT DO NOTHING``; only the transaction that
   inserted it runs the actions (``ha.automation.firing._run_actions``), so replays,
   restarts and several nodes never run them twice;
5. runs the retries that fell due, and advances ``last_event_id``.

What a rule saw of its entities starts from their current states when it is created,
activated, or its trigger or entities change (``_baseline_watches``): a trigger that already
holds then does not fire.
"""

import logging
from collections import defaultdict
from datetime import UTC, datetime

import psycopg2
import pytz
from psycopg2 import errorcodes
from psycopg2.extras import execute_values

from odoo import api, models

from ..automation.conditions import in_time_window, on_weekday
from ..automation.triggers import Trigger
from ..automation.watch import Watch, baseline, firing_key
from .ha_automation_rule import WEEKDAYS

_logger = logging.getLogger(__name__)

# Changing these starts the rule afresh from its entities' current states.
TRIGGER_FIELDS = frozenset(
    {"trigger", "trigger_state", "threshold", "attribute", "attribute_value", "instance_id"}
)
# Columns of ha_automation_rule_state after rule_id and entity_id, as Watch attributes.
WATCH_COLUMNS = (
    ("last_state", "last_state"),
    ("last_attribute", "last_value"),
    ("last_changed_at", "last_changed_at"),
    ("holds", "holds"),
    ("holds_since", "holds_since"),
    ("fired", "fired"),
    ("previous_state", "previous_state"),
)
_COLUMNS_SQL = ", ".join(column for column, _attribute in WATCH_COLUMNS)
_UPSERT_WATCHES = f"""
    INSERT INTO ha_automation_rule_state (rule_id, entity_id, {_COLUMNS_SQL}) VALUES %s
    ON CONFLICT (rule_id, entity_id) DO UPDATE SET
    {", ".join(f"{column} = EXCLUDED.{column}" for column, _attribute in WATCH_COLUMNS)}
"""
_INSERT_FIRING = """
    INSERT INTO ha_automation_firing
        (rule_id, instance_id, entity_id, key, state, event_state, previous_state, event_at,
         fired_at, attempts, create_uid, write_uid, create_date, write_date)
    VALUES (%s, %s, %s, %s, 'pending', %s, %s, %s, clock_timestamp() AT TIME ZONE 'UTC', 0,
            %s, %s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
    ON CONFLICT (rule_id, key) DO NOTHING
    RETURNING id
"""


def _news(trigger, entity_now, watch):
    """Whether the entity's current row ((state, attributes, last_updated) or None) is newer
    than the last state ``watch`` saw and changes what the rule makes of the entity. The
    writer records only such states as events; the others change nothing for the rule and
    are not applied (the rule's view then stays with the state it last had to apply)."""
    if entity_now is None or entity_now[2] is None:
        return False
    if watch.last_changed_at is not None and entity_now[2] <= watch.last_changed_at:
        return False
    return watch.changed_by(trigger, entity_now[0], entity_now[1])


def _watch_row(rule_id, entity_id, watch):
    return (rule_id, entity_id, *(getattr(watch, attr) for _column, attr in WATCH_COLUMNS))


class HaAutomationRule(models.Model):
    """The evaluation of rules (see ``ha.automation.rule``)."""

    _inherit = "ha.automation.rule"

    # What a rule saw -----------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        rules.filtered("active")._baseline_watches(reset=True)
        return rules

    def write(self, vals):
        reactivated = self.filtered(lambda rule: not rule.active) if vals.get("active") else None
        result = super().write(vals)
        active = self.filtered("active")
        if TRIGGER_FIELDS & vals.keys():
            active._baseline_watches(reset=True)
        else:
            if reactivated:
                (active & reactivated)._baseline_watches(reset=True)
            if "entity_ids" in vals:
                (active - (reactivated or self.browse()))._baseline_watches(reset=False)
        return result

    def _trigger(self):
        self.ensure_one()
        return Trigger(
            self.trigger,
            state=self.trigger_state,
            threshold=self.threshold or 0.0,
            attribute=(self.attribute or "").strip() or None,
            attribute_value=self.attribute_value,
        )

    def _baseline_watches(self, reset):
        """Record the current state of the rules' entities as what each rule saw last
        (``automation.watch.baseline``): for entities it has no state of, or (``reset``: its
        trigger changed, it was inactive) for all of them, then it starts after the
        instance's last event."""
        if not self:
            return
        self.env.flush_all()
        cr = self.env.cr
        # Evaluations skip these rules (or this waits for them) until this transaction ends.
        cr.execute(
            "SELECT id FROM ha_automation_rule WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [self.ids],
        )
        if reset:
            cr.execute("DELETE FROM ha_automation_rule_state WHERE rule_id = ANY(%s)", [self.ids])
            cr.execute(
                """
                UPDATE ha_automation_rule r
                   SET last_event_id = COALESCE((SELECT max(e.id) FROM ha_automation_event e
                                                  WHERE e.instance_id = r.instance_id), 0)
                 WHERE r.id = ANY(%s)
                """,
                [self.ids],
            )
        else:
            cr.execute(
                """
                DELETE FROM ha_automation_rule_state s
                 WHERE s.rule_id = ANY(%s)
                   AND NOT EXISTS (SELECT 1 FROM ha_automation_rule_entity_rel rel
                                    WHERE rel.rule_id = s.rule_id AND rel.entity_id = s.entity_id)
                """,
                [self.ids],
            )
        cr.execute(
            """
            SELECT rel.rule_id, e.id, e.state, e.attributes, e.last_updated
              FROM ha_automation_rule_entity_rel rel
              JOIN ha_entity e ON e.id = rel.entity_id
             WHERE rel.rule_id = ANY(%s)
               AND NOT EXISTS (SELECT 1 FROM ha_automation_rule_state s
                                WHERE s.rule_id = rel.rule_id AND s.entity_id = rel.entity_id)
            """,
            [self.ids],
        )
        triggers = {rule.id: rule._trigger() for rule in self}
        rows = [
            _watch_row(rule_id, entity_id, baseline(triggers[rule_id], state, attrs, changed_at))
            for rule_id, entity_id, state, attrs, changed_at in cr.fetchall()
        ]
        if rows:
            execute_values(cr._obj, _UPSERT_WATCHES, rows, page_size=len(rows))
        self.env["ha.automation.rule.state"].invalidate_model()
        self.invalidate_recordset(["last_event_id"])

    # Evaluation ----------------------------------------------------------------------------

    @api.model
    def _cron_evaluate(self):
        """Evaluate every instance with active rules (windows and retries that fell due,
        events no connector evaluated), then delete the events every rule has seen."""
        self.env.cr.execute("SELECT DISTINCT instance_id FROM ha_automation_rule WHERE active")
        for (instance_id,) in self.env.cr.fetchall():
            self._evaluate_instance(instance_id)
        self.env["ha.automation.event"].sudo()._purge_seen()

    @api.model
    def _evaluate_instance(self, instance_id, now=None):
        """Evaluate the active rules of ``instance_id`` (module docstring) in the current
        transaction. Returns ``(next_due, busy)``: the earliest moment (naive UTC) one of
        their open windows or retries falls due, or None; whether some rule was left to
        another transaction evaluating or editing it (evaluate again shortly)."""
        # To the microsecond (fields.Datetime.now() drops them): windows end between seconds.
        now = now or datetime.now(UTC).replace(tzinfo=None)
        rules_model = self.sudo()
        cr = self.env.cr
        rules_model.env.flush_all()
        cr.execute(
            "SELECT id FROM ha_automation_rule WHERE instance_id = %s AND active ORDER BY id",
            [instance_id],
        )
        active_ids = [row[0] for row in cr.fetchall()]
        if not active_ids:
            return None, False
        held_until = rules_model._held_until(instance_id, now)
        if held_until is not None:
            return held_until, False
        locked_ids = rules_model._lock_for_evaluation(active_ids)
        busy = len(locked_ids) < len(active_ids)
        if not locked_ids:
            return None, busy
        rules = rules_model.browse(locked_ids)
        # The locked rows as committed now (READ COMMITTED), not as some cache saw them.
        rules.invalidate_recordset()
        rules.env["ha.automation.rule.state"].invalidate_model()

        cr.execute(
            "SELECT rule_id, entity_id FROM ha_automation_rule_entity_rel"
            " WHERE rule_id = ANY(%s) ORDER BY rule_id, entity_id",
            [locked_ids],
        )
        entities_of = defaultdict(list)
        for rule_id, entity_id in cr.fetchall():
            entities_of[rule_id].append(entity_id)
        watches = rules._load_watches()
        # The entities' rows before their events: read after, under READ COMMITTED, a row could
        # be newer than the last event read, and the events in between would then look old.
        entity_ids = sorted({eid for ids in entities_of.values() for eid in ids})
        cr.execute(
            "SELECT id, state, attributes, last_updated FROM ha_entity WHERE id = ANY(%s)",
            [entity_ids],
        )
        current = {row[0]: row[1:] for row in cr.fetchall()}
        since = min(rule.last_event_id for rule in rules)
        events_of, last_id = rules_model._read_events(instance_id, since)
        cr.execute(
            "SELECT rule_id, id, next_attempt_at FROM ha_automation_firing"
            " WHERE rule_id = ANY(%s) AND state = 'retrying' ORDER BY id",
            [locked_ids],
        )
        retries_of = defaultdict(list)
        for rule_id, firing_id, next_attempt_at in cr.fetchall():
            retries_of[rule_id].append((firing_id, next_attempt_at))

        next_due = None
        evaluated = []
        for rule in rules:
            args = (entities_of[rule.id], watches, events_of, current, retries_of[rule.id], now)
            idle, due = rule._idle(*args)
            if not idle:
                try:
                    with cr.savepoint():
                        due = rule._evaluate(*args)
                except psycopg2.Error:
                    raise  # the transaction is lost: the whole evaluation is tried again
                except Exception:
                    # A rule that cannot be evaluated must not hold back the others; it stays
                    # where it was and is tried again with the next evaluation.
                    _logger.exception(
                        "Evaluating rule %s of instance %s failed", rule.id, instance_id
                    )
                    continue
            evaluated.append(rule.id)
            if due is not None and (next_due is None or due < next_due):
                next_due = due
        if evaluated and last_id > since:
            cr.execute(
                "UPDATE ha_automation_rule SET last_event_id = %s"
                " WHERE id = ANY(%s) AND last_event_id < %s",
                [last_id, evaluated, last_id],
            )
            rules.invalidate_recordset(["last_event_id"])
        return next_due, busy

    @api.model
    def _held_until(self, instance_id, now):
        """Until when (naive UTC) the instance's rules wait, or None: a new connection is
        recording the states of the time the instance had none (``rules_held_until``, set
        and cleared by the connector, connector/automation_events.py)."""
        self.env.cr.execute("SELECT rules_held_until FROM ha_instance WHERE id = %s", [instance_id])
        row = self.env.cr.fetchone()
        return row[0] if row and row[0] is not None and row[0] > now else None

    @api.model
    def _read_events(self, instance_id, since):
        """The instance's events after ``since``: entity id -> [(id, state, attributes, HA
        time, previous state)] in Home Assistant's order (the states of a time without
        connection are recorded after the newer ones of the connection's snapshot), and the
        last id read."""
        self.env.cr.execute(
            """
            SELECT id, entity_id, state, attributes, COALESCE(changed_at, recorded_at),
                   previous_state
              FROM ha_automation_event
             WHERE instance_id = %s AND id > %s
             ORDER BY id
            """,
            [instance_id, since],
        )
        events_of = defaultdict(list)
        last_id = since
        for event_id, entity_id, state, attributes, changed_at, previous in self.env.cr.fetchall():
            events_of[entity_id].append((event_id, state, attributes, changed_at, previous))
            last_id = event_id
        for events in events_of.values():
            events.sort(key=lambda event: (event[3] or datetime.min, event[0]))
        return events_of, last_id

    def _idle(self, entity_ids, watches, events_of, current, retries, now):
        """Whether the rule has nothing to do now (no new event or state of its entities,
        no window or retry due), and if so when it falls due; a cheap look before
        ``_evaluate``."""
        for_seconds = max(self.for_seconds or 0, 0)
        trigger = self._trigger()
        due_moments = []
        for entity_id in entity_ids:
            watch = watches.get((self.id, entity_id))
            entity_now = current.get(entity_id)
            if watch is None:
                if entity_now is not None:
                    return False, None
                continue
            if any(event[0] > self.last_event_id for event in events_of.get(entity_id, ())):
                return False, None
            if _news(trigger, entity_now, watch):
                return False, None
            due_at = watch.due_at(for_seconds)
            if due_at is not None and due_at <= now:
                return False, None
            due_moments.append(due_at)
        for _firing_id, next_attempt_at in retries:
            if next_attempt_at is None or next_attempt_at <= now:
                return False, None
            due_moments.append(next_attempt_at)
        return True, min(filter(None, due_moments), default=None)

    def _lock_for_evaluation(self, rule_ids):
        """Lock those of ``rule_ids`` no other transaction holds; return their ids."""
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    "SELECT id FROM ha_automation_rule WHERE id = ANY(%s) AND active"
                    " ORDER BY id FOR UPDATE SKIP LOCKED",
                    [rule_ids],
                    log_exceptions=False,
                )
                return [row[0] for row in cr.fetchall()]
        except psycopg2.Error as error:
            # A REPEATABLE READ transaction (the cron's) cannot lock a row changed since it
            # began: another transaction evaluated the rule meanwhile; the next run goes on.
            if error.pgcode != errorcodes.SERIALIZATION_FAILURE:
                raise
            return []

    def _load_watches(self):
        """(rule id, entity id) -> Watch, for the rules of ``self``."""
        # The f-string only inserts the constant column names.
        self.env.cr.execute(  # pylint: disable=sql-injection
            f"SELECT rule_id, entity_id, {_COLUMNS_SQL}"
            " FROM ha_automation_rule_state WHERE rule_id = ANY(%s)",
            [self.ids],
        )
        return {
            (row[0], row[1]): Watch(
                **{attr: value for (_col, attr), value in zip(WATCH_COLUMNS, row[2:], strict=True)}
            )
            for row in self.env.cr.fetchall()
        }

    def _evaluate(self, entity_ids, watches, events_of, current, retries, now):
        """One locked rule (``_evaluate_instance``); returns when it falls due next."""
        self.ensure_one()
        cr = self.env.cr
        trigger = self._trigger()
        for_seconds = max(self.for_seconds or 0, 0)
        due_moments = []
        changed = []
        # Firings made or tried again now: those left retrying fall due again.
        firings = self.env["ha.automation.firing"]
        for entity_id in entity_ids:
            seen = watches.get((self.id, entity_id))
            watch, fired = self._advance_watch(
                trigger, for_seconds, entity_id, seen, events_of, current.get(entity_id), now
            )
            firings |= fired
            if watch is None:
                continue
            due_moments.append(watch.due_at(for_seconds))
            if watch != seen:
                changed.append(_watch_row(self.id, entity_id, watch))
        if changed:
            execute_values(cr._obj, _UPSERT_WATCHES, changed, page_size=len(changed))
        for firing_id, next_attempt_at in retries:
            if next_attempt_at is None or next_attempt_at <= now:
                retried = firings.browse(firing_id)
                self._retry(retried, now)
                firings |= retried
            else:
                due_moments.append(next_attempt_at)
        due_moments += [f.next_attempt_at for f in firings if f.state == "retrying"]
        return min(filter(None, due_moments), default=None)

    def _advance_watch(self, trigger, for_seconds, entity_id, seen, events_of, entity_now, now):
        """Apply to what the rule saw of ``entity_id`` (``seen``, a Watch or None) its new
        events, its current row ``entity_now`` ((state, attributes, last_updated) or None)
        and the clock; fire what comes due. Returns the new Watch (None: no entity) and the
        firings made."""
        firings = self.env["ha.automation.firing"]
        if seen is None:
            if entity_now is None:
                return None, firings
            watch = baseline(trigger, *entity_now)
        else:
            watch = Watch(**vars(seen))
        crossings = []
        for event_id, state, attributes, changed_at, previous in events_of.get(entity_id, ()):
            if event_id <= self.last_event_id or changed_at is None:
                continue
            if trigger.uses_attributes and attributes is None:
                # Recorded without attributes (before the writer or the gap fill knew an
                # attribute rule watches the entity): the entity's current row (below) stands
                # in for it.
                continue
            crossings += watch.step(trigger, for_seconds, state, attributes, changed_at, previous)
        # A state that matters stored without an event (the writer stored it while the rule
        # was saved).
        if _news(trigger, entity_now, watch):
            crossings += watch.step(trigger, for_seconds, *entity_now)
        crossings += watch.due(for_seconds, now)
        for crossing in crossings:
            firings |= self._fire(entity_id, crossing, now)
        return watch, firings

    def _fire(self, entity_id, crossing, now):
        """Fire ``crossing`` of entity ``entity_id`` once, if the conditions hold at its
        moment and the owner may read the entity; returns the new firing or an empty one."""
        firings = self.env["ha.automation.firing"]
        entity = self.env["ha.entity"].browse(entity_id)
        if not self._owner_may_read(entity):
            _logger.debug("Rule %s: its owner may not read entity %s", self.id, entity_id)
            return firings
        if not self._conditions_met(crossing.due_at):
            _logger.debug("Rule %s: conditions not met at %s", self.id, crossing.due_at)
            return firings
        self.env.cr.execute(
            _INSERT_FIRING,
            [
                self.id,
                self.instance_id.id,
                entity_id,
                firing_key(entity_id, crossing.at),
                crossing.state,
                crossing.previous_state,
                crossing.at,
                self.env.uid,
                self.env.uid,
            ],
        )
        row = self.env.cr.fetchone()
        if row is None:
            return firings  # fired before: a replay, or another process
        firing = firings.browse(row[0])
        firing._run_actions(now)
        return firing

    def _retry(self, firing, now):
        if self._owner_may_read(firing.entity_id):
            firing._run_actions(now)
        else:
            firing.write(
                {
                    "state": "failed",
                    "next_attempt_at": False,
                    "error": "The rule's owner may no longer read the entity.",
                }
            )

    def _owner_may_read(self, entities):
        """Whether the rule's owner (active) may read all of ``entities``."""
        owner = self.owner_id
        if not owner.active:
            return False
        entities = entities.exists()
        if not entities:
            return False
        return len(entities.with_user(owner)._filtered_access("read")) == len(entities)

    def _conditions_met(self, moment):
        """The rule's conditions at ``moment`` (naive UTC): weekday and time of day in the
        owner's timezone, the condition entity's current state."""
        try:
            zone = pytz.timezone(self.owner_id.tz or "UTC")
        except pytz.UnknownTimeZoneError:
            zone = pytz.utc
        local = pytz.utc.localize(moment).astimezone(zone).replace(tzinfo=None)
        if not on_weekday(local, [self[f"weekday_{day}"] for day in WEEKDAYS]):
            return False
        if not in_time_window(local, self.time_from, self.time_to):
            return False
        condition = self.condition_entity_id
        expected = (self.condition_state or "").strip()
        if condition and expected:
            if not self._owner_may_read(condition):
                return False
            condition.invalidate_recordset(["state"])
            return (condition.state or "") == expected
        return True
