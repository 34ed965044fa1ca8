"""The usage state machine of a metered machine (usage/machine.py): power readings to sessions."""

import json
import random

import pytest

from usage.machine import (
    COMPLETED,
    IDLE,
    STARTING,
    STOPPING,
    TIMED_OUT,
    InvalidThresholds,
    MachineState,
    OutOfOrder,
    Session,
    Thresholds,
)

T = Thresholds(
    standby_w=5, working_w=30, start_debounce_s=2, stop_debounce_s=3, silence_timeout_s=60
)
NEVER = Thresholds(standby_w=5, working_w=30, start_debounce_s=2, stop_debounce_s=3)


def feed(readings, thresholds=T, state=None):
    """Feeds (time, watts) readings; returns the state and the sessions that ended."""
    state = state or MachineState()
    ended = []
    for at, power in readings:
        ended += state.reading(at, power, thresholds)
    return state, ended


def opened(at=0.0, thresholds=T):
    """A machine working since ``at``, its session open."""
    state, _ = feed([(at, 60)], thresholds)
    assert state.advance(at + thresholds.start_debounce_s, thresholds) == []
    assert state.running_session() is not None
    return state


# The scripted profile ----------------------------------------------------------------------


def test_scripted_profile_gives_one_completed_session():
    state, ended = feed([(0, 0), (10, 35), (25, 12), (40, 60), (70, 0)])
    assert ended == []
    assert state.advance(72.9, T) == []
    assert state.advance(73, T) == [Session(10, 70, 45, 15, COMPLETED)]
    assert state.phase == IDLE
    assert state.running_session() is None
    assert state.advance(1000, T) == []


# Start debounce ----------------------------------------------------------------------------


def test_spike_shorter_than_start_debounce_opens_no_session():
    state, ended = feed([(0, 0), (10, 200), (11.9, 0)])
    assert ended + state.advance(1000, T) == []
    assert state.phase == IDLE


def test_power_held_for_start_debounce_opens_session_at_first_high_reading():
    state, _ = feed([(10, 60), (11, 200)])
    state.advance(11.99, T)
    assert state.phase == STARTING
    assert state.running_session() is None
    state.advance(12, T)
    assert state.running_session() == Session(10, None, 2, 0, "running")


def test_start_debounce_decided_by_a_later_reading():
    # The 0 W reading at exactly start + debounce first confirms the start, then stops it.
    _, ended = feed([(10, 60), (12, 0), (20, 0)])
    assert ended == [Session(10, 12, 2, 0, COMPLETED)]


# Stop debounce -----------------------------------------------------------------------------


def test_dip_shorter_than_stop_debounce_keeps_the_session_and_counts_as_standby():
    state = opened(0)
    _, ended = feed([(10, 0), (12, 0), (12.75, 60), (20, 0)], state=state)
    assert ended == []
    assert state.advance(100, T) == [Session(0, 20, 17.25, 2.75, COMPLETED)]


def test_dip_held_for_stop_debounce_ends_the_session_at_first_low_reading():
    state = opened(0)
    # A second low reading does not restart the debounce.
    feed([(10, 0), (12, 3)], state=state)
    assert state.advance(12.99, T) == []
    assert state.phase == STOPPING
    assert state.advance(13, T) == [Session(0, 10, 10, 0, COMPLETED)]
    assert state.phase == IDLE


# Silence and unavailability ----------------------------------------------------------------


def test_unavailable_longer_than_timeout_times_out_when_it_became_unavailable():
    state = opened(0)
    _, ended = feed([(10, None), (40, None)], state=state)
    assert ended == []
    assert state.advance(69.9, T) == []
    assert state.advance(70.1, T) == [Session(0, 10, 10, 0, TIMED_OUT)]
    assert state.phase == IDLE


def test_silence_longer_than_timeout_times_out_at_the_last_reading():
    state = opened(0)
    feed([(10, 12), (20, 12)], state=state)
    assert state.advance(79.9, T) == []
    assert state.advance(80, T) == [Session(0, 20, 10, 10, TIMED_OUT)]


def test_silence_timeout_decided_by_a_later_reading():
    state = opened(0)
    _, ended = feed([(10, None), (75, 60)], state=state)
    assert ended == [Session(0, 10, 10, 0, TIMED_OUT)]
    # The late reading is a fresh start.
    assert state.phase == STARTING


