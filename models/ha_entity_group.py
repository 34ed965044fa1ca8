from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .ha_realtime_update import ACCESS_CHANGED
from .res_groups import MANAGER_GROUP


class HaEntityGroup(models.Model):
    """Grants a set of users access to a set of entities of one instance.

    Membership is what the record rules of every Home Assistant model follow: an HA user sees
    an entity only through a group that contains both, and an instance only if a member of
    one of its groups. ``access_level`` says whether members may also control the entities.
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

    @api.depends("entity_ids")
    def _compute_entity_count(self):
        for group in self:
            group.entity_count = len(group.entity_ids)

    @api.constrains("instance_id", "entity_ids")
    def _check_entity_instance(self):
        for group in self:
            foreign = group.entity_ids.filtered(lambda e, g=group: e.instance_id != g.instance_id)
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
        for user in groups.user_ids:
            self.env["ha.realtime.update"]._notify_user(user, ACCESS_CHANGED, {})
        return groups

    def write(self, vals):
        # Bus channels follow membership and content (see ha.realtime.update).
        members_change = "user_ids" in vals
        content_change = "entity_ids" in vals or "instance_id" in vals
        if not (members_change or content_change):
            return super().write(vals)
        realtime = self.env["ha.realtime.update"]
        old = {group: (group.user_ids, group.entity_ids, group.instance_id) for group in self}
        before = realtime._access_snapshot(self.user_ids) if members_change else None
        result = super().write(vals)
        if members_change:
            newcomers = self.env["res.users"].union(
                *(group.user_ids - old[group][0] for group in self)
            )
            realtime._apply_access_change(before, newcomers)
        if content_change:
            # Members who lose entities must not replay those entities' rows from the bus.
            shrunk = self.filtered(lambda g: old[g][1] - g.entity_ids or old[g][2] != g.instance_id)
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
