"""What an area, a floor or a label holds now: the one definition that shares and entity
groups read.

- an area: the entities whose area is it, their own or else their device's (as
  ``ha.entity.area_id`` holds it);
- a floor: the entities of its areas;
- a label, as in Home Assistant's label targets: the entities labelled, the entities of
  labelled devices and the entities of labelled areas.
"""

from odoo.tools import SQL

AREA, FLOOR, LABEL = "area", "floor", "label"


def members_sql(kind, targets):
    """Rows ``(owner_id, entity_id)``: for each row ``(owner_id, target_id)`` of the query
    ``targets``, the entities its area, floor or label (``kind``) holds now. An entity held
    twice over (labelled, and on a labelled device) is one row."""
    if kind == AREA:
        return SQL(
            "SELECT target.owner_id, entity.id AS entity_id"
            "  FROM (%s) target"
            "  JOIN ha_entity entity ON entity.area_id = target.target_id",
            targets,
        )
    if kind == FLOOR:
        return SQL(
            "SELECT target.owner_id, entity.id AS entity_id"
            "  FROM (%s) target"
            "  JOIN ha_area area ON area.floor_id = target.target_id"
            "  JOIN ha_entity entity ON entity.area_id = area.id",
            targets,
        )
    if kind == LABEL:
        return SQL(
            "SELECT target.owner_id, rel.entity_id"
            "  FROM (%(targets)s) target"
            "  JOIN ha_entity_label_rel rel ON rel.label_id = target.target_id"
            " UNION "
            "SELECT target.owner_id, entity.id"
            "  FROM (%(targets)s) target"
            "  JOIN ha_device_label_rel rel ON rel.label_id = target.target_id"
            "  JOIN ha_entity entity ON entity.device_id = rel.device_id"
            " UNION "
            "SELECT target.owner_id, entity.id"
            "  FROM (%(targets)s) target"
            "  JOIN ha_area_label_rel rel ON rel.label_id = target.target_id"
            "  JOIN ha_entity entity ON entity.area_id = rel.area_id",
            targets=targets,
        )
    raise ValueError(kind)


def entities_of(target):
    """The entities ``target`` (an ha.area, ha.floor or ha.label record set) holds now, in
    the ORM (what ``members_sql`` finds)."""
    target = target.sudo()
    if target._name == "ha.floor":
        return target.area_ids.entity_ids
    if target._name == "ha.label":
        return target.entity_ids | target.device_ids.entity_ids | target.area_ids.entity_ids
    return target.entity_ids


def execute_without_jit(env, query):
    """``env.execute_query(query)`` with PostgreSQL's JIT compilation off for that query.

    The queries of who may read what (share coverage, group membership, the bus's scopes)
    are unions of a dozen joins whose estimated cost, on tables PostgreSQL has not analysed
    yet, passes ``jit_above_cost``: it then compiled a thousand functions for 2 to 8 s,
    where the query itself runs in milliseconds (seen with auto_explain on the test
    database). The setting goes back to what it was once the query ran; a failed query
    ends the transaction, and the setting with it.
    """
    cr = env.cr
    cr.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
    previous = cr.fetchone()[0]
    rows = env.execute_query(query)
    cr.execute("SELECT set_config('jit', %s, true)", (previous,))
    return rows
