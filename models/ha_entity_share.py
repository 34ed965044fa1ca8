from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Command
from odoo.tools import SQL, format_datetime

from . import target_members
from .ha_realtime_update import ACCESS_CHANGED

# The daily job reminds a share's creator when it expires within this delay.
REMINDER_DELAY = timedelta(days=2)
# Fields whose change can move the person shared with in or out of the share's entities.
ACCESS_FIELDS = (
    "user_id",
    "entity_id",
    "device_id",
    "group_id",
    "area_id",
    "floor_id",
    "label_id",
    "permission",
    "include_later",
    "granted_entity_ids",
    "date_start",
    "date_end",
    "active",
)
# Context key of the instant a request checks shares at (``_share_now``).
SHARE_NOW_KEY = "ha_share_now"
# What a share may be of, exactly one. Every target but an entity holds entities that change
# (``_coverage_sql``): its share grants those of when it was shared.
TARGET_FIELDS = ("entity_id", "device_id", "group_id", "area_id", "floor_id", "label_id")
# The columns ``_coverage_sql`` reads: pending changes of these are written before it runs.
COVERAGE_FIELDS = (
    *(("ha.entity.share", name) for name in ACCESS_FIELDS),
    ("ha.entity", "device_id"),
    ("ha.entity", "area_id"),
    ("ha.entity", "label_ids"),
    ("ha.entity.group", "entity_ids"),
    ("ha.area", "floor_id"),
    ("ha.area", "label_ids"),
    ("ha.device", "label_ids"),
)


