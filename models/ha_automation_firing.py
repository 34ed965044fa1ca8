import logging
from datetime import timedelta

from odoo import api, fields, models

from ..automation.retries import retry_delay_s

_logger = logging.getLogger(__name__)

FIRING_STATES = [
    ("pending", "Pending"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("retrying", "Retrying"),
]
# A result or error line longer than this is cut.
MAX_LINE_CHARS = 500


def _line(text):
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


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
    # Ids of the rule's actions that succeeded: a retry runs only the others.
    actions_done = fields.Json(readonly=True, copy=False)

    _sql_constraints = [
        ("rule_key_unique", "UNIQUE(rule_id, key)", "A rule fires once per crossing."),
    ]

    @api.depends("rule_id", "entity_id", "event_state")
    def _compute_display_name(self):
        for firing in self:
            firing.display_name = self.env._(
                "%(rule)s: %(entity)s %(state)s",
                rule=firing.rule_id.name or "",
                entity=firing.entity_id.name or "",
                state=firing.event_state or "",
            )

    def _run_actions(self, now=None):
        """Run, as the rule's owner, the actions of each firing of ``self`` (superuser records)
        that have not succeeded yet, each in a savepoint. A failure leaves the firing
        ``retrying`` (``automation/retries.py``) or, after its last attempt, ``failed``; the
        other actions still run."""
        now = now or fields.Datetime.now()
        for firing in self:
            rule = firing.rule_id
            owner = rule.owner_id
            done = set(firing.actions_done or [])
            attempt = firing.attempts + 1
            lines, errors = [], []
            actions = rule.action_ids.sorted(lambda a: (a.sequence, a.id))
            kinds = dict(actions._fields["kind"]._description_selection(self.env))
            for position, action in enumerate(actions, start=1):
                if action.id in done:
                    continue
                label = f"{position}. {kinds.get(action.kind, action.kind)}"
                try:
                    with self.env.cr.savepoint():
                        outcome = (
                            action.with_user(owner)
                            .with_context(lang=owner.lang, tz=owner.tz)
                            ._run(firing)
                        )
                except Exception as error:  # noqa: BLE001 - kept on the firing, retried
                    message = _line(str(error).strip() or type(error).__name__)
                    errors.append(f"{label}: {message}")
                    lines.append(f"[{attempt}] {label}: failed: {message}")
                    continue
                done.add(action.id)
                lines.append(f"[{attempt}] {label}: {_line(outcome or 'done')}")
            if not rule.action_ids:
                lines.append(f"[{attempt}] no action")
            values = {
                "attempts": attempt,
                "actions_done": sorted(done),
                "result": "\n".join(filter(None, [firing.result, *lines])),
            }
            if not errors:
                values.update(state="done", error=False, next_attempt_at=False)
            else:
                delay = retry_delay_s(attempt)
                values.update(
                    state="retrying" if delay is not None else "failed",
                    error="\n".join(errors),
                    next_attempt_at=now + timedelta(seconds=delay) if delay is not None else False,
                )
                # INFO, not WARNING: the firing shows the failure, and a retry is planned.
                _logger.info(
                    "Rule %s (firing %s): %d action(s) failed at attempt %d, %s: %s",
                    rule.id,
                    firing.id,
                    len(errors),
                    attempt,
                    f"next attempt in {delay:g} s" if delay is not None else "giving up",
                    "; ".join(errors),
                )
            firing.write(values)
