"""What one rule saw of one entity, and when it fires.

A rule fires on a *crossing*: its trigger did not hold for the entity's previous state and
holds for the new one (``triggers.py``); a repeat of a state for which it already holds is no
crossing. With ``for_seconds``, the crossing fires only once the trigger has held that long
without a break: the window opens at the crossing's Home Assistant time (``holds_since``) and
a state for which the trigger no longer holds cancels it. Whether a window has run its course
is decided by the time of the next state (an evaluation that comes late still fires a window
that completed before the trigger stopped holding) and, between states, by the clock
(``due``). Each crossing fires at most once (``fired``); its key, the entity and the moment
it started to hold, names it for the exactly-once firing row (``firing_key``).

States are applied in the order they were recorded; a state no newer than the last one
applied (the same state recorded again after a reconnect, or an older one) is ignored, so
replays change nothing.

The first state a rule knows of an entity is its *baseline* (``baseline``): a trigger that
already holds then has fired already, so a rule made while the light is on does not fire for
that light being on.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .triggers import Trigger


def firing_key(entity_record_id: int, at: datetime) -> str:
    """The name of the crossing of entity ``entity_record_id`` at ``at`` (HA time)."""
    return f"{entity_record_id}:{at.isoformat()}"


@dataclass(frozen=True)
class Crossing:
    """A crossing that fires now."""

    at: datetime  # HA time the trigger started to hold
    due_at: datetime  # ``at`` plus the rule's ``for_seconds``: the moment it fired
    state: str | None  # the state that crossed
    previous_state: str | None  # the state before it


@dataclass
class Watch:
    """One ``ha.automation.rule.state`` row: a rule's view of one entity."""

    last_state: str | None = None
    # The watched attribute's text in the last state (attribute triggers only).
    last_value: str | None = None
    last_changed_at: datetime | None = None
    holds: bool = False
    holds_since: datetime | None = None
    fired: bool = False
    previous_state: str | None = None

    def due_at(self, for_seconds: int) -> datetime | None:
        """When the open window fires, or None when no window is open."""
        if not self.holds or self.fired or self.holds_since is None:
            return None
        return self.holds_since + timedelta(seconds=max(for_seconds, 0))

    def changed_by(
        self, trigger: Trigger, state: str | None, attributes: Mapping[str, Any] | None
    ) -> bool:
        """Whether a new state would change what the rule makes of the entity: a crossing
        or its end (a level), a new value of the watched attribute (``on_change``). Other
        states change nothing, and need not be applied."""
        if trigger.on_change:
            return trigger.watched_value(attributes) != self.last_value
        return trigger.holds(state, attributes) != self.holds

    def _fire_if_due(self, for_seconds: int, moment: datetime) -> list[Crossing]:
        due_at = self.due_at(for_seconds)
        if due_at is None or due_at > moment or self.holds_since is None:
            return []
        self.fired = True
        return [Crossing(self.holds_since, due_at, self.last_state, self.previous_state)]

    def _open(self, at: datetime, previous_state: str | None) -> None:
        self.holds = True
        self.holds_since = at
        self.fired = False
        self.previous_state = self.last_state if previous_state is None else previous_state

    def step(
        self,
        trigger: Trigger,
        for_seconds: int,
        state: str | None,
        attributes: Mapping[str, Any] | None,
        changed_at: datetime,
        previous_state: str | None = None,
    ) -> list[Crossing]:
        """Apply the entity's state of HA time ``changed_at``; return what fires (marked
        fired: a crossing is offered once, whatever the caller's conditions decide).
        ``previous_state``: the entity's state just before, where the caller knows it (the
        states in between changed nothing for the rule, so the rule may not have seen it);
        else the last state the rule saw stands for it."""
        if self.last_changed_at is not None and changed_at <= self.last_changed_at:
            return []
        # A window opened earlier that ran its course before this state: fires now, late.
        fired = self._fire_if_due(for_seconds, changed_at) if for_seconds > 0 else []
        if trigger.on_change:
            value = trigger.watched_value(attributes)
            if value != self.last_value:
                self._open(changed_at, previous_state)
            self.last_value = value
        else:
            if trigger.uses_attributes:
                self.last_value = trigger.watched_value(attributes)
            holds = trigger.holds(state, attributes)
            if holds and not self.holds:
                self._open(changed_at, previous_state)
            elif not holds:
                self.holds, self.holds_since, self.fired = False, None, False
        self.last_state = state
        self.last_changed_at = changed_at
        return fired + self._fire_if_due(for_seconds, changed_at)

    def due(self, for_seconds: int, now: datetime) -> list[Crossing]:
        """The open window if it has held ``for_seconds`` by ``now`` (the clock)."""
        return self._fire_if_due(for_seconds, now)


def baseline(
    trigger: Trigger,
    state: str | None,
    attributes: Mapping[str, Any] | None,
    changed_at: datetime | None,
) -> Watch:
    """A rule's first view of an entity: a trigger that holds already has fired."""
    holds = trigger.holds(state, attributes)
    return Watch(
        last_state=state,
        last_value=trigger.watched_value(attributes),
        last_changed_at=changed_at,
        holds=holds,
        holds_since=changed_at if holds else None,
        fired=holds,
    )
