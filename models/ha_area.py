from odoo import api, fields, models

from ..connector.locks import lock_instance_registry
from .res_groups import MANAGER_GROUP


class HaArea(models.Model):
    """An area of Home Assistant's area registry (a room or zone entities belong to).

    A manager creates, renames and deletes areas here as in Home Assistant: each is done there
    first, and Odoo keeps what Home Assistant answered (ha.registry.mirror).
    """

    _name = "ha.area"
    _inherit = ["ha.registry.mirror"]
    _description = "Home Assistant Area"
    _order = "instance_id, name, id"
    _registry_fields = ("name", "floor_id", "label_ids")

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    area_id = fields.Char(
        string="Area ID",
        readonly=True,
        help="The area's id in Home Assistant, given by Home Assistant when the area is created.",
    )
    name = fields.Char(required=True)
    icon = fields.Char(readonly=True, help="Material Design icon name, e.g. mdi:sofa.")
    floor_id = fields.Many2one(
        "ha.floor",
        string="Floor",
        ondelete="set null",
        index="btree_not_null",
        domain="[('instance_id', '=', instance_id)]",
        help="The floor the area is on in Home Assistant (2024.4 and later). A manager's change "
        "moves the area in Home Assistant.",
    )
    label_ids = fields.Many2many(
        "ha.label",
        "ha_area_label_rel",
        "area_id",
        "label_id",
        string="Labels",
        domain="[('instance_id', '=', instance_id)]",
    )
    entity_ids = fields.One2many("ha.entity", "area_id", string="Entities")
    device_ids = fields.One2many("ha.device", "area_id", string="Devices")
    entity_group_ids = fields.Many2many(
        "ha.entity.group",
        "ha_entity_group_area_rel",
        "area_id",
        "group_id",
        string="Entity Groups",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    share_ids = fields.One2many(
        "ha.entity.share",
        "area_id",
        string="Shares",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    entity_count = fields.Integer(compute="_compute_counts")
    device_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        (
            "area_id_instance_unique",
            "UNIQUE(instance_id, area_id)",
            "An area ID must be unique per Home Assistant instance.",
        ),
    ]

    @api.depends("entity_ids", "device_ids")
    def _compute_counts(self):
        for area in self:
            area.entity_count = len(area.entity_ids)
            area.device_count = len(area.device_ids)

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.su:
            return super().create(vals_list)
        self.check_access("create")
        Instance = self.env["ha.instance"]
        answered = []
        for vals in vals_list:
            instance = Instance.browse(vals.get("instance_id"))
            lock_instance_registry(self.env.cr, instance.id)
            entry = self.new({"instance_id": instance.id})._registry_call(
                "config/area_registry/create", name=self._registry_text(vals.get("name"))
            )
            answered.append(
                {
                    **vals,
                    "area_id": entry["area_id"],
                    "name": entry["name"],
                    "icon": entry.get("icon") or False,
                }
            )
        areas = super(HaArea, self.sudo()).create(answered)
        for instance in areas.instance_id:
            self.env["ha.realtime.update"].sudo()._notify_registry_lists(instance)
        return areas.sudo(False)

    def unlink(self):
        if not self.env.su:
            self.check_access("unlink")
            self._registry_lock()
            for area in self:
                area._registry_call("config/area_registry/delete", area_id=area.area_id)
            instances = self.instance_id.sudo()
            result = super().unlink()
            for instance in instances:
                self.env["ha.realtime.update"].sudo()._notify_registry_lists(instance)
            return result
        return super().unlink()

    def _registry_send_edit(self, edited):
        payload = {"area_id": self.area_id}
        if "name" in edited:
            payload["name"] = self._registry_text(edited["name"])
        if "floor_id" in edited:
            payload["floor_id"] = self._registry_floor_id(edited["floor_id"])
        if "label_ids" in edited:
            payload["labels"] = self._registry_label_ids(edited["label_ids"])
        entry = self._registry_call("config/area_registry/update", **payload)
        stored = {}
        if "name" in edited:
            stored["name"] = entry["name"]
        if "floor_id" in edited:
            stored["floor_id"] = self._registry_floor_record(
                self.instance_id, entry.get("floor_id")
            ).id
        if "label_ids" in edited:
            stored["label_ids"] = self._registry_label_records(
                self.instance_id, entry.get("labels")
            )
        return stored
