from datetime import timedelta

from odoo import api, fields, models
from odoo.tools.sql import create_index

# Events every active rule of their instance has looked at are deleted after this long (they
# stay a while to show what a rule saw).
EVENT_KEEP = timedelta(hours=1)


class HaAutomationEvent(models.Model):
    """A state of a watched entity, recorded by the state writer with SQL in the transaction
    that stores it, for the rules to look at (``ha_automation_rule_engine.py``)."""

    _name = "ha.automation.event"
    _description = "Home Assistant Rule Event"
    _order = "id"
    _log_access = False

    # Indexed with id below: rules read their instance's events after the last one they saw.
    instance_id = fields.Many2one("ha.instance", required=True, ondelete="cascade")
    entity_id = fields.Many2one("ha.entity", required=True, ondelete="cascade", index=True)
    state = fields.Char()
    # The entity's state just before, where the writer knew it (the firing shows it).
    previous_state = fields.Char()
    # Only for entities an attribute rule watches (connector/automation_events.py).
    attributes = fields.Json()
    changed_at = fields.Datetime(help="Home Assistant's last_updated of the state.")
    recorded_at = fields.Datetime()

    def init(self):
        create_index(
            self.env.cr,
            "ha_automation_event_instance_id_id_index",
            self._table,
            ["instance_id", "id"],
        )

    @api.model
    def _purge_seen(self, now=None):
        """Delete the events older than ``EVENT_KEEP`` that no active rule has still to look
        at (all of them on instances without active rules)."""
        before = (now or fields.Datetime.now()) - EVENT_KEEP
        self.env.cr.execute(
            """
            DELETE FROM ha_automation_event e
             WHERE e.recorded_at < %s
               AND e.id <= COALESCE(
                       (SELECT min(r.last_event_id) FROM ha_automation_rule r
                         WHERE r.instance_id = e.instance_id AND r.active),
                       e.id)
            """,
            (before,),
        )
        return self.env.cr.rowcount


class HaAutomationRuleState(models.Model):
    """What a rule last saw of one entity: whether its trigger condition holds, since when,
    and whether that crossing fired already. Kept in the database, so a restart in the middle
    of a "for N seconds" window still fires once (``automation/watch.py``)."""

    _name = "ha.automation.rule.state"
    _description = "Home Assistant Rule State"
    _log_access = False

    rule_id = fields.Many2one("ha.automation.rule", required=True, ondelete="cascade", index=True)
    entity_id = fields.Many2one("ha.entity", required=True, ondelete="cascade", index=True)
    last_state = fields.Char()
    last_attribute = fields.Char()
    # Home Assistant's last_updated of the last state applied: older or equal ones are replays.
    last_changed_at = fields.Datetime()
    holds = fields.Boolean()
    holds_since = fields.Datetime()
    fired = fields.Boolean()
    # The state before the crossing of the open window (shown on its firing).
    previous_state = fields.Char()

    _sql_constraints = [
        ("rule_entity_unique", "UNIQUE(rule_id, entity_id)", "One state per rule and entity."),
    ]
