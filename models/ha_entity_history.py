import logging
import math
from datetime import datetime, timedelta

from odoo import api, fields, models

from ..connector.history_rollups import (
    FIVE_MINUTE_SQL,
    FIVE_MINUTES,
    HOUR,
    PERIOD_SECONDS,
    floor_time,
    without_jit,
)
from ..connector.history_rows import BINARY_STATE_VALUES, state_to_number
from ..connector.settings import HISTORY_RETENTION_DAYS_DEFAULT, HISTORY_RETENTION_DAYS_PARAM

_logger = logging.getLogger(__name__)

# Rows deleted per DELETE statement of the retention purge, and per cron call (one
# transaction): the cron calls again at once while expired rows remain.
PURGE_BATCH_ROWS = 10_000
PURGE_ROWS_PER_RUN = 100_000
# Counting the expired rows left stops here: enough for the cron to know it must go on, and
# cheap even on a backlog of many millions.
PURGE_COUNT_LIMIT = 1_000_000

# A chart reads the raw states of an entity when the range holds at most this many, else its
# 5-minute statistics (a day of a sensor reporting every second is 86,400 states, 288 rows).
RAW_ROWS_MAX = 10_000

_EPOCH = datetime(1970, 1, 1)


class HaEntityHistory(models.Model):
    """One recorded state of an entity, stamped with Home Assistant's own timestamps."""

    _name = "ha.entity.history"
    _description = "Home Assistant Entity History"
    _order = "last_updated desc, id desc"

    # No index of its own: the unique (entity_id, last_updated) index serves every lookup by
    # entity, and one index less is cheaper on a table that takes a row per state change.
    entity_id = fields.Many2one("ha.entity", string="Entity", required=True, ondelete="cascade")
    instance_id = fields.Many2one(
        related="entity_id.instance_id", store=True, index=True, string="Instance"
    )
    state = fields.Char()
    num_value = fields.Float(
        string="Value",
        compute="_compute_num_value",
        store=True,
        aggregator="avg",
        help="The state as a number; 'on' is 1 and 'off' is 0.",
    )
    is_numeric = fields.Boolean(
        compute="_compute_num_value",
        store=True,
        help="Whether the state has a numeric value; 'unavailable' or 'heat' have none.",
    )
    unit = fields.Char()
    attributes = fields.Json()
    last_changed = fields.Datetime()
    # Indexed for the retention purge and for time ranges across entities.
    last_updated = fields.Datetime(required=True, index=True)

    _sql_constraints = [
        (
            "entity_last_updated_unique",
            "UNIQUE(entity_id, last_updated)",
            "An entity has one recorded state per timestamp.",
        ),
    ]

    @api.depends("state")
    def _compute_num_value(self):
        for record in self:
            value = state_to_number(record.state)
            record.is_numeric = value is not None
            record.num_value = value or 0.0

    @api.depends("entity_id", "last_updated")
    def _compute_display_name(self):
        for record in self:
            record.display_name = f"{record.entity_id.display_name} @ {record.last_updated}"

    @api.model
    def _cron_purge_expired_history(self):
        """Daily: delete states older than the retention period (Settings > Home Assistant).

        Each run deletes at most ``PURGE_ROWS_PER_RUN`` rows and reports them through the
        cron progress API, so Odoo commits and calls it again while rows remain: a first purge
        of millions of rows becomes a series of short transactions, never one huge one.
        """
        days = self._retention_days()
        deleted, remaining = self._purge_expired_history(days)
        if deleted:
            _logger.info(
                "Removed %s history rows older than %s days (%s left to remove)",
                deleted,
                days,
                remaining,
            )
        self.env["ir.cron"]._notify_progress(done=deleted, remaining=remaining)
        return deleted

    @api.model
    def _retention_days(self):
        value = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(HISTORY_RETENTION_DAYS_PARAM, HISTORY_RETENTION_DAYS_DEFAULT)
        )
        try:
            return int(value)
        except (TypeError, ValueError):
            return HISTORY_RETENTION_DAYS_DEFAULT

    @api.model
    def _purge_expired_history(self, days, max_rows=None):
        """Delete up to ``max_rows`` states older than ``days`` days, ``PURGE_BATCH_ROWS`` per
        statement (plain SQL: the table holds millions of rows, too many for ``unlink``).

        Returns (rows deleted, rows older than the cutoff still left, counted up to
        ``PURGE_COUNT_LIMIT``). ``days`` <= 0 keeps everything.
        """
        if days <= 0:
            return 0, 0
        max_rows = PURGE_ROWS_PER_RUN if max_rows is None else max_rows
        cutoff = fields.Datetime.now() - timedelta(days=days)
        self.flush_model()
        deleted = 0
        while deleted < max_rows:
            # Oldest first through the last_updated index, so each statement touches only
            # rows it deletes.
            self.env.cr.execute(
                """
                DELETE FROM ha_entity_history WHERE id IN (
                    SELECT id FROM ha_entity_history
                     WHERE last_updated < %s ORDER BY last_updated LIMIT %s)
                """,
                (cutoff, min(PURGE_BATCH_ROWS, max_rows - deleted)),
            )
            deleted += self.env.cr.rowcount
            if self.env.cr.rowcount < PURGE_BATCH_ROWS:
                break
        self.invalidate_model()
        self.env.cr.execute(
            "SELECT count(*) FROM (SELECT 1 FROM ha_entity_history"
            " WHERE last_updated < %s LIMIT %s) AS expired",
            (cutoff, PURGE_COUNT_LIMIT),
        )
        return deleted, self.env.cr.fetchone()[0]

    @api.model
    def _api_series(self, entities, start, end, max_points):
        """Each entity's history over [start, end), reduced to at most ``max_points`` points.

        Numeric entities (their recorded states are mostly numbers) get one point per time
        bucket with min, max and average; others get a state timeline: the state at ``start``
        and each change, keeping per bucket only the last change when there are more. The
        caller has checked that the user may read ``entities``; the reduction runs in SQL so
        months of history never travel to Python row by row.

        Long ranges of numeric entities are read from their 5-minute or hourly statistics
        (``_series_period``), so a chart reads at most a few thousand rows per entity whatever
        the range; ``resolution`` tells which ("raw", "5minute", "hour").
        """
        bucket_s = max((end - start).total_seconds() / max_points, 1.0)
        self.flush_model()
        self.env["ha.entity.history.rollup"].flush_model()
        without_jit(self.env.cr)
        series = []
        for entity in entities:
            item = {
                "entity_id": entity.entity_id,
                "name": entity.name or entity.entity_id,
                "unit": entity.unit_of_measurement or None,
            }
            period = self._series_period(entity, start, end, bucket_s)
            if period:
                chart_bucket_s = (
                    math.ceil(bucket_s / PERIOD_SECONDS[period]) * PERIOD_SECONDS[period]
                )
                item.update(
                    kind="numeric",
                    resolution=period,
                    bucket_seconds=float(chart_bucket_s),
                    points=self._rollup_buckets(entity, start, end, period, chart_bucket_s),
                )
            elif self._is_numeric_series(entity, start, end):
                item.update(
                    kind="numeric",
                    resolution="raw",
                    bucket_seconds=bucket_s,
                    points=self._numeric_buckets(entity, start, end, bucket_s),
                )
            else:
                item.update(
                    kind="timeline",
                    resolution="raw",
                    bucket_seconds=bucket_s,
                    segments=self._state_timeline(entity, start, end, bucket_s),
                )
            series.append(item)
        return series

    def _series_period(self, entity, start, end, bucket_s):
        """The statistics period a chart of ``entity`` reads, or None for the raw states.

        Hourly statistics when a chart bucket spans an hour or more, 5-minute ones when it
        spans 5 minutes or more, or when the raw states in range are too many to read
        (a sensor reporting every second charted over a day); raw states otherwise, and
        whenever there are no statistics in range (an entity charted as a timeline, or not
        rolled up yet).
        """
        cr = self.env.cr
        period = "hour" if bucket_s >= HOUR else "5minute" if bucket_s >= FIVE_MINUTES else None
        if period is None:
            # At most max_points 5-minute rows: cheap, and their state counts tell how many raw
            # rows the range holds.
            cr.execute(
                "SELECT sum(state_count) FROM ha_entity_history_rollup"
                " WHERE entity_id = %s AND period = '5minute' AND start >= %s AND start < %s",
                (entity.id, floor_time(start, FIVE_MINUTES), end),
            )
            raw_rows = cr.fetchone()[0] or 0
            if raw_rows <= RAW_ROWS_MAX:
                return None
            period = "5minute"
        # Any statistics will do: 5-minute charts fall back on hourly statistics where there
        # are no 5-minute ones (Home Assistant's older statistics are hourly only).
        cr.execute(
            "SELECT 1 FROM ha_entity_history_rollup"
            " WHERE entity_id = %s AND start >= %s AND start < %s LIMIT 1",
            (entity.id, floor_time(start, HOUR), end),
        )
        return period if cr.fetchone() else None

    def _is_numeric_series(self, entity, start, end):
        """Whether the states in range are mostly numbers; on/off states have a value for
        charts, but an on/off entity reads best as a timeline. Judged on the newest
        ``RAW_ROWS_MAX`` states, so the answer costs the same for any range."""
        self.env.cr.execute(
            """
            SELECT count(*) FILTER (WHERE is_numeric AND state NOT IN %s), count(*) FROM (
                SELECT is_numeric, state FROM ha_entity_history
                 WHERE entity_id = %s AND last_updated >= %s AND last_updated < %s
              ORDER BY last_updated DESC LIMIT %s) AS newest
            """,
            (tuple(BINARY_STATE_VALUES), entity.id, start, end, RAW_ROWS_MAX),
        )
        numeric_count, total = self.env.cr.fetchone()
        return total > 0 and numeric_count * 2 > total

    def _rollup_buckets(self, entity, start, end, period, bucket_s):
        """Points of ``bucket_s`` (a multiple of the period, aligned to it) from the entity's
        statistics up to where they are rolled up, and from its raw states after that (the
        last few minutes), weighted alike so each point equals the raw states' own."""
        cr = self.env.cr
        cr.execute(
            "SELECT rolled_until FROM ha_entity_history_rollup_cursor WHERE entity_id = %s",
            (entity.id,),
        )
        row = cr.fetchone()
        tail_end = min(end, fields.Datetime.now())
        rolled_until = min(row[0], end) if row else end
        tail = row is not None and rolled_until < tail_end
        params = {
            "entity": entity.id,
            "first": floor_time(start, PERIOD_SECONDS[period]),
            "rolled_until": rolled_until,
            "period": period,
            "bucket": bucket_s,
            "ids": [entity.id],
            "t0": [max(rolled_until, floor_time(start, PERIOD_SECONDS[period]))],
            "t1": [tail_end],
        }
        tail_sql = (
            f"UNION ALL SELECT bucket, minimum, maximum, mean, state_count, seconds"
            f" FROM ({FIVE_MINUTE_SQL}) AS tail("
            "entity_id, bucket, minimum, maximum, mean, state_count, seconds)"
            if tail
            else ""
        )
        # Hours without 5-minute statistics (imported from Home Assistant beyond its 5-minute
        # horizon, or past their retention) stand in as whole hours.
        hours_sql = (
            """UNION ALL SELECT start, minimum, maximum, mean, state_count, seconds
                 FROM ha_entity_history_rollup hour
                WHERE hour.entity_id = %(entity)s AND hour.period = 'hour'
                  AND hour.start >= %(first_hour)s AND hour.start < %(rolled_until)s
                  AND NOT EXISTS (
                      SELECT 1 FROM ha_entity_history_rollup five
                       WHERE five.entity_id = hour.entity_id AND five.period = '5minute'
                         AND five.start >= hour.start
                         AND five.start < hour.start + interval '1 hour')"""
            if period == "5minute"
            else ""
        )
        params["first_hour"] = floor_time(start, HOUR)
        cr.execute(
            f"""
            SELECT floor(extract(epoch FROM piece.start) / %(bucket)s) * %(bucket)s AS bucket,
                   min(piece.minimum), max(piece.maximum),
                   sum(piece.mean * piece.seconds) / sum(piece.seconds),
                   sum(piece.state_count)
              FROM (
                  SELECT start, minimum, maximum, mean, state_count, seconds
                    FROM ha_entity_history_rollup
                   WHERE entity_id = %(entity)s AND period = %(period)s
                     AND start >= %(first)s AND start < %(rolled_until)s
                  {hours_sql}
                  {tail_sql}
              ) AS piece(start, minimum, maximum, mean, state_count, seconds)
          GROUP BY 1 ORDER BY 1
            """,
            params,
        )
        return [
            {
                "t": _iso(max(start, _EPOCH + timedelta(seconds=float(epoch)))),
                "min": low,
                "max": high,
                "avg": mean,
                "count": int(count or 0),
            }
            for epoch, low, high, mean, count in cr.fetchall()
        ]

    def _numeric_buckets(self, entity, start, end, bucket_s):
        self.env.cr.execute(
            """
            SELECT floor(extract(epoch FROM last_updated - %(start)s) / %(bucket)s) AS bucket,
                   min(num_value), max(num_value), avg(num_value), count(*)
              FROM ha_entity_history
             WHERE entity_id = %(entity)s AND is_numeric
               AND last_updated >= %(start)s AND last_updated < %(end)s
          GROUP BY bucket ORDER BY bucket
            """,
            {"entity": entity.id, "start": start, "end": end, "bucket": bucket_s},
        )
        return [
            {
                "t": _iso(start + timedelta(seconds=bucket * bucket_s)),
                "min": low,
                "max": high,
                "avg": mean,
                "count": count,
            }
            for bucket, low, high, mean, count in self.env.cr.fetchall()
        ]

    def _state_timeline(self, entity, start, end, bucket_s):
        # The state in force at ``start`` opens the timeline.
        self.env.cr.execute(
            """
            (SELECT state, %(start)s AS at FROM ha_entity_history
              WHERE entity_id = %(entity)s AND last_updated < %(start)s
           ORDER BY last_updated DESC LIMIT 1)
            UNION ALL
            (SELECT DISTINCT ON (bucket) state, last_updated FROM (
                SELECT state, last_updated,
                       floor(extract(epoch FROM last_updated - %(start)s) / %(bucket)s) AS bucket
                  FROM ha_entity_history
                 WHERE entity_id = %(entity)s
                   AND last_updated >= %(start)s AND last_updated < %(end)s
             ) AS changes ORDER BY bucket, last_updated DESC)
            """,
            {"entity": entity.id, "start": start, "end": end, "bucket": bucket_s},
        )
        segments = []
        for state, at in sorted(self.env.cr.fetchall(), key=lambda row: row[1]):
            if segments and segments[-1]["state"] == state:
                continue
            if segments:
                segments[-1]["end"] = _iso(at)
            segments.append({"state": state, "start": _iso(at), "end": None})
        if segments:
            segments[-1]["end"] = _iso(min(end, fields.Datetime.now()))
        return segments


def _iso(value):
    return value.isoformat() + "Z"