@pytest.mark.parametrize(
    ("level_w", "working_s", "standby_s"),
    [(60, 60, 0), (12, 10, 50)],
)
def test_recovering_before_timeout_counts_the_gap_in_the_phase_it_was_in(
    level_w, working_s, standby_s
):
    state = opened(0)
    _, ended = feed([(10, level_w), (20, None), (50, level_w), (60, 0)], state=state)
    assert ended == []
    assert state.advance(1000, T) == [Session(0, 60, working_s, standby_s, COMPLETED)]


def test_zero_silence_timeout_never_times_out():
    state = opened(0, NEVER)
    feed([(10, None)], NEVER, state)
    assert state.advance(1e6, NEVER) == []
    assert state.running_session() == Session(0, None, 1e6, 0, "running")


def test_unavailable_while_starting_opens_no_session():
    state, _ = feed([(0, 60), (1, None)])
    assert state.advance(1000, T) == []
    assert state.phase == IDLE
    assert state.running_session() is None


def test_silence_right_after_the_start_gives_no_empty_session():
    # 60 W once, then nothing: whatever the outcome, a session must last longer than zero.
    state, _ = feed([(0, 60)])
    ended = state.advance(1000, T)
    # The start debounce (2 s) assumed the power held: the session lasted that long.
    assert ended == [Session(0, 2, 2.0, 0.0, TIMED_OUT)]
    # Without a debounce, one reading and silence are no session at all.
    state = MachineState()
    no_debounce = Thresholds(5, 30, 0, 3, 60)
    state.reading(0, 60, no_debounce)
    assert state.advance(1000, no_debounce) == []
    assert state.phase == IDLE


# Thresholds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"standby_w": 30, "working_w": 30},
        {"standby_w": 40, "working_w": 30},
        {"standby_w": -1, "working_w": 30},
        {"standby_w": 5, "working_w": 30, "start_debounce_s": -1},
        {"standby_w": 5, "working_w": 30, "stop_debounce_s": -0.5},
        {"standby_w": 5, "working_w": 30, "silence_timeout_s": -10},
        {"standby_w": 5, "working_w": 30, "start_debounce_s": 10, "silence_timeout_s": 10},
        {"standby_w": 5, "working_w": 30, "stop_debounce_s": 20, "silence_timeout_s": 10},
    ],
)
def test_invalid_thresholds_are_refused(kwargs):
    with pytest.raises(InvalidThresholds):
        Thresholds(**kwargs)


def test_valid_edge_thresholds_are_accepted():
    Thresholds(standby_w=0, working_w=0.1)
    Thresholds(standby_w=5, working_w=30, start_debounce_s=10, stop_debounce_s=10)
    Thresholds(standby_w=5, working_w=30, stop_debounce_s=10, silence_timeout_s=10.01)


def test_new_thresholds_apply_from_the_next_reading():
    state, _ = feed([(0, 35)])
    state.advance(2, T)
    # 35 W is working under T, standby under the new thresholds: from the reading at 10 on.
    slow = Thresholds(standby_w=5, working_w=40, start_debounce_s=2, stop_debounce_s=10)
    feed([(10, 35), (20, 35), (30, 0)], slow, state)
    assert state.advance(39, slow) == []
    assert state.advance(40, slow) == [Session(0, 30, 10, 20, COMPLETED)]


# Order -------------------------------------------------------------------------------------


def test_older_reading_is_refused():
    state, _ = feed([(10, 60)])
    with pytest.raises(OutOfOrder):
        state.reading(9, 0, T)
    state.advance(20, T)
    with pytest.raises(OutOfOrder):
        state.reading(15, 0, T)


def test_repeated_reading_changes_nothing():
    state = opened(0)
    feed([(10, 0)], state=state)
    before = state.to_dict()
    assert state.reading(10, 60, T) == []
    assert state.to_dict() == before
    assert state.advance(13, T) == [Session(0, 10, 10, 0, COMPLETED)]


# The running session -----------------------------------------------------------------------


def test_running_session_while_working_standby_and_stopping():
    state = opened(0)
    state.advance(5, T)
    assert state.running_session() == Session(0, None, 5, 0, "running")
    feed([(5, 12)], state=state)
    state.advance(8, T)
    assert state.running_session() == Session(0, None, 5, 3, "running")
    feed([(8, 0)], state=state)
    state.advance(10.5, T)
    # The seconds since the power fell count only once it comes back.
    before = state.to_dict()
    assert state.running_session() == Session(0, None, 5, 3, "running")
    assert state.to_dict() == before
    feed([(10.5, 60)], state=state)
    assert state.running_session() == Session(0, None, 5, 5.5, "running")


