"""Appending ``ha.entity.history`` rows: one statement shared by the live writer and backfill.

A row is keyed by (entity, Home Assistant's ``last_updated``), a timestamp HA gives each state
exactly once, so the live stream, a backfill from HA's recorder and a retried flush may all
offer the same state: the first one written wins and the others are skipped, never doubled.
"""

import math

from psycopg2.extras import execute_values

from .history_rollups import MARK_INSERTED_SQL
from .storable import storable_text, text_or_none

INSERT_PAGE_ROWS = 1000
# Two-valued states charted as 1/0, so binary sensors, switches and lights have a curve too.
BINARY_STATE_VALUES = {"on": 1.0, "off": 0.0}


def state_to_number(state):
    """The number a state is charted as, or None ('unavailable', 'heat', 'nan')."""
    if not isinstance(state, str) or not state:
        return None
    value = BINARY_STATE_VALUES.get(state)
    if value is None:
        try:
            value = float(state)
        except (TypeError, ValueError):
            return None
    return value if math.isfinite(value) else None


def history_row(entity_record_id, instance_id, state, unit, last_changed, last_updated):
    """A row for ``insert_history_rows``; timestamps are naive UTC datetimes."""
    state = state if state is None else storable_text(text_or_none(state))
    unit = unit if unit is None else storable_text(text_or_none(unit))
    number = state_to_number(state)
    return (
        entity_record_id,
        instance_id,
        state,
        number or 0.0,
        number is not None,
        unit,
        last_changed,
        last_updated,
    )


def insert_history_rows(cr, rows):
    """Insert ``history_row`` tuples, skipping states already recorded, and mark the 5-minute
    buckets of the new ones for rolling up (``history_rollups``), in the same statement;
    return how many were new."""
    if not rows:
        return 0
    counts = execute_values(
        cr._obj,
        f"""
        WITH inserted AS (
            INSERT INTO ha_entity_history
                (entity_id, instance_id, state, num_value, is_numeric, unit, last_changed,
                 last_updated, create_uid, write_uid, create_date, write_date)
            VALUES %s
            ON CONFLICT (entity_id, last_updated) DO NOTHING
            RETURNING entity_id, last_updated, state
        ), marked AS ({MARK_INSERTED_SQL})
        SELECT count(*) FROM inserted
        """,
        rows,
        template=(
            "(%s, %s, %s, %s, %s, %s, %s, %s, 1, 1,"
            " now() at time zone 'UTC', now() at time zone 'UTC')"
        ),
        page_size=INSERT_PAGE_ROWS,
        fetch=True,
    )
    return sum(count for (count,) in counts)
