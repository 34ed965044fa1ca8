from odoo import api, fields, models

from .res_groups import MANAGER_GROUP


class HaDevice(models.Model):
    """A device of Home Assistant's device registry (hardware or service exposing entities).

    A manager's change of its name or area is made in Home Assistant (ha.registry.mirror);
    entities that follow their device's area follow it there, and then here.
    """

    _name = "ha.device"
    _inherit = ["ha.registry.mirror"]
    _description = "Home Assistant Device"
    _order = "instance_id, name, id"
    _registry_fields = ("name_by_user", "area_id", "label_ids")

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    device_id = fields.Char(
        string="Device ID", required=True, help="The device's id in Home Assistant."
    )
    name = fields.Char(help="Name given by the integration.")
    name_by_user = fields.Char(
        string="Name in Home Assistant",
        help="Name given in Home Assistant by its user, shown instead of the integration's. "
        "A manager's change renames the device in Home Assistant.",
    )
    manufacturer = fields.Char()
    model = fields.Char()
    sw_version = fields.Char(string="Software Version")
    area_id = fields.Many2one(
        "ha.area",
        string="Area",
        ondelete="set null",
        domain="[('instance_id', '=', instance_id)]",
        help="A manager's change moves the device in Home Assistant, with the entities that "
        "follow its area.",
    )
    floor_id = fields.Many2one(related="area_id.floor_id", string="Floor")
    label_ids = fields.Many2many(
        "ha.label",
        "ha_device_label_rel",
        "device_id",
        "label_id",
        string="Labels",
        domain="[('instance_id', '=', instance_id)]",
        help="A manager's change labels the device in Home Assistant (2024.4 and later).",
    )
    entity_ids = fields.One2many("ha.entity", "device_id", string="Entities")
    share_ids = fields.One2many(
        "ha.entity.share",
        "device_id",
        string="Shares",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    entity_count = fields.Integer(compute="_compute_entity_count")

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

    @api.depends("entity_ids")
    def _compute_entity_count(self):
        for device in self:
            device.entity_count = len(device.entity_ids)

    def _registry_send_edit(self, edited):
        payload = {"device_id": self.device_id}
        if "name_by_user" in edited:
            payload["name_by_user"] = self._registry_text(edited["name_by_user"])
        if "area_id" in edited:
            payload["area_id"] = self._registry_area_id(edited["area_id"])
        if "label_ids" in edited:
            payload["labels"] = self._registry_label_ids(edited["label_ids"])
        answer = self._registry_call("config/device_registry/update", **payload) or {}
        stored = {}
        if "name_by_user" in edited:
            stored["name_by_user"] = answer.get("name_by_user") or False
        if "area_id" in edited:
            stored["area_id"] = self._registry_area_record(
                self.instance_id, answer.get("area_id")
            ).id
        if "label_ids" in edited:
            stored["label_ids"] = self._registry_label_records(
                self.instance_id, answer.get("labels")
            )
        return stored
