from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .res_groups import USER_GROUP

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
        "ha.instance",
        string="Instance",
        required=True,
        ondelete="cascade",
        index=True,
        default=lambda self: self.env["ha.instance"]._default_instance(),
        help="The Home Assistant server whose entities the rule watches.",
    )
    owner_id = fields.Many2one(
        "res.users",
        string="Run as",
        required=True,
        default=lambda self: self.env.user,
        ondelete="restrict",
        tracking=True,
        domain=lambda self: [("groups_id", "in", self.env.ref(USER_GROUP).ids)],
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
        help="The rule fires when any of these entities meets the trigger.",
    )
    trigger = fields.Selection(
        TRIGGER_KINDS,
        required=True,
        default="state_to",
        tracking=True,
        help="State becomes / leaves: the entity's state changes to / from the state below. "
        "Number above / below: the state, a number, rises above / falls below the threshold. "
        "Attribute changes: the attribute below changes (to the value, if one is given). "
        "Unavailable: the entity becomes unavailable.",
    )
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
    time_from = fields.Float(
        string="From",
        help="Only from this time of day (the owner's timezone). From and To equal, e.g. both "
        "00:00: at any time; From after To: overnight, e.g. 22:00 to 06:00.",
    )
    time_to = fields.Float(string="To", help="Only until this time of day (the owner's timezone).")
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
        help="Fire only while this entity is in the state next to it, e.g. only while "
        "the alarm is armed_away.",
    )
    condition_state = fields.Char(string="is in state")
    action_ids = fields.One2many("ha.automation.action", "rule_id", string="Actions", copy=True)
    firing_ids = fields.One2many("ha.automation.firing", "rule_id", string="Firings")
    firing_count = fields.Integer(string="History", compute="_compute_firing_count")
    trigger_summary = fields.Char(
        string="When", compute="_compute_trigger_summary", help="The trigger, in words."
    )
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

    @api.depends(
        "trigger", "trigger_state", "threshold", "attribute", "attribute_value", "for_seconds"
    )
    def _compute_trigger_summary(self):
        _ = self.env._
        for rule in self:
            threshold = format(rule.threshold, "g")
            summary = {
                "state_to": _("becomes %(state)s", state=rule.trigger_state or "…"),
                "state_from": _("leaves %(state)s", state=rule.trigger_state or "…"),
                "above": _("rises above %(threshold)s", threshold=threshold),
                "below": _("falls below %(threshold)s", threshold=threshold),
                "attribute": (
                    _(
                        "%(attribute)s becomes %(value)s",
                        attribute=rule.attribute or "…",
                        value=rule.attribute_value,
                    )
                    if rule.attribute_value
                    else _("%(attribute)s changes", attribute=rule.attribute or "…")
                ),
                "unavailable": _("becomes unavailable"),
            }.get(rule.trigger, "")
            if summary and rule.for_seconds > 0:
                summary = _(
                    "%(trigger)s for %(seconds)s s", trigger=summary, seconds=rule.for_seconds
                )
            rule.trigger_summary = summary

    # Constraints: what the engine needs to evaluate a rule at all.

    @api.constrains("trigger", "trigger_state", "attribute")
    def _check_trigger_value(self):
        _ = self.env._
        for rule in self:
            if (
                rule.trigger in ("state_to", "state_from")
                and not (rule.trigger_state or "").strip()
            ):
                raise ValidationError(
                    _(
                        "Rule “%(rule)s”: say which state the entity becomes or leaves.",
                        rule=rule.name,
                    )
                )
            if rule.trigger == "attribute" and not (rule.attribute or "").strip():
                raise ValidationError(
                    _("Rule “%(rule)s”: say which attribute to watch.", rule=rule.name)
                )

    @api.constrains("for_seconds")
    def _check_for_seconds(self):
        for rule in self:
            if rule.for_seconds < 0:
                raise ValidationError(
                    self.env._(
                        "Rule “%(rule)s”: the time the state must hold cannot be negative.",
                        rule=rule.name,
                    )
                )

    @api.constrains("time_from", "time_to")
    def _check_time_window(self):
        for rule in self:
            if not (0 <= rule.time_from <= 24 and 0 <= rule.time_to <= 24):
                raise ValidationError(
                    self.env._(
                        "Rule “%(rule)s”: times of day run from 00:00 to 24:00.", rule=rule.name
                    )
                )

    @api.constrains(*(f"weekday_{day}" for day in WEEKDAYS))
    def _check_weekdays(self):
        for rule in self:
            if not any(rule[f"weekday_{day}"] for day in WEEKDAYS):
                raise ValidationError(
                    self.env._(
                        "Rule “%(rule)s”: tick at least one day of the week.", rule=rule.name
                    )
                )

    @api.constrains("instance_id", "entity_ids", "condition_entity_id", "condition_state")
    def _check_entities_of_instance(self):
        _ = self.env._
        # sudo: the check is about the rule's instance, whatever the writer may read.
        for rule in self.sudo():
            instance = rule.instance_id
            if not rule.entity_ids:
                raise ValidationError(
                    _("Rule “%(rule)s”: choose the entities it watches.", rule=rule.name)
                )
            strangers = rule.entity_ids.filtered(lambda e, i=instance: e.instance_id != i)
            if strangers:
                raise ValidationError(
                    _(
                        "Rule “%(rule)s” watches entities of %(instance)s only, not %(entities)s.",
                        rule=rule.name,
                        entities=", ".join(strangers.mapped("display_name")),
                        instance=instance.display_name,
                    )
                )
            condition = rule.condition_entity_id
            if condition and condition.instance_id != instance:
                raise ValidationError(
                    _(
                        "Rule “%(rule)s”: the entity of the condition, %(entity)s, is not of the "
                        "instance %(instance)s.",
                        rule=rule.name,
                        entity=condition.display_name,
                        instance=instance.display_name,
                    )
                )
            if condition and not (rule.condition_state or "").strip():
                raise ValidationError(
                    _(
                        "Rule “%(rule)s”: say which state %(entity)s must be in.",
                        rule=rule.name,
                        entity=condition.display_name,
                    )
                )

    @api.constrains("owner_id")
    def _check_owner(self):
        for rule in self:
            if not rule.owner_id.sudo()._has_group(USER_GROUP):
                raise ValidationError(
                    self.env._(
                        "Rule “%(rule)s”: its actions run as %(user)s, who is not a Home "
                        "Assistant user or manager.",
                        rule=rule.name,
                        user=rule.owner_id.display_name,
                    )
                )

    @api.onchange("instance_id")
    def _onchange_instance_id(self):
        """Entities of another instance leave the rule with the instance."""
        self.entity_ids = self.entity_ids.filtered(lambda e: e.instance_id == self.instance_id)
        if self.condition_entity_id.instance_id != self.instance_id:
            self.condition_entity_id = False

    def action_view_firings(self):
        """The rule's history: its firings, failed ones included."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "odoo_ha_addon.ha_automation_firing_action"
        )
        action["domain"] = [("rule_id", "=", self.id)]
        return action
