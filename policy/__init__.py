"""Who may do what with Home Assistant, as pure functions of plain data (no Odoo import):
the models and controllers gather the data and call these."""
