"""Crossings and "for N seconds" windows of one rule on one entity (automation/watch.py)."""

import random
from datetime import datetime, timedelta

from automation.triggers import Trigger
from automation.watch import Watch, baseline, firing_key

T0 = datetime(2026, 3, 1, 8, 0, 0)
ON = Trigger("state_to", state="on")


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def feed(watch, states, trigger=ON, for_seconds=0):
    """Apply (seconds, state[, attributes]) in order; return the crossings' (at, state)."""
    fired = []
    for seconds, state, *attributes in states:
        for crossing in watch.step(
            trigger, for_seconds, state, attributes[0] if attributes else None, at(seconds)
        ):
            fired.append((crossing.at, crossing.state))
    return fired


def test_fires_on_the_crossing_only_not_on_repeats():
    watch = baseline(ON, "off", None, at(0))
    assert feed(watch, [(1, "on"), (2, "on"), (3, "on")]) == [(at(1), "on")]
    assert feed(watch, [(4, "off"), (5, "off"), (6, "on")]) == [(at(6), "on")]


def test_baseline_that_holds_does_not_fire():
    watch = baseline(Trigger("state_from", state="on"), "off", None, at(0))
    assert watch.holds and watch.fired
    # "leaves on": the entity was already off; seeing off again fires nothing.
    assert feed(watch, [(1, "off"), (2, "off")], Trigger("state_from", state="on")) == []
    assert feed(watch, [(3, "on"), (4, "off")], Trigger("state_from", state="on")) == [
        (at(4), "off")
    ]


def test_replayed_and_older_states_change_nothing():
    watch = baseline(ON, "off", None, at(0))
    states = [(1, "on"), (2, "off"), (3, "on")]
    assert len(feed(watch, states)) == 2
    before = Watch(**vars(watch))
    assert feed(watch, states) == []
    assert feed(watch, [(2.5, "off")]) == []
    assert watch == before


def test_numeric_crossings():
    above = Trigger("above", threshold=25)
    watch = baseline(above, "20", None, at(0))
    fired = feed(watch, [(1, "26"), (2, "27"), (3, "unavailable"), (4, "30"), (5, "24")], above)
    # unavailable is not above: going back to 30 is a new crossing.
    assert fired == [(at(1), "26"), (at(4), "30")]


def test_for_seconds_fires_only_when_held():
    watch = baseline(ON, "off", None, at(0))
    # On for 5 s only: cancelled.
    assert feed(watch, [(10, "on"), (15, "off")], for_seconds=10) == []
    assert watch.due(10, at(100)) == []
    # On and held: nothing yet at the state, due by the clock.
    assert feed(watch, [(20, "on"), (25, "on")], for_seconds=10) == []
    assert watch.due_at(10) == at(30)
    assert watch.due(10, at(29)) == []
    (crossing,) = watch.due(10, at(30))
    assert (crossing.at, crossing.due_at, crossing.previous_state) == (at(20), at(30), "off")
    assert watch.due(10, at(60)) == [], "fires once"


def test_for_seconds_window_completed_before_a_late_state_fires_late():
    watch = baseline(ON, "off", None, at(0))
    # Evaluated only after both states arrived: the window had held 10 s by the off.
    assert feed(watch, [(10, "on"), (25, "off")], for_seconds=10) == [(at(10), "on")]
    assert watch.due(10, at(100)) == []


def test_attribute_change_fires_on_every_change():
    trigger = Trigger("attribute", attribute="mode")
    watch = baseline(trigger, "on", {"mode": "eco"}, at(0))
    assert not watch.holds
    fired = feed(
        watch,
        [
            (1, "on", {"mode": "eco"}),
            (2, "on", {"mode": "comfort"}),
            (3, "off", {"mode": "comfort"}),
            (4, "off", {}),
            (5, "off", {"mode": "eco"}),
        ],
        trigger,
    )
    assert [moment for moment, _state in fired] == [at(2), at(4), at(5)]


