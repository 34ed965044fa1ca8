"""The client's copy of what the server shows: instances, their entities, floors, areas,
devices and labels.

``Mirror`` is pure and synchronous: it never does I/O. The client fills it from HTTP reads
(``set_instances``, ``load``) and feeds it the bus notifications (``apply``). When a
notification cannot be applied on its own (an entity the mirror has never seen, a bulk
reload), ``apply`` answers the ids of the instances whose entities must be read again.
An entity that stays unknown after such a read (archived in Odoo, so the ``entities`` route
leaves it out while the bus still reports it) is ignored from then on: see ``ignored``.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ENTITY_CHANGES = "odoo_ha_addon/entity_changes"
ENTITIES_RELOAD = "odoo_ha_addon/entities_reload"
INSTANCE_STATUS = "odoo_ha_addon/instance_status"
REGISTRY_CHANGED = "odoo_ha_addon/registry_changed"
ACCESS_CHANGED = "odoo_ha_addon/access_changed"
# The registry lists the ``entities`` route and ``registry_changed`` carry.
REGISTRY_LISTS = ("floors", "areas", "devices", "labels")


@dataclass(frozen=True)
class Change:
    """One entity changed. ``entity`` is the mirror's entity after the change (read it, do
    not modify it), or None when the entity was removed."""

    instance_id: int
    entity_id: str
    entity: dict | None


@dataclass(frozen=True)
class Reloaded:
    """The instance's entities were read again from the server: look at the mirror. When
    the instance is no longer in ``mirror.instances``, the user lost access to it."""

    instance_id: int


@dataclass(frozen=True)
class InstanceChanged:
    """The instance's record (status, version, ...) or its floors, areas, devices or labels
    changed."""

    instance_id: int


# What applying a bus message changed, and the instance ids whose entities must be read.
Applied = tuple[list[Change | InstanceChanged], set[int]]


class Mirror:
    """Instances and entities as the server last described them.

    ``instances``: instance id -> instance dict (``id``, ``name``, ``status``, ...).
    ``entities``: instance id -> entity_id -> entity dict, for the instances loaded.
    ``floors``, ``areas``, ``devices`` and ``labels``: instance id -> list of dicts, as the
    server sent them (an entity's ``area_id``, ``device_id`` and ``label_ids`` refer to their
    ``id``; an area's ``floor_id`` to a floor's). Floors and labels are empty for a Home
    Assistant without them and for servers that do not send them.
    ``ignored``: instance id -> entity ids whose changes are ignored: they were reported as
    unknown and were still absent once the instance had been read again. An instance's set
    is emptied by ``entities_reload`` and by ``clear_ignored`` (the client calls it on
    ``access_changed`` and before reading everything again).
    """

    def __init__(self) -> None:
        self.instances: dict[int, dict] = {}
        self.entities: dict[int, dict[str, dict]] = {}
        self.floors: dict[int, list] = {}
        self.areas: dict[int, list] = {}
        self.devices: dict[int, list] = {}
        self.labels: dict[int, list] = {}
        self.ignored: dict[int, set[str]] = {}
        # Entity ids reported as unknown since the instance was last loaded.
        self._unknown: dict[int, set[str]] = {}

    def set_instances(self, instances: Iterable[Mapping[str, Any]]) -> set[int]:
        """Replace the instances with the ``instances`` list of the ``instances`` route.

        Returns the ids of the instances that disappeared; their entities are dropped.
        """
        new = {instance["id"]: dict(instance) for instance in instances}
        gone = set(self.instances) - set(new)
        self.instances = new
        for instance_id in gone:
            self.forget(instance_id)
        return gone

    def load(self, instance_id: int, entities_data: Mapping[str, Any]) -> None:
        """Replace an instance's entities with the data of the ``entities`` route.

        The ids reported as unknown since the last load that are still absent join
        ``ignored``; ignored ids that are now present leave it.
        """
        if entities_data.get("instance"):
            self.instances.setdefault(instance_id, {}).update(entities_data["instance"])
        entities = {
            entity["entity_id"]: dict(entity) for entity in entities_data.get("entities", [])
        }
        self.entities[instance_id] = entities
        ignored = self.ignored.get(instance_id, set()) | self._unknown.pop(instance_id, set())
        self.ignored[instance_id] = ignored - entities.keys()
        for name in REGISTRY_LISTS:
            getattr(self, name)[instance_id] = list(entities_data.get(name, []))

    def forget(self, instance_id: int) -> None:
        """Drop an instance's entities, registry lists and ignored ids (its record stays)."""
        self.entities.pop(instance_id, None)
        for name in REGISTRY_LISTS:
            getattr(self, name).pop(instance_id, None)
        self.clear_ignored(instance_id)

    def clear_ignored(self, instance_id: int | None = None) -> None:
        """Stop ignoring the unknown entities of one instance (None: of every instance)."""
        if instance_id is None:
            self.ignored.clear()
            self._unknown.clear()
        else:
            self.ignored.pop(instance_id, None)
            self._unknown.pop(instance_id, None)

    def states(self, instance_id: int) -> dict[str, Any]:
        """``{entity_id: state}`` of an instance; empty when it is not loaded."""
        entities = self.entities.get(instance_id, {})
        return {entity_id: entity.get("state") for entity_id, entity in entities.items()}

    def apply(self, message: Mapping[str, Any]) -> set[int]:
        """Apply the ``message`` of one bus notification (``{"type", "payload"}``).

        Returns the set of instance ids whose entities must be read again.
        """
        return self.apply_message(message)[1]

    def apply_message(self, message: Mapping[str, Any]) -> Applied:
        """Like ``apply``, and also say what changed: returns ``(events, reread)`` where
        events is a list of Change and InstanceChanged, and reread the set of instance ids
        whose entities must be read again. Unknown message types change nothing.

        A change of an entity the instance does not have asks for a read of the instance,
        unless the entity is in ``ignored``. ``entities_reload`` empties the instance's
        ``ignored`` set."""
        # Keyed by object: a message's "type" is whatever JSON the bus carried.
        handlers: dict[object, Callable[[int, dict[str, Any]], Applied]] = {
            ENTITY_CHANGES: self._entity_changes,
            ENTITIES_RELOAD: self._entities_reload,
            INSTANCE_STATUS: self._instance_status,
            REGISTRY_CHANGED: self._registry_changed,
        }
        handler = handlers.get(message.get("type"))
        payload = message.get("payload")
        if handler is None or not isinstance(payload, dict):
            return [], set()
        instance_id = payload.get("instance_id")
        if not isinstance(instance_id, int):
            return [], set()
        return handler(instance_id, payload)

    def _entity_changes(self, instance_id: int, payload: dict[str, Any]) -> Applied:
        entities = self.entities.get(instance_id)
        if entities is None:
            return [], {instance_id}
        events: list[Change | InstanceChanged] = []
        reread: set[int] = set()
        for entity_id, change in (payload.get("changes") or {}).items():
            if change is None:
                if entities.pop(entity_id, None) is not None:
                    events.append(Change(instance_id, entity_id, None))
            elif entity_id in entities:
                # A change carries the fields that changed; each replaces the mirror's value.
                entities[entity_id].update(change)
                events.append(Change(instance_id, entity_id, entities[entity_id]))
            elif entity_id not in self.ignored.get(instance_id, ()):
                # New in Home Assistant: the change may lack fields, read the whole instance.
                # If the read leaves it out (archived in Odoo), load() ignores it from then on.
                self._unknown.setdefault(instance_id, set()).add(entity_id)
                reread.add(instance_id)
        return events, reread

    def _entities_reload(self, instance_id: int, payload: dict[str, Any]) -> Applied:
        # The instance's entities changed in bulk: an ignored entity may be back.
        self.ignored.pop(instance_id, None)
        return [], {instance_id}

    def _instance_status(self, instance_id: int, payload: dict[str, Any]) -> Applied:
        instance = self.instances.get(instance_id)
        if instance is None:
            # An instance the mirror does not know yet: reading it brings its record.
            return [], {instance_id}
        instance.update({key: value for key, value in payload.items() if key != "instance_id"})
        return [InstanceChanged(instance_id)], set()

    def _registry_changed(self, instance_id: int, payload: dict[str, Any]) -> Applied:
        if instance_id not in self.instances:
            return [], {instance_id}
        for name in REGISTRY_LISTS:
            if isinstance(payload.get(name), list):
                getattr(self, name)[instance_id] = list(payload[name])
        return [InstanceChanged(instance_id)], set()
