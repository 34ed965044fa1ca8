from odoo import _, api, fields, models
from odoo.exceptions import UserError

# The list a wizard opened from: what its selected records are.
TARGETS = {
    "ha.entity": "entity_ids",
    "ha.device": "device_ids",
    "ha.entity.group": "group_ids",
    "ha.area": "area_ids",
    "ha.floor": "floor_ids",
    "ha.label": "label_ids",
}
# The wizard's field of each target -> the share's.
SHARE_TARGETS = {
    "entity_ids": "entity_id",
    "device_ids": "device_id",
    "group_ids": "group_id",
    "area_ids": "area_id",
    "floor_ids": "floor_id",
    "label_ids": "label_id",
}


class HaEntityShareWizard(models.TransientModel):
    """Share entities, devices, entity groups, areas, floors or labels (many at once) with one
    or more people: one share per thing and person, all with the same permission and
    period."""

    _name = "ha.entity.share.wizard"
    _description = "Share Home Assistant Entities"

    entity_ids = fields.Many2many("ha.entity", string="Entities")
    device_ids = fields.Many2many("ha.device", string="Devices")
    group_ids = fields.Many2many("ha.entity.group", string="Entity Groups")
    area_ids = fields.Many2many(
        "ha.area", string="Areas", help="The entities in the areas: their own, or their device's."
    )
    floor_ids = fields.Many2many(
        "ha.floor", string="Floors", help="The entities in the floors' areas."
    )
    label_ids = fields.Many2many(
        "ha.label",
        string="Labels",
        help="As in Home Assistant: the entities with the labels, the entities of devices with "
        "the labels and the entities in areas with the labels.",
    )
    user_ids = fields.Many2many(
        "res.users",
        string="Share With",
        required=True,
        help="Portal users (customers, tenants) or internal users.",
    )
    permission = fields.Selection(
        [("view", "View"), ("control", "View and control")], default="view", required=True
    )
    include_later = fields.Boolean(
        string="Include entities added later",
        help="Devices, entity groups, areas, floors and labels: the people also see the entities "
        "added to them later, to view only. Without it, they get only the entities these have "
        "now; control is only ever given to those.",
    )
    date_start = fields.Datetime(string="Starts", help="Empty: now.")
    date_end = fields.Datetime(string="Expires", help="Empty: until revoked.")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        model = self.env.context.get("active_model")
        ids = self.env.context.get("active_ids") or []
        if model in TARGETS and ids and TARGETS[model] in fields_list:
            values[TARGETS[model]] = [fields.Command.set(ids)]
        return values

    def action_share(self):
        self.ensure_one()
        targets = [
            (share_field, record.id)
            for field, share_field in SHARE_TARGETS.items()
            for record in self[field]
        ]
        if not targets:
            raise UserError(
                _("Choose the entities, devices, entity groups, areas, floors or labels to share.")
            )
        shares = self.env["ha.entity.share"].create(
            [
                {
                    field: target_id,
                    "user_id": user.id,
                    "permission": self.permission,
                    "include_later": self.include_later and field != "entity_id",
                    "date_start": self.date_start,
                    "date_end": self.date_end,
                }
                for field, target_id in targets
                for user in self.user_ids
            ]
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Shares"),
            "res_model": "ha.entity.share",
            "view_mode": "list,form",
            "domain": [("id", "in", shares.ids)],
        }
