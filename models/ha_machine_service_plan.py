"""Service plans of monitored machines: an activity once per usage threshold crossed.

A plan counts the usage of its machine from its start (``start_at``): the working hours and
the number of the sessions that ended since then, completed or timed out. A running session
counts once it has ended (the connector writes a session's end and its final hours together).

Thresholds follow each other at the plan's interval, from the last one that fired: with every
200 working hours, service is due at 200 h, 400 h, 600 h and so on. Each threshold crossed is a
row of ``ha.machine.service.due``, unique per (plan, start, kind, number): the row is inserted
first, and the activity (and maintenance request) is scheduled in the same transaction only
for the rows this transaction inserted. Two checks that run at once, or a check repeated,
never schedule a threshold twice: the second one's insert finds the row and inserts nothing
(or, when the row was committed after its snapshot was taken, fails with a serialization
error, and the plan is left to the next check).

Thresholds crossed together (a long session, a start set in the past, a check after a pause)
make one activity that names all of them; each still has its own row.
"""

import logging
from datetime import timedelta

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.i18n import format_list
from odoo.tools.misc import format_datetime, formatLang

_logger = logging.getLogger(__name__)

HOURS = "hours"
SESSIONS = "sessions"
# Statuses of the sessions that count: they have ended. A running session has not.
COUNTED_STATUSES = ("completed", "timed_out")
# Thresholds named one by one in an activity; more are given as a range.
LISTED_THRESHOLDS = 5
# At most this many thresholds of one kind are recorded in one check (an interval tiny next
# to the usage already counted); the others follow in the next checks.
MAX_THRESHOLDS_PER_CHECK = 500
# Usage within this of a threshold has reached it (sums of float hours).
EPSILON = 1e-9


def _digits(value):
    """Decimals to show ``value`` with: none for whole numbers, up to two otherwise."""
    for digits in (0, 1):
        if abs(value - round(value, digits)) < 1e-6:
            return digits
    return 2


def format_hours(env, value):
    return env._("%(hours)s h", hours=formatLang(env, value, digits=_digits(value)))


def format_sessions(env, value):
    return formatLang(env, value, digits=0)


