"""Floors, labels and categories: how Home Assistant 2024.4 and later organise a home.

Home Assistant has a floor registry (areas sit on floors), a label registry (labels on
entities, devices and areas) and a category registry (one category per scope on automations,
scripts, scenes and helpers, kept on the entity registry's ``categories``). Which of them a
server has depends on its version: 2024.3 answers the floor and label lists (its areas carry
no floor yet) and has no categories; 2024.4 added categories and areas on floors. So each
registry is detected on its own, by asking: a server that does not know a list command answers
``unknown_command``, and that registry is then absent (``None``), shown as such on the
instance and not mirrored. Nothing else is assumed from the version number.

``registry_sync.sync_registries`` writes what ``read_registries`` found, in its transaction:
floors, labels and categories are HA-owned rows like areas; the links (area -> floor, labels
of areas, devices and entities, categories of entities) follow each sync.
"""

import logging

from psycopg2.extras import execute_values

from ..hass import errors

_logger = logging.getLogger(__name__)

FLOOR_LIST = "config/floor_registry/list"
LABEL_LIST = "config/label_registry/list"
CATEGORY_LIST = "config/category_registry/list"
# The scopes Home Assistant's own frontend lists categories for (its category settings page).
CATEGORY_SCOPES = ("automation", "scene", "script", "helpers")
# Registry -> the event Home Assistant fires when it changes.
UPDATE_EVENTS = {
    "floors": "floor_registry_updated",
    "labels": "label_registry_updated",
    "categories": "category_registry_updated",
}
# What Home Assistant answers for a command it does not have.
UNKNOWN_COMMAND = "unknown_command"

_NOW = "now() at time zone 'UTC'"


async def read_registries(connection):
    """``{"floors": [...] | None, "labels": [...] | None, "categories": [...] | None}``:
    each registry's entries, or None when the server does not have it. Categories carry
    their ``scope``."""
    found = {
        "floors": await _list_or_none(connection, FLOOR_LIST),
        "labels": await _list_or_none(connection, LABEL_LIST),
        "categories": None,
    }
    categories = []
    for scope in CATEGORY_SCOPES:
        entries = await _list_or_none(connection, CATEGORY_LIST, scope=scope)
        if entries is None:
            return found
        categories += [{**entry, "scope": scope} for entry in entries]
    found["categories"] = categories
    return found


async def _list_or_none(connection, command, **payload):
    try:
        return await connection.call(command, **payload)
    except errors.CommandFailed as error:
        if error.code == UNKNOWN_COMMAND:
            return None
        raise


def describe_missing(found):
    """The registries a server lacks, for the log ("" when it has them all)."""
    return ", ".join(name for name, entries in found.items() if entries is None)


# Writing ----------------------------------------------------------------------------------


def sync_supported(cr, instance_id, found):
    """Record on the instance which registries its server has; True when that changed."""
    cr.execute(
        """
        UPDATE ha_instance SET has_floor_registry = %s, has_label_registry = %s,
                               has_category_registry = %s
         WHERE id = %s AND (has_floor_registry IS DISTINCT FROM %s
                            OR has_label_registry IS DISTINCT FROM %s
                            OR has_category_registry IS DISTINCT FROM %s)
        """,
        (
            *(found[name] is not None for name in ("floors", "labels", "categories")),
            instance_id,
            *(found[name] is not None for name in ("floors", "labels", "categories")),
        ),
    )
    return bool(cr.rowcount)


def sync_floors(cr, instance_id, floors):
    """Write the floors (none when the server has no floor registry); HA id -> record id."""
    rows = [
        (
            instance_id,
            f["floor_id"],
            f.get("name") or f["floor_id"],
            f.get("level"),
            f.get("level") is not None,
            # Aliases arrived with 2024.4; one per line, as a person types them.
            "\n".join(f.get("aliases") or []) or None,
            f.get("icon"),
        )
        for f in floors or ()
    ]
    ids = _upsert(
        cr,
        instance_id,
        "ha_floor",
        ("floor_id",),
        ("name", "level", "has_level", "aliases", "icon"),
        rows,
    )
    return {key[0]: record_id for key, record_id in ids.items()}


def sync_labels(cr, instance_id, labels):
    """Write the labels (none when the server has no label registry); HA id -> record id."""
    rows = [
        (
            instance_id,
            label["label_id"],
            label.get("name") or label["label_id"],
            label.get("color"),
            label.get("icon"),
            label.get("description"),
        )
        for label in labels or ()
    ]
    columns = ("name", "color", "icon", "description")
    ids = _upsert(cr, instance_id, "ha_label", ("label_id",), columns, rows)
    return {key[0]: record_id for key, record_id in ids.items()}


def sync_categories(cr, instance_id, categories):
    """Write the categories (none when the server has no category registry);
    (scope, HA id) -> record id."""
    rows = [
        (
            instance_id,
            c["scope"],
            c["category_id"],
            c.get("name") or c["category_id"],
            c.get("icon"),
        )
        for c in categories or ()
    ]
    return _upsert(cr, instance_id, "ha_category", ("scope", "category_id"), ("name", "icon"), rows)


