"""Rolled-up history: 5-minute and hourly min / max / time-weighted mean of numeric entities.

A month of a sensor reporting every second is 2.6 M raw rows; its chart needs a few hundred
points. ``ha_entity_history_rollup`` holds one row per entity and period, so long ranges are
read from 720 hourly rows instead of millions of states (``models/ha_entity_history``).

How the rollups stay equal to the raw rows, whatever order the rows arrive in:

- Every statement that inserts history rows (the live writer, the backfill, the reconnect gap
  fill) also *marks* each (entity, 5-minute bucket) it touched, in the same statement
  (``mark_rows_sql``). A late row, hours older than the rolled-up range, is marked like a live
  one.
- The roll-up job (``roll_up``) keeps a *cursor* per entity: the end of the last bucket it
  rolled up. Each run it recomputes, per entity, from the earlier of its cursor and its oldest
  mark up to the last closed bucket, from the raw rows (never a full rescan), then the hours
  that span touches from the 5-minute rows. A row changes its own bucket and, through the
  state carried into the next buckets, those after it: recomputing up to the cursor covers
  both.
- A mark is taken with ``ON CONFLICT DO UPDATE ... WHERE FALSE``: it inserts a new mark or
  *locks* the existing one until the inserting transaction commits. The job deletes the marks
  it works off before reading raw rows, in a READ COMMITTED transaction of its own
  (``roll_up_in_transactions``), so it waits for any transaction still inserting into those
  buckets and then, with a fresh snapshot, reads its rows; a transaction that marks a bucket
  after the job deleted its mark leaves a new mark for the next run. No row is ever missed.
  (Under Odoo's default REPEATABLE READ the job would read with the snapshot it had before
  waiting, and miss that row.)

The mean is time-weighted: each state counts for as long as it was in force within the bucket,
the state in force at the bucket's start included (as Home Assistant's recorder computes its
statistics); min and max include that carried-in state too. Non-numeric states
('unavailable') cover no time; a bucket without any numeric time has no row. On/off states
are charted as timelines, not rolled up.
"""

from datetime import datetime, timedelta

FIVE_MINUTES = 300
HOUR = 3600
PERIOD_SECONDS = {"5minute": FIVE_MINUTES, "hour": HOUR}

# States that make an entity a timeline rather than a curve; not rolled up. The keys of
# ha_entity_history.BINARY_STATE_VALUES (that module imports this one, so they are spelled out).
TIMELINE_STATES = ("on", "off")

# A bucket is rolled up once it closed this long ago, so the writer's rows of its last
# seconds are committed; a row later than that is marked and recomputed like any late row.
SETTLE = timedelta(seconds=10)
# At most this much time is recomputed per entity and statement: a late row of last month or a
# year of imported history is worked off in bounded steps.
MAX_SPAN = timedelta(days=2)
ENTITIES_PER_CHUNK = 200

_EPOCH = datetime(1970, 1, 1)


