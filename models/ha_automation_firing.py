from odoo import fields, models

FIRING_STATES = [
    ("pending", "Pending"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("retrying", "Retrying"),
]


class HaAutomationFiring(models.Model):
    """One firing of a rule: the event that fired it and what its actions did.

    ``key`` names the crossing that fired it (the rule, the entity and the moment Home
    Assistant changed the state): unique per rule, so replays, restarts and several Odoo
    nodes never run a firing twice.
    """

    _name = "ha.automation.firing"
    _description = "Home Assistant Rule Firing"
    _order = "id desc"

    rule_id = fields.Many2one(
        "ha.automation.rule", required=True, ondelete="cascade", index=True, readonly=True
    )
    instance_id = fields.Many2one(related="rule_id.instance_id", store=True, readonly=True)
    entity_id = fields.Many2one("ha.entity", string="Entity", ondelete="cascade", readonly=True)
    key = fields.Char(required=True, readonly=True)
    state = fields.Selection(FIRING_STATES, required=True, default="pending", readonly=True)
    event_state = fields.Char(string="New state", readonly=True)
    previous_state = fields.Char(readonly=True)
    event_at = fields.Datetime(string="Changed at", readonly=True)
    fired_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True)
    error = fields.Text(readonly=True)
    result = fields.Text(readonly=True, help="What each action did.")

    _sql_constraints = [
        ("rule_key_unique", "UNIQUE(rule_id, key)", "A rule fires once per crossing."),
    ]
