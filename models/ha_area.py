from odoo import fields, models


class HaArea(models.Model):
    """An area of Home Assistant's area registry (a room or zone entities belong to)."""

    _name = "ha.area"
    _description = "Home Assistant Area"
    _order = "instance_id, name, id"

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    area_id = fields.Char(string="Area ID", required=True, help="The area's id in Home Assistant.")
    name = fields.Char(required=True)
    icon = fields.Char(help="Material Design icon name, e.g. mdi:sofa.")
    entity_ids = fields.One2many("ha.entity", "area_id", string="Entities")
    device_ids = fields.One2many("ha.device", "area_id", string="Devices")

    _sql_constraints = [
        (
            "area_id_instance_unique",
            "UNIQUE(instance_id, area_id)",
            "An area ID must be unique per Home Assistant instance.",
        ),
    ]
