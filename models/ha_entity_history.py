import math
from datetime import timedelta

from odoo import api, fields, models

from .res_config_settings import HISTORY_RETENTION_DAYS_DEFAULT, HISTORY_RETENTION_DAYS_PARAM

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


class HaEntityHistory(models.Model):
    """One recorded state of an entity, stamped with Home Assistant's own timestamps."""

    _name = "ha.entity.history"
    _description = "Home Assistant Entity History"
    _order = "last_updated desc, id desc"

    entity_id = fields.Many2one(
        "ha.entity", string="Entity", required=True, ondelete="cascade", index=True
    )
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

    @api.autovacuum
    def _gc_expired_history(self):
        """Delete states older than the retention period (Settings > Home Assistant)."""
        days = int(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(HISTORY_RETENTION_DAYS_PARAM, HISTORY_RETENTION_DAYS_DEFAULT)
        )
        if days <= 0:
            return  # 0 keeps history forever
        cutoff = fields.Datetime.now() - timedelta(days=days)
        # One statement: the table can hold millions of rows, too many to unlink through the ORM.
        self.flush_model(["last_updated"])
        self.env.cr.execute("DELETE FROM ha_entity_history WHERE last_updated < %s", [cutoff])
        self.invalidate_model()

    @api.model
    def _api_series(self, entities, start, end, max_points):
        """Each entity's history over [start, end), reduced to at most ``max_points`` points.

        Numeric entities (their recorded states are mostly numbers) get one point per time
        bucket with min, max and average; others get a state timeline: the state at ``start``
        and each change, keeping per bucket only the last change when there are more. The
        caller has checked that the user may read ``entities``; the reduction runs in SQL so
        months of history never travel to Python row by row.
        """
        bucket_s = max((end - start).total_seconds() / max_points, 1.0)
        self.flush_model()
        series = []
        for entity in entities:
            # On/off states have a value for charts, but an on/off entity reads best as a
            # timeline: only states that are numbers make a numeric series.
            self.env.cr.execute(
                "SELECT count(*) FILTER (WHERE is_numeric AND state NOT IN %s), count(*)"
                "  FROM ha_entity_history"
                " WHERE entity_id = %s AND last_updated >= %s AND last_updated < %s",
                (tuple(BINARY_STATE_VALUES), entity.id, start, end),
            )
            numeric_count, total = self.env.cr.fetchone()
            numeric = total > 0 and numeric_count * 2 > total
            item = {
                "entity_id": entity.entity_id,
                "name": entity.name or entity.entity_id,
                "unit": entity.unit_of_measurement or None,
                "kind": "numeric" if numeric else "timeline",
                "bucket_seconds": bucket_s,
            }
            if numeric:
                item["points"] = self._numeric_buckets(entity, start, end, bucket_s)
            else:
                item["segments"] = self._state_timeline(entity, start, end, bucket_s)
            series.append(item)
        return series

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