class HaMachineServicePlan(models.Model):
    """A machine's service plan: every N working hours and/or every N sessions, an activity
    (and, where Odoo's Maintenance app is installed, a maintenance request) once per
    threshold crossed."""

    _name = "ha.machine.service.plan"
    _description = "Machine Service Plan"
    _order = "machine_id, id"

    name = fields.Char(required=True)
    machine_id = fields.Many2one("ha.machine", required=True, ondelete="cascade", index=True)
    active = fields.Boolean(default=True)
    start_at = fields.Datetime(
        string="Counting from",
        required=True,
        default=fields.Datetime.now,
        help="Sessions that ended from this moment on count. Set it in the past to count the "
        "machine's history too; changing it starts the count afresh.",
    )
    every_working_hours = fields.Float(
        string="Every (working hours)",
        help="Service is due each time the machine has worked this many more hours. 0: not "
        "by hours.",
    )
    every_sessions = fields.Integer(
        string="Every (sessions)",
        help="Service is due each time the machine has run this many more sessions. 0: not by "
        "sessions.",
    )
    activity_type_id = fields.Many2one(
        "mail.activity.type",
        string="Activity",
        required=True,
        ondelete="restrict",
        default=lambda self: self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False),
        domain="['|', ('res_model', '=', False), ('res_model', '=', 'ha.machine')]",
    )
    summary = fields.Char(help="The activity's summary; the plan's name if empty.")
    user_id = fields.Many2one(
        "res.users",
        string="Assigned to",
        default=lambda self: self.env.user,
        domain="[('share', '=', False)]",
        help="Who the activity is for; the plan's creator if empty.",
    )
    due_days = fields.Integer(
        string="Due in (days)", default=7, help="The activity's deadline, after it is scheduled."
    )
    due_ids = fields.One2many("ha.machine.service.due", "plan_id", string="Service history")

    # Progress since the start, read from the sessions and the thresholds that fired.
    usage_hours = fields.Float(string="Working hours", compute="_compute_progress")
    usage_sessions = fields.Integer(string="Sessions", compute="_compute_progress")
    last_threshold_hours = fields.Float(string="Last due at (hours)", compute="_compute_progress")
    last_threshold_sessions = fields.Integer(
        string="Last due at (sessions)", compute="_compute_progress"
    )
    next_threshold_hours = fields.Float(string="Next at (hours)", compute="_compute_progress")
    next_threshold_sessions = fields.Integer(
        string="Next at (sessions)", compute="_compute_progress"
    )
    next_service = fields.Char(string="Next service", compute="_compute_progress")

    @api.constrains("every_working_hours", "every_sessions", "due_days")
    def _check_intervals(self):
        for plan in self:
            if plan.every_working_hours < 0 or plan.every_sessions < 0 or plan.due_days < 0:
                raise ValidationError(self.env._("Intervals and the delay cannot be negative."))
            if not plan.every_working_hours and not plan.every_sessions:
                raise ValidationError(
                    self.env._("A service plan needs working hours, sessions or both.")
                )

    # Progress ------------------------------------------------------------------------------

    def _progress(self):
        """{plan id: (working hours, sessions, (number, threshold) of the last hours threshold
        fired or None, the same for sessions)}, since each plan's start: one query for all.

        A plan being edited in a form (a new record, with its saved version as origin) counts
        from the machine and the start it has in the form: a new plan shows the usage since
        the start it is given, a plan whose start changed counts afresh, as it will once saved.
        """
        plans = [
            (plan.id, plan._origin.id or None, plan.machine_id._origin.id, plan.start_at)
            for plan in self
            if plan.machine_id._origin.id and plan.start_at
        ]
        if not plans:
            return {}
        self.env["ha.machine.session"].flush_model(
            ["machine_id", "status", "ended_at", "working_hours"]
        )
        self.env["ha.machine.service.due"].flush_model(
            ["plan_id", "plan_start", "kind", "number", "threshold"]
        )
        self.env.cr.execute(
            """
            SELECT p.i, u.hours, u.sessions, h.number, h.threshold, s.number, s.threshold
              FROM unnest(%(plan_ids)s::int4[], %(machine_ids)s::int4[], %(starts)s::timestamp[])
                   WITH ORDINALITY AS p (id, machine_id, start_at, i)
              LEFT JOIN LATERAL (
                    SELECT COALESCE(SUM(x.working_hours), 0.0) AS hours, COUNT(*) AS sessions
                      FROM ha_machine_session x
                     WHERE x.machine_id = p.machine_id AND x.status IN %(statuses)s
                       AND x.ended_at >= p.start_at
                   ) u ON TRUE
              LEFT JOIN LATERAL (
                    SELECT d.number, d.threshold FROM ha_machine_service_due d
                     WHERE d.plan_id = p.id AND d.plan_start = p.start_at AND d.kind = %(hours)s
                  ORDER BY d.number DESC LIMIT 1
                   ) h ON TRUE
              LEFT JOIN LATERAL (
                    SELECT d.number, d.threshold FROM ha_machine_service_due d
                     WHERE d.plan_id = p.id AND d.plan_start = p.start_at
                       AND d.kind = %(sessions)s
                  ORDER BY d.number DESC LIMIT 1
                   ) s ON TRUE
            """,
            {
                "statuses": COUNTED_STATUSES,
                "hours": HOURS,
                "sessions": SESSIONS,
                "plan_ids": [row[1] for row in plans],
                "machine_ids": [row[2] for row in plans],
                "starts": [row[3] for row in plans],
            },
        )
        return {
            plans[i - 1][0]: (
                hours,
                sessions,
                (h_number, h_threshold) if h_number else None,
                (s_number, s_threshold) if s_number else None,
            )
            for i, hours, sessions, h_number, h_threshold, s_number, s_threshold in (
                self.env.cr.fetchall()
            )
        }

    @api.depends("machine_id", "start_at", "every_working_hours", "every_sessions", "due_ids")
    def _compute_progress(self):
        progress = self._progress()
        for plan in self:
            hours, sessions, last_hours, last_sessions = progress.get(plan.id, (0.0, 0, None, None))
            plan.usage_hours = hours
            plan.usage_sessions = sessions
            plan.last_threshold_hours = last_hours[1] if last_hours else 0.0
            plan.last_threshold_sessions = int(last_sessions[1]) if last_sessions else 0
            plan.next_threshold_hours = (
                plan.last_threshold_hours + plan.every_working_hours
                if plan.every_working_hours
                else 0.0
            )
            plan.next_threshold_sessions = (
                plan.last_threshold_sessions + plan.every_sessions if plan.every_sessions else 0
            )
            plan.next_service = plan._next_service_text()

    def _next_service_text(self):
        env = self.env
        parts = []
        if self.every_working_hours:
            parts.append(
                env._(
                    "Next service at %(threshold)s, now %(usage)s",
                    threshold=format_hours(env, self.next_threshold_hours),
                    usage=format_hours(env, self.usage_hours),
                )
            )
        if self.every_sessions:
            parts.append(
                env._(
                    "Next service at %(threshold)s sessions, now %(usage)s",
                    threshold=format_sessions(env, self.next_threshold_sessions),
                    usage=format_sessions(env, self.usage_sessions),
                )
            )
        return "; ".join(parts)

    # Checking ------------------------------------------------------------------------------

    @api.model
    def _cron_check_service_plans(self):
        """Schedule the service due on the active plans of active machines."""
        plans = self.sudo().search([("machine_id.active", "=", True)])
        plans._check_thresholds()

    def action_check_now(self):
        """Check the plans at once, instead of waiting for the scheduled check."""
        self.check_access("write")
        self.sudo().filtered(
            lambda plan: plan.active and plan.machine_id.active
        )._check_thresholds()
        return True

    def _check_thresholds(self):
        """Record the thresholds each plan crossed since its last check and schedule their
        service: each threshold once, whoever checks and however often."""
        progress = self._progress()
        for plan in self:
            hours, sessions, last_hours, last_sessions = progress.get(plan.id, (0.0, 0, None, None))
            crossed = [
                *self._crossed(HOURS, plan.every_working_hours, hours, last_hours),
                *self._crossed(SESSIONS, plan.every_sessions, sessions, last_sessions),
            ]
            if not crossed:
                continue
            try:
                with self.env.cr.savepoint():
                    dues = plan._claim(crossed)
                    if dues:
                        plan._schedule(dues)
            except Exception:
                # One plan that cannot schedule (a deleted activity type, a user without
                # access...) does not hold up the others; it is tried again at the next check.
                _logger.exception(
                    "Service plan %s: the service due could not be scheduled", plan.id
                )

    @staticmethod
    def _crossed(kind, every, usage, last):
        """[(kind, number, threshold, usage)] of the thresholds ``usage`` reached after
        ``last`` ((number, threshold) of the last one fired, or None)."""
        if not every or every <= 0:
            return []
        number, threshold = last or (0, 0.0)
        crossed = []
        while usage + EPSILON >= threshold + every and len(crossed) < MAX_THRESHOLDS_PER_CHECK:
            number += 1
            threshold = round(threshold + every, 6)
            crossed.append((kind, number, threshold, usage))
        return crossed

    def _claim(self, crossed):
        """Insert the rows of the thresholds crossed; return those this transaction inserted
        (none that another check inserted first)."""
        self.ensure_one()
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                cr.execute(
                    """
                    INSERT INTO ha_machine_service_due
                        (plan_id, plan_start, kind, number, threshold, usage, fired_at,
                         create_uid, write_uid, create_date, write_date)
                    SELECT %(plan)s, %(start)s, v.kind, v.number, v.threshold, v.usage,
                           now() at time zone 'UTC', %(uid)s, %(uid)s,
                           now() at time zone 'UTC', now() at time zone 'UTC'
                      FROM unnest(%(kinds)s::varchar[], %(numbers)s::int4[],
                                  %(thresholds)s::float8[], %(usages)s::float8[])
                           AS v (kind, number, threshold, usage)
                    ON CONFLICT (plan_id, plan_start, kind, number) DO NOTHING
                    RETURNING id
                    """,
                    {
                        "plan": self.id,
                        "start": self.start_at,
                        "uid": self.env.uid,
                        "kinds": [row[0] for row in crossed],
                        "numbers": [row[1] for row in crossed],
                        "thresholds": [row[2] for row in crossed],
                        "usages": [row[3] for row in crossed],
                    },
                    log_exceptions=False,
                )
                ids = [row[0] for row in cr.fetchall()]
        except pg_errors.SerializationFailure:
            # Another check committed these thresholds after this transaction's snapshot was
            # taken: they are scheduled; anything beyond them goes to the next check.
            _logger.info("Service plan %s: checked concurrently, left to the next check", self.id)
            return self.env["ha.machine.service.due"]
        self.env["ha.machine.service.due"].invalidate_model()
        self.invalidate_recordset(["due_ids"])
        return self.env["ha.machine.service.due"].browse(ids)

    def _schedule(self, dues):
        """Schedule the service of the thresholds ``dues``: one activity on the machine
        naming them all and, where the Maintenance app is installed, one request."""
        self.ensure_one()
        machine = self.machine_id
        user = self.user_id or self.create_uid
        # The activity speaks the language of whom it is for.
        env = self.with_context(lang=user.lang or self.env.lang).env
        summary = self.summary or self.name
        note = self._service_note(env, dues)
        deadline = fields.Date.context_today(self.with_user(user)) + timedelta(days=self.due_days)
        activity = (
            self.env["mail.activity"]
            .sudo()
            .create(
                {
                    "res_model_id": self.env["ir.model"]._get_id("ha.machine"),
                    "res_id": machine.id,
                    "activity_type_id": self.activity_type_id.id,
                    "summary": summary,
                    "note": note,
                    "user_id": user.id,
                    "date_deadline": deadline,
                }
            )
        )
        values = {"activity_id": activity.id}
        if self._maintenance_installed():
            request = (
                self.env["maintenance.request"]
                .sudo()
                .create(
                    {
                        "name": env._(
                            "%(summary)s: %(machine)s", summary=summary, machine=machine.name
                        ),
                        "description": note,
                        "maintenance_type": "preventive",
                        "user_id": user.id,
                        "schedule_date": fields.Datetime.to_datetime(deadline),
                    }
                )
            )
            values["maintenance_request_id"] = request.id
        dues.sudo().write(values)

    def _maintenance_installed(self):
        """Whether Odoo's Maintenance app is installed (it is no dependency of this one)."""
        return "maintenance.request" in self.env

    def _service_note(self, env, dues):
        """The activity's note: what the machine reached, and which thresholds are due."""
        user = self.user_id or self.create_uid
        start = format_datetime(env, self.start_at, tz=user.tz or "UTC", dt_format="short")
        lines = []
        hours = dues.filtered(lambda due: due.kind == HOURS).sorted("number")
        if hours:
            lines.append(
                env._(
                    "%(machine)s has worked %(usage)s since %(start)s: service due at "
                    "%(thresholds)s.",
                    machine=self.machine_id.name,
                    usage=format_hours(env, max(hours.mapped("usage"))),
                    start=start,
                    thresholds=self._thresholds_text(
                        env, [format_hours(env, due.threshold) for due in hours]
                    ),
                )
            )
        sessions = dues.filtered(lambda due: due.kind == SESSIONS).sorted("number")
        if sessions:
            lines.append(
                env._(
                    "%(machine)s has run %(usage)s sessions since %(start)s: service due at "
                    "%(thresholds)s sessions.",
                    machine=self.machine_id.name,
                    usage=format_sessions(env, max(sessions.mapped("usage"))),
                    start=start,
                    thresholds=self._thresholds_text(
                        env, [format_sessions(env, due.threshold) for due in sessions]
                    ),
                )
            )
        return Markup("").join(Markup("<p>%s</p>") % line for line in lines)

    @staticmethod
    def _thresholds_text(env, labels):
        if len(labels) <= LISTED_THRESHOLDS:
            return format_list(env, labels)
        return env._(
            "%(first)s to %(last)s (%(count)s thresholds)",
            first=labels[0],
            last=labels[-1],
            count=len(labels),
        )


