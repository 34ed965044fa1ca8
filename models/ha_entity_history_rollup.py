import logging
from datetime import timedelta

from odoo import api, fields, models

from ..connector import history_rollups
from ..connector.settings import (
    HISTORY_ROLLUP_5MIN_DAYS_DEFAULT,
    HISTORY_ROLLUP_5MIN_DAYS_PARAM,
    HISTORY_ROLLUP_HOUR_DAYS_DEFAULT,
    HISTORY_ROLLUP_HOUR_DAYS_PARAM,
)

_logger = logging.getLogger(__name__)

PURGE_BATCH_ROWS = 50_000
# Steps of ``ENTITIES_PER_CHUNK`` entities per cron call (one transaction each call): the
# marks a step deletes stay locked until it commits, so the writer never waits long.
ROLL_UP_CHUNKS_PER_RUN = 5


class HaEntityHistoryRollup(models.Model):
    """An entity's numeric history over a 5-minute or hourly period: min, max and
    time-weighted mean, computed from the raw states (``connector/history_rollups``) or
    imported from Home Assistant's long-term statistics. Kept after the raw states are purged:
    5-minute periods for a year, hourly ones for good (Settings > Home Assistant)."""

    _name = "ha.entity.history.rollup"
    _description = "Home Assistant Entity History Statistics"
    _log_access = False
    _order = "start desc, id desc"

    entity_id = fields.Many2one("ha.entity", string="Entity", required=True, ondelete="cascade")
    instance_id = fields.Many2one("ha.instance", string="Instance", index=True)
    period = fields.Selection(
        [("5minute", "5 minutes"), ("hour", "Hour")], required=True, default="hour"
    )
    start = fields.Datetime(required=True, help="The start of the period.")
    minimum = fields.Float(aggregator="min")
    maximum = fields.Float(aggregator="max")
    mean = fields.Float(aggregator="avg", help="Each value weighted by how long it was in force.")
    state_count = fields.Integer(
        string="States", help="Numeric states recorded within the period (none when imported)."
    )
    seconds = fields.Float(
        string="Seconds Covered",
        help="How long within the period the entity had a numeric state.",
    )
    source = fields.Selection(
        [("odoo", "Odoo's history"), ("ha", "Home Assistant statistics")],
        required=True,
        default="odoo",
    )
    unit = fields.Char(related="entity_id.unit_of_measurement", string="Unit")

    _sql_constraints = [
        (
            "entity_period_start_unique",
            "UNIQUE(entity_id, period, start)",
            "An entity has one statistic per period.",
        ),
    ]

    @api.depends("entity_id", "period", "start")
    def _compute_display_name(self):
        for record in self:
            record.display_name = f"{record.entity_id.display_name} @ {record.start}"

    @api.model
    def _cron_roll_up(self):
        """Every few minutes: roll up the closed 5-minute buckets of every recording entity,
        and recompute those that late rows changed. Each step commits in a READ COMMITTED
        transaction of its own (``history_rollups.roll_up_in_transactions``)."""
        written, more = history_rollups.roll_up_in_transactions(
            self.env.registry.cursor, fields.Datetime.now(), max_chunks=ROLL_UP_CHUNKS_PER_RUN
        )
        self.env["ir.cron"]._notify_progress(done=written, remaining=int(more))
        return written

    @api.model
    def _roll_up(self, now=None, max_chunks=None, entities=None):
        """Roll up what is pending at ``now`` (of ``entities`` only, when given) in the current
        transaction; return (5-minute rows written, more to do). For tests and tools working
        in one transaction: while states are being written, the cron's separate transactions
        are what guarantees no late state is missed."""
        self.env["ha.entity.history"].flush_model()
        self.flush_model()
        result = history_rollups.roll_up(
            self.env.cr,
            now or fields.Datetime.now(),
            max_chunks=max_chunks,
            entity_ids=None if entities is None else entities.ids,
        )
        self.invalidate_model()
        return result

    @api.model
    def _cron_purge_expired(self):
        """Daily, with the raw history's purge: delete 5-minute statistics past their
        retention (a year by default) and hourly ones past theirs (kept for good by
        default)."""
        deleted = 0
        for period, param, default in (
            ("5minute", HISTORY_ROLLUP_5MIN_DAYS_PARAM, HISTORY_ROLLUP_5MIN_DAYS_DEFAULT),
            ("hour", HISTORY_ROLLUP_HOUR_DAYS_PARAM, HISTORY_ROLLUP_HOUR_DAYS_DEFAULT),
        ):
            days = self._int_param(param, default)
            if days > 0:
                deleted += self._purge_period(period, days)
        if deleted:
            _logger.info("Removed %s expired history statistics", deleted)
        return deleted

    @api.model
    def _purge_period(self, period, days):
        cutoff = fields.Datetime.now() - timedelta(days=days)
        self.flush_model()
        deleted = 0
        while True:
            self.env.cr.execute(
                """
                DELETE FROM ha_entity_history_rollup WHERE id IN (
                    SELECT id FROM ha_entity_history_rollup
                     WHERE period = %s AND start < %s LIMIT %s)
                """,
                (period, cutoff, PURGE_BATCH_ROWS),
            )
            deleted += self.env.cr.rowcount
            if self.env.cr.rowcount < PURGE_BATCH_ROWS:
                break
        self.invalidate_model()
        return deleted

    @api.model
    def _int_param(self, key, default):
        value = self.env["ir.config_parameter"].sudo().get_param(key, default)
        try:
            return int(value)
        except (TypeError, ValueError):
            return default


class HaEntityHistoryRollupMark(models.Model):
    """An (entity, 5-minute bucket) whose raw states changed since it was rolled up."""

    _name = "ha.entity.history.rollup.mark"
    _description = "Home Assistant History Bucket To Roll Up"
    _log_access = False

    entity_id = fields.Many2one("ha.entity", required=True, ondelete="cascade")
    bucket = fields.Datetime(required=True)

    _sql_constraints = [
        ("entity_bucket_unique", "UNIQUE(entity_id, bucket)", "One mark per bucket."),
    ]


class HaEntityHistoryRollupCursor(models.Model):
    """How far an entity's history is rolled up: the end of its last rolled-up bucket."""

    _name = "ha.entity.history.rollup.cursor"
    _description = "Home Assistant History Rolled Up Until"
    _log_access = False
    _rec_name = "entity_id"

    entity_id = fields.Many2one("ha.entity", required=True, ondelete="cascade")
    rolled_until = fields.Datetime(required=True)

    _sql_constraints = [
        ("entity_unique", "UNIQUE(entity_id)", "One cursor per entity."),
    ]

    def init(self):
        # History recorded before statistics existed: mark each recording entity's first
        # bucket, and the roll-up job works through it from there (once; it has a cursor
        # after that). The f-string only inserts a constant expression.
        self.env.cr.execute(  # pylint: disable=sql-injection
            f"""
            INSERT INTO ha_entity_history_rollup_mark (entity_id, bucket)
            SELECT entity.id, {history_rollups.sql_floor("first.at", history_rollups.FIVE_MINUTES)}
              FROM ha_entity entity
              CROSS JOIN LATERAL (SELECT min(last_updated) AS at FROM ha_entity_history
                                   WHERE entity_id = entity.id) AS first
             WHERE first.at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM ha_entity_history_rollup_cursor cursor
                                WHERE cursor.entity_id = entity.id)
            ON CONFLICT (entity_id, bucket) DO NOTHING
            """
        )
