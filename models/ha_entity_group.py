from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.fields import Command
from odoo.tools import SQL

from . import target_members
from .ha_realtime_update import ACCESS_CHANGED
from .res_groups import MANAGER_GROUP

# The areas, floors and labels a group may hold the entities of: field, kind, relation table
# and its column of the target.
TARGETS = (
    ("area_ids", target_members.AREA, "ha_entity_group_area_rel", "area_id"),
    ("floor_ids", target_members.FLOOR, "ha_entity_group_floor_rel", "floor_id"),
    ("label_ids", target_members.LABEL, "ha_entity_group_label_rel", "label_id"),
)
TARGET_FIELDS = tuple(name for name, _kind, _table, _column in TARGETS)
# Fields whose change changes who may read or control which entity.
MEMBERSHIP_FIELDS = (
    "entity_ids",
    "instance_id",
    "include_later",
    "granted_entity_ids",
    *TARGET_FIELDS,
)
# The columns ``_membership_sql`` reads: pending changes of these are written before it runs.
MEMBERSHIP_COLUMNS = (
    *(("ha.entity.group", name) for name in (*MEMBERSHIP_FIELDS, "access_level")),
    ("ha.entity", "device_id"),
    ("ha.entity", "area_id"),
    ("ha.entity", "label_ids"),
    ("ha.area", "floor_id"),
    ("ha.area", "label_ids"),
    ("ha.device", "label_ids"),
)


