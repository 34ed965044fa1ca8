from odoo import api, fields, models


class HaFloor(models.Model):
    """A floor of Home Assistant's floor registry (2024.3 and later): areas sit on floors.

    Mirrored from Home Assistant (connector/registry_floors_labels.py), read-only in Odoo.
    """

    _name = "ha.floor"
    _description = "Home Assistant Floor"
    # Floors without a level after those with one, as Home Assistant lists them.
    _order = "instance_id, has_level desc, level, name, id"

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    floor_id = fields.Char(
        string="Floor ID", required=True, readonly=True, help="The floor's id in Home Assistant."
    )
    name = fields.Char(required=True, readonly=True)
    level = fields.Integer(
        readonly=True,
        help="The floor's level in the building: 0 the ground floor, negative below it.",
    )
    # An integer field reads 0 for none: this tells a ground floor from a floor without level.
    has_level = fields.Boolean(
        string="Level Set", readonly=True, help="Whether Home Assistant gives the floor a level."
    )
    aliases = fields.Text(
        readonly=True, help="Other names voice assistants know the floor by, one per line."
    )
    icon = fields.Char(readonly=True, help="Material Design icon name, e.g. mdi:home-floor-1.")
    area_ids = fields.One2many("ha.area", "floor_id", string="Areas", readonly=True)
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
