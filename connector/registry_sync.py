"""Mirror Home Assistant's area, device and entity registries into Odoo.

Runs on every (re)connect before ``subscribe_entities`` and again after each registry update
event, in one transaction per sync. Areas and devices are HA-owned rows: created, updated and
deleted to match Home Assistant, as are the floors, labels and categories of the servers that
have them (``registry_floors_labels``). Entities are not created here (their states create
them); the registry only decides each entity's area (its own, else its device's) and device,
which this returns so the state writer sets them on entities it creates later, with what
changed, so that open pages are told (areas and devices renamed, added, removed or moved;
entities moved).
"""

from psycopg2.extras import execute_values

from . import registry_floors_labels as organisers
from .locks import lock_instance_registry

REGISTRY_COMMANDS = {
    "areas": "config/area_registry/list",
    "devices": "config/device_registry/list",
    "entities": "config/entity_registry/list",
}
# Events after which the registries are read again.
REGISTRY_UPDATE_EVENTS = (
    "area_registry_updated",
    "device_registry_updated",
    "entity_registry_updated",
)

_NOW = "now() at time zone 'UTC'"


class RegistryChanges:
    """What a sync changed that open pages show: floors, labels, areas or devices, and
    entities' area, device or labels."""

    def __init__(self, registry_changed, entity_links, entity_labels=None):
        self.registry_changed = registry_changed
        # entity_id -> (ha.area id or None, ha.device id or None), for changed entities only
        self.entity_links = entity_links
        # entity_id -> its ha.label ids, for entities whose labels changed only
        self.entity_labels = entity_labels or {}


def sync_registries(cr, instance_id, areas, devices, entities, organised=None):
    """Write the registries; ``organised``: ``registry_floors_labels.read_registries``'s
    floors, labels and categories (None: the server has none of them). Returns
    (entity_id -> (ha.area id or None, ha.device id or None) for every registered entity,
    ``RegistryChanges``)."""
    organised = organised or dict.fromkeys(organisers.UPDATE_EVENTS)
    lock_instance_registry(cr, instance_id)
    before = _registry_rows(cr, instance_id)
    organisers.sync_supported(cr, instance_id, organised)
    floor_ids = organisers.sync_floors(cr, instance_id, organised["floors"])
    organisers.sync_labels(cr, instance_id, organised["labels"])
    organisers.sync_categories(cr, instance_id, organised["categories"])
    area_ids = _sync_areas(cr, instance_id, areas, floor_ids)
    device_ids, device_areas = _sync_devices(cr, instance_id, devices, area_ids)
    organisers.sync_links(
        cr, instance_id, organisers.AREA_LABELS, organisers.label_pairs(areas, "area_id")
    )
    organisers.sync_links(
        cr, instance_id, organisers.DEVICE_LABELS, organisers.label_pairs(devices, "id")
    )
    labelled = organisers.sync_entity_links(cr, instance_id, entities)
    links = {}
    for entry in entities:
        device_id = device_ids.get(entry.get("device_id"))
        area_id = area_ids.get(entry.get("area_id")) or device_areas.get(device_id)
        links[entry["entity_id"]] = (area_id, device_id)
    changed_links = _apply_links(cr, instance_id, links)
    changed = before != _registry_rows(cr, instance_id)
    return links, RegistryChanges(changed, changed_links, labelled)


# What pages show of each registry (``ha.realtime.update._registry_payload``): a sync that
# changes none of it tells no page.
_SHOWN_ROWS = (
    "SELECT id, area_id, name, icon, floor_id FROM ha_area WHERE instance_id = %s ORDER BY id",
    "SELECT id, name, name_by_user, area_id FROM ha_device WHERE instance_id = %s ORDER BY id",
    "SELECT id, name, level, has_level, icon FROM ha_floor WHERE instance_id = %s ORDER BY id",
    "SELECT id, name, color, icon FROM ha_label WHERE instance_id = %s ORDER BY id",
)


def _registry_rows(cr, instance_id):
    """What pages show of the areas, devices, floors and labels, to tell whether a sync
    changed it."""
    rows = []
    for query in _SHOWN_ROWS:
        cr.execute(query, (instance_id,))
        rows.append(cr.fetchall())
    return rows


