from odoo import api, fields, models

SESSION_STATUS = [
    ("running", "Running"),
    ("completed", "Completed"),
    ("timed_out", "Timed out"),
]


class HaMachineSession(models.Model):
    """One usage session of a monitored machine, written by the state writer only.

    A session is keyed by its machine and its start (Home Assistant's time of the first
    reading above the working threshold): replaying readings that arrived late updates the
    session it belongs to instead of opening a second one.
    """

    _name = "ha.machine.session"
    _description = "Machine Usage Session"
    _order = "started_at desc, id desc"
    _rec_name = "machine_id"

    machine_id = fields.Many2one(
        "ha.machine", string="Machine", required=True, ondelete="cascade", readonly=True
    )
    instance_id = fields.Many2one(
        related="machine_id.instance_id", store=True, index=True, string="Instance"
    )
    customer_id = fields.Many2one("res.partner", string="Customer", index=True)
    status = fields.Selection(SESSION_STATUS, required=True, default="running", readonly=True)
    started_at = fields.Datetime(string="Started", required=True, readonly=True)
    ended_at = fields.Datetime(string="Ended", readonly=True)
    working_seconds = fields.Float(readonly=True, aggregator="sum")
    standby_seconds = fields.Float(readonly=True, aggregator="sum")
    total_seconds = fields.Float(readonly=True, aggregator="sum", help="Working and standby time.")
    working_hours = fields.Float(readonly=True, aggregator="sum")
    standby_hours = fields.Float(readonly=True, aggregator="sum")
    total_hours = fields.Float(string="Hours", readonly=True, aggregator="sum")
    billing_units = fields.Integer(
        readonly=True,
        aggregator="sum",
        help="The billed time in the machine's billing units, with its rounding.",
    )
    note = fields.Text()

    _sql_constraints = [
        (
            "machine_start_unique",
            "UNIQUE(machine_id, started_at)",
            "A machine has one session per start.",
        ),
    ]

    @api.depends("machine_id", "started_at")
    def _compute_display_name(self):
        for session in self:
            start = fields.Datetime.context_timestamp(session, session.started_at)
            session.display_name = (
                f"{session.machine_id.name} {start:%Y-%m-%d %H:%M}"
                if session.started_at
                else session.machine_id.name
            )
