from odoo import fields, models

HISTORY_RETENTION_DAYS_PARAM = "odoo_ha_addon.history_retention_days"
HISTORY_RETENTION_DAYS_DEFAULT = 30
HISTORY_BACKFILL_DAYS_PARAM = "odoo_ha_addon.history_backfill_days"
HISTORY_BACKFILL_DAYS_DEFAULT = 1


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    ha_history_retention_days = fields.Integer(
        string="History Retention (days)",
        config_parameter=HISTORY_RETENTION_DAYS_PARAM,
        default=HISTORY_RETENTION_DAYS_DEFAULT,
        help="Recorded entity states older than this are deleted every day; 0 keeps them all.",
    )
    ha_history_backfill_days = fields.Integer(
        string="History Backfill (days)",
        config_parameter=HISTORY_BACKFILL_DAYS_PARAM,
        default=HISTORY_BACKFILL_DAYS_DEFAULT,
        help="When an instance connects, this many days of its past states are fetched from "
        "Home Assistant for entities that record history.",
    )
