from odoo import api, fields, models

from .ha_entity import HISTORY_BY_DEFAULT_DOMAINS, check_domain_list

HISTORY_RETENTION_DAYS_PARAM = "odoo_ha_addon.history_retention_days"
# A month of states: a sensor reporting every few seconds writes tens of thousands of rows a
# day, so a year of it at this retention stays a table PostgreSQL handles comfortably.
HISTORY_RETENTION_DAYS_DEFAULT = 30
HISTORY_BACKFILL_DAYS_PARAM = "odoo_ha_addon.history_backfill_days"
HISTORY_BACKFILL_DAYS_DEFAULT = 1
HISTORY_DOMAINS_PARAM = "odoo_ha_addon.history_default_domains"
HISTORY_DOMAINS_DEFAULT = ", ".join(HISTORY_BY_DEFAULT_DOMAINS)


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
        help="When an entity starts recording (including every entity of a newly connected "
        "instance), this many days of its past states are fetched from Home Assistant's "
        "recorder; 0 fetches nothing.",
    )
    ha_history_default_domains = fields.Char(
        string="Record History By Default",
        config_parameter=HISTORY_DOMAINS_PARAM,
        default=HISTORY_DOMAINS_DEFAULT,
        help="Entity domains, separated by commas, whose entities record history; new "
        "instances start with this list and each instance can change its own.",
    )

    @api.constrains("ha_history_default_domains")
    def _check_ha_history_default_domains(self):
        for settings in self:
            check_domain_list(self.env, settings.ha_history_default_domains)
