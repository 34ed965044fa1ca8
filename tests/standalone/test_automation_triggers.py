"""Trigger predicates of rules (automation/triggers.py) and conditions (conditions.py)."""

from datetime import datetime

import pytest

from automation.conditions import in_time_window, on_weekday
from automation.retries import MAX_ATTEMPTS, retry_delay_s
from automation.triggers import (
    Trigger,
    number,
    outcome,
    same_value,
    states_that_matter,
    value_text,
)


def attr(name, value=None):
    return Trigger("attribute", attribute=name, attribute_value=value)


@pytest.mark.parametrize(
    ("trigger", "state", "attributes", "expected"),
    [
        (Trigger("state_to", state="on"), "on", None, True),
        (Trigger("state_to", state=" on "), "on", None, True),
        (Trigger("state_to", state="on"), "off", None, False),
        (Trigger("state_from", state="on"), "off", None, True),
        (Trigger("state_from", state="on"), "unavailable", None, True),
        (Trigger("state_from", state="on"), "on", None, False),
        (Trigger("above", threshold=20), "20.5", None, True),
        (Trigger("above", threshold=20), "20", None, False),
        (Trigger("above", threshold=20), "unavailable", None, False),
        (Trigger("above", threshold=-5), "nan", None, False),
        (Trigger("below", threshold=5), "4.99", None, True),
        (Trigger("below", threshold=5), "5", None, False),
        (Trigger("below", threshold=5), "unknown", None, False),
        (Trigger("below", threshold=5), "-inf", None, False),
        (Trigger("unavailable"), "unavailable", None, True),
        (Trigger("unavailable"), "unknown", None, True),
        (Trigger("unavailable"), "off", None, False),
        (attr("mode", "eco"), "on", {"mode": "eco"}, True),
        (attr("mode", "eco"), "on", {"mode": "x"}, False),
        (attr("mode", "eco"), "on", {}, False),
        (attr("level", "255"), "on", {"level": 255.0}, True),
        (attr("open", "True"), "on", {"open": True}, True),
        # Without a value the attribute trigger is an edge: no level holds.
        (attr("mode"), "on", {"mode": "eco"}, False),
    ],
)
def test_trigger_holds(trigger, state, attributes, expected):
    assert trigger.holds(state, attributes) is expected


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown trigger kind"):
        Trigger("sunset")


def test_watched_value_tells_absent_from_null():
    trigger = Trigger("attribute", attribute="mode")
    assert trigger.on_change
    assert trigger.watched_value({}) is None
    assert trigger.watched_value(None) is None
    assert trigger.watched_value({"mode": None}) == "null"
    assert trigger.watched_value({"mode": {"b": 1, "a": [1, 2]}}) == '{"a":[1,2],"b":1}'
    assert Trigger("state_to", state="on").watched_value({"mode": 1}) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [("eco", "eco"), (True, "true"), (False, "false"), (3, "3"), (3.0, "3"), (2.5, "2.5")],
)
def test_value_text(value, text):
    assert value_text(value) == text


def test_same_value_and_number():
    assert same_value("21", "21.0")
    assert same_value("true", "TRUE")
    assert not same_value(None, "x")
    assert not same_value("eco", "comfort")
    assert number(" 4.5 ") == 4.5
    assert number("inf") is None
    assert number(None) is None
    assert number("on") is None


@pytest.mark.parametrize(
    ("hour", "minute", "time_from", "time_to", "expected"),
    [
        (3, 0, 0, 0, True),  # both 0: always
        (8, 0, 8, 17, True),
        (7, 59, 8, 17, False),
        (17, 0, 8, 17, False),  # the end is not in the window
        (16, 59, 8, 17.0, True),
        (8, 30, 8.5, 9, True),
        (8, 29, 8.5, 9, False),
        (23, 0, 22, 6, True),  # crosses midnight
        (2, 0, 22, 6, True),
        (6, 0, 22, 6, False),
        (12, 0, 22, 6, False),
        (12, 0, 9, 9, True),  # equal bounds: the whole day
        (23, 59, 18, 24, True),
    ],
)
def test_time_window(hour, minute, time_from, time_to, expected):
    assert in_time_window(datetime(2026, 3, 2, hour, minute), time_from, time_to) is expected


def test_weekdays():
    monday = datetime(2026, 3, 2, 12, 0)
    sunday = datetime(2026, 3, 8, 12, 0)
    weekdays_only = [True] * 5 + [False] * 2
    assert on_weekday(monday, weekdays_only)
    assert not on_weekday(sunday, weekdays_only)
    assert on_weekday(sunday, [True] * 7)


def test_retry_delays_double_up_to_the_cap_then_stop():
    delays = [retry_delay_s(attempts) for attempts in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:4] == [60, 120, 240, 480]
    assert all(delay <= 3600 for delay in delays[:-1])
    assert delays[-1] is None
    assert retry_delay_s(0) == 60


def test_only_states_that_change_what_the_triggers_make_of_them_matter():
    above = (Trigger("above", threshold=50), Trigger("below", threshold=10))
    states = [(str(value), {}) for value in (40, 45, 60, 70, 55, 30, 5, 8, "unavailable", 9)]
    # 40 first; 60 goes above 50; 30 falls back; 5 goes below 10; "unavailable" is
    # neither; 9 below again. 45, 70, 55 and 8 change nothing for these rules.
    assert states_that_matter(states, above) == [0, 2, 5, 6, 8, 9]


def test_every_change_of_a_watched_attribute_matters():
    rules = (Trigger("attribute", attribute="battery"), Trigger("state_to", state="on"))
    states = [
        ("on", {"battery": 90}),
        ("on", {"battery": 90, "other": 1}),
        ("on", {"battery": 89}),
        ("off", {"battery": 89}),
        ("off", {}),
    ]
    assert states_that_matter(states, rules) == [0, 2, 3, 4]
    assert states_that_matter([], rules) == []


def test_the_first_state_matters_only_if_it_changes_what_came_before():
    above = (Trigger("above", threshold=50),)
    states = [(str(value), {}) for value in (40, 45, 60)]
    below_before = outcome(above, "30", {})
    above_before = outcome(above, "70", {})
    # What the state before made of the triggers is known: 40 changes nothing after 30.
    assert states_that_matter(states, above, below_before) == [2]
    assert states_that_matter(states, above, above_before) == [0, 2]
    # Not known: the first state is kept.
    assert states_that_matter(states, above) == [0, 2]
