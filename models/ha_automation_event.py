from odoo import fields, models


class HaAutomationEvent(models.Model):
    """A state of a watched entity, recorded by the state writer with SQL in the transaction
    that stores it, for the rules to look at (``ha_automation_rule_engine.py``)."""

    _name = "ha.automation.event"
    _description = "Home Assistant Rule Event"
    _order = "id"
    _log_access = False

    instance_id = fields.Many2one("ha.instance", required=True, ondelete="cascade", index=True)
    entity_id = fields.Many2one("ha.entity", required=True, ondelete="cascade", index=True)
    state = fields.Char()
    attributes = fields.Json()
    changed_at = fields.Datetime(help="Home Assistant's last_updated of the state.")
    recorded_at = fields.Datetime()


class HaAutomationRuleState(models.Model):
    """What a rule last saw of one entity: whether its trigger condition holds, since when,
    and whether that crossing fired already. Kept in the database, so a restart in the middle
    of a "for N seconds" window still fires once."""

    _name = "ha.automation.rule.state"
    _description = "Home Assistant Rule State"
    _log_access = False

    rule_id = fields.Many2one("ha.automation.rule", required=True, ondelete="cascade", index=True)
    entity_id = fields.Many2one("ha.entity", required=True, ondelete="cascade")
    last_state = fields.Char()
    last_attribute = fields.Char()
    holds = fields.Boolean()
    holds_since = fields.Datetime()
    fired = fields.Boolean()

    _sql_constraints = [
        ("rule_entity_unique", "UNIQUE(rule_id, entity_id)", "One state per rule and entity."),
    ]