class HaEntityGroup(models.Model):
    """Grants a set of users access to a set of entities of one instance.

    Membership is what the record rules of every Home Assistant model follow: an HA user sees
    an entity only through a group that contains both, and an instance only if a member of
    one of its groups. ``access_level`` says whether members may also control the entities.

    A group's entities are those picked by hand (``entity_ids``) and those of its areas,
    floors and labels (``target_members``). Like a share, a group never widens by itself: of
    its areas', floors' and labels' entities it holds the *granted* ones (those they held when
    they were added to the group, or when a manager granted the current ones again) for as
    long as they stay there. With ``include_later``, the entities that joined them since are
    members too, but to view only: control is never given without a manager confirming the
    entities. ``_membership_sql`` states this once; the record rules (through
    ``ha.entity.group_user_ids``), the bus, control checks and shares of the group read it.
    """

    _name = "ha.entity.group"
    _description = "Home Assistant Entity Group"
    _order = "instance_id, name, id"

    name = fields.Char(required=True, translate=True)
    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    entity_ids = fields.Many2many(
        "ha.entity",
        "ha_entity_group_entity_rel",
        "group_id",
        "entity_id",
        string="Entities",
        domain="[('instance_id', '=', instance_id)]",
    )
    area_ids = fields.Many2many(
        "ha.area",
        "ha_entity_group_area_rel",
        "group_id",
        "area_id",
        string="Areas",
        domain="[('instance_id', '=', instance_id)]",
        help="The entities in these areas: their own area, or else their device's.",
    )
    floor_ids = fields.Many2many(
        "ha.floor",
        "ha_entity_group_floor_rel",
        "group_id",
        "floor_id",
        string="Floors",
        domain="[('instance_id', '=', instance_id)]",
        help="The entities in the areas of these floors.",
    )
    label_ids = fields.Many2many(
        "ha.label",
        "ha_entity_group_label_rel",
        "group_id",
        "label_id",
        string="Labels",
        domain="[('instance_id', '=', instance_id)]",
        help="As in Home Assistant: the entities with these labels, the entities of devices "
        "with them and the entities in areas with them.",
    )
    include_later = fields.Boolean(
        string="Include Entities Added Later",
        help="Entities that join these areas, floors or labels after they were added to the "
        "group are members too, to view only, until a manager grants them. Without it, "
        "members see only the entities granted.",
    )
    granted_entity_ids = fields.Many2many(
        "ha.entity",
        "ha_entity_group_granted_rel",
        "group_id",
        "entity_id",
        string="Granted Entities",
        readonly=True,
        copy=False,
        help="The entities of the areas, floors and labels when they were added to the group, "
        "or when a manager granted the current ones: these get the group's access level.",
    )
    member_entity_ids = fields.Many2many(
        "ha.entity",
        string="Members",
        compute="_compute_member_entity_ids",
        help="Every entity the group gives its users now: those picked and those of its "
        "areas, floors and labels.",
    )
    user_ids = fields.Many2many(
        "res.users",
        "ha_entity_group_res_users_rel",
        "group_id",
        "user_id",
        string="Users",
        domain=[("share", "=", False)],
    )
    access_level = fields.Selection(
        [("view", "View"), ("control", "View and control")],
        default="view",
        required=True,
        help="View: members see the entities and their history. "
        "View and control: members may also operate them (switch, set, open...).",
    )
    tag_ids = fields.Many2many("ha.entity.group.tag", string="Tags")
    share_ids = fields.One2many(
        "ha.entity.share",
        "group_id",
        string="Shares",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    description = fields.Text()
    entity_count = fields.Integer(compute="_compute_entity_count")
    # Part of this group's bus channel name; raised when someone loses access to the group
    # (see ha.realtime.update).
    bus_generation = fields.Integer(readonly=True, copy=False, default=0)

    @api.depends("member_entity_ids")
    def _compute_entity_count(self):
        for group in self:
            group.entity_count = len(group.member_entity_ids)

    @api.depends(
        "entity_ids",
        "include_later",
        "granted_entity_ids",
        "area_ids.entity_ids",
        "floor_ids.area_ids.entity_ids",
        "label_ids.entity_ids",
        "label_ids.device_ids.entity_ids",
        "label_ids.area_ids.entity_ids",
    )
    def _compute_member_entity_ids(self):
        members = self._members()
        for group in self:
            if group.id:
                entities = self.env["ha.entity"].browse(members.get(group.id, ()))
            else:
                # Not saved yet (a form being filled): saving grants the targets' entities.
                entities = group.entity_ids | group._target_entities()
            group.member_entity_ids = entities

    def _members(self):
        """group id -> ids of the entities it holds now (``_membership_sql``)."""
        saved = self.filtered("id")
        if not saved:
            return {}
        rows = target_members.execute_without_jit(
            self.env,
            SQL(
                "SELECT member.group_id, array_agg(DISTINCT member.entity_id)"
                "  FROM (%s) member WHERE member.group_id = ANY(%s)"
                " GROUP BY member.group_id",
                self._membership_sql(),
                saved.ids,
            ),
        )
        return dict(rows)

    @api.model
    def _membership_sql(self):
        """Rows ``(group_id, entity_id, control)``: each entity a group holds, and whether
        the group lets its users control it.

        - an entity picked by hand, with the group's access level;
        - an entity of one of its areas, floors or labels if granted, with the group's access
          level, or, with ``include_later``, if it joined them since, to view only.

        An entity may come twice (picked, and in an area): readers take any row. Carries its
        columns as fields to flush, as ``ha.entity.share._coverage_sql`` does.
        """
        flush = SQL("").join(
            SQL("", to_flush=self.env[model]._fields[name]) for model, name in MEMBERSHIP_COLUMNS
        )
        targeted = SQL(" UNION ").join(
            target_members.members_sql(
                kind,
                SQL(
                    "SELECT group_id AS owner_id, %s AS target_id FROM %s",
                    SQL.identifier(column),
                    SQL.identifier(table),
                ),
            )
            for _name, kind, table, column in TARGETS
        )
        return SQL(
            """%s
            SELECT rel.group_id, rel.entity_id, grp.access_level = 'control' AS control
              FROM ha_entity_group_entity_rel rel
              JOIN ha_entity_group grp ON grp.id = rel.group_id
             UNION ALL
            SELECT grp.id, member.entity_id,
                   grp.access_level = 'control' AND granted.entity_id IS NOT NULL
              FROM (%s) member
              JOIN ha_entity_group grp ON grp.id = member.owner_id
              LEFT JOIN ha_entity_group_granted_rel granted
                     ON granted.group_id = grp.id AND granted.entity_id = member.entity_id
             WHERE granted.entity_id IS NOT NULL OR grp.include_later
            """,
            flush,
            targeted,
        )

    def _target_entities(self, targets=None):
        """The entities the group's areas, floors and labels (or ``targets``, a list of
        record sets of them) hold now."""
        self.ensure_one()
        if targets is None:
            targets = [self[name] for name in TARGET_FIELDS]
        entities = self.env["ha.entity"]
        for target in targets:
            entities |= target_members.entities_of(target)
        return entities.with_env(self.env)

    def action_grant_current_entities(self):
        """Grant the entities of the group's areas, floors and labels as they are now: those
        that joined since get the group's access level, control included."""
        for group in self:
            group.granted_entity_ids = [Command.set(group._target_entities().ids)]

    @api.constrains("instance_id", "entity_ids", *TARGET_FIELDS)
    def _check_entity_instance(self):
        for group in self:
            foreign = group.entity_ids.filtered(lambda e, g=group: e.instance_id != g.instance_id)
            foreign_targets = [
                target
                for name in TARGET_FIELDS
                for target in group[name]
                if target.instance_id != group.instance_id
            ]
            if foreign_targets:
                raise ValidationError(
                    _(
                        "Group %(group)s belongs to %(instance)s but holds areas, floors or "
                        "labels of another instance: %(targets)s",
                        group=group.name,
                        instance=group.instance_id.name,
                        targets=", ".join(t.display_name for t in foreign_targets),
                    )
                )
            if foreign:
                raise ValidationError(
                    _(
                        "Group %(group)s belongs to %(instance)s but lists entities of another "
                        "instance: %(entities)s",
                        group=group.name,
                        instance=group.instance_id.name,
                        entities=", ".join(foreign.mapped("entity_id")),
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        groups = super().create(vals_list)
        for group, vals in zip(groups, vals_list, strict=True):
            if "granted_entity_ids" not in vals and any(vals.get(n) for n in TARGET_FIELDS):
                # Its areas, floors and labels give what they hold now.
                group.granted_entity_ids = [Command.set(group._target_entities().ids)]
        for user in groups.user_ids:
            self.env["ha.realtime.update"]._notify_user(user, ACCESS_CHANGED, {})
        return groups

    def write(self, vals):
        # Bus channels follow membership and content (see ha.realtime.update).
        members_change = "user_ids" in vals
        content_change = any(name in vals for name in MEMBERSHIP_FIELDS)
        if not (members_change or content_change):
            return super().write(vals)
        realtime = self.env["ha.realtime.update"]
        old = {
            group: (group.user_ids, group.instance_id, {n: group[n] for n in TARGET_FIELDS})
            for group in self
        }
        old_members = self._members() if content_change else {}
        before = realtime._access_snapshot(self.user_ids) if members_change else None
        result = super().write(vals)
        if "granted_entity_ids" not in vals and any(name in vals for name in TARGET_FIELDS):
            # Areas, floors or labels added: they give what they hold now; the entities
            # granted before keep their grant.
            for group in self:
                added = [group[n] - old[group][2][n] for n in TARGET_FIELDS]
                new_entities = group._target_entities(added)
                if new_entities:
                    super(HaEntityGroup, group).write(
                        {"granted_entity_ids": [Command.link(e.id) for e in new_entities]}
                    )
        if members_change:
            newcomers = self.env["res.users"].union(
                *(group.user_ids - old[group][0] for group in self)
            )
            realtime._apply_access_change(before, newcomers)
        if content_change:
            # Members who lose entities must not replay those entities' rows from the bus.
            members = self._members()
            shrunk = self.filtered(
                lambda g: (
                    set(old_members.get(g.id, ())) - set(members.get(g.id, ()))
                    or old[g][1] != g.instance_id
                )
            )
            # The group's shares cover its entities: they follow the group.
            shares = self.sudo().share_ids
            shrunk_shares = shares.filtered(lambda s: s.group_id in shrunk)
            realtime._retire_scopes({(r._name, r.id) for r in (*shrunk, *shrunk_shares)})
            realtime._notify_scopes_changed(self - shrunk)
            realtime._notify_scopes_changed(shares - shrunk_shares)
        return result

    def unlink(self):
        self.env["ha.realtime.update"]._retire_scopes({(g._name, g.id) for g in self})
        return super().unlink()
