"""What a state must be for a rule's trigger to hold.

A trigger is a *level*: it holds or not for each state of an entity, and the rule fires when
it starts to hold (``watch.py``), not on every state for which it holds:

- ``state_to`` X: the state is X;
- ``state_from`` X: the state is not X (fires when the entity leaves X);
- ``above`` T / ``below`` T: the state is a number greater / less than T; a state that is
  not a number (``unavailable``) is neither above nor below anything;
- ``unavailable``: the state is ``unavailable`` or ``unknown``;
- ``attribute`` A with a value V: attribute A equals V (as text; numbers compare as numbers,
  ``true``/``false`` as booleans);
- ``attribute`` A without a value: not a level but an edge, every change of A's value fires
  (``Trigger.on_change``; a value absent before or after counts as a change).
"""

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

STATE_TO = "state_to"
STATE_FROM = "state_from"
ABOVE = "above"
BELOW = "below"
ATTRIBUTE = "attribute"
UNAVAILABLE = "unavailable"
KINDS = (STATE_TO, STATE_FROM, ABOVE, BELOW, ATTRIBUTE, UNAVAILABLE)

UNAVAILABLE_STATES = frozenset({"unavailable", "unknown"})


def number(text: str | None) -> float | None:
    """The finite number ``text`` spells, else None."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except (ValueError, AttributeError):
        return None
    return value if math.isfinite(value) else None


def value_text(value: Any) -> str:
    """An attribute value as the text rules compare: strings as they are, booleans as
    ``true``/``false``, whole numbers without a decimal point, anything else as compact JSON
    with sorted keys (so equal values give equal texts)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def same_value(text: str | None, expected: str) -> bool:
    """Whether the attribute text ``text`` (``value_text``) is the value ``expected`` a
    person typed."""
    if text is None:
        return False
    expected = expected.strip()
    if text == expected:
        return True
    if text in ("true", "false"):
        return text == expected.lower()
    left, right = number(text), number(expected)
    return left is not None and right is not None and left == right


@dataclass(frozen=True)
class Trigger:
    kind: str
    state: str | None = None
    threshold: float = 0.0
    attribute: str | None = None
    attribute_value: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown trigger kind {self.kind!r}")

    @property
    def on_change(self) -> bool:
        """Every change of the attribute fires (no value to compare with)."""
        return self.kind == ATTRIBUTE and not (self.attribute_value or "").strip()

    @property
    def uses_attributes(self) -> bool:
        return self.kind == ATTRIBUTE

    def watched_value(self, attributes: Mapping[str, Any] | None) -> str | None:
        """The text of the watched attribute in ``attributes``; None when absent (or when
        the trigger watches no attribute)."""
        if self.kind != ATTRIBUTE or not self.attribute or not attributes:
            return None
        if self.attribute not in attributes:
            return None
        return value_text(attributes[self.attribute])

    def holds(self, state: str | None, attributes: Mapping[str, Any] | None = None) -> bool:
        """Whether this level trigger holds for ``state``; always False for ``on_change``."""
        return False if self.on_change else self.level(state, attributes)

    @cached_property
    def level(self) -> Callable[[str | None, Mapping[str, Any] | None], Any]:
        """What the trigger makes of one state, as a function of (state, attributes):
        whether it holds, or for ``on_change`` the watched attribute's text. Built once per
        trigger: the state writer asks it of every state of a watched entity."""
        kind, threshold = self.kind, self.threshold
        if kind in (STATE_TO, STATE_FROM):
            target, wanted = (self.state or "").strip(), kind == STATE_TO
            return lambda state, _attributes: (state == target) is wanted
        if kind in (ABOVE, BELOW):
            return _numeric_level(threshold, below=kind == BELOW)
        if kind == UNAVAILABLE:
            return lambda state, _attributes: state in UNAVAILABLE_STATES
        if self.on_change:
            return lambda _state, attributes: self.watched_value(attributes)
        expected = self.attribute_value or ""
        return lambda _state, attributes: same_value(self.watched_value(attributes), expected)


def _numeric_level(threshold: float, below: bool) -> Callable[[str | None, Any], bool]:
    """Whether a state is a number (``number``) above (``below``: under) ``threshold``."""

    def level(state: str | None, _attributes: Any) -> bool:
        try:
            value = float(state)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        if value - value != 0:  # inf or nan
            return False
        return value < threshold if below else value > threshold

    return level


def outcome(triggers: tuple["Trigger", ...], state: str | None, attributes: Any) -> tuple:
    """What ``triggers`` make of one state: whether each level trigger holds, and the
    watched attribute's text for each trigger that fires on every change of it."""
    return outcome_of(triggers)(state, attributes)


def outcome_of(triggers: tuple["Trigger", ...]) -> Callable[[str | None, Any], tuple]:
    """``outcome`` of ``triggers`` as a function of (state, attributes)."""
    if len(triggers) == 1:
        only = triggers[0].level
        return lambda state, attributes: (only(state, attributes),)
    levels = tuple(trigger.level for trigger in triggers)
    return lambda state, attributes: tuple(level(state, attributes) for level in levels)


def states_that_matter(
    states: list[tuple[str | None, Any]],
    triggers: tuple["Trigger", ...],
    before: tuple | None = None,
) -> list[int]:
    """The indexes, among one entity's consecutive ``states`` ((state, attributes), in
    order), of those whose ``outcome`` differs from the state before: the others change
    nothing for the rules. ``before``: the ``outcome`` of the state before the first one,
    when known; otherwise the first one is always kept."""
    if len(triggers) == 1:
        # The usual case, without a tuple per state: the one trigger's level.
        outcome_now = triggers[0].level
        previous = before[0] if before is not None else None
    else:
        outcome_now, previous = outcome_of(triggers), before
    kept = []
    for index, (state, attributes) in enumerate(states):
        current = outcome_now(state, attributes)
        if (index == 0 and before is None) or current != previous:
            kept.append(index)
        previous = current
    return kept
