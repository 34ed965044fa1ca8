from odoo import api, fields, models

TRIGGER_KINDS = [
    ("state_to", "State becomes"),
    ("state_from", "State leaves"),
    ("above", "Number above"),
    ("below", "Number below"),
    ("attribute", "Attribute changes"),
    ("unavailable", "Unavailable"),
]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class HaAutomationRule(models.Model):
    """A rule that makes Odoo act on what happens in Home Assistant.

    The state writer records the states of watched entities as candidate events
    (``ha.automation.event``) in the transaction that stores them; the rules are evaluated
    apart from it (``ha_automation_rule_engine.py``), and each firing runs the rule's actions once
    (``ha.automation.firing``), as the rule's owner.
    """

    _name = "ha.automation.rule"
    _description = "Home Assistant Rule"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    owner_id = fields.Many2one(
        "res.users",
        string="Run as",
        required=True,
        default=lambda self: self.env.user,
        ondelete="restrict",
        tracking=True,
        help="The actions run as this user, with this user's rights; the rule stops firing "
        "for entities this user may no longer read.",
    )
    entity_ids = fields.Many2many(
        "ha.entity",
        "ha_automation_rule_entity_rel",
        "rule_id",
        "entity_id",
        string="Entities",
        required=True,
        domain="[('instance_id', '=', instance_id)]",
    )
    trigger = fields.Selection(TRIGGER_KINDS, required=True, default="state_to", tracking=True)
    trigger_state = fields.Char(
        string="State", help="The state the entity becomes or leaves, e.g. on, open, home."
    )
    threshold = fields.Float(help="The number the entity's state rises above or falls below.")
    attribute = fields.Char(help="The attribute whose changes fire the rule.")
    attribute_value = fields.Char(
        help="Fire only when the attribute becomes this value; empty: on every change."
    )
    for_seconds = fields.Integer(
        string="For at least (s)",
        default=0,
        help="The new state must hold this long before the rule fires.",
    )
    # Conditions, checked when the rule would fire.
    time_from = fields.Float(string="From", help="Only from this time of day (owner's timezone).")
    time_to = fields.Float(string="To", help="Only until this time of day (owner's timezone).")
    weekday_mon = fields.Boolean(string="Monday", default=True)
    weekday_tue = fields.Boolean(string="Tuesday", default=True)
    weekday_wed = fields.Boolean(string="Wednesday", default=True)
    weekday_thu = fields.Boolean(string="Thursday", default=True)
    weekday_fri = fields.Boolean(string="Friday", default=True)
    weekday_sat = fields.Boolean(string="Saturday", default=True)
    weekday_sun = fields.Boolean(string="Sunday", default=True)
    condition_entity_id = fields.Many2one(
        "ha.entity",
        string="Only while",
        ondelete="set null",
        domain="[('instance_id', '=', instance_id)]",
    )
    condition_state = fields.Char(string="is in state")
    action_ids = fields.One2many("ha.automation.action", "rule_id", string="Actions", copy=True)
    firing_ids = fields.One2many("ha.automation.firing", "rule_id", string="Firings")
    firing_count = fields.Integer(compute="_compute_firing_count")
    # The last candidate event of the instance this rule has looked at.
    last_event_id = fields.Integer(readonly=True, copy=False)

    @api.depends("firing_ids")
    def _compute_firing_count(self):
        counts = dict(
            self.env["ha.automation.firing"]._read_group(
                [("rule_id", "in", self.ids)], ["rule_id"], ["__count"]
            )
        )
        for rule in self:
            rule.firing_count = counts.get(rule, 0)