def test_attribute_change_for_seconds_restarts_on_each_change():
    trigger = Trigger("attribute", attribute="mode")
    watch = baseline(trigger, "on", {"mode": "eco"}, at(0))
    states = [(1, "on", {"mode": "comfort"}), (5, "on", {"mode": "away"})]
    assert feed(watch, states, trigger, for_seconds=10) == []
    assert watch.due(10, at(14)) == []
    assert [c.at for c in watch.due(10, at(15))] == [at(5)]


def test_attribute_value_is_a_level():
    trigger = Trigger("attribute", attribute="mode", attribute_value="eco")
    watch = baseline(trigger, "on", {"mode": "comfort"}, at(0))
    states = [(1, "on", {"mode": "eco"}), (2, "off", {"mode": "eco"}), (3, "on", {})]
    assert feed(watch, states, trigger) == [(at(1), "on")]


def test_unavailable():
    trigger = Trigger("unavailable")
    watch = baseline(trigger, "on", None, at(0))
    states = [(1, "unavailable"), (2, "unknown"), (3, "on"), (4, "unknown")]
    assert feed(watch, states, trigger) == [(at(1), "unavailable"), (at(4), "unknown")]


def test_firing_key_names_entity_and_moment():
    assert firing_key(7, at(1.5)) == "7:2026-03-01T08:00:01.500000"


def test_one_crossing_per_off_to_on_whatever_the_evaluation_batches():
    """Cutting the same states into evaluations of any size, with clock checks in between,
    fires the same crossings."""
    rng = random.Random(27)
    states = []
    moment = 0.0
    for _ in range(200):
        moment += rng.choice([0.5, 1, 3, 12])
        states.append((moment, rng.choice(["on", "off", "on", "unavailable"])))
    for for_seconds in (0, 5):
        reference = baseline(ON, "off", None, at(0))
        expected = feed(reference, states, for_seconds=for_seconds)
        expected += [(c.at, c.state) for c in reference.due(for_seconds, at(10_000))]
        assert len(expected) > 10
        for _attempt in range(5):
            watch = baseline(ON, "off", None, at(0))
            got, index = [], 0
            while index < len(states):
                end = min(index + rng.randint(1, 20), len(states))
                # Each evaluation sees its new states and replays of a few older ones.
                got += feed(watch, states[max(0, index - 3) : end], for_seconds=for_seconds)
                index = end
                # The clock checks between evaluations (the clock is never past a state not
                # evaluated yet) fire only windows that held.
                now_s = states[end - 1][0] + rng.choice([0, 2, 6])
                if end < len(states):
                    now_s = min(now_s, states[end][0])
                now = at(now_s)
                got += [(c.at, c.state) for c in watch.due(for_seconds, now)]
            got += [(c.at, c.state) for c in watch.due(for_seconds, at(10_000))]
            assert [g[0] for g in got] == [e[0] for e in expected]


def test_a_crossing_names_the_state_before_it_where_the_caller_knows_it():
    above = Trigger("above", threshold=25)
    watch = baseline(above, "20", None, at(0))
    # The writer did not record 22, 24 (they changed nothing): the event says 24 came before.
    (crossing,) = watch.step(above, 0, "26", None, at(3), previous_state="24")
    assert (crossing.state, crossing.previous_state) == ("26", "24")
    # Unknown (the first state of a gap): the last state the rule saw stands for it.
    watch.step(above, 0, "10", None, at(4))
    (crossing,) = watch.step(above, 0, "30", None, at(5))
    assert crossing.previous_state == "10"


def test_only_states_that_cross_or_end_a_crossing_change_the_rules_view():
    above = Trigger("above", threshold=25)
    watch = baseline(above, "20", None, at(0))
    assert not watch.changed_by(above, "24", None)
    assert watch.changed_by(above, "26", None)
    watch.step(above, 0, "26", None, at(1))
    assert not watch.changed_by(above, "30", None)
    assert watch.changed_by(above, "unavailable", None)
    battery = Trigger("attribute", attribute="battery")
    watch = baseline(battery, "on", {"battery": 90}, at(0))
    assert not watch.changed_by(battery, "off", {"battery": 90})
    assert watch.changed_by(battery, "on", {"battery": 89})