def _sync_areas(cr, instance_id, areas, floor_ids):
    rows = [
        (
            instance_id,
            a["area_id"],
            a.get("name") or a["area_id"],
            a.get("icon"),
            # Areas carry their floor since Home Assistant 2024.4.
            floor_ids.get(a.get("floor_id")),
        )
        for a in areas
    ]
    ids = {}
    if rows:
        result = execute_values(
            cr._obj,
            """
            INSERT INTO ha_area (instance_id, area_id, name, icon, floor_id,
                                 create_uid, write_uid, create_date, write_date)
            VALUES %s
            ON CONFLICT (instance_id, area_id) DO UPDATE SET
                name = EXCLUDED.name, icon = EXCLUDED.icon, floor_id = EXCLUDED.floor_id,
                write_date = EXCLUDED.write_date
            RETURNING area_id, id
            """,
            rows,
            template=f"(%s, %s, %s, %s, %s::int, 1, 1, {_NOW}, {_NOW})",
            page_size=len(rows),
            fetch=True,
        )
        ids = dict(result)
    cr.execute(
        "DELETE FROM ha_area WHERE instance_id = %s AND NOT (area_id = ANY(%s))",
        (instance_id, list(ids)),
    )
    return ids


def _sync_devices(cr, instance_id, devices, area_ids):
    rows = [
        (
            instance_id,
            d["id"],
            d.get("name_by_user") or d.get("name") or d["id"],
            d.get("name_by_user"),
            d.get("manufacturer"),
            d.get("model"),
            d.get("sw_version"),
            area_ids.get(d.get("area_id")),
        )
        for d in devices
    ]
    ids, areas = {}, {}
    if rows:
        result = execute_values(
            cr._obj,
            """
            INSERT INTO ha_device (instance_id, device_id, name, name_by_user, manufacturer,
                                   model, sw_version, area_id,
                                   create_uid, write_uid, create_date, write_date)
            VALUES %s
            ON CONFLICT (instance_id, device_id) DO UPDATE SET
                name = EXCLUDED.name, name_by_user = EXCLUDED.name_by_user,
                manufacturer = EXCLUDED.manufacturer, model = EXCLUDED.model,
                sw_version = EXCLUDED.sw_version, area_id = EXCLUDED.area_id,
                write_date = EXCLUDED.write_date
            RETURNING device_id, id, area_id
            """,
            rows,
            template=f"(%s, %s, %s, %s, %s, %s, %s, %s, 1, 1, {_NOW}, {_NOW})",
            page_size=len(rows),
            fetch=True,
        )
        for ha_id, record_id, area_id in result:
            ids[ha_id] = record_id
            areas[record_id] = area_id
    cr.execute(
        "DELETE FROM ha_device WHERE instance_id = %s AND NOT (device_id = ANY(%s))",
        (instance_id, list(ids)),
    )
    return ids, areas


def _apply_links(cr, instance_id, links):
    """Set each entity's area and device; return those that changed, as in ``links``."""
    cr.execute(
        "UPDATE ha_entity SET area_id = NULL, device_id = NULL"
        " WHERE instance_id = %s AND (area_id IS NOT NULL OR device_id IS NOT NULL)"
        " AND NOT (entity_id = ANY(%s)) RETURNING entity_id",
        (instance_id, list(links)),
    )
    changed = {entity_id: (None, None) for (entity_id,) in cr.fetchall()}
    if not links:
        return changed
    rows = execute_values(
        cr._obj,
        """
        UPDATE ha_entity AS e SET area_id = v.area_id, device_id = v.device_id
          FROM (VALUES %s) AS v(entity_id, area_id, device_id)
         WHERE e.instance_id = %s AND e.entity_id = v.entity_id
           AND (e.area_id IS DISTINCT FROM v.area_id OR e.device_id IS DISTINCT FROM v.device_id)
        RETURNING e.entity_id, e.area_id, e.device_id
        """.replace("%s AND e.entity_id", f"{int(instance_id)} AND e.entity_id"),
        [(entity_id, area, device) for entity_id, (area, device) in links.items()],
        template="(%s, %s::int, %s::int)",
        page_size=len(links),
        fetch=True,
    )
    changed.update((entity_id, (area, device)) for entity_id, area, device in rows)
    return changed
