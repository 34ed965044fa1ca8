"""Rules: the events the state writer records, their evaluation, exactly-once firings, "for N
seconds" windows, retries, and the live path from Home Assistant to an action.

``TestAutomationRules`` runs the state writer's flushes (``_write``) on the test's cursor and
evaluates the instance the way the connector and the cron do. ``TestAutomationLive`` changes
states in the real Home Assistant and waits for the firings the hosting connector makes.

Actions are a stub here (``_run`` recorded), except in ``test_real_action_creates_a_record``,
which needs the actions' own code.
"""

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import time
from datetime import datetime, timedelta
from datetime import time as datetime_time
from unittest.mock import patch

import pytz

from odoo import Command, fields
from odoo.tests import tagged

from ..automation.retries import MAX_ATTEMPTS
from ..connector import automation_events
from ..connector.history_rows import history_row
from ..connector.state_writer import EntityStateWriter
from .common import HaTestCommon
from .connector_common import ConnectorCase

_logger = logging.getLogger(__name__)


class _TestDatabase:
    """What the state writer asks of its database, on the test's environment: its
    transactions are the test's (``run_transaction`` neither commits nor announces)."""

    def __init__(self, env):
        self.env = env

    def environment(self, _cr):
        return self.env

    def run_transaction(self, function, *args):
        return function(self.env.cr, *args)


def _iso(moment):
    return moment.isoformat() + "+00:00"


class ActionStub:
    """Replaces ``ha.automation.action._run``: records each call, fails when told to."""

    def __init__(self, env):
        self.calls = []
        self.failing = {}  # action id -> how many more calls fail
        test = self

        def run(action, firing):
            test.calls.append((action.id, firing.id, action.env.uid))
            if test.failing.get(action.id):
                test.failing[action.id] -= 1
                raise RuntimeError(f"action {action.id} broke")
            return f"ran for {firing.event_state}"

        self.patcher = patch.object(type(env["ha.automation.action"]), "_run", run, create=True)


def action_values(name="Rule fired: {state}"):
    """An action valid whatever the actions' checks: create a contact."""
    return {
        "kind": "create_record",
        "create_model_id": None,  # set by the caller (the model id of res.partner)
        "create_values": json.dumps({"name": name}),
    }


class RuleTestMixin:
    def make_rule(self, entities, **values):
        partner_model = self.env["ir.model"]._get_id("res.partner")
        actions = values.pop("actions", 1)
        rule = self.env["ha.automation.rule"].create(
            {
                "name": "Test rule",
                "instance_id": self.instance.id,
                "owner_id": self.manager.id,
                "entity_ids": [Command.set(entities.ids)],
                "action_ids": [
                    Command.create(dict(action_values(), create_model_id=partner_model))
                    for _index in range(actions)
                ],
                **values,
            }
        )
        self.env.flush_all()
        return rule


