from odoo import fields, models

from .ha_machine import PHASE_SELECTION


class HaMachineState(models.Model):
    """Where the usage state machine of one machine stands, written by the state writer in
    the transaction of the readings it comes from. ``state`` is the whole state machine
    (``usage.machine.MachineState.to_dict``); the other columns are its readable parts."""

    _name = "ha.machine.state"
    _description = "Monitored Machine Runtime State"
    _log_access = False

    machine_id = fields.Many2one("ha.machine", required=True, ondelete="cascade", index=True)
    state = fields.Json()
    phase = fields.Selection(PHASE_SELECTION, default="idle")
    available = fields.Boolean()
    last_power_w = fields.Float()
    last_reading_at = fields.Datetime()
    session_id = fields.Many2one("ha.machine.session", ondelete="set null")

    _sql_constraints = [
        ("machine_unique", "UNIQUE(machine_id)", "A machine has one runtime state."),
    ]
