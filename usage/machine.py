"""The usage state machine of one metered machine, fed with power readings in time order.

A machine is *idle*, *starting* (power rose above the working threshold, not for long enough
yet), *working* (above the working threshold), on *standby* (between the standby and the
working threshold) or *stopping* (power fell to the standby threshold or below, not for long
enough yet)::

    idle -> starting -> working <-> standby -> stopping -> idle
              |  (dropped before start_debounce_s)            ^  (resumed: working/standby)
              +-> idle                                          (off for stop_debounce_s)

A session opens when the machine has worked for ``start_debounce_s`` without a break and starts
at the first reading above the working threshold. It ends, *completed*, at the first reading
that stayed at or below the standby threshold for ``stop_debounce_s``; a dip shorter than that
counts as standby. A sensor that stays silent (no reading) or unavailable for
``silence_timeout_s`` during a session ends it, *timed out*, at the last moment it was heard
from, or when the start debounce confirmed the session if that is later; a session that would
end where it starts (no start debounce, one reading, then silence) never was one. Every second
of a session is either working or standby: ``working_s + standby_s == ended - started``,
always.

Time is HA's: each reading carries the ``last_updated`` of the state it comes from, in seconds
since the epoch. Between readings the last one holds, so debounces and the silence timeout are
decided by the clock, ``advance(now)``, and a reading first advances to its own time. The
outcome is a function of the readings alone: advancing at any moments in between, or not at
all, gives the same sessions, which is what lets the caller replay readings that arrived late
from a saved ``state`` (``to_dict``/``from_dict``).

``Thresholds`` are read at each step: new thresholds apply from the next reading on.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Self, TypeVar, cast

IDLE = "idle"
STARTING = "starting"
WORKING = "working"
STANDBY = "standby"
STOPPING = "stopping"
PHASES = (IDLE, STARTING, WORKING, STANDBY, STOPPING)
IN_SESSION = (WORKING, STANDBY, STOPPING)

# Power levels of one reading.
OFF = "off"
LOW = "standby"
HIGH = "working"

COMPLETED = "completed"
TIMED_OUT = "timed_out"

_T = TypeVar("_T")


def _set(value: _T | None) -> _T:
    """``value``, a field of MachineState that the current phase guarantees is set (a session's
    start, a debounce's ``since``...): typed without its None, nothing checked at run time."""
    return cast(_T, value)


class InvalidThresholds(ValueError):
    """Thresholds that cannot describe a machine; ``rule`` names the rule broken:
    "negative", "order" or "timeout"."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class OutOfOrder(ValueError):
    """A reading older than what the machine has already been advanced to."""


@dataclass(frozen=True)
class Thresholds:
    standby_w: float
    working_w: float
    start_debounce_s: float = 0.0
    stop_debounce_s: float = 0.0
    # 0: never time out.
    silence_timeout_s: float = 0.0

    def __post_init__(self) -> None:
        if self.standby_w < 0:
            raise InvalidThresholds("the standby threshold cannot be negative", "negative")
        if self.working_w <= self.standby_w:
            raise InvalidThresholds(
                "the working threshold must be above the standby threshold", "order"
            )
        for name in ("start_debounce_s", "stop_debounce_s", "silence_timeout_s"):
            if getattr(self, name) < 0:
                raise InvalidThresholds(f"{name} cannot be negative", "negative")
        if self.silence_timeout_s and self.silence_timeout_s <= max(
            self.start_debounce_s, self.stop_debounce_s
        ):
            # A quiet sensor would time out every start or stop before it is confirmed.
            raise InvalidThresholds(
                "the silence timeout must be longer than both debounces", "timeout"
            )

    def level(self, power_w: float) -> str:
        if power_w > self.working_w:
            return HIGH
        if power_w > self.standby_w:
            return LOW
        return OFF


@dataclass(frozen=True)
class Session:
    """A session as the state machine last saw it; ``ended`` is None while it runs."""

    started: float
    ended: float | None
    working_s: float
    standby_s: float
    status: str  # "running", COMPLETED or TIMED_OUT

    @property
    def total_s(self) -> float:
        return self.working_s + self.standby_s


@dataclass
class MachineState:
    phase: str = IDLE
    # starting: the first reading above the working threshold; stopping: the first low one.
    since: float | None = None
    # The phase a stopping machine returns to if the power comes back before the debounce.
    resume_phase: str | None = None
    session_start: float | None = None
    # When the start debounce opened the session: the power is known to have held until then.
    confirmed_at: float | None = None
    working_s: float = 0.0
    standby_s: float = 0.0
    # Seconds up to here are in working_s / standby_s.
    accrued_until: float | None = None
    last_reading: float | None = None
    last_power: float | None = None
    # Set while the sensor reports unavailable (no power known), to when that began.
    unavailable_since: float | None = None
    # The time the machine has been advanced to; readings must not be older.
    clock: float | None = None

    # Persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in (data or {}).items() if key in names})

    # Reading the state -------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self.last_reading is not None and self.unavailable_since is None

    def running_session(self) -> Session | None:
        """The open session as of ``clock``, or None."""
        if self.phase not in IN_SESSION:
            return None
        clone = MachineState.from_dict(self.to_dict())
        # Seconds after the power fell count only if it comes back before the debounce.
        clone._accrue(self.since if self.phase == STOPPING else self.clock)
        return Session(_set(self.session_start), None, clone.working_s, clone.standby_s, "running")

    def next_deadline(self, thresholds: Thresholds) -> float | None:
        """The earliest time at which ``advance`` would change something, or None."""
        deadlines: list[float] = []
        if self.unavailable_since is None:
            if self.phase == STARTING:
                deadlines.append(_set(self.since) + thresholds.start_debounce_s)
            elif self.phase == STOPPING:
                deadlines.append(_set(self.since) + thresholds.stop_debounce_s)
        if thresholds.silence_timeout_s and self.phase != IDLE:
            deadlines.append(self._silent_since() + thresholds.silence_timeout_s)
        return min(deadlines) if deadlines else None

    # Feeding it --------------------------------------------------------------------------

    def advance(self, now: float, thresholds: Thresholds) -> list[Session]:
        """Let time pass to ``now`` with no new reading. Returns sessions that ended."""
        ended: list[Session] = []
        while True:
            deadline = self.next_deadline(thresholds)
            if deadline is None or deadline > now:
                break
            ended += self._on_deadline(deadline, thresholds)
        if self.clock is None or now > self.clock:
            self.clock = now
        return ended

    def reading(self, at: float, power_w: float | None, thresholds: Thresholds) -> list[Session]:
        """A reading at ``at``: watts, or None when the sensor is unavailable or unknown.

        Returns the sessions that ended up to and with it. Raises OutOfOrder for a reading
        older than the machine's clock; one at exactly the clock (a repeat of the last
        reading) changes nothing.
        """
        if self.clock is not None and at < self.clock:
            raise OutOfOrder(f"reading at {at} is older than {self.clock}")
        if self.last_reading is not None and at == self.last_reading:
            return []
        ended = self.advance(at, thresholds)
        self.last_reading = at
        if power_w is None:
            if self.unavailable_since is None:
                self.unavailable_since = at
            return ended
        self.unavailable_since = None
        self.last_power = power_w
        level = thresholds.level(power_w)
        if self.phase == IDLE:
            if level == HIGH:
                self._enter(STARTING, since=at)
        elif self.phase == STARTING:
            if level != HIGH:
                self._enter(IDLE)
        elif self.phase in (WORKING, STANDBY):
            self._accrue(at)
            if level == OFF:
                self._enter(STOPPING, since=at, resume_phase=self.phase)
            else:
                self.phase = WORKING if level == HIGH else STANDBY
        elif self.phase == STOPPING and level != OFF:
            # A dip shorter than the stop debounce: the machine stood by meanwhile.
            self.standby_s += at - _set(self.accrued_until)
            self.accrued_until = at
            self._enter(WORKING if level == HIGH else STANDBY)
        return ended

    # Transitions -------------------------------------------------------------------------

    def _on_deadline(self, deadline: float, thresholds: Thresholds) -> list[Session]:
        silence = self._silent_since() + thresholds.silence_timeout_s
        if thresholds.silence_timeout_s and deadline >= silence:
            return self._time_out()
        if self.phase == STARTING:
            self.session_start = self.since
            self.confirmed_at = deadline
            self.working_s = self.standby_s = 0.0
            self.accrued_until = self.since
            self._enter(WORKING)
            return []
        # STOPPING for the whole debounce: the session ended when the power fell.
        return [self._close(_set(self.since), COMPLETED)]

    def _time_out(self) -> list[Session]:
        if self.phase == STARTING:
            self._enter(IDLE)
            return []
        # A start confirmed by the clock alone assumed the power held until then.
        end = max(self._silent_since(), _set(self.confirmed_at))
        if self.phase == STOPPING:
            end = min(end, _set(self.since))
        if end <= _set(self.session_start):
            # Nothing but a start that was never heard of again (no start debounce).
            self._reset_session()
            self._enter(IDLE)
            return []
        return [self._close(end, TIMED_OUT)]

    def _close(self, end: float, status: str) -> Session:
        if self.phase == STOPPING:
            self.phase = _set(self.resume_phase)
        self._accrue(end)
        session = Session(_set(self.session_start), end, self.working_s, self.standby_s, status)
        self._reset_session()
        self._enter(IDLE)
        return session

    def _reset_session(self) -> None:
        self.session_start = self.confirmed_at = self.accrued_until = None
        self.working_s = self.standby_s = 0.0

    def _accrue(self, until: float | None) -> None:
        """Count the seconds since ``accrued_until`` in the current phase."""
        if self.accrued_until is None or until is None or until <= self.accrued_until:
            return
        phase = self.resume_phase if self.phase == STOPPING else self.phase
        seconds = until - self.accrued_until
        if phase == WORKING:
            self.working_s += seconds
        else:
            self.standby_s += seconds
        self.accrued_until = until

    def _enter(
        self, phase: str, since: float | None = None, resume_phase: str | None = None
    ) -> None:
        self.phase = phase
        self.since = since
        self.resume_phase = resume_phase

    def _silent_since(self) -> float:
        """Since when the sensor has said nothing usable; only asked outside IDLE, which a
        reading always precedes."""
        if self.unavailable_since is not None:
            return self.unavailable_since
        return _set(self.last_reading)
