from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..usage.machine import PHASES, InvalidThresholds, Thresholds

PHASE_LABELS = {
    "idle": "Idle",
    "starting": "Starting",
    "working": "Working",
    "standby": "Standby",
    "stopping": "Stopping",
}
PHASE_SELECTION = [(phase, PHASE_LABELS[phase]) for phase in PHASES]


class HaMachine(models.Model):
    """A metered machine: a Home Assistant power sensor whose readings become usage sessions.

    The configuration is edited here; the state machine runs in the process that holds the
    sensor's Home Assistant connection, inside the state writer's transactions (see
    ``connector/machine_usage.py``), and keeps its state in ``ha.machine.state``, a table
    people never write, so their edits and the writer never fight over a row.
    """

    _name = "ha.machine"
    _description = "Monitored Machine"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    color = fields.Integer()
    sensor_id = fields.Many2one(
        "ha.entity",
        string="Power sensor",
        required=True,
        # Entities are archived, not deleted, when they leave HA: deletion means the instance
        # itself was deleted, with everything it held.
        ondelete="cascade",
        tracking=True,
        domain=[("domain", "=", "sensor")],
        help="A Home Assistant sensor reporting the machine's power in W or kW.",
    )
    instance_id = fields.Many2one(
        related="sensor_id.instance_id", store=True, index=True, string="Instance"
    )
    customer_id = fields.Many2one(
        "res.partner",
        string="Customer",
        tracking=True,
        help="Given to each new session of this machine.",
    )
    standby_threshold_w = fields.Float(
        string="Standby above (W)",
        default=5.0,
        tracking=True,
        help="Above this power the machine is on: standing by, or working.",
    )
    working_threshold_w = fields.Float(
        string="Working above (W)",
        default=30.0,
        tracking=True,
        help="Above this power the machine works. Must be above the standby threshold.",
    )
    start_debounce_s = fields.Integer(
        string="Start after (s)",
        default=5,
        tracking=True,
        help="A session opens once the machine has worked this long without a break; it "
        "starts when the power first rose.",
    )
    stop_debounce_s = fields.Integer(
        string="Stop after (s)",
        default=30,
        tracking=True,
        help="A session ends once the power has stayed at or below the standby threshold "
        "this long; shorter dips count as standby.",
    )
    silence_timeout_s = fields.Integer(
        string="Silence timeout (s)",
        default=900,
        tracking=True,
        help="A session whose sensor sends nothing, or is unavailable, this long ends as "
        "timed out. Set it above the longest time your sensor stays quiet while the machine "
        "runs; 0 never times out.",
    )
    billing_unit_min = fields.Integer(
        string="Billing unit (min)", default=15, tracking=True, help="0: sessions are not billed."
    )
    billing_rounding = fields.Selection(
        [("up", "Up"), ("nearest", "Nearest"), ("down", "Down")],
        string="Rounding",
        default="up",
        required=True,
        tracking=True,
    )
    billing_basis = fields.Selection(
        [("total", "Working and standby time"), ("working", "Working time only")],
        string="Billed time",
        default="total",
        required=True,
        tracking=True,
    )
    monitor_since = fields.Datetime(
        readonly=True,
        default=fields.Datetime.now,
        copy=False,
        help="Readings of the sensor from this moment on count; it moves when the sensor changes.",
    )
    session_ids = fields.One2many("ha.machine.session", "machine_id", string="Sessions")
    session_count = fields.Integer(compute="_compute_session_count")

    # Health, as the state writer last left it.
    phase = fields.Selection(PHASE_SELECTION, compute="_compute_health")
    available = fields.Boolean(compute="_compute_health")
    last_power_w = fields.Float(string="Power (W)", compute="_compute_health")
    last_reading_at = fields.Datetime(string="Last reading", compute="_compute_health")
    current_session_id = fields.Many2one("ha.machine.session", compute="_compute_health")
    session_started_at = fields.Datetime(string="Running since", compute="_compute_health")

    @api.constrains(
        "standby_threshold_w",
        "working_threshold_w",
        "start_debounce_s",
        "stop_debounce_s",
        "silence_timeout_s",
        "billing_unit_min",
    )
    def _check_thresholds(self):
        for machine in self:
            if machine.billing_unit_min < 0:
                raise ValidationError(_("The billing unit cannot be negative."))
            try:
                machine._thresholds()
            except InvalidThresholds as error:
                raise ValidationError(
                    {
                        "negative": _("Thresholds, debounces and the timeout cannot be negative."),
                        "order": _("The working threshold must be above the standby threshold."),
                        "timeout": _("The silence timeout must be longer than both debounces."),
                    }[error.rule]
                ) from error

    @api.constrains("sensor_id")
    def _check_sensor(self):
        for machine in self:
            if machine.sensor_id.domain != "sensor":
                raise ValidationError(_("A machine is metered by a sensor entity."))

    def _thresholds(self):
        self.ensure_one()
        return Thresholds(
            standby_w=self.standby_threshold_w,
            working_w=self.working_threshold_w,
            start_debounce_s=self.start_debounce_s,
            stop_debounce_s=self.stop_debounce_s,
            silence_timeout_s=self.silence_timeout_s,
        )

    def _compute_session_count(self):
        counts = dict(
            self.env["ha.machine.session"]._read_group(
                [("machine_id", "in", self.ids)], ["machine_id"], ["__count"]
            )
        )
        for machine in self:
            machine.session_count = counts.get(machine, 0)

    def _compute_health(self):
        # sudo: the runtime state has no access of its own; it is read through the machine.
        states = {
            state.machine_id.id: state
            for state in self.env["ha.machine.state"]
            .sudo()
            .search([("machine_id", "in", self.ids)])
        }
        for machine in self:
            state = states.get(machine.id)
            machine.phase = state.phase if state else "idle"
            machine.available = bool(state and state.available)
            machine.last_power_w = state.last_power_w if state else 0.0
            machine.last_reading_at = state.last_reading_at if state else False
            session = state.session_id if state else self.env["ha.machine.session"]
            machine.current_session_id = session.with_env(self.env)
            machine.session_started_at = session.started_at if session else False

    def write(self, vals):
        if "sensor_id" in vals:
            moved = self.filtered(lambda machine: machine.sensor_id.id != vals["sensor_id"])
        result = super().write(vals)
        if "sensor_id" in vals and moved:
            # Readings of another sensor are not this machine's history: start afresh.
            moved._reset_runtime()
        return result

    def _reset_runtime(self):
        self.env["ha.machine.state"].sudo().search([("machine_id", "in", self.ids)]).unlink()
        self.env.cr.execute(
            "DELETE FROM ha_machine_reading WHERE machine_id = ANY(%s)", (list(self.ids),)
        )
        self.write({"monitor_since": fields.Datetime.now()})

    def _health_payload(self):
        """The live health of each machine, as the bus and the dashboard carry it."""
        return {
            machine.id: {
                "phase": machine.phase,
                "available": machine.available,
                "last_power_w": machine.last_power_w,
                "last_reading_at": fields.Datetime.to_string(machine.last_reading_at),
                "session_started_at": fields.Datetime.to_string(machine.session_started_at),
            }
            for machine in self
        }

    def action_view_sessions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "odoo_ha_addon.ha_machine_session_action"
        )
        action["domain"] = [("machine_id", "=", self.id)]
        action["context"] = {"default_machine_id": self.id}
        return action
