from odoo import fields, models


class HaMachineServicePlan(models.Model):
    """A machine's service plan: every N working hours and/or every N sessions, an activity
    (and, where Odoo's Maintenance app is installed, a maintenance request) once per
    threshold crossed."""

    _name = "ha.machine.service.plan"
    _description = "Machine Service Plan"
    _order = "machine_id, id"

    name = fields.Char(required=True)
    machine_id = fields.Many2one("ha.machine", required=True, ondelete="cascade", index=True)
    active = fields.Boolean(default=True)