class HaMachineServiceDue(models.Model):
    """A threshold a service plan crossed: written once, by the check that crossed it."""

    _name = "ha.machine.service.due"
    _description = "Machine Service Due"
    _order = "fired_at desc, id desc"
    _rec_name = "plan_id"

    plan_id = fields.Many2one(
        "ha.machine.service.plan", required=True, ondelete="cascade", index=True, readonly=True
    )
    machine_id = fields.Many2one(related="plan_id.machine_id", string="Machine")
    plan_start = fields.Datetime(
        string="Counted from",
        required=True,
        readonly=True,
        help="The plan's start the threshold was counted from.",
    )
    kind = fields.Selection(
        [(HOURS, "Working hours"), (SESSIONS, "Sessions")], required=True, readonly=True
    )
    number = fields.Integer(readonly=True, help="1 for the first threshold since the start.")
    threshold = fields.Float(readonly=True, help="The working hours or sessions it was due at.")
    usage = fields.Float(
        string="Reached", readonly=True, help="The working hours or sessions counted then."
    )
    fired_at = fields.Datetime(string="Scheduled", readonly=True)
    activity_id = fields.Many2one("mail.activity", ondelete="set null", readonly=True)
    activity_state = fields.Char(string="Activity status", compute="_compute_activity_state")
    # No Many2one: the Maintenance app is no dependency of this one.
    maintenance_request_id = fields.Integer(string="Maintenance request", readonly=True)

    _sql_constraints = [
        (
            "plan_threshold_unique",
            "UNIQUE(plan_id, plan_start, kind, number)",
            "A threshold of a service plan is scheduled once.",
        ),
    ]

    def _compute_activity_state(self):
        labels = dict(self.env["mail.activity"]._fields["state"]._description_selection(self.env))
        for due in self:
            activity = due.sudo().activity_id
            due.activity_state = labels.get(activity.state) if activity else self.env._("Closed")

    def action_open_maintenance_request(self):
        self.ensure_one()
        if not self.maintenance_request_id or "maintenance.request" not in self.env:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": "maintenance.request",
            "res_id": self.maintenance_request_id,
            "view_mode": "form",
            "views": [(False, "form")],
        }


class HaMachine(models.Model):
    _inherit = "ha.machine"

    service_plan_ids = fields.One2many(
        "ha.machine.service.plan",
        "machine_id",
        string="Service plans",
        context={"active_test": False},
    )

    def unlink(self):
        # Activities point at their machine by (model, id): they go with it.
        ids = self.ids
        result = super().unlink()
        self.env["mail.activity"].with_context(active_test=False).sudo().search(
            [("res_model", "=", self._name), ("res_id", "in", ids)]
        ).unlink()
        return result
