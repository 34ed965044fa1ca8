import logging

from odoo import api, fields, models

from ..connector.history_backfill import read_backfill_days

_logger = logging.getLogger(__name__)

# Readings are kept this long at least (longer when the history backfill reaches further):
# a reading that arrives late is replayed from the state saved with the reading before it.
READING_RETENTION_DAYS = 7
PURGE_BATCH_ROWS = 50_000


class HaMachineReading(models.Model):
    """The power readings of a machine's sensor, once each: keyed by machine and Home
    Assistant's ``last_updated``, so the live stream, a reconnect snapshot, the gap fill and a
    backfill that offer the same reading store it once. ``state_after`` is the state machine
    after the reading, from which readings that arrive late are replayed in order."""

    _name = "ha.machine.reading"
    _description = "Monitored Machine Power Reading"
    _log_access = False
    _order = "ha_time desc"

    machine_id = fields.Many2one("ha.machine", required=True, ondelete="cascade")
    ha_time = fields.Datetime(required=True)
    # Empty while the sensor was unavailable.
    power_w = fields.Float()
    available = fields.Boolean()
    state_after = fields.Json()

    _sql_constraints = [
        ("machine_time_unique", "UNIQUE(machine_id, ha_time)", "One reading per moment."),
    ]

    @api.model
    def _cron_purge_readings(self):
        """Daily: delete readings older than the replay horizon, except each machine's newest
        (the state its next reading continues from); sessions are kept whatever their age."""
        days = max(READING_RETENTION_DAYS, read_backfill_days(self.env.cr))
        self.env.cr.execute(
            """
            DELETE FROM ha_machine_reading WHERE ctid IN (
                SELECT reading.ctid FROM ha_machine_reading reading
                 WHERE reading.ha_time < (now() at time zone 'UTC') - make_interval(days => %s)
                   AND EXISTS (SELECT 1 FROM ha_machine_reading newer
                                WHERE newer.machine_id = reading.machine_id
                                  AND newer.ha_time > reading.ha_time)
                 LIMIT %s)
            """,
            (days, PURGE_BATCH_ROWS),
        )
        deleted = self.env.cr.rowcount
        if deleted:
            _logger.info("Removed %s machine power readings older than %s days", deleted, days)
        remaining = 1 if deleted == PURGE_BATCH_ROWS else 0
        self.env["ir.cron"]._notify_progress(done=deleted, remaining=remaining)
        return deleted