def _upsert(cr, instance_id, table, keys, columns, rows):
    """Insert or update ``rows`` ((instance_id, *keys, *columns)) of ``table``, unique on
    (instance_id, *``keys``); delete the instance's other rows. Returns keys -> record id.
    Table and column names are this module's constants, never input."""
    ids = {}
    key_names = ", ".join(keys)
    if rows:
        names = ", ".join(columns)
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)
        placeholders = ", ".join(["%s"] * (1 + len(keys) + len(columns)))
        result = execute_values(
            cr._obj,
            f"""
            INSERT INTO {table} (instance_id, {key_names}, {names},
                                 create_uid, write_uid, create_date, write_date)
            VALUES %s
            ON CONFLICT (instance_id, {key_names}) DO UPDATE SET {updates},
                write_date = EXCLUDED.write_date
            RETURNING id, {key_names}
            """,
            rows,
            template=f"({placeholders}, 1, 1, {_NOW}, {_NOW})",
            page_size=len(rows),
            fetch=True,
        )
        ids = {tuple(key): record_id for record_id, *key in result}
    cr.execute(
        f"DELETE FROM {table} WHERE instance_id = %s AND NOT (id = ANY(%s))",
        (instance_id, list(ids.values())),
    )
    return ids


# The links between registry rows, by kind: (relation table, its owner column, owner table,
# owner's Home Assistant id, its target column, target table, target's Home Assistant id as
# a SQL expression on that table).
AREA_LABELS = (
    "ha_area_label_rel",
    "area_id",
    "ha_area",
    "area_id",
    "label_id",
    "ha_label",
    "label_id",
)
DEVICE_LABELS = (
    "ha_device_label_rel",
    "device_id",
    "ha_device",
    "device_id",
    "label_id",
    "ha_label",
    "label_id",
)
ENTITY_LABELS = (
    "ha_entity_label_rel",
    "entity_id",
    "ha_entity",
    "entity_id",
    "label_id",
    "ha_label",
    "label_id",
)
# A category is known by its scope and id: "automation/01HT...".
ENTITY_CATEGORIES = (
    "ha_entity_category_rel",
    "entity_id",
    "ha_entity",
    "entity_id",
    "category_id",
    "ha_category",
    "scope || '/' || category_id",
)


def sync_links(cr, instance_id, link, pairs):
    """Make ``link`` (one of the tuples above) hold exactly ``pairs`` for this instance:
    (owner's Home Assistant id, target's Home Assistant id). Owners or targets not in Odoo
    (yet) are skipped. Returns the owner record ids whose links changed. Table and column
    names are this module's constants, never input."""
    relation, owner_column, owner_table, owner_key, target_column, target_table, target_key = link
    owners = [owner for owner, _target in pairs]
    targets = [target for _owner, target in pairs]
    wanted = f"""
        SELECT o.id AS owner, t.id AS target
          FROM unnest(%s::text[], %s::text[]) AS d(owner, target)
          JOIN {owner_table} AS o ON o.instance_id = %s AND o.{owner_key} = d.owner
          JOIN {target_table} AS t ON t.instance_id = %s AND t.{target_key} = d.target
    """
    cr.execute(
        f"""
        WITH wanted AS ({wanted})
        DELETE FROM {relation} AS r USING {owner_table} AS o
         WHERE r.{owner_column} = o.id AND o.instance_id = %s
           AND NOT EXISTS (SELECT 1 FROM wanted AS w
                            WHERE w.owner = r.{owner_column} AND w.target = r.{target_column})
        RETURNING r.{owner_column}
        """,
        (owners, targets, instance_id, instance_id, instance_id),
    )
    changed = {owner for (owner,) in cr.fetchall()}
    if pairs:
        cr.execute(
            f"""
            INSERT INTO {relation} ({owner_column}, {target_column})
            {wanted}
            ON CONFLICT DO NOTHING
            RETURNING {owner_column}
            """,
            (owners, targets, instance_id, instance_id),
        )
        changed.update(owner for (owner,) in cr.fetchall())
    return changed


def sync_entity_links(cr, instance_id, entities):
    """The labels and categories of the entity registry's ``entities``, on the entities Odoo
    has; returns ``entity_labels`` of the entities whose labels changed (pages show labels,
    not categories)."""
    labels = [(e["entity_id"], label) for e in entities for label in e.get("labels") or ()]
    categories = [
        (e["entity_id"], f"{scope}/{category}")
        for e in entities
        for scope, category in (e.get("categories") or {}).items()
        if category
    ]
    changed = sync_links(cr, instance_id, ENTITY_LABELS, labels)
    sync_links(cr, instance_id, ENTITY_CATEGORIES, categories)
    return entity_labels(cr, changed)


def entity_labels(cr, entity_record_ids):
    """Home Assistant entity id -> its ha.label record ids, sorted, for ``entity_record_ids``."""
    if not entity_record_ids:
        return {}
    cr.execute(
        """
        SELECT e.entity_id, COALESCE(array_agg(r.label_id ORDER BY r.label_id)
                                     FILTER (WHERE r.label_id IS NOT NULL), '{}')
          FROM ha_entity e
          LEFT JOIN ha_entity_label_rel r ON r.entity_id = e.id
         WHERE e.id = ANY(%s)
         GROUP BY e.entity_id
        """,
        (list(entity_record_ids),),
    )
    return dict(cr.fetchall())


def label_pairs(entries, key):
    """(entry's ``key``, label id) for every label of each registry entry."""
    return [(entry[key], label) for entry in entries for label in entry.get("labels") or ()]