@tagged("post_install", "-at_install")
class TestAutomationRules(RuleTestMixin, HaTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager.tz = "UTC"

    def setUp(self):
        super().setUp()
        self.writer = EntityStateWriter(_TestDatabase(self.env), self.instance.id, None)
        self.t0 = fields.Datetime.now().replace(microsecond=0) - timedelta(hours=1)
        self.clock = 0
        self.stub = ActionStub(self.env)
        self.stub.patcher.start()
        self.addCleanup(self.stub.patcher.stop)
        self.door = self.feed("binary_sensor.door", "off")
        self.temperature = self.feed("sensor.freezer", "-18")

    # Helpers ------------------------------------------------------------------------------

    def at(self, seconds):
        return self.t0 + timedelta(seconds=seconds)

    def feed(self, entity_id, state, attributes=None, seconds=None):
        """One state of ``entity_id`` stored by the writer, HA time ``seconds`` after t0 (by
        default one second after the previous one); returns the ha.entity."""
        return self.feed_many([(entity_id, state, attributes, seconds)])[0]

    def feed_many(self, changes):
        """Several states in one flush, in order."""
        points = []
        for entity_id, state, attributes, seconds in changes:
            self.clock = self.clock + 1 if seconds is None else seconds
            moment = _iso(self.at(self.clock))
            points.append(
                (
                    entity_id,
                    {
                        "state": state,
                        "attributes": attributes or {},
                        "last_changed": moment,
                        "last_updated": moment,
                    },
                )
            )
        self.flush(points)
        Entity = self.env["ha.entity"]
        return [
            Entity.search([("instance_id", "=", self.instance.id), ("entity_id", "=", eid)])
            for eid, _state in points
        ]

    def flush(self, points, snapshot_ids=None):
        """The writer's flush of ``points`` ((entity_id, state dict)), on the test's cursor."""
        self.env.flush_all()
        self.writer._write(dict(points), points, snapshot_ids, None)
        self.env.invalidate_all()

    def evaluate(self, now=None):
        result = self.env["ha.automation.rule"]._evaluate_instance(self.instance.id, now=now)
        self.env.invalidate_all()
        return result

    def firings(self, rule):
        return self.env["ha.automation.firing"].search([("rule_id", "=", rule.id)], order="id")

    def event_count(self):
        self.env.cr.execute(
            "SELECT count(*) FROM ha_automation_event WHERE instance_id = %s",
            (self.instance.id,),
        )
        return self.env.cr.fetchone()[0]

    def event_rows(self):
        """(state, previous state, HA time) of the instance's events, in order."""
        self.env.cr.execute(
            "SELECT state, previous_state, changed_at FROM ha_automation_event"
            " WHERE instance_id = %s ORDER BY id",
            (self.instance.id,),
        )
        return self.env.cr.fetchall()

    def snapshot(self, states):
        """A new connection's snapshot: ``states`` (entity_id, state, seconds after t0) are
        all the entities there are."""
        points = [
            (
                entity_id,
                {
                    "state": state,
                    "attributes": {},
                    "last_changed": _iso(self.at(seconds)),
                    "last_updated": _iso(self.at(seconds)),
                },
            )
            for entity_id, state, seconds in states
        ]
        self.flush(points, snapshot_ids={entity_id for entity_id, _s, _t in states})

    def record_gap(self, entity, states):
        """What the gap fill records of ``entity``'s states ((state, seconds after t0)) that
        Home Assistant's history gives for a time without connection."""
        rows = [
            history_row(entity.id, self.instance.id, state, None, self.at(sec), self.at(sec))
            for state, sec in states
        ]
        automation_events.record_history_events(self.env.cr, self.instance.id, rows)

    def assertFired(self, rule, expected):
        """``expected``: (event_state, previous_state, seconds after t0) of each firing."""
        self.assertEqual(
            [
                (firing.event_state, firing.previous_state, firing.event_at)
                for firing in self.firings(rule)
            ],
            [(state, previous, self.at(seconds)) for state, previous, seconds in expected],
        )

    # Triggers -----------------------------------------------------------------------------

    def test_state_to_fires_once_per_crossing_not_on_repeats(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on")
        self.feed("binary_sensor.door", "on", seconds=10)
        self.feed("binary_sensor.door", "on", {"battery": 90}, seconds=11)
        self.evaluate()
        self.feed("binary_sensor.door", "on", {"battery": 80}, seconds=12)
        self.evaluate()
        self.assertFired(rule, [("on", "off", 10)])
        firing = self.firings(rule)
        self.assertEqual(firing.key, f"{self.door.id}:{self.at(10).isoformat()}")
        self.assertEqual((firing.state, firing.attempts), ("done", 1))
        self.assertIn("ran for on", firing.result)
        self.assertEqual(self.stub.calls, [(rule.action_ids.id, firing.id, self.manager.id)])

        # Off and on again within one flush: a second crossing.
        self.feed_many(
            [
                ("binary_sensor.door", "off", None, 20),
                ("binary_sensor.door", "on", None, 21),
            ]
        )
        self.evaluate()
        self.assertFired(rule, [("on", "off", 10), ("on", "off", 21)])
        self.assertEqual(rule.last_event_id, self._last_event_id())

    def read_all_events_again(self, rule):
        self.env.cr.execute(
            "UPDATE ha_automation_rule SET last_event_id = 0 WHERE id = %s", [rule.id]
        )

    def _last_event_id(self):
        self.env.cr.execute("SELECT max(id) FROM ha_automation_event")
        return self.env.cr.fetchone()[0]

    def test_each_trigger_kind_fires_once_for_its_crossing(self):
        boost = {"mode": "boost"}
        cases = [
            # (rule values, first state and attributes, states after it, which ones fire)
            (
                {"trigger": "state_from", "trigger_state": "on"},
                ("on", {}),
                ["on", "off", "off", "unavailable"],
                [1],
            ),
            (
                {"trigger": "above", "threshold": -10},
                ("-18", {}),
                ["-12", "-9", "-8", "unavailable", "-5"],
                [1, 4],
            ),
            (
                {"trigger": "below", "threshold": -15},
                ("-12", {}),
                ["-14", "-16", "-17", "-16.5"],
                [1],
            ),
            (
                {"trigger": "unavailable"},
                ("on", {}),
                ["unknown", "unavailable", "on", "unavailable"],
                [0, 3],
            ),
            (
                {"trigger": "attribute", "attribute": "mode"},
                ("on", {"mode": "eco"}),
                [("on", {"mode": "eco"}), ("on", boost), ("off", boost), ("off", {})],
                [1, 3],
            ),
            (
                {"trigger": "attribute", "attribute": "mode", "attribute_value": "boost"},
                ("on", {"mode": "eco"}),
                [("on", boost), ("on", {**boost, "x": 1}), ("on", {"mode": "eco"})],
                [0],
            ),
        ]
        for index, (values, (state0, attributes0), states, fired) in enumerate(cases):
            with self.subTest(values=values):
                entity_id = f"sensor.kind_{index}"
                entity = self.feed(entity_id, state0, attributes0)
                rule = self.make_rule(entity, **values)
                moments = []
                for item in states:
                    state, attributes = item if isinstance(item, tuple) else (item, None)
                    self.feed(entity_id, state, attributes)
                    moments.append(self.clock)
                    self.evaluate()
                self.assertEqual(
                    [firing.event_at for firing in self.firings(rule)],
                    [self.at(moments[i]) for i in fired],
                )
                # Evaluating again fires nothing more.
                self.evaluate()
                self.assertEqual(len(self.firings(rule)), len(fired))

    def test_a_state_that_already_holds_does_not_fire(self):
        # "The door leaves on": it is off already when the rule is made.
        rule = self.make_rule(self.door, trigger="state_from", trigger_state="on")
        self.feed("binary_sensor.door", "off")
        self.evaluate()
        self.assertFalse(self.firings(rule))
        # Above -20 when it is -18 already.
        warm = self.make_rule(self.temperature, trigger="above", threshold=-20)
        self.feed("sensor.freezer", "-17")
        self.evaluate()
        self.assertFalse(self.firings(warm))
        self.feed("sensor.freezer", "-21")
        self.feed("sensor.freezer", "-19")
        self.evaluate()
        self.assertEqual(len(self.firings(warm)), 1)

    def test_editing_the_trigger_starts_from_the_current_state(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="open")
        self.feed("binary_sensor.door", "on")
        self.evaluate()
        self.assertFalse(self.firings(rule))
        # Now about "on", which the door is: no firing for it.
        rule.trigger_state = "on"
        self.feed("binary_sensor.door", "on", {"battery": 50})
        self.evaluate()
        self.assertFalse(self.firings(rule))
        # Deactivated, the door turns off and on; reactivated: nothing fires for that.
        rule.active = False
        self.feed("binary_sensor.door", "off")
        self.feed("binary_sensor.door", "on")
        self.evaluate()
        rule.active = True
        self.evaluate()
        self.assertFalse(self.firings(rule))
        self.feed("binary_sensor.door", "off")
        self.feed("binary_sensor.door", "on")
        self.evaluate()
        self.assertEqual(len(self.firings(rule)), 1)

    def test_entity_added_to_a_rule_starts_from_its_current_state(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on")
        window = self.feed("binary_sensor.window", "on")
        rule.entity_ids = [Command.link(window.id)]
        self.feed("binary_sensor.window", "on", {"battery": 3})
        self.feed("binary_sensor.door", "on")
        self.evaluate()
        self.assertEqual(self.firings(rule).entity_id, self.door)
        self.feed("binary_sensor.window", "off")
        self.feed("binary_sensor.window", "on")
        self.evaluate()
        self.assertEqual(len(self.firings(rule)), 2)

    # Exactly once -------------------------------------------------------------------------

    def test_replays_fire_nothing_more(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on")
        self.feed("binary_sensor.door", "on", seconds=10)
        self.feed("binary_sensor.door", "off", seconds=11)
        self.feed("binary_sensor.door", "on", seconds=12)
        self.evaluate()
        self.assertEqual(len(self.firings(rule)), 2)
        calls = len(self.stub.calls)

        # The same states recorded again (a reconnect's snapshot, a second writer).
        self.feed("binary_sensor.door", "on", seconds=12)
        self.feed("binary_sensor.door", "off", seconds=11)
        self.evaluate()
        # Every event seen again.
        self.env.cr.execute(
            "UPDATE ha_automation_rule SET last_event_id = 0 WHERE id = %s", [rule.id]
        )
        self.evaluate()
        # Another node that saw none of it: what it knew of the door forgotten, every event
        # read again from the start; the crossings it finds fired already.
        self.env.cr.execute(
            "UPDATE ha_automation_rule_state SET last_state = 'off', holds = FALSE,"
            " holds_since = NULL, fired = FALSE, last_changed_at = %s WHERE rule_id = %s",
            [self.at(0), rule.id],
        )
        self.env.cr.execute(
            "UPDATE ha_automation_rule SET last_event_id = 0 WHERE id = %s", [rule.id]
        )
        self.evaluate()
        self.assertEqual(len(self.firings(rule)), 2)
        self.assertEqual(len(self.stub.calls), calls, "no action ran again")

    def test_a_rule_locked_elsewhere_is_skipped_and_reported_busy(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on")
        self.feed("binary_sensor.door", "on")
        Rule = self.env["ha.automation.rule"]
        with patch.object(type(Rule), "_lock_for_evaluation", lambda _self, _ids: []):
            self.assertEqual(self.evaluate(), (None, True))
        self.assertFalse(self.firings(rule))
        self.assertEqual(self.evaluate(), (None, False))
        self.assertEqual(len(self.firings(rule)), 1)

    # For N seconds ------------------------------------------------------------------------

    def test_for_seconds_fires_only_when_held(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on", for_seconds=10)
        # On for 5 s only.
        self.feed("binary_sensor.door", "on", seconds=10)
        self.assertEqual(self.evaluate(now=self.at(12)), (self.at(20), False))
        self.feed("binary_sensor.door", "off", seconds=15)
        self.assertEqual(self.evaluate(now=self.at(40)), (None, False))
        self.assertFalse(self.firings(rule))
        # On and held: due at 40 s by the clock.
        self.feed("binary_sensor.door", "on", seconds=30)
        self.feed("binary_sensor.door", "on", {"battery": 1}, seconds=35)
        self.assertEqual(self.evaluate(now=self.at(39)), (self.at(40), False))
        self.assertFalse(self.firings(rule))
        self.assertEqual(self.evaluate(now=self.at(40)), (None, False))
        self.assertFired(rule, [("on", "off", 30)])
        self.evaluate(now=self.at(100))
        self.assertEqual(len(self.firings(rule)), 1)

    def test_window_that_held_before_a_late_evaluation_fires_once(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on", for_seconds=10)
        # Nobody evaluated while the door was on for 15 s.
        self.feed("binary_sensor.door", "on", seconds=10)
        self.feed("binary_sensor.door", "off", seconds=25)
        self.evaluate(now=self.at(60))
        self.assertFired(rule, [("on", "off", 10)])

    def test_restart_in_the_middle_of_a_window_still_fires_once(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on", for_seconds=30)
        now = fields.Datetime.now()
        self.clock = (now - self.t0).total_seconds() - 5
        self.feed("binary_sensor.door", "on")
        next_due, _busy = self.evaluate()
        self.assertAlmostEqual(next_due, now + timedelta(seconds=25), delta=timedelta(seconds=2))
        self.assertFalse(self.firings(rule))
        # The process stops; what it had in memory (its timer) is gone. Time passes: the
        # window opened 40 s ago by now.
        self.env.invalidate_all()
        self.env.cr.execute(
            "UPDATE ha_automation_rule_state SET holds_since = holds_since - interval '35 seconds'"
            " WHERE rule_id = %s RETURNING holds_since",
            [rule.id],
        )
        (opened,) = self.env.cr.fetchone()
        self.env["ha.automation.rule"].with_context({})._cron_evaluate()
        self.env.invalidate_all()
        firing = self.firings(rule)
        self.assertEqual((len(firing), firing.event_at), (1, opened))
        self.env["ha.automation.rule"]._cron_evaluate()
        self.assertEqual(len(self.firings(rule)), 1)

    # Access -------------------------------------------------------------------------------

    def test_owner_who_lost_access_to_the_entity_stops_firing(self):
        light = self.feed("light.kitchen", "off")
        self.assertEqual(light, self.light_kitchen)
        rule = self.make_rule(
            light, trigger="state_to", trigger_state="on", owner_id=self.user_member.id
        )
        self.feed("light.kitchen", "on")
        self.evaluate()
        self.assertEqual(len(self.firings(rule)), 1)
        self.assertEqual(self.stub.calls[-1][2], self.user_member.id, "ran as the owner")
        # The member leaves the kitchen group: the rule no longer fires for the light.
        self.group_kitchen.user_ids = [Command.unlink(self.user_member.id)]
        self.feed("light.kitchen", "off")
        self.feed("light.kitchen", "on")
        self.evaluate()
        self.assertEqual(len(self.firings(rule)), 1)
        # An outsider's rule never fired for it.
        other = self.make_rule(
            light, trigger="state_from", trigger_state="on", owner_id=self.user_outsider.id
        )
        self.feed("light.kitchen", "off")
        self.evaluate()
        self.assertFalse(self.firings(other))

    # Conditions ---------------------------------------------------------------------------

    def test_conditions_at_firing_time_in_the_owner_timezone(self):
        self.manager.tz = "Europe/Amsterdam"
        # Next Monday at 08:30 in Amsterdam (after the states of setUp).
        zone = pytz.timezone("Europe/Amsterdam")
        today = fields.Date.today()
        monday = today + timedelta(days=7 - today.weekday())
        local = zone.localize(datetime.combine(monday, datetime_time(8, 30)))
        self.t0 = local.astimezone(pytz.utc).replace(tzinfo=None)
        self.clock = -100
        self.feed("binary_sensor.door", "off")
        morning = self.make_rule(
            self.door, trigger="state_to", trigger_state="on", time_from=8, time_to=9
        )
        afternoon = self.make_rule(
            self.door, trigger="state_to", trigger_state="on", time_from=12, time_to=18
        )
        night = self.make_rule(
            self.door, trigger="state_to", trigger_state="on", time_from=22, time_to=9
        )
        weekend = self.make_rule(
            self.door,
            trigger="state_to",
            trigger_state="on",
            **{f"weekday_{day}": False for day in ("mon", "tue", "wed", "thu", "fri")},
        )
        while_home = self.make_rule(
            self.door,
            trigger="state_to",
            trigger_state="on",
            condition_entity_id=self.temperature.id,
            condition_state="-18",
        )
        self.feed("binary_sensor.door", "on", seconds=0)
        self.evaluate()
        fired = {
            rule.id: len(self.firings(rule))
            for rule in (morning, afternoon, night, weekend, while_home)
        }
        self.assertEqual(
            fired,
            {morning.id: 1, afternoon.id: 0, night.id: 1, weekend.id: 0, while_home.id: 1},
        )
        # The condition entity changed: no longer.
        self.feed("sensor.freezer", "-10", seconds=5)
        self.feed("binary_sensor.door", "off", seconds=6)
        self.feed("binary_sensor.door", "on", seconds=7)
        self.evaluate()
        self.assertEqual(len(self.firings(while_home)), 1)
        self.assertEqual(len(self.firings(morning)), 2)

    # Actions and retries ------------------------------------------------------------------

    def test_failed_action_is_retried_alone_with_backoff_until_it_gives_up(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on", actions=2)
        first, second = rule.action_ids.sorted("id")
        self.stub.failing[second.id] = MAX_ATTEMPTS
        self.feed("binary_sensor.door", "on")
        now = fields.Datetime.now()
        next_due, _busy = self.evaluate(now=now)
        firing = self.firings(rule)
        self.assertEqual((firing.state, firing.attempts), ("retrying", 1))
        self.assertEqual(firing.next_attempt_at, now + timedelta(minutes=1))
        self.assertEqual(next_due, firing.next_attempt_at)
        self.assertIn(f"action {second.id} broke", firing.error)
        self.assertEqual(firing.actions_done, [first.id])
        self.assertEqual([call[0] for call in self.stub.calls], [first.id, second.id])

        # Not due yet: nothing runs.
        self.evaluate(now=now + timedelta(seconds=30))
        self.assertEqual(len(self.stub.calls), 2)
        delays = []
        while firing.state == "retrying":
            delays.append(firing.next_attempt_at - now)
            now = firing.next_attempt_at
            self.evaluate(now=now)
        self.assertEqual(
            [delay.total_seconds() for delay in delays[:4]], [60.0, 120.0, 240.0, 480.0]
        )
        self.assertEqual((firing.state, firing.attempts), ("failed", MAX_ATTEMPTS))
        self.assertFalse(firing.next_attempt_at)
        # Only the failing action was tried again.
        self.assertEqual(
            [call[0] for call in self.stub.calls], [first.id] + [second.id] * MAX_ATTEMPTS
        )

    def test_action_that_recovers_finishes_the_firing(self):
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on")
        self.stub.failing[rule.action_ids.id] = 1
        self.feed("binary_sensor.door", "on")
        now = fields.Datetime.now()
        self.evaluate(now=now)
        firing = self.firings(rule)
        self.assertEqual(firing.state, "retrying")
        self.env["ha.automation.rule"]._evaluate_instance(
            self.instance.id, now=now + timedelta(minutes=2)
        )
        self.env.invalidate_all()
        self.assertEqual((firing.state, firing.attempts, firing.error), ("done", 2, False))
        self.assertIn("[2] 1. Create a record: ran for on", firing.result)

    def test_real_action_creates_a_record(self):
        """The actions' own code (``_run``), as the owner."""
        self.stub.patcher.stop()
        self.addCleanup(self.stub.patcher.start)  # the setUp cleanup stops it again
        rule = self.make_rule(self.door, trigger="state_to", trigger_state="on")
        self.feed("binary_sensor.door", "on")
        self.evaluate()
        firing = self.firings(rule)
        # The owner may not create contacts: the action fails and is retried.
        self.assertEqual(firing.state, "retrying")
        self.assertIn("res.partner", firing.error)
        self.manager.groups_id = [Command.link(self.env.ref("base.group_partner_manager").id)]
        self.evaluate(now=firing.next_attempt_at)
        self.assertEqual(firing.state, "done", firing.error)
        partner = self.env["res.partner"].search([("name", "=", "Rule fired: on")])
        self.assertEqual(len(partner), 1)
        self.assertEqual(partner.create_uid, self.manager)

    # The writer ---------------------------------------------------------------------------

    def test_writer_records_events_of_watched_entities_only(self):
        cr = self.env.cr
        # No rule: one query, nothing recorded.
        before = cr.sql_log_count
        points = [("binary_sensor.door", {"state": "on"})]
        written = {"binary_sensor.door": (self.door.id, False)}
        self.assertEqual(
            automation_events.record_events(cr, self.instance.id, points, written)[0], 0
        )
        self.assertEqual(cr.sql_log_count - before, 1)
        self.feed("binary_sensor.door", "on")
        self.assertEqual(self.event_count(), 0)
        # An inactive rule, or one of another entity, records nothing for the door.
        self.make_rule(self.door, active=False, trigger_state="on")
        self.make_rule(self.temperature, trigger="above", threshold=0)
        self.feed("binary_sensor.door", "off")
        self.assertEqual(self.event_count(), 0)
        # Watched: of the states one flush stores, those that change what the triggers make
        # of them (the first one always); attributes only for attribute rules.
        self.make_rule(self.door, trigger="state_to", trigger_state="on")
        self.feed_many(
            [
                ("binary_sensor.door", "on", {"battery": 5}, 100),
                ("binary_sensor.door", "on", {"battery": 4}, 101),
                ("sensor.other", "1", None, 102),
            ]
        )
        self.make_rule(self.door, trigger="attribute", attribute="battery")
        self.feed("binary_sensor.door", "on", {"battery": 3}, 103)
        self.env.cr.execute(
            "SELECT entity_id, state, attributes, changed_at FROM ha_automation_event"
            " WHERE instance_id = %s ORDER BY id",
            (self.instance.id,),
        )
        self.assertEqual(
            self.env.cr.fetchall(),
            [
                # "on" twice in one flush: the second changes nothing for "becomes on".
                (self.door.id, "on", None, self.at(100)),
                (self.door.id, "on", {"battery": 3}, self.at(103)),
            ],
        )

    def test_states_that_change_nothing_for_the_rules_are_not_recorded(self):
        """Across flushes too: the writer remembers what the triggers made of the last state
        it stored; a crossing still names the state just before it."""
        rule = self.make_rule(self.temperature, trigger="above", threshold=-15)
        for seconds, value in ((10, "-17"), (11, "-16.5"), (12, "-16"), (13, "-14"), (14, "-13")):
            self.feed("sensor.freezer", value, seconds=seconds)
        self.assertEqual(
            self.event_rows(),
            [
                # The first state the writer stores for the rule: it remembered nothing yet.
                ("-17", None, self.at(10)),
                ("-14", "-16", self.at(13)),
            ],
        )
        self.evaluate()
        self.assertFired(rule, [("-14", "-16", 13)])

    def test_an_entity_no_rule_watches_any_more_is_recorded_afresh(self):
        rule = self.make_rule(self.temperature, trigger="above", threshold=-15)
        self.feed("sensor.freezer", "-10", seconds=10)
        self.evaluate()
        rule.active = False
        self.env.flush_all()
        self.feed("sensor.freezer", "-20", seconds=20)
        rule.active = True
        self.env.flush_all()
        # Above the threshold, like the last state stored while the rule was active: the
        # writer has forgotten that one, so the crossing is recorded (and evaluated now, not
        # by the next cron).
        self.feed("sensor.freezer", "-5", seconds=30)
        self.assertEqual(self.event_rows()[-1], ("-5", None, self.at(30)))
        self.evaluate()
        self.assertFired(rule, [("-10", "-18", 10), ("-5", "-20", 30)])

    def test_states_of_a_time_without_connection_fire_in_home_assistant_order(self):
        rule = self.make_rule(self.temperature, trigger="above", threshold=-15)
        self.feed("sensor.freezer", "-17", seconds=10)
        self.evaluate()
        # A new connection's snapshot holds the rules: what it stores is newer than what
        # Home Assistant recorded while there was no connection.
        self.snapshot([("sensor.freezer", "-16", 100), ("binary_sensor.door", "off", 100)])
        due, _busy = self.evaluate()
        self.assertFalse(self.firings(rule), "held until the gap is filled")
        self.assertGreater(due, fields.Datetime.now())
        # The gap fill records those states, in whatever order they come, and releases.
        gap = [("-16.5", 60), ("-12", 50), ("-17", 40)]
        self.record_gap(self.temperature, gap)
        automation_events.release_rules(self.env.cr, self.instance.id)
        self.evaluate()
        self.assertFired(rule, [("-12", "-17", 50)])
        # The same gap again (a second reconnection before the first was evaluated, another
        # node): nothing fires twice.
        self.snapshot([("sensor.freezer", "-16", 100), ("binary_sensor.door", "off", 100)])
        self.record_gap(self.temperature, gap)
        automation_events.release_rules(self.env.cr, self.instance.id)
        self.evaluate()
        self.assertEqual(len(self.firings(rule)), 1)

    def test_rules_held_by_a_connection_that_never_releases_them_evaluate_later(self):
        rule = self.make_rule(self.temperature, trigger="above", threshold=-15)
        self.snapshot([("sensor.freezer", "-16", 100), ("binary_sensor.door", "off", 100)])
        self.feed("sensor.freezer", "-10", seconds=110)
        self.evaluate()
        self.assertFalse(self.firings(rule))
        later = datetime.now() + timedelta(seconds=automation_events.HOLD_S + 1)
        self.evaluate(now=later)
        self.assertFired(rule, [("-10", "-16", 110)])

    def test_no_hold_without_active_rules(self):
        self.snapshot([("sensor.freezer", "-16", 100), ("binary_sensor.door", "off", 100)])
        self.env.cr.execute(
            "SELECT rules_held_until FROM ha_instance WHERE id = %s", (self.instance.id,)
        )
        self.assertIsNone(self.env.cr.fetchone()[0])

    def test_events_every_rule_saw_are_purged(self):
        self.make_rule(self.door, trigger="state_to", trigger_state="on")
        self.feed("binary_sensor.door", "on")
        self.feed("binary_sensor.door", "off")
        Event = self.env["ha.automation.event"]
        later = fields.Datetime.now() + timedelta(hours=2)
        self.assertEqual(Event._purge_seen(now=later), 0, "not evaluated yet")
        self.evaluate()
        self.assertEqual(Event._purge_seen(now=fields.Datetime.now()), 0, "too recent")
        self.assertEqual(Event._purge_seen(now=later), 2)


class _SaturatedWriter:
    """A state writer that stays saturated for ``flushes`` more flushes of ``flush_s``."""

    def __init__(self, flushes, flush_s):
        self.flushes, self.flush_s, self.waits = flushes, flush_s, 0

    @property
    def saturated(self):
        return self.flushes > 0

    async def wait_flush(self, timeout_s):
        self.waits += 1
        await asyncio.sleep(min(self.flush_s, timeout_s))
        self.flushes -= 1


@tagged("post_install", "-at_install")
class TestRuleEvaluationsYield(HaTestCommon):
    """The connector's evaluations give way to a saturated state writer, for a while."""

    def evaluated_after(self, writer, max_defer_s):
        evaluated = []

        def evaluate(_db, _instance_id):
            evaluated.append(time.monotonic())
            return None, False

        async def scenario():
            rules = automation_events.RuleEvaluations(None, self.instance.id, _Inline(), writer)
            task = asyncio.get_running_loop().create_task(rules.run())
            started = time.monotonic()
            rules.request()
            while not evaluated and time.monotonic() - started < 5:
                await asyncio.sleep(0.01)
            task.cancel()
            return started

        with (
            patch.object(automation_events, "evaluate_instance", evaluate),
            patch.object(automation_events, "MAX_DEFER_S", max_defer_s),
        ):
            started = asyncio.run(scenario())
        self.assertEqual(len(evaluated), 1)
        return evaluated[0] - started

    def test_an_evaluation_waits_for_a_burst_to_be_stored(self):
        writer = _SaturatedWriter(flushes=3, flush_s=0.1)
        waited = self.evaluated_after(writer, max_defer_s=10)
        self.assertEqual((writer.waits, writer.flushes), (3, 0))
        self.assertGreaterEqual(waited, 0.3)

    def test_an_evaluation_waits_no_longer_than_its_limit(self):
        writer = _SaturatedWriter(flushes=100, flush_s=0.1)
        waited = self.evaluated_after(writer, max_defer_s=0.35)
        self.assertTrue(writer.saturated)
        self.assertLess(waited, 1.0)
        self.assertEqual(writer.waits, 4)

    def test_an_idle_writer_delays_nothing(self):
        writer = _SaturatedWriter(flushes=0, flush_s=0.1)
        self.assertLess(self.evaluated_after(writer, max_defer_s=10), 0.1)
        self.assertEqual(writer.waits, 0)


class _Inline(concurrent.futures.Executor):
    """Runs what it is given at once, in the caller's thread."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


@tagged("post_install", "-at_install")
class TestAutomationLive(ConnectorCase):
    """States changed in the real Home Assistant fire rules through the hosting connector."""

    PROBE = "binary_sensor.rule_probe"

    def setUp(self):
        super().setUp()
        self.stub = ActionStub(self.env)
        self.stub.patcher.start()
        self.addCleanup(self.stub.patcher.stop)
        self.rest.post(f"/api/states/{self.PROBE}", {"state": "off"})
        self.addCleanup(self._remove_probe)
        self.instance_id = self.create_instance()
        self.supervisor = self.start_supervisor(self.instance_id)
        self.wait_status(self.instance_id, "connected")
        self.wait_until(
            lambda: self.entity_rows(self.instance_id).get(self.PROBE, {}).get("state") == "off",
            f"{self.PROBE} never reached Odoo",
        )
        # Administrator: a Home Assistant manager.
        self.owner_id = self.env.ref("base.user_admin").id

    def _remove_probe(self):
        with contextlib.suppress(Exception):
            self.rest.request("DELETE", f"/api/states/{self.PROBE}")

    def make_live_rule(self, entity_id=PROBE, **values):
        def create(env):
            entity = env["ha.entity"].search(
                [("instance_id", "=", self.instance_id), ("entity_id", "=", entity_id)]
            )
            partner_model = env["ir.model"]._get_id("res.partner")
            return (
                env["ha.automation.rule"]
                .create(
                    {
                        "name": "Live rule",
                        "instance_id": self.instance_id,
                        "owner_id": self.owner_id,
                        "entity_ids": [Command.set(entity.ids)],
                        "action_ids": [
                            Command.create(dict(action_values(), create_model_id=partner_model))
                        ],
                        **values,
                    }
                )
                .id
            )

        return self.run_committed(create)

    def firing_rows(self, rule_id):
        return self.query(
            "SELECT event_state, event_at, fired_at, state FROM ha_automation_firing"
            " WHERE rule_id = %s ORDER BY id",
            (rule_id,),
        )

    def test_a_crossing_while_odoo_was_away_fires_once_from_home_assistants_history(self):
        """The connector was stopped (Odoo down, a takeover) while the sensor went above the
        threshold and back: the new connection's snapshot shows it below, and Home
        Assistant's history gives the crossing, which fires once, at its own time."""
        sensor = "sensor.rule_gap_probe"
        self._recorded_probe(sensor, "20")
        rule_id = self.make_live_rule(sensor, trigger="above", threshold=50)
        self.supervisor.stop()
        crossing = self.rest.post(f"/api/states/{sensor}", {"state": "60"})
        self.rest.post(f"/api/states/{sensor}", {"state": "30"})
        crossed_at = datetime.fromisoformat(crossing["last_updated"]).astimezone(pytz.utc)

        self.supervisor = self.start_supervisor(self.instance_id)
        rows = self.wait_until(
            lambda: self.firing_rows(rule_id), "the crossing never fired", timeout_s=40
        )
        event_state, event_at, _fired_at, state = rows[0]
        self.assertEqual((event_state, state), ("60", "done"))
        # HA time, from its history (epoch seconds) rather than from the live stream.
        self.assertLess(abs((event_at - crossed_at.replace(tzinfo=None)).total_seconds()), 0.001)
        previous = self.query(
            "SELECT previous_state FROM ha_automation_firing WHERE rule_id = %s", (rule_id,)
        )
        self.assertEqual(previous, [("20",)])

        self._reconnect_fires_nothing_more(rule_id)

    def test_an_attribute_change_while_odoo_was_away_fires_once_from_home_assistants_history(
        self,
    ):
        """The same for an attribute trigger: Home Assistant's history of the entities that
        attribute rules watch comes with their attributes. The snapshot shows the attribute
        back as it was; only the history has the change."""
        sensor = "sensor.rule_gap_mode"
        self._recorded_probe(sensor, "20", mode="eco")
        rule_id = self.make_live_rule(
            sensor, trigger="attribute", attribute="mode", attribute_value="boost"
        )
        self.supervisor.stop()
        change = self.rest.post(
            f"/api/states/{sensor}", {"state": "20", "attributes": {"mode": "boost"}}
        )
        self.rest.post(f"/api/states/{sensor}", {"state": "20", "attributes": {"mode": "eco"}})
        changed_at = datetime.fromisoformat(change["last_updated"]).astimezone(pytz.utc)

        self.supervisor = self.start_supervisor(self.instance_id)
        rows = self.wait_until(
            lambda: self.firing_rows(rule_id), "the attribute change never fired", timeout_s=40
        )
        event_state, event_at, _fired_at, state = rows[0]
        self.assertEqual((event_state, state), ("20", "done"))
        self.assertLess(abs((event_at - changed_at.replace(tzinfo=None)).total_seconds()), 0.001)
        self._reconnect_fires_nothing_more(rule_id)

    def _recorded_probe(self, sensor, state, **attributes):
        """Set ``sensor`` in Home Assistant and wait until Odoo has it, recording its history
        (the gap fill asks Home Assistant for the states of recorded entities)."""
        self.rest.post(f"/api/states/{sensor}", {"state": state, "attributes": attributes})
        self.addCleanup(self._remove_state, sensor)
        self.wait_until(
            lambda: self.query(
                "SELECT 1 FROM ha_entity WHERE instance_id = %s AND entity_id = %s"
                " AND state = %s AND record_history AND NOT history_backfill_pending",
                (self.instance_id, sensor, state),
            ),
            f"{sensor} never reached Odoo with its history",
        )

    def _reconnect_fires_nothing_more(self, rule_id):
        """Another reconnection, its snapshot and the same gap again: nothing fires twice."""
        self.supervisor.stop()
        self.supervisor = self.start_supervisor(self.instance_id)
        self.wait_status(self.instance_id, "connected")
        self.wait_until(
            lambda: self.query(
                "SELECT 1 FROM ha_instance WHERE id = %s AND rules_held_until IS NULL",
                (self.instance_id,),
            ),
            "the rules were never released",
            timeout_s=40,
        )
        time.sleep(0.5)
        self.assertEqual(len(self.firing_rows(rule_id)), 1)
        self.assertEqual(len(self.stub.calls), 1)

    def _remove_state(self, entity_id):
        with contextlib.suppress(Exception):
            self.rest.request("DELETE", f"/api/states/{entity_id}")

    def set_probe(self, state, **attributes):
        self.rest.post(f"/api/states/{self.PROBE}", {"state": state, "attributes": attributes})

    def test_home_assistant_change_fires_the_rule_once_within_a_second(self):
        rule_id = self.make_live_rule(trigger="state_to", trigger_state="on")
        latencies = []
        for round_ in range(3):
            self.set_probe("on", round=round_)
            rows = self.wait_until(
                lambda n=round_ + 1: len(rows := self.firing_rows(rule_id)) >= n and rows,
                "the rule never fired",
            )
            event_state, event_at, fired_at, state = rows[-1]
            self.assertEqual((event_state, state), ("on", "done"))
            latencies.append((fired_at - event_at).total_seconds())
            # Repeats of "on" (attributes only) fire nothing.
            self.set_probe("on", round=round_, extra=True)
            self.set_probe("off")
            self.wait_until(
                lambda: self.entity_rows(self.instance_id)[self.PROBE]["state"] == "off",
                "off never reached Odoo",
            )
        time.sleep(0.3)
        self.assertEqual(len(self.firing_rows(rule_id)), 3)
        self.assertEqual(len(self.stub.calls), 3)
        _logger.info("Home Assistant to action: %s s", ", ".join(f"{s:.3f}" for s in latencies))
        self.assertLess(max(latencies), 1.0, f"HA to action latencies: {latencies}")

    def test_for_seconds_window_fires_by_the_connector_clock(self):
        rule_id = self.make_live_rule(trigger="state_to", trigger_state="on", for_seconds=1)
        self.set_probe("on")
        rows = self.wait_until(lambda: self.firing_rows(rule_id), "the window never fired")
        _state, event_at, fired_at, _done = rows[0]
        held = (fired_at - event_at).total_seconds()
        _logger.info("A 1 s window fired %.3f s after the state", held)
        self.assertGreaterEqual(held, 1.0)
        self.assertLess(held, 2.0, "fired by the connector's timer, not the cron")

    def test_rule_held_by_another_transaction_fires_once_it_is_released(self):
        rule_id = self.make_live_rule(trigger="state_to", trigger_state="on")
        with self.registry.cursor() as cr:
            cr.execute("SELECT id FROM ha_automation_rule WHERE id = %s FOR UPDATE", (rule_id,))
            self.set_probe("on")
            self.wait_until(
                lambda: self.entity_rows(self.instance_id)[self.PROBE]["state"] == "on",
                "on never reached Odoo",
            )
            time.sleep(0.5)
            self.assertEqual(self.firing_rows(rule_id), [], "the rule is skipped while held")
            cr.rollback()
        self.wait_until(lambda: self.firing_rows(rule_id), "the rule never fired")
        self.assertEqual(len(self.stub.calls), 1)
