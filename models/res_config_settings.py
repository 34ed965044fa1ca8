from odoo import api, fields, models

from ..connector.settings import (
    HISTORY_BACKFILL_DAYS_DEFAULT,
    HISTORY_BACKFILL_DAYS_PARAM,
    HISTORY_DOMAINS_DEFAULT,
    HISTORY_DOMAINS_PARAM,
    HISTORY_RETENTION_DAYS_DEFAULT,
    HISTORY_RETENTION_DAYS_PARAM,
    HISTORY_ROLLUP_5MIN_DAYS_DEFAULT,
    HISTORY_ROLLUP_5MIN_DAYS_PARAM,
    HISTORY_ROLLUP_HOUR_DAYS_DEFAULT,
    HISTORY_ROLLUP_HOUR_DAYS_PARAM,
    HISTORY_STATISTICS_IMPORT_DAYS_DEFAULT,
    HISTORY_STATISTICS_IMPORT_DAYS_PARAM,
)
from .ha_entity import check_domain_list
from .res_groups import MANAGER_GROUP


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
    ha_history_rollup_5min_days = fields.Integer(
        string="5-Minute Statistics Retention (days)",
        config_parameter=HISTORY_ROLLUP_5MIN_DAYS_PARAM,
        default=HISTORY_ROLLUP_5MIN_DAYS_DEFAULT,
        help="Min, max and mean of numeric entities per 5 minutes, which charts of a few days "
        "to a few weeks read, are deleted after this many days; 0 keeps them all.",
    )
    ha_history_rollup_hour_days = fields.Integer(
        string="Hourly Statistics Retention (days)",
        config_parameter=HISTORY_ROLLUP_HOUR_DAYS_PARAM,
        default=HISTORY_ROLLUP_HOUR_DAYS_DEFAULT,
        help="Min, max and mean of numeric entities per hour, which long-range charts read, "
        "are deleted after this many days; 0 keeps them for good.",
    )
    ha_history_statistics_import_days = fields.Integer(
        string="Statistics Import (days)",
        config_parameter=HISTORY_STATISTICS_IMPORT_DAYS_PARAM,
        default=HISTORY_STATISTICS_IMPORT_DAYS_DEFAULT,
        help="When an entity starts recording, Home Assistant's own long-term statistics of "
        "this many days, older than the backfill, are imported; 0 imports none.",
    )
    ha_history_default_domains = fields.Char(
        string="Record History By Default",
        config_parameter=HISTORY_DOMAINS_PARAM,
        default=HISTORY_DOMAINS_DEFAULT,
        help="Entity domains, separated by commas, whose entities record history; new "
        "instances start with this list and each instance can change its own.",
    )
    # Not a parameter of its own: the default instance is the first by sequence, which is what
    # the API's instance resolver falls back to for users who chose none.
    ha_default_instance_id = fields.Many2one(
        "ha.instance",
        string="Default Instance",
        groups=MANAGER_GROUP,
        help="Dashboards open on this instance for users who have not chosen one (and may "
        "use it). Choosing it here puts it first in the order of instances.",
    )

    @api.model
    def get_values(self):
        values = super().get_values()
        if self.env.user.has_group(MANAGER_GROUP):
            values["ha_default_instance_id"] = self.env["ha.instance"]._default_instance().id
        return values

    def set_values(self):
        result = super().set_values()
        # Administrators who are no Home Assistant managers neither see nor change the choice;
        # an emptied field changes nothing (there is always a first instance).
        if self.env.user.has_group(MANAGER_GROUP) and self.ha_default_instance_id:
            self.ha_default_instance_id._make_default()
        return result

    @api.constrains("ha_history_default_domains")
    def _check_ha_history_default_domains(self):
        for settings in self:
            check_domain_list(self.env, settings.ha_history_default_domains)
