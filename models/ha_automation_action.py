from odoo import fields, models

ACTION_KINDS = [
    ("activity", "Schedule an activity"),
    ("message", "Post a message"),
    ("server_action", "Run a server action"),
    ("service", "Call a Home Assistant service"),
    ("create_record", "Create a record"),
]


class HaAutomationAction(models.Model):
    """One action of a rule, run once per firing as the rule's owner."""

    _name = "ha.automation.action"
    _description = "Home Assistant Rule Action"
    _order = "sequence, id"

    rule_id = fields.Many2one("ha.automation.rule", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    kind = fields.Selection(ACTION_KINDS, required=True, default="activity")
    # Activity: on a record, for a user.
    activity_type_id = fields.Many2one("mail.activity.type", string="Activity type")
    activity_summary = fields.Char(string="Summary")
    activity_user_id = fields.Many2one("res.users", string="Assigned to")
    activity_deadline_days = fields.Integer(string="Due in (days)", default=0)
    # Activity and message: the record it goes on (a Discuss channel for a message too).
    record_ref = fields.Reference(
        selection="_record_models", string="On record", help="The record the action is about."
    )
    channel_id = fields.Many2one("discuss.channel", string="Channel")
    body = fields.Text(
        string="Text",
        help="Placeholders: {rule}, {entity}, {entity_id}, {state}, {previous_state}, {time}.",
    )
    # Server action.
    server_action_id = fields.Many2one("ir.actions.server", string="Server action")
    # Home Assistant service.
    service_domain = fields.Char(string="Service domain", help="e.g. light")
    service_name = fields.Char(string="Service", help="e.g. turn_on")
    service_entity_ids = fields.Many2many(
        "ha.entity",
        "ha_automation_action_entity_rel",
        "action_id",
        "entity_id",
        string="Target entities",
    )
    service_data = fields.Text(string="Service data (JSON)")
    # Record to create.
    create_model_id = fields.Many2one("ir.model", string="Model", ondelete="cascade")
    create_values = fields.Text(
        string="Values (JSON)",
        help='Field values of the new record, e.g. {"name": "Freezer {entity}: {state}"}.',
    )

    def _record_models(self):
        models_ = self.env["ir.model"].sudo().search([("transient", "=", False)])
        return [(model.model, model.name) for model in models_]
