from odoo import api, fields, models


class HaDevice(models.Model):
    """A device of Home Assistant's device registry (hardware or service exposing entities)."""

    _name = "ha.device"
    _description = "Home Assistant Device"
    _order = "instance_id, name, id"

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    device_id = fields.Char(
        string="Device ID", required=True, help="The device's id in Home Assistant."
    )
    name = fields.Char(help="Name given by the integration.")
    name_by_user = fields.Char(help="Name given in Home Assistant by its user, if any.")
    manufacturer = fields.Char()
    model = fields.Char()
    sw_version = fields.Char(string="Software Version")
    area_id = fields.Many2one("ha.area", string="Area", ondelete="set null")
    entity_ids = fields.One2many("ha.entity", "device_id", string="Entities")

    _sql_constraints = [
        (
            "device_id_instance_unique",
            "UNIQUE(instance_id, device_id)",
            "A device ID must be unique per Home Assistant instance.",
        ),
    ]

    @api.depends("name", "name_by_user", "device_id")
    def _compute_display_name(self):
        for device in self:
            device.display_name = device.name_by_user or device.name or device.device_id
