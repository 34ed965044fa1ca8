from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_datetime

from .ha_realtime_update import ACCESS_CHANGED

# The daily job reminds a share's creator when it expires within this delay.
REMINDER_DELAY = timedelta(days=2)
# Fields whose change can move the person shared with in or out of the share's entities.
ACCESS_FIELDS = (
    "user_id",
    "entity_id",
    "device_id",
    "group_id",
    "permission",
    "date_start",
    "date_end",
    "active",
)
TARGET_FIELDS = ("entity_id", "device_id", "group_id")


class HaEntityShare(models.Model):
    """Some entities (one entity, a device's entities or an entity group's), shared with one
    person (portal or internal user) to view or control, for a period.

    A share grants access while it is *current*: active, started and not expired. The record
    rules follow ``is_current``, whose search compares with the time of each query, so a
    share stops granting at its expiry to the second, with no job having run; so do the bus
    (see ha.realtime.update) and service calls. The daily job only archives expired shares
    and reminds their creators before they expire.
    """

    _name = "ha.entity.share"
    _description = "Home Assistant Share"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "active desc, date_end, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    entity_id = fields.Many2one(
        "ha.entity", string="Entity", ondelete="cascade", index="btree_not_null", tracking=True
    )
    device_id = fields.Many2one(
        "ha.device", string="Device", ondelete="cascade", index="btree_not_null", tracking=True
    )
    group_id = fields.Many2one(
        "ha.entity.group",
        string="Entity Group",
        ondelete="cascade",
        index="btree_not_null",
        tracking=True,
    )
    instance_id = fields.Many2one(
        "ha.instance",
        string="Instance",
        compute="_compute_instance_id",
        store=True,
        index=True,
        ondelete="cascade",
    )
    user_id = fields.Many2one(
        "res.users",
        string="Shared With",
        required=True,
        index=True,
        ondelete="cascade",
        tracking=True,
        help="A portal user (a customer, a tenant) or an internal user.",
    )
    permission = fields.Selection(
        [("view", "View"), ("control", "View and control")],
        default="view",
        required=True,
        tracking=True,
    )
    date_start = fields.Datetime(string="Starts", tracking=True, help="Empty: from its creation.")
    date_end = fields.Datetime(
        string="Expires", tracking=True, help="Empty: until revoked. Access ends at this second."
    )
    active = fields.Boolean(default=True, tracking=True)
    # What the share covers now: the entity, or the device's or group's entities as they are
    # at each read. Not stored, so that no pending recomputation can lag behind a change of a
    # device or group (the record rules follow the same three relations).
    entity_ids = fields.Many2many(
        "ha.entity",
        string="Shared Entities",
        compute="_compute_entity_ids",
        search="_search_entity_ids",
    )
    entity_count = fields.Integer(compute="_compute_entity_count")
    state = fields.Selection(
        [
            ("scheduled", "Scheduled"),
            ("current", "Current"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
        ],
        compute="_compute_state",
        search="_search_state",
    )
    is_current = fields.Boolean(
        compute="_compute_state",
        search="_search_is_current",
        help="Active, started and not expired: the person sees (and may control) the entities.",
    )
    expiry_reminded = fields.Boolean(readonly=True, copy=False)
    # Part of this share's bus channel name; raised when its person loses access (see
    # ha.realtime.update).
    bus_generation = fields.Integer(readonly=True, copy=False, default=0)

    _sql_constraints = [
        (
            "one_target",
            "CHECK(num_nonnulls(entity_id, device_id, group_id) = 1)",
            "A share is of one entity, one device or one entity group.",
        ),
        (
            "period",
            "CHECK(date_start IS NULL OR date_end IS NULL OR date_start < date_end)",
            "A share must expire after it starts.",
        ),
    ]

    @api.depends("entity_id", "device_id", "group_id", "user_id")
    def _compute_name(self):
        for share in self:
            target = share.entity_id or share.device_id or share.group_id
            share.name = _(
                "%(target)s with %(person)s",
                target=target.sudo().display_name or "",
                person=share.user_id.sudo().name or "",
            )

    @api.depends("entity_id.instance_id", "device_id.instance_id", "group_id.instance_id")
    def _compute_instance_id(self):
        for share in self:
            target = (share.entity_id or share.device_id or share.group_id).sudo()
            share.instance_id = target.instance_id

    @api.depends("entity_id", "device_id.entity_ids", "group_id.entity_ids")
    def _compute_entity_ids(self):
        # sudo: what a share covers does not depend on who reads it; reading it is narrowed
        # by the record rules of ha.entity all the same.
        for share in self:
            target = share.sudo()
            covered = target.entity_id | target.device_id.entity_ids | target.group_id.entity_ids
            share.entity_ids = covered.with_env(share.env)

    def _search_entity_ids(self, operator, value):
        return [
            "|",
            "|",
            ("entity_id", operator, value),
            ("device_id.entity_ids", operator, value),
            ("group_id.entity_ids", operator, value),
        ]

    @api.depends("entity_ids")
    def _compute_entity_count(self):
        for share in self:
            share.entity_count = len(share.entity_ids)

    def _compute_state(self):
        now = fields.Datetime.now()
        for share in self:
            if share.date_end and share.date_end <= now:
                state = "expired"
            elif not share.active:
                state = "revoked"
            elif share.date_start and share.date_start > now:
                state = "scheduled"
            else:
                state = "current"
            share.state = state
            share.is_current = state == "current"

    @api.model
    def _current_domain(self):
        now = fields.Datetime.now()
        return [
            ("active", "=", True),
            "|",
            ("date_start", "=", False),
            ("date_start", "<=", now),
            "|",
            ("date_end", "=", False),
            ("date_end", ">", now),
        ]

    def _search_is_current(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("Search shares by “is current” with = True or = False."))
        domain = self._current_domain()
        return domain if (operator == "=") == value else ["!", *domain]

    def _search_state(self, operator, value):
        values = {value} if isinstance(value, str) else set(value or ())
        if operator not in ("=", "in") or not values:
            raise UserError(_("Search shares by state with = or in."))
        now = fields.Datetime.now()
        domains = {
            "current": self._current_domain(),
            "scheduled": [("active", "=", True), ("date_start", ">", now)],
            "expired": [("date_end", "<=", now)],
            "revoked": [
                ("active", "=", False),
                "|",
                ("date_end", "=", False),
                ("date_end", ">", now),
            ],
        }
        parts = [domains[state] for state in sorted(values) if state in domains]
        if not parts:
            return [(0, "=", 1)]
        return ["|"] * (len(parts) - 1) + [leaf for part in parts for leaf in part]

    @api.constrains("user_id")
    def _check_user(self):
        for share in self:
            if not share.user_id.active:
                raise ValidationError(
                    _(
                        "%(person)s is archived: share with an active user.",
                        person=share.user_id.name,
                    )
                )
            if share.user_id._is_public():
                raise ValidationError(_("Shares are for people who log in, not for visitors."))

    # Access follows the share ---------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        shares = super().create(vals_list)
        for user in shares.user_id:
            self.env["ha.realtime.update"]._notify_user(user, ACCESS_CHANGED, {})
        return shares

    def write(self, vals):
        if not any(name in vals for name in ACCESS_FIELDS):
            return super().write(vals)
        realtime = self.env["ha.realtime.update"]
        old_targets = {share: share.entity_ids for share in self}
        old_users = self.user_id
        before = realtime._access_snapshot(old_users)
        if "date_end" in vals:
            vals = dict(vals, expiry_reminded=False)
        result = super().write(vals)
        realtime._apply_access_change(before, self.user_id - old_users)
        # Entities taken out of a share must not replay from its channel (a person who lost
        # the share altogether was handled just above); the person is told to read again
        # whenever what they may do changed.
        shrunk = self.filtered(lambda s: old_targets[s] - s.entity_ids)
        realtime._retire_scopes({(share._name, share.id) for share in shrunk})
        realtime._notify_scopes_changed((self - shrunk).filtered("is_current"))
        return result

    def unlink(self):
        self.env["ha.realtime.update"]._retire_scopes({(s._name, s.id) for s in self})
        return super().unlink()

    def action_revoke(self):
        """Stop the shares now (they stay listed as revoked)."""
        self.write({"active": False})

    # Daily job ------------------------------------------------------------------------------

    @api.model
    def _cron_expire_and_remind(self):
        """Archive the shares that expired and remind creators of those about to expire."""
        now = fields.Datetime.now()
        expired = self.search([("date_end", "<=", now)])
        expired.write({"active": False})
        soon = self.search(
            [
                ("date_end", ">", now),
                ("date_end", "<=", now + REMINDER_DELAY),
                ("expiry_reminded", "=", False),
            ]
        )
        for share in soon:
            share.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=fields.Date.context_today(share, share.date_end),
                summary=_("Share expires soon"),
                note=_(
                    "The share of %(target)s with %(person)s expires on %(date)s.",
                    target=(share.entity_id or share.device_id or share.group_id).display_name,
                    person=share.user_id.name,
                    date=format_datetime(share.env, share.date_end, tz=share.create_uid.tz),
                ),
                user_id=share.create_uid.id,
            )
        soon.write({"expiry_reminded": True})

    # What pages show -------------------------------------------------------------------------

    @api.model
    def _my_active_shares(self):
        return self.search([("user_id", "=", self.env.user.id), ("active", "=", True)])

    @api.model
    def _shared_entity_count(self):
        """How many entities the current user's current shares grant (the portal card)."""
        current = self._my_active_shares().filtered("is_current")
        return len(current.entity_ids.filtered("active"))

    @api.model
    def _shared_with_me(self):
        """What the current user's current shares grant, as the portal page shows it: the
        entities by instance and area, read as the user (the record rules narrow every
        read), and ``next_change_in``, the seconds until one of the user's shares starts or
        expires (the page reads again then)."""
        now = fields.Datetime.now()
        shares = self._my_active_shares()
        current = shares.filtered("is_current")
        entities = current.entity_ids.filtered("active")
        until = {}
        for share in current:
            for entity in share.entity_ids:
                # The latest end among the shares granting an entity; None: no end.
                ends = until.get(entity.id, share.date_end)
                until[entity.id] = ends and share.date_end and max(ends, share.date_end)
        boundaries = [
            moment
            for share in shares
            for moment in (share.date_start, share.date_end)
            if moment and moment > now
        ]
        instances = []
        for instance in entities.instance_id.sorted(lambda i: (i.sequence, i.id)):
            own = entities.filtered(lambda e, i=instance: e.instance_id == i)
            areas = []
            for area in own.area_id.sorted("name"):
                members = own.filtered(lambda e, a=area: e.area_id == a)
                areas.append(self._area_data(area, members, until))
            unassigned = own.filtered(lambda e: not e.area_id)
            if unassigned:
                areas.append(self._area_data(self.env["ha.area"], unassigned, until))
            instances.append(
                {
                    "id": instance.id,
                    "name": instance.name,
                    "status": instance.status,
                    "areas": areas,
                }
            )
        return {
            "instances": instances,
            "entity_count": len(entities),
            "next_change_in": (min(boundaries) - now).total_seconds() if boundaries else None,
        }

    @api.model
    def _area_data(self, area, entities, until):
        data = entities.sorted(lambda e: (e.name or e.entity_id).lower())._api_data(self.env.user)
        for item in data:
            ends = until.get(item["id"])
            item["shared_until"] = ends.isoformat() + "Z" if ends else None
        return {"id": area.id or None, "name": area.name or None, "entities": data}
