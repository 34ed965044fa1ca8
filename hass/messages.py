"""Message shapes of HA's websocket API and decoding of ``subscribe_entities`` states.

``subscribe_entities`` sends compressed states: the first event after the subscription
is ``{"a": {entity_id: {"s", "a", "c", "lc", "lu"?}}}`` with every entity, later events
carry ``a`` (added entities, same shape), ``r`` (removed entity ids) and ``c`` (changed:
``{entity_id: {"+": {...set...}, "-": {"a": [removed attribute names]}}}``).
Timestamps are float epoch seconds; ``lu`` is omitted when equal to ``lc``; ``c`` is the
context id alone (a string) or a dict of the context fields that changed.

The decoded states have exactly the shape of ``get_states`` items.
"""

import logging
from datetime import UTC, datetime
from typing import Any

_logger = logging.getLogger(__name__)

# A decoded message, state or diff: JSON objects as HA sends them.
Message = dict[str, Any]
State = dict[str, Any]

# Message types.
AUTH_REQUIRED = "auth_required"
AUTH = "auth"
AUTH_OK = "auth_ok"
AUTH_INVALID = "auth_invalid"
RESULT = "result"
EVENT = "event"
PONG = "pong"
PING = "ping"
SUPPORTED_FEATURES = "supported_features"
SUBSCRIBE_EVENTS = "subscribe_events"
SUBSCRIBE_ENTITIES = "subscribe_entities"
UNSUBSCRIBE_EVENTS = "unsubscribe_events"

# HA sends several messages in one frame (a JSON array) once this feature is announced,
# which cuts per-frame overhead during event bursts.
FEATURE_COALESCE_MESSAGES = "coalesce_messages"

# Compressed state keys.
STATE = "s"
ATTRIBUTES = "a"
CONTEXT = "c"
LAST_CHANGED = "lc"
LAST_UPDATED = "lu"
# Diff keys.
ENTITIES_ADDED = "a"
ENTITIES_REMOVED = "r"
ENTITIES_CHANGED = "c"
DIFF_SET = "+"
DIFF_REMOVE = "-"


def auth_message(token: str) -> Message:
    return {"type": AUTH, "access_token": token}


def timestamp_to_iso(timestamp: float) -> str:
    """Float epoch seconds -> the ISO string HA uses in ``get_states`` (UTC, ``+00:00``)."""
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()


def _context(compressed_context: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(compressed_context, str):
        return {"id": compressed_context, "parent_id": None, "user_id": None}
    context = {"id": None, "parent_id": None, "user_id": None}
    context.update(compressed_context or {})
    return context


def decode_compressed_state(entity_id: str, compressed: dict[str, Any]) -> State:
    """A full state (``get_states`` item) from a compressed one."""
    last_changed = timestamp_to_iso(compressed[LAST_CHANGED])
    last_updated = (
        timestamp_to_iso(compressed[LAST_UPDATED]) if LAST_UPDATED in compressed else last_changed
    )
    return {
        "entity_id": entity_id,
        "state": compressed[STATE],
        "attributes": dict(compressed.get(ATTRIBUTES) or {}),
        "last_changed": last_changed,
        "last_updated": last_updated,
        "context": _context(compressed.get(CONTEXT)),
    }


def apply_state_diff(state: State, diff: dict[str, Any]) -> State:
    """A new full state: ``state`` with a ``{"+": ..., "-": ...}`` diff applied.

    ``state`` is left untouched, so callers may hand out the states they keep.
    """
    new_state = dict(state)
    attributes = dict(state["attributes"])
    context = dict(state["context"])
    additions = diff.get(DIFF_SET) or {}
    if STATE in additions:
        new_state["state"] = additions[STATE]
    if LAST_CHANGED in additions:
        # A new last_changed comes alone: HA changes last_updated with it.
        new_state["last_changed"] = new_state["last_updated"] = timestamp_to_iso(
            additions[LAST_CHANGED]
        )
    elif LAST_UPDATED in additions:
        new_state["last_updated"] = timestamp_to_iso(additions[LAST_UPDATED])
    if CONTEXT in additions:
        changed_context = additions[CONTEXT]
        if isinstance(changed_context, str):
            context["id"] = changed_context
        else:
            context.update(changed_context)
    attributes.update(additions.get(ATTRIBUTES) or {})
    for name in (diff.get(DIFF_REMOVE) or {}).get(ATTRIBUTES) or ():
        attributes.pop(name, None)
    new_state["attributes"] = attributes
    new_state["context"] = context
    return new_state


class EntityStates:
    """The decoded ``subscribe_entities`` mirror: entity_id -> full state."""

    def __init__(self) -> None:
        self.states: dict[str, State] = {}

    def apply_snapshot(self, event: Message) -> list[tuple[str, State]]:
        """Replace everything with the first event of a subscription; return all states."""
        added = event.get(ENTITIES_ADDED) or {}
        self.states = {
            entity_id: decode_compressed_state(entity_id, compressed)
            for entity_id, compressed in added.items()
        }
        return list(self.states.items())

    def apply_event(self, event: Message) -> list[tuple[str, State | None]]:
        """Apply a later event; return ``[(entity_id, new_state_or_None)]`` in HA's order."""
        changes: list[tuple[str, State | None]] = []
        for entity_id, compressed in (event.get(ENTITIES_ADDED) or {}).items():
            state = decode_compressed_state(entity_id, compressed)
            self.states[entity_id] = state
            changes.append((entity_id, state))
        for entity_id, diff in (event.get(ENTITIES_CHANGED) or {}).items():
            old_state = self.states.get(entity_id)
            if old_state is None:
                # Cannot be decoded without the full state; the next snapshot (after a
                # reconnect) brings it. HA never sends this.
                _logger.warning("State diff for unknown entity %s ignored", entity_id)
                continue
            state = apply_state_diff(old_state, diff)
            self.states[entity_id] = state
            changes.append((entity_id, state))
        for entity_id in event.get(ENTITIES_REMOVED) or ():
            if self.states.pop(entity_id, None) is not None:
                changes.append((entity_id, None))
        return changes