class HaEntityShare(models.Model):
    """Some entities (one entity, or those of a device, an entity group, an area, a floor or a
    label), shared with one person (portal or internal user) to view or control, for a
    period.

    A share grants access while it is *current*: active, started and not expired. The record
    rules follow ``_current_domain``, which compares with the time of each query, so a
    share stops granting at its expiry to the second, with no job having run; so do the bus
    (see ha.realtime.update) and service calls. The daily job only archives expired shares
    and reminds their creators before they expire.

    A share of a device, group, area, floor or label never widens by itself: it covers its
    *granted* entities (the target's entities when it was shared, or when a manager shared
    the current ones again) for as long as they stay in the target. With ``include_later``,
    the entities that joined the target since are covered too, but to view only: control is
    never given without a manager confirming the entities. ``_coverage_sql`` states this
    once; the record rules (through ``ha.entity.shared_with_ids``), the bus, service calls
    and the portal page all read it.

    An area's entities are those whose area is it, their own or else their device's (as
    ``ha.entity.area_id`` holds it); a floor's, those of its areas. A label's are, as in Home
    Assistant's label targets, the entities labelled, the entities of labelled devices and
    the entities of labelled areas.
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
    area_id = fields.Many2one(
        "ha.area",
        string="Area",
        ondelete="cascade",
        index="btree_not_null",
        tracking=True,
        help="The entities in the area: their own area, or else their device's.",
    )
    floor_id = fields.Many2one(
        "ha.floor",
        string="Floor",
        ondelete="cascade",
        index="btree_not_null",
        tracking=True,
        help="The entities in the floor's areas.",
    )
    label_id = fields.Many2one(
        "ha.label",
        string="Label",
        ondelete="cascade",
        index="btree_not_null",
        tracking=True,
        help="As in Home Assistant: the entities with the label, the entities of devices with "
        "the label and the entities in areas with the label.",
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
    granted_entity_ids = fields.Many2many(
        "ha.entity",
        "ha_entity_share_granted_rel",
        "share_id",
        "entity_id",
        string="Granted Entities",
        readonly=True,
        tracking=True,
        help="The entities of the device, group, area, floor or label when it was shared (or "
        "shared again): they get the share's permission while they belong to it.",
    )
    include_later = fields.Boolean(
        string="Include entities added later",
        tracking=True,
        help="Entities added to the device, group, area, floor or label after it was shared are "
        "shown too, to view only: control is given only to the granted entities. Use “Share the "
        "current entities” to grant new ones with the share's permission.",
    )
    # What the share covers now (``_coverage_sql``), at each read. Not stored, so that no
    # pending recomputation can lag behind a change of a device or group.
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
            "CHECK(num_nonnulls(entity_id, device_id, group_id, area_id, floor_id, label_id) = 1)",
            "A share is of one entity, device, entity group, area, floor or label.",
        ),
        (
            "period",
            "CHECK(date_start IS NULL OR date_end IS NULL OR date_start < date_end)",
            "A share must expire after it starts.",
        ),
    ]

    def _target(self):
        """The entity, device, group, area, floor or label shared (an empty record if none)."""
        self.ensure_one()
        for name in TARGET_FIELDS:
            if self[name]:
                return self[name]
        return self.entity_id

    @api.depends(*TARGET_FIELDS, "user_id")
    def _compute_name(self):
        for share in self:
            target = share._target()
            share.name = _(
                "%(target)s with %(person)s",
                target=target.sudo().display_name or "",
                person=share.user_id.sudo().name or "",
            )

    @api.depends(*(f"{name}.instance_id" for name in TARGET_FIELDS))
    def _compute_instance_id(self):
        for share in self:
            target = share._target().sudo()
            share.instance_id = target.instance_id

    # What shares cover: the one definition ---------------------------------------------------

    @api.model
    def _coverage_sql(self, current=True):
        """Rows ``(share_id, user_id, entity_id, control)``: each entity a share covers, and
        whether the share lets its person control it. ``current``: only the shares current at
        this second (what grants access); otherwise all of them (what a share is about).

        - a share of one entity covers it, with the share's permission;
        - a share of a device, group, area, floor or label covers its granted entities that
          are still part of the target, with the share's permission, and, with
          ``include_later``, the target's other entities, to view only.

        Carries its columns as fields to flush: ``env.execute_query`` and ORM searches that
        embed it write pending changes first.
        """
        condition = SQL("TRUE")
        if current:
            # sudo: the record rules of shares must not narrow what grants access.
            shares = self.sudo().with_context(active_test=False)
            condition = SQL("share.id IN %s", shares._search(shares._current_domain()).subselect())
        # Renders as nothing: it only names the fields to flush.
        flush = SQL("").join(
            SQL("", to_flush=self.env[model]._fields[name]) for model, name in COVERAGE_FIELDS
        )
        branches = [
            SQL(
                """
                SELECT share.id AS share_id, share.user_id, share.entity_id,
                       share.permission = 'control' AS control
                  FROM ha_entity_share share
                 WHERE share.entity_id IS NOT NULL AND %s
                """,
                condition,
            )
        ]
        for members in self._target_members_sql():
            branches.append(
                SQL(
                    """
                    SELECT share.id, share.user_id, member.entity_id,
                           share.permission = 'control' AND granted.entity_id IS NOT NULL
                      FROM ha_entity_share share
                      JOIN (%(members)s) member ON member.share_id = share.id
                      LEFT JOIN ha_entity_share_granted_rel granted
                             ON granted.share_id = share.id AND granted.entity_id = member.entity_id
                     WHERE (granted.entity_id IS NOT NULL OR share.include_later) AND %(condition)s
                    """,
                    members=members,
                    condition=condition,
                )
            )
        return SQL("%s%s", flush, SQL(" UNION ALL ").join(branches))

    @api.model
    def _target_members_sql(self):
        """One query per kind of target but an entity: rows ``(share_id, entity_id)``, the
        entities the share's device, group, area, floor or label holds now (an area's, a
        floor's and a label's as ``target_members`` defines them; a group's, its members as
        ``ha.entity.group._membership_sql`` does)."""
        return [
            SQL(
                "SELECT share.id AS share_id, entity.id AS entity_id"
                "  FROM ha_entity_share share"
                "  JOIN ha_entity entity ON entity.device_id = share.device_id"
            ),
            SQL(
                "SELECT DISTINCT share.id AS share_id, member.entity_id"
                "  FROM ha_entity_share share"
                "  JOIN (%s) member ON member.group_id = share.group_id",
                self.env["ha.entity.group"]._membership_sql(),
            ),
            *(
                SQL(
                    "SELECT member.owner_id AS share_id, member.entity_id FROM (%s) member",
                    target_members.members_sql(
                        kind,
                        SQL(
                            "SELECT id AS owner_id, %s AS target_id FROM ha_entity_share"
                            " WHERE %s IS NOT NULL",
                            SQL.identifier(column),
                            SQL.identifier(column),
                        ),
                    ),
                )
                for kind, column in (
                    (target_members.AREA, "area_id"),
                    (target_members.FLOOR, "floor_id"),
                    (target_members.LABEL, "label_id"),
                )
            ),
        ]

    @api.depends(
        "entity_id",
        "device_id.entity_ids",
        "group_id.member_entity_ids",
        "area_id.entity_ids",
        "floor_id.area_ids.entity_ids",
        "label_id.entity_ids",
        "label_id.device_ids.entity_ids",
        "label_id.area_ids.entity_ids",
        "granted_entity_ids",
        "include_later",
    )
    @api.depends_context(SHARE_NOW_KEY)
    def _compute_entity_ids(self):
        # What a share covers does not depend on who reads it; reading the entities is
        # narrowed by the record rules of ha.entity all the same.
        saved = self.filtered("id")
        covered = {}
        if saved:
            rows = target_members.execute_without_jit(
                self.env,
                SQL(
                    "SELECT coverage.share_id, array_agg(DISTINCT coverage.entity_id)"
                    "  FROM (%s) coverage WHERE coverage.share_id = ANY(%s)"
                    " GROUP BY coverage.share_id",
                    self._coverage_sql(current=False),
                    saved.ids,
                ),
            )
            covered = dict(rows)
        for share in self:
            if share.id:
                share.entity_ids = self.env["ha.entity"].browse(covered.get(share.id, ()))
            elif share.entity_id:
                share.entity_ids = share.entity_id
            else:
                # Not saved yet (a form being filled): saving grants the target's entities.
                share.entity_ids = share.granted_entity_ids or share._target_entities()

    def _search_entity_ids(self, operator, value):
        Entity = self.env["ha.entity"].with_context(active_test=False)
        negative = operator in ("not in", "!=", "not ilike", "not like", "not =like")
        if value is False or value is None:
            # ("entity_ids", "=", False): shares that cover nothing.
            negative = operator in ("=", "in")
            entities = None
        elif isinstance(value, str) or (
            isinstance(value, (list, tuple)) and value and isinstance(value[0], str)
        ):
            positive = {"not in": "in", "!=": "=", "not ilike": "ilike", "not like": "like"}
            entities = Entity._search([("display_name", positive.get(operator, operator), value)])
        elif operator == "any":
            entities = Entity._search(value)
        else:
            ids = [value] if isinstance(value, int) else list(value)
            entities = Entity._search([("id", "in", ids)])
        covering = SQL(
            "(SELECT coverage.share_id FROM (%s) coverage%s)",
            self._coverage_sql(current=False),
            SQL(" WHERE coverage.entity_id IN %s", entities.subselect())
            if entities is not None
            else SQL(),
        )
        return [("id", "not in" if negative else "in", covering)]

    def _target_entities(self):
        """The entities the share's device, group, area, floor or label has now, as
        ``_target_members_sql`` finds them (none for an entity's share)."""
        self.ensure_one()
        return self._entities_of(self._target()).with_env(self.env)

    @api.model
    def _entities_of(self, target):
        """The entities ``target`` (a device, group, area, floor or label) holds now."""
        # sudo: what the target holds does not depend on who shares it.
        target = target.sudo()
        if target._name == "ha.entity":
            return target.browse()
        if target._name == "ha.entity.group":
            return target.member_entity_ids
        if target._name == "ha.device":
            return target.entity_ids
        return target_members.entities_of(target)

    def action_grant_current_entities(self):
        """Grant the entities of the share's target as they are now: the entities added since
        get the share's permission, control included."""
        for share in self.filtered(lambda s: not s.entity_id):
            share.granted_entity_ids = [Command.set(share._target_entities().ids)]

    @api.depends("entity_ids")
    def _compute_entity_count(self):
        for share in self:
            share.entity_count = len(share.entity_ids)

    @api.depends_context(SHARE_NOW_KEY)
    def _compute_state(self):
        now = self._share_now()
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
    def _share_now(self):
        """The instant shares are current at: now, or the one a whole request pinned
        (``SHARE_NOW_KEY`` in the context, see ``_shared_with_me``)."""
        pinned = self.env.context.get(SHARE_NOW_KEY)
        return fields.Datetime.to_datetime(pinned) if pinned else fields.Datetime.now()

    @api.model
    def _current_domain(self):
        now = self._share_now()
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
        vals_list = [self._with_granted_entities(vals) for vals in vals_list]
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
        retarget = any(name in vals for name in TARGET_FIELDS)
        result = super().write(vals)
        if retarget and "granted_entity_ids" not in vals:
            # Another target: its entities as they are now, as for a new share.
            for share in self:
                super(HaEntityShare, share).write(
                    {"granted_entity_ids": [Command.set(share._target_entities().ids)]}
                )
        realtime._apply_access_change(before, self.user_id - old_users)
        # Entities taken out of a share must not replay from its channel (a person who lost
        # the share altogether was handled just above); the person is told to read again
        # whenever what they may do changed.
        shrunk = self.filtered(lambda s: old_targets[s] - s.entity_ids)
        realtime._retire_scopes({(share._name, share.id) for share in shrunk})
        realtime._notify_scopes_changed((self - shrunk).filtered("is_current"))
        return result

    @api.model
    def _with_granted_entities(self, vals):
        """``vals`` of a new share, one of a device, group, area, floor or label granting its
        entities of now."""
        if "granted_entity_ids" in vals:
            return vals
        for name in TARGET_FIELDS[1:]:
            if vals.get(name):
                target = self.env[self._fields[name].comodel_name].browse(vals[name])
                return dict(vals, granted_entity_ids=[Command.set(self._entities_of(target).ids)])
        return vals

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
                    target=share._target().display_name,
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
        expires (the page reads again then).

        Every check of the request is made at one instant: a share that expires while it
        runs is current for all of it or for none of it, never listed and then refused."""
        now = fields.Datetime.now()
        pinned = self.with_context(**{SHARE_NOW_KEY: fields.Datetime.to_string(now)})
        return pinned._shared_at(now)

    @api.model
    def _shared_at(self, now):
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