def floor_time(value, seconds):
    """``value`` (a naive UTC datetime) rounded down to a multiple of ``seconds``."""
    epoch = int(value.timestamp() if value.tzinfo else (value - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=epoch - epoch % seconds)


def sql_floor(expression, seconds):
    return (
        f"(to_timestamp(floor(extract(epoch FROM {expression}) / {seconds}) * {seconds})"
        " AT TIME ZONE 'UTC')"
    )


# Appended to an ``INSERT INTO ha_entity_history ... RETURNING entity_id, last_updated, state``
# named ``inserted``: marks the buckets of the new rows (see the module's docstring).
MARK_INSERTED_SQL = f"""
    INSERT INTO ha_entity_history_rollup_mark (entity_id, bucket)
    SELECT DISTINCT entity_id, {sql_floor("last_updated", FIVE_MINUTES)}
      FROM inserted WHERE state IS NULL OR state NOT IN {TIMELINE_STATES!r}
    ON CONFLICT (entity_id, bucket) DO UPDATE SET bucket = EXCLUDED.bucket WHERE FALSE
"""

_VALUE = f"CASE WHEN h.is_numeric AND h.state NOT IN {TIMELINE_STATES!r} THEN h.num_value END"

# 5-minute pieces of the entities' raw rows over the spans (entity, t0, t1): per bucket, the
# numeric states in force, weighted by the seconds they were. The state in force at t0 (the
# newest row before it) opens each span. Both are read through an index, one span at a time
# (``OFFSET 0`` keeps the LATERAL read from being flattened into a join): as a plain join the
# planner guessed that a span matches a share of the whole table and scanned all of it (24 s
# on 53 M states for 20 five-minute spans; 30 ms now).
FIVE_MINUTE_SQL = f"""
    WITH spans AS (
        SELECT * FROM unnest(%(ids)s::int[], %(t0)s::timestamp[], %(t1)s::timestamp[])
            AS span(entity_id, t0, t1)
    ), points AS (
        SELECT span.entity_id, span.t0 AS at, carried.value, FALSE AS counted, span.t1
          FROM spans span
          JOIN ha_entity_history h
            ON h.entity_id = span.entity_id
           AND h.last_updated = (SELECT max(newest.last_updated) FROM ha_entity_history newest
                                  WHERE newest.entity_id = span.entity_id
                                    AND newest.last_updated < span.t0)
          CROSS JOIN LATERAL (SELECT {_VALUE} AS value) AS carried
        UNION ALL
        SELECT span.entity_id, inside.last_updated, inside.value, TRUE, span.t1
          FROM spans span
          CROSS JOIN LATERAL (
              SELECT h.last_updated, {_VALUE} AS value FROM ha_entity_history h
               WHERE h.entity_id = span.entity_id
                 AND h.last_updated >= span.t0 AND h.last_updated < span.t1
              OFFSET 0) AS inside
    ), segments AS (
        SELECT entity_id, at AS a, value, counted,
               coalesce(lead(at) OVER (PARTITION BY entity_id ORDER BY at, counted), t1) AS b
          FROM points
    ), pieces AS (
        SELECT segment.entity_id, bucket, segment.value,
               extract(epoch FROM least(segment.b, bucket + interval '{FIVE_MINUTES} seconds')
                                  - greatest(segment.a, bucket)) AS seconds,
               segment.counted AND bucket <= segment.a AS counted
          FROM segments segment
          CROSS JOIN LATERAL generate_series(
              {sql_floor("segment.a", FIVE_MINUTES)},
              segment.b - interval '1 microsecond',
              interval '{FIVE_MINUTES} seconds') AS bucket
         WHERE segment.b > segment.a
    )
    SELECT entity_id, bucket, min(value), max(value),
           sum(value * seconds) / sum(seconds) FILTER (WHERE value IS NOT NULL),
           count(*) FILTER (WHERE counted AND value IS NOT NULL),
           sum(seconds) FILTER (WHERE value IS NOT NULL)
      FROM pieces
  GROUP BY entity_id, bucket
    HAVING count(value) > 0
"""


_COLUMNS = (
    "(entity_id, instance_id, period, start, minimum, maximum, mean, state_count, seconds, source)"
)
# Recomputed periods replace what is stored, imported ones included.
_UPSERT = """
    ON CONFLICT (entity_id, period, start) DO UPDATE SET
        minimum = EXCLUDED.minimum, maximum = EXCLUDED.maximum, mean = EXCLUDED.mean,
        state_count = EXCLUDED.state_count, seconds = EXCLUDED.seconds, source = EXCLUDED.source
"""


def without_jit(cr):
    """Turn PostgreSQL's JIT compilation off for the rest of the transaction.

    These statements read a few thousand rows through indexes, but on a table of tens of
    millions of states the planner's estimates for the spans passed as arrays exceed
    ``jit_above_cost``, and compiling the plan then costs ~0.5 s, a hundred times the query
    itself (measured with bench/history_bench.py: 477 ms with JIT, 5 ms without).
    """
    cr.execute("SET LOCAL jit = off")


def closed_until(now):
    """The end of the newest bucket the job may roll up at ``now``."""
    return floor_time(now - SETTLE, FIVE_MINUTES)


def pending_entities(cr, until, limit, entity_ids=None):
    """Entities with rolling up to do before ``until``: a mark of a closed bucket, or a cursor
    behind while they record; among ``entity_ids`` when given."""
    cr.execute(
        """
        SELECT entity_id FROM (
            SELECT entity_id FROM ha_entity_history_rollup_mark WHERE bucket < %(until)s
            UNION
            SELECT cursor.entity_id FROM ha_entity_history_rollup_cursor cursor
              JOIN ha_entity entity ON entity.id = cursor.entity_id
             WHERE cursor.rolled_until < %(until)s AND entity.record_history AND entity.active
        ) AS pending
        WHERE %(all)s OR entity_id = ANY(%(ids)s)
        ORDER BY entity_id LIMIT %(limit)s
        """,
        {
            "until": until,
            "limit": limit,
            "all": entity_ids is None,
            "ids": list(entity_ids or ()),
        },
    )
    return [row[0] for row in cr.fetchall()]


def roll_up_entities(cr, entity_ids, until):
    """Recompute the rollups of ``entity_ids`` up to ``until`` (a closed bucket's end), at most
    ``MAX_SPAN`` per entity; return how many 5-minute rows were written."""
    without_jit(cr)
    # Deleting the marks first waits for transactions still inserting rows into them (their
    # mark is locked): the raw rows read below then include those rows.
    cr.execute(
        """
        DELETE FROM ha_entity_history_rollup_mark
         WHERE entity_id = ANY(%s) AND bucket < %s
     RETURNING entity_id, bucket
        """,
        (list(entity_ids), until),
    )
    start = {}
    for entity_id, bucket in cr.fetchall():
        start[entity_id] = min(bucket, start.get(entity_id, bucket))
    cr.execute(
        """
        SELECT entity_id, rolled_until FROM ha_entity_history_rollup_cursor
         WHERE entity_id = ANY(%s) FOR UPDATE
        """,
        (list(entity_ids),),
    )
    for entity_id, rolled_until in cr.fetchall():
        start[entity_id] = min(rolled_until, start.get(entity_id, rolled_until))
    spans = {
        entity_id: (t0, min(until, t0 + MAX_SPAN)) for entity_id, t0 in start.items() if t0 < until
    }
    if not spans:
        return 0
    ids = list(spans)
    params = {
        "ids": ids,
        "t0": [spans[entity_id][0] for entity_id in ids],
        "t1": [spans[entity_id][1] for entity_id in ids],
    }
    _delete_own(cr, "5minute", params)
    cr.execute(
        f"""
        INSERT INTO ha_entity_history_rollup {_COLUMNS}
        SELECT computed.entity_id, entity.instance_id, '5minute', computed.bucket,
               computed.minimum, computed.maximum, computed.mean, computed.state_count,
               computed.seconds,
               'odoo'
          FROM ({FIVE_MINUTE_SQL}) AS computed(
              entity_id, bucket, minimum, maximum, mean, state_count, seconds)
          JOIN ha_entity entity ON entity.id = computed.entity_id
        {_UPSERT}
        """,
        params,
    )
    written = cr.rowcount
    _roll_up_hours(cr, params)
    cr.execute(
        """
        INSERT INTO ha_entity_history_rollup_cursor (entity_id, rolled_until)
        SELECT * FROM unnest(%(ids)s::int[], %(t1)s::timestamp[])
        ON CONFLICT (entity_id) DO UPDATE SET rolled_until = EXCLUDED.rolled_until
        """,
        params,
    )
    return written


def _delete_own(cr, period, spans):
    """Delete the ``period`` statistics Odoo computed within ``spans`` (ids, t0, t1): those the
    recomputation does not produce again must not stay."""
    cr.execute(
        """
        DELETE FROM ha_entity_history_rollup rollup
         USING unnest(%(ids)s::int[], %(t0)s::timestamp[], %(t1)s::timestamp[])
               AS span(entity_id, t0, t1)
         WHERE rollup.entity_id = span.entity_id AND rollup.period = %(period)s
           AND rollup.source = 'odoo'
           AND rollup.start >= span.t0 AND rollup.start < span.t1
        """,
        dict(spans, period=period),
    )


def _roll_up_hours(cr, params):
    """The hours the 5-minute spans touch, from their 5-minute rows (whatever their source)."""
    hours = {
        "ids": params["ids"],
        "t0": [floor_time(t0, HOUR) for t0 in params["t0"]],
        "t1": params["t1"],
    }
    _delete_own(cr, "hour", hours)
    cr.execute(
        f"""
        INSERT INTO ha_entity_history_rollup {_COLUMNS}
        SELECT rollup.entity_id, min(rollup.instance_id), 'hour',
               {sql_floor("rollup.start", HOUR)} AS hour,
               min(rollup.minimum), max(rollup.maximum),
               sum(rollup.mean * rollup.seconds) / sum(rollup.seconds),
               sum(rollup.state_count), sum(rollup.seconds), 'odoo'
          FROM unnest(%(ids)s::int[], %(t0)s::timestamp[], %(t1)s::timestamp[])
               AS span(entity_id, t0, t1)
          JOIN ha_entity_history_rollup rollup
            ON rollup.entity_id = span.entity_id AND rollup.period = '5minute'
           AND rollup.start >= span.t0
           AND rollup.start < {sql_floor("span.t1 - interval '1 microsecond'", HOUR)}
                              + interval '{HOUR} seconds'
      GROUP BY rollup.entity_id, hour
        {_UPSERT}
        """,
        hours,
    )


def roll_up(cr, now, max_chunks=None, entity_ids=None):
    """Work off pending rolling up (of ``entity_ids`` only, when given),
    ``ENTITIES_PER_CHUNK`` entities a step; return (5-minute rows written, whether work
    remains)."""
    until = closed_until(now)
    written, chunks = 0, 0
    while max_chunks is None or chunks < max_chunks:
        pending = pending_entities(cr, until, ENTITIES_PER_CHUNK, entity_ids)
        if not pending:
            return written, False
        written += roll_up_entities(cr, pending, until)
        chunks += 1
    return written, bool(pending_entities(cr, until, 1, entity_ids))


def roll_up_in_transactions(new_cursor, now, max_chunks=None, entity_ids=None):
    """``roll_up`` one step per READ COMMITTED transaction of ``new_cursor()``, committed
    (the marks a step deletes stay locked only until then); return (5-minute rows written,
    whether work remains)."""
    until = closed_until(now)
    written, chunks = 0, 0
    while max_chunks is None or chunks < max_chunks:
        with new_cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            pending = pending_entities(cr, until, ENTITIES_PER_CHUNK, entity_ids)
            if not pending:
                return written, False
            written += roll_up_entities(cr, pending, until)
        chunks += 1
    with new_cursor() as cr:
        return written, bool(pending_entities(cr, until, 1, entity_ids))


def forget_cursors(cr, entity_ids):
    """Entities that stop recording: their last state must not be carried on while nothing is
    recorded; recording again starts a new cursor at its first marked bucket."""
    if entity_ids:
        cr.execute(
            "DELETE FROM ha_entity_history_rollup_cursor WHERE entity_id = ANY(%s)",
            (list(entity_ids),),
        )
