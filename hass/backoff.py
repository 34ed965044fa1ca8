"""Capped, jittered exponential backoff for reconnect and retry loops."""

import random
from typing import Protocol

from .const import BACKOFF_INITIAL_S, BACKOFF_JITTER, BACKOFF_MAX_S, BACKOFF_MULTIPLIER


class _Random(Protocol):
    def random(self) -> float: ...


class Backoff:
    """Delays that grow by ``multiplier`` per failure up to ``max_s``, never ending.

    Each delay is drawn from ``[base * (1 - jitter), base]`` where ``base`` is the
    un-jittered exponential value, so clients that failed together do not retry in
    lockstep, and a delay never exceeds ``max_s``.
    """

    def __init__(
        self,
        initial_s: float = BACKOFF_INITIAL_S,
        max_s: float = BACKOFF_MAX_S,
        *,
        multiplier: float = BACKOFF_MULTIPLIER,
        jitter: float = BACKOFF_JITTER,
        rng: _Random | None = None,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        if multiplier < 1 or not 0 <= jitter < 1:
            raise ValueError("backoff needs multiplier >= 1 and 0 <= jitter < 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.multiplier = multiplier
        self.jitter = jitter
        self._rng: _Random = rng or random.Random()
        self.failures = 0

    def base_delay(self) -> float:
        """The un-jittered delay for the next failure."""
        # Compare exponents rather than compute a huge power after many failures.
        delay = self.initial_s
        for _ in range(self.failures):
            delay *= self.multiplier
            if delay >= self.max_s:
                return self.max_s
        return delay

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next attempt."""
        base = self.base_delay()
        self.failures += 1
        return base * (1 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """Start again from ``initial_s`` (after a success)."""
        self.failures = 0
