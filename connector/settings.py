"""The addon's settings (``ir.config_parameter`` keys), their defaults and value formats.

Plain values, no Odoo: Settings → Home Assistant (``models/res_config_settings.py``) edits
them, and the models' crons and the connector read them, the connector with SQL on its own
cursors.
"""

import re

HISTORY_RETENTION_DAYS_PARAM = "odoo_ha_addon.history_retention_days"
# A month of states: a sensor reporting every few seconds writes tens of thousands of rows a
# day, so a year of it at this retention stays a table PostgreSQL handles comfortably.
HISTORY_RETENTION_DAYS_DEFAULT = 30
HISTORY_BACKFILL_DAYS_PARAM = "odoo_ha_addon.history_backfill_days"
HISTORY_BACKFILL_DAYS_DEFAULT = 1
HISTORY_ROLLUP_5MIN_DAYS_PARAM = "odoo_ha_addon.history_rollup_5min_days"
HISTORY_ROLLUP_5MIN_DAYS_DEFAULT = 365
HISTORY_ROLLUP_HOUR_DAYS_PARAM = "odoo_ha_addon.history_rollup_hour_days"
# Hourly statistics are a row an hour per entity (8,760 a year): kept for good by default.
HISTORY_ROLLUP_HOUR_DAYS_DEFAULT = 0
HISTORY_STATISTICS_IMPORT_DAYS_PARAM = "odoo_ha_addon.history_statistics_import_days"
HISTORY_STATISTICS_IMPORT_DAYS_DEFAULT = 365

# Domains whose states are measurements worth charting: their entities record history unless
# Settings (default for new instances) or the instance's own list say otherwise.
HISTORY_BY_DEFAULT_DOMAINS = ("sensor", "binary_sensor")
HISTORY_DOMAINS_PARAM = "odoo_ha_addon.history_default_domains"
HISTORY_DOMAINS_DEFAULT = ", ".join(HISTORY_BY_DEFAULT_DOMAINS)


def split_domains(text):
    """("sensor", "binary_sensor") from "sensor, binary_sensor" (commas and/or spaces)."""
    parts = re.split(r"[\s,]+", (text or "").strip().lower())
    return tuple(dict.fromkeys(part for part in parts if part))
