"""Home Assistant's registries as given releases answer them, for the scripted Home Assistant.

The real Home Assistant of the tests is 2024.3.3 (the last release for Python 3.11): it has
floors and labels but no categories, and its areas carry neither floors nor labels. What
2024.4 and later send is scripted here, message by message, from Home Assistant's own source
of each release (the ``homeassistant`` wheels of PyPI, 2024.4.0 and 2025.1.0):

- list answers: ``homeassistant/components/config/{floor,label,category}_registry.py``
  (``_entry_dict``), ``config/area_registry.py`` (``_entry_dict``; 2025.1:
  ``helpers/area_registry.py`` ``AreaEntry.json_fragment``), ``helpers/device_registry.py``
  (``DeviceEntry.dict_repr``), ``helpers/entity_registry.py``
  (``RegistryEntry.as_partial_dict``, the items of ``config/entity_registry/list``);
- events: ``helpers/{floor,label,category,area,device,entity}_registry.py``
  (``Event...RegistryUpdatedData``: ``action`` create/update/remove and the entry's id; the
  category's ``scope``; ``changes`` on device and entity updates), sent as
  ``components/websocket_api/messages.py`` frames them (``Event.as_dict``: event_type, data,
  origin, time_fired, context);
- edits: ``config/{floor,label}_registry/create|update|delete`` answer the entry (delete:
  nothing), ``config/area_registry/update`` the area, ``config/device_registry/update`` the
  device (``dict_repr``), ``config/entity_registry/update`` ``{"entity_entry": ...}``; each
  fires its registry's event; an unknown id answers ``invalid_info``, a key the release's
  schema lacks (2024.3: an area's floor_id and labels) ``invalid_format``;
- a command a release does not have: ``components/websocket_api/connection.py`` answers
  ``unknown_command`` ("Unknown command.");
- ``config/category_registry/list`` takes a ``scope``; the frontend's scopes are
  automation, scene, script and helpers.

2025.1 adds ``created_at``/``modified_at`` (seconds since the epoch) to every entry, and
``model_id``/``primary_config_entry`` to devices.
"""

import itertools
import time

RELEASE_2024_3 = "2024.3.3"
RELEASE_2024_4 = "2024.4.0"
RELEASE_2025_1 = "2025.1.0"


def _release(version):
    return tuple(int(part) for part in version.split("."))


CATEGORY_SCOPES = ("automation", "scene", "script", "helpers")


