from odoo import api, fields, models

from .res_groups import MANAGER_GROUP


class HaFloor(models.Model):
    """A floor of Home Assistant's floor registry (2024.3 and later): areas sit on floors.

    Mirrored from Home Assistant (connector/registry_floors_labels.py). A manager creates,
    renames and deletes floors here as in Home Assistant: each is done there first, and Odoo
    keeps what Home Assistant answered (ha.registry.mirror).
    """

    _name = "ha.floor"
    _inherit = ["ha.registry.mirror"]
    _description = "Home Assistant Floor"
    # Floors without a level after those with one, as Home Assistant lists them.
    _order = "instance_id, has_level desc, level, name, id"
    _registry_fields = ("name", "level", "has_level")

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    floor_id = fields.Char(
        string="Floor ID",
        readonly=True,
        help="The floor's id in Home Assistant, given by Home Assistant when the floor is created.",
    )
    name = fields.Char(required=True)
    level = fields.Integer(
        help="The floor's level in the building: 0 the ground floor, negative below it.",
    )
    # An integer field reads 0 for none: this tells a ground floor from a floor without level.
    has_level = fields.Boolean(
        string="Level Set", help="Whether Home Assistant gives the floor a level."
    )
    aliases = fields.Text(
        readonly=True, help="Other names voice assistants know the floor by, one per line."
    )
    icon = fields.Char(readonly=True, help="Material Design icon name, e.g. mdi:home-floor-1.")
    area_ids = fields.One2many("ha.area", "floor_id", string="Areas", readonly=True)
    entity_group_ids = fields.Many2many(
        "ha.entity.group",
        "ha_entity_group_floor_rel",
        "floor_id",
        "group_id",
        string="Entity Groups",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    share_ids = fields.One2many(
        "ha.entity.share",
        "floor_id",
        string="Shares",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    area_count = fields.Integer(compute="_compute_area_count")

    _sql_constraints = [
        (
            "floor_id_instance_unique",
            "UNIQUE(instance_id, floor_id)",
            "A floor ID must be unique per Home Assistant instance.",
        ),
    ]

    @api.depends("area_ids")
    def _compute_area_count(self):
        for floor in self:
            floor.area_count = len(floor.area_ids)

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.su:
            return super().create(vals_list)
        return self._registry_create(vals_list, super(HaFloor, self.sudo()).create)

    def unlink(self):
        if self.env.su:
            return super().unlink()
        return self._registry_unlink("config/floor_registry/delete", "floor_id", super().unlink)

    def _registry_level(self, vals):
        """The level Home Assistant is sent for ``vals``: None when the floor has none."""
        has_level = vals.get("has_level", self.has_level)
        return int(vals.get("level", self.level) or 0) if has_level else None

    def _registry_send_create(self, vals):
        entry = self._registry_call(
            "config/floor_registry/create",
            name=self._registry_text(vals.get("name")),
            level=self._registry_level(vals),
        )
        return {"floor_id": entry["floor_id"], **self._registry_stored(entry)}

    def _registry_send_edit(self, edited):
        payload = {"floor_id": self.floor_id}
        if "name" in edited:
            payload["name"] = self._registry_text(edited["name"])
        if "level" in edited or "has_level" in edited:
            payload["level"] = self._registry_level(edited)
        return self._registry_stored(self._registry_call("config/floor_registry/update", **payload))

    @staticmethod
    def _registry_stored(entry):
        level = entry.get("level")
        return {
            "name": entry["name"],
            "level": level or 0,
            "has_level": level is not None,
            "icon": entry.get("icon") or False,
        }