# Randomized properties ---------------------------------------------------------------------

SEEDS = range(300)
WATTS = (0, 3, 12, 35, 60, 200)


def random_case(seed):
    rng = random.Random(seed)
    standby = rng.choice((0, 2, 5, 10, 20))
    working = standby + rng.choice((0.5, 10, 25, 50, 150))
    start = rng.choice((0, 0.5, 2, 5, rng.uniform(0, 10)))
    stop = rng.choice((0, 1, 3, 8, rng.uniform(0, 15)))
    timeout = rng.choice((0, max(start, stop) + rng.choice((0.1, 5, rng.uniform(0.1, 40)))))
    thresholds = Thresholds(standby, working, start, stop, timeout)
    at = 1.7e9 + rng.randint(0, 10**6)
    readings = []
    for _ in range(rng.randint(50, 200)):
        # Whole seconds half the time, so deadlines fall exactly on readings.
        at += rng.choice((rng.randint(1, 30), round(rng.uniform(0.1, 30), 1)))
        power = None if rng.random() < 0.1 else rng.choice(WATTS)
        readings.append((at, power))
    return thresholds, readings


def run(thresholds, readings, rng=None, cuts=()):
    """Ended sessions and the one left running, after advancing well past the last reading.

    ``rng``: advance at random moments between readings. ``cuts``: save and restore the state
    through JSON before the readings of these indexes.
    """
    state = MachineState()
    ended = []
    previous = None
    for index, (at, power) in enumerate(readings):
        if rng is not None and previous is not None:
            moments = [rng.uniform(previous, at) for _ in range(rng.randint(0, 3))]
            moments += rng.choice(([], [previous], [at]))
            for now in sorted(moments):
                ended += state.advance(now, thresholds)
        if index in cuts:
            state = MachineState.from_dict(json.loads(json.dumps(state.to_dict())))
        ended += state.reading(at, power, thresholds)
        previous = at
    ended += state.advance(previous + 1000, thresholds)
    return ended, state.running_session()


def check_all_seeds(check):
    """Runs ``check(seed)`` for every seed; fails naming how many seeds failed and the first."""
    failures = []
    for seed in SEEDS:
        try:
            check(seed)
        except AssertionError as error:
            failures.append((seed, error))
    if failures:
        seed, error = failures[0]
        pytest.fail(f"{len(failures)} of {len(SEEDS)} seeds fail; seed {seed}: {error}")


def check_consistent(seed):
    thresholds, readings = random_case(seed)
    ended, _ = run(thresholds, readings)
    times = {at for at, _ in readings}
    high = {at for at, p in readings if p is not None and p > thresholds.working_w}
    low = {at for at, p in readings if p is not None and p <= thresholds.standby_w}
    previous_end = None
    for session in ended:
        assert session.working_s >= 0 and session.standby_s >= 0, session
        assert session.total_s == pytest.approx(session.ended - session.started), session
        # Also: no session without a reading above the working threshold to start it.
        assert session.started in high, session
        if session.status == COMPLETED:
            assert session.ended in low, session
        else:
            assert session.status == TIMED_OUT, session
            # The last reading heard, or the moment the start debounce confirmed the session.
            confirmed = session.started + thresholds.start_debounce_s
            assert session.ended in times or session.ended == confirmed, session
        assert previous_end is None or previous_end <= session.started, session
        previous_end = session.ended


def test_random_sessions_are_consistent():
    check_all_seeds(check_consistent)


def check_longer_than_zero(seed):
    thresholds, readings = random_case(seed)
    ended, _ = run(thresholds, readings)
    for session in ended:
        assert session.started < session.ended, (thresholds, session)


def test_random_sessions_last_longer_than_zero():
    check_all_seeds(check_longer_than_zero)


def check_extra_advances(seed):
    thresholds, readings = random_case(seed)
    assert run(thresholds, readings, rng=random.Random(-seed)) == run(thresholds, readings)


def test_random_extra_advances_change_nothing():
    check_all_seeds(check_extra_advances)


def check_saved_and_restored(seed):
    thresholds, readings = random_case(seed)
    # Several random points: one alone rarely falls where a lost field would matter.
    rng = random.Random(-seed)
    cuts = {index for index in range(len(readings)) if rng.random() < 0.25}
    assert run(thresholds, readings, cuts=cuts) == run(thresholds, readings)


def test_random_saved_and_restored_state_changes_nothing():
    check_all_seeds(check_saved_and_restored)