class ScriptedRegistries:
    """A home's registries, answered and announced as Home Assistant ``version`` does.

    Entries are kept in Home Assistant's own terms (ids, names, sets of labels); the tests
    change them with ``create``/``update``/``remove``, each returning the event Home Assistant
    fires, which the scripted server sends to the subscribers of its type.
    """

    def __init__(self, version=RELEASE_2024_4):
        self.version = version
        self._release = _release(version)
        self.floors = {}
        self.labels = {}
        self.categories = {}  # (scope, category_id) -> entry
        self.areas = {}
        self.devices = {}
        self.entities = {}
        self._ulid = itertools.count(1)
        # Events the last commands fired, for the server to announce.
        self.pending_events = []

    @property
    def has_categories(self):
        return self._release >= _release(RELEASE_2024_4)

    def commands(self):
        """Command type -> answer(message): the list commands this release has."""
        answers = {
            "config/area_registry/list": lambda _m: [self._area(a) for a in self.areas.values()],
            "config/device_registry/list": lambda _m: [
                self._device(d) for d in self.devices.values()
            ],
            "config/entity_registry/list": lambda _m: [
                self._entity(e) for e in self.entities.values()
            ],
        }
        if self._release >= _release(RELEASE_2024_3):
            answers["config/floor_registry/list"] = lambda _m: [
                self._floor(f) for f in self.floors.values()
            ]
            answers["config/label_registry/list"] = lambda _m: [
                self._label(label) for label in self.labels.values()
            ]
            for kind in ("floor", "label"):
                for action in ("create", "update", "delete"):
                    answers[f"config/{kind}_registry/{action}"] = self._edit_answer(kind, action)
        answers["config/area_registry/update"] = self._edit_answer("area", "update")
        answers["config/device_registry/update"] = self._edit_answer("device", "update")
        answers["config/entity_registry/update"] = self._edit_answer("entity", "update")
        if self.has_categories:
            answers["config/category_registry/list"] = lambda m: [
                self._category(c)
                for (scope, _id), c in self.categories.items()
                if scope == m["scope"]
            ]
        return answers

    # Edits by command: answers raise ValueError((code, message)) for Home Assistant's errors

    def _edit_answer(self, kind, action):
        key_name = {"device": "device_id"}.get(kind, f"{kind}_id")
        allowed = {
            "floor": {"name", "level", "icon", "aliases"},
            "label": {"name", "color", "description", "icon"},
            "area": {"name", "icon", "aliases", "picture"},
            "device": {"area_id", "name_by_user", "disabled_by"},
            "entity": {"name", "area_id", "icon", "disabled_by", "hidden_by", "new_entity_id"},
        }[kind]
        if self._release >= _release(RELEASE_2024_4):
            allowed |= {"area": {"floor_id", "labels"}, "device": {"labels"}}.get(kind, set())
            allowed |= {"entity": {"labels", "categories"}}.get(kind, set())

        def answer(message):
            fields = {k: v for k, v in message.items() if k not in ("id", "type", key_name)}
            extra = set(fields) - allowed
            if extra:
                raise ValueError(
                    ("invalid_format", f"extra keys not allowed @ data['{min(extra)}']")
                )
            if action == "create":
                if kind == "floor":
                    fields.setdefault("floor_id", fields["name"].lower().replace(" ", "_"))
                else:
                    fields.setdefault("label_id", fields["name"].lower().replace(" ", "_"))
                self.pending_events.append(self.create(kind, **fields))
                return self._shaped(kind, self._table(kind)[fields[f"{kind}_id"]])
            key = message.get(key_name)
            if key not in self._table(kind):
                raise ValueError(("invalid_info", f"{kind.capitalize()} ID doesn't exist"))
            if action == "delete":
                self.pending_events.append(self.remove(kind, key))
                return None
            self.pending_events.append(self.update(kind, key, **fields))
            entry = self._shaped(kind, self._table(kind)[key])
            return {"entity_entry": entry} if kind == "entity" else entry

        return answer

    def _shaped(self, kind, entry):
        return getattr(self, f"_{kind}")(entry)

    # Changes, each returning (event_type, data) as Home Assistant fires it ----------------

    def create(self, kind, **entry):
        """Add an entry of ``kind`` (floor, label, category, area, device, entity)."""
        now = time.time()
        entry.setdefault("created_at", now)
        entry["modified_at"] = now
        if kind == "category":
            entry.setdefault("category_id", f"01HT{next(self._ulid):022d}")
        self._table(kind)[self._key(kind, entry)] = entry
        return self._event(kind, "create", entry)

    def update(self, kind, key, **changes):
        entry = self._table(kind)[key]
        old = {name: entry.get(name) for name in changes}
        entry.update(changes, modified_at=time.time())
        return self._event(kind, "update", entry, old)

    def remove(self, kind, key):
        entry = self._table(kind).pop(key)
        return self._event(kind, "remove", entry)

    def _table(self, kind):
        return {
            "floor": self.floors,
            "label": self.labels,
            "category": self.categories,
            "area": self.areas,
            "device": self.devices,
            "entity": self.entities,
        }[kind]

    @staticmethod
    def _key(kind, entry):
        if kind == "category":
            return (entry["scope"], entry["category_id"])
        return entry[{"device": "id"}.get(kind, f"{kind}_id")]

    def _event(self, kind, action, entry, old=None):
        data = {"action": action}
        if kind == "category":
            data.update(scope=entry["scope"], category_id=entry["category_id"])
        elif kind == "device":
            data["device_id"] = entry["id"]
        else:
            data[f"{kind}_id"] = entry[f"{kind}_id"]
        if action == "update" and kind in ("device", "entity"):
            # The old values of what changed (helpers/device_registry.py, entity_registry.py).
            data["changes"] = old or {}
        return f"{kind}_registry_updated", data

    # Entries as each release sends them -------------------------------------------------

    def _stamped(self, entry, answer):
        if self._release >= _release(RELEASE_2025_1):
            answer.update(created_at=entry["created_at"], modified_at=entry["modified_at"])
        return answer

    def _floor(self, f):
        answer = {
            "floor_id": f["floor_id"],
            "icon": f.get("icon"),
            "level": f.get("level"),
            "name": f["name"],
        }
        if self._release >= _release(RELEASE_2024_4):
            answer["aliases"] = list(f.get("aliases") or ())
        return self._stamped(f, answer)

    def _label(self, label):
        answer = {
            "color": label.get("color"),
            "description": label.get("description"),
            "icon": label.get("icon"),
            "label_id": label["label_id"],
            "name": label["name"],
        }
        return self._stamped(label, answer)

    def _category(self, c):
        answer = {"category_id": c["category_id"], "icon": c.get("icon"), "name": c["name"]}
        return self._stamped(c, answer)

    def _area(self, a):
        answer = {
            "aliases": list(a.get("aliases") or ()),
            "area_id": a["area_id"],
            "icon": a.get("icon"),
            "name": a["name"],
            "picture": None,
        }
        if self._release >= _release(RELEASE_2024_4):
            answer.update(floor_id=a.get("floor_id"), labels=list(a.get("labels") or ()))
        return self._stamped(a, answer)

    def _device(self, d):
        answer = {
            "area_id": d.get("area_id"),
            "configuration_url": None,
            "config_entries": ["scripted"],
            "connections": [],
            "disabled_by": None,
            "entry_type": None,
            "hw_version": None,
            "id": d["id"],
            "identifiers": [["scripted", d["id"]]],
            "manufacturer": d.get("manufacturer"),
            "model": d.get("model"),
            "name_by_user": d.get("name_by_user"),
            "name": d.get("name"),
            "serial_number": None,
            "sw_version": None,
            "via_device_id": None,
        }
        if self._release >= _release(RELEASE_2024_4):
            answer["labels"] = list(d.get("labels") or ())
        if self._release >= _release(RELEASE_2025_1):
            answer.update(model_id=None, primary_config_entry="scripted")
        return self._stamped(d, answer)

    def _entity(self, e):
        answer = {
            "area_id": e.get("area_id"),
            "config_entry_id": None,
            "device_id": e.get("device_id"),
            "disabled_by": None,
            "entity_category": None,
            "entity_id": e["entity_id"],
            "has_entity_name": False,
            "hidden_by": None,
            "icon": None,
            "id": f"reg-{e['entity_id']}",
            "labels": list(e.get("labels") or ()),
            "name": e.get("name"),
            "options": {},
            "original_name": None,
            "platform": "scripted",
            "translation_key": None,
            "unique_id": e["entity_id"],
        }
        if self._release >= _release(RELEASE_2024_4):
            answer["categories"] = dict(e.get("categories") or {})
        return self._stamped(e, answer)
