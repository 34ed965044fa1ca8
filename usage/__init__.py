"""Machine usage sessions from power readings: pure Python, no Odoo (see ``machine``)."""
