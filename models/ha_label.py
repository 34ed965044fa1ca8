from odoo import api, fields, models

from .res_groups import MANAGER_GROUP


class HaLabel(models.Model):
    """A label of Home Assistant's label registry (2024.3 and later), put on entities, devices
    and areas.

    Mirrored from Home Assistant (connector/registry_floors_labels.py). A manager creates,
    changes and deletes labels here as in Home Assistant: each is done there first, and Odoo
    keeps what Home Assistant answered (ha.registry.mirror).
    """

    _name = "ha.label"
    _inherit = ["ha.registry.mirror"]
    _description = "Home Assistant Label"
    _order = "instance_id, name, id"
    _registry_fields = ("name", "color", "description")

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    label_id = fields.Char(
        string="Label ID",
        readonly=True,
        help="The label's id in Home Assistant, given by Home Assistant when the label is created.",
    )
    name = fields.Char(required=True)
    color = fields.Char(
        string="Colour",
        help="A colour of Home Assistant's theme (e.g. indigo) or a hex colour (#RRGGBB).",
    )
    icon = fields.Char(readonly=True, help="Material Design icon name, e.g. mdi:tag.")
    description = fields.Text()
    entity_ids = fields.Many2many(
        "ha.entity",
        "ha_entity_label_rel",
        "label_id",
        "entity_id",
        string="Entities",
        readonly=True,
    )
    device_ids = fields.Many2many(
        "ha.device",
        "ha_device_label_rel",
        "label_id",
        "device_id",
        string="Devices",
        readonly=True,
    )
    area_ids = fields.Many2many(
        "ha.area", "ha_area_label_rel", "label_id", "area_id", string="Areas", readonly=True
    )
    entity_group_ids = fields.Many2many(
        "ha.entity.group",
        "ha_entity_group_label_rel",
        "label_id",
        "group_id",
        string="Entity Groups",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    share_ids = fields.One2many(
        "ha.entity.share",
        "label_id",
        string="Shares",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    entity_count = fields.Integer(compute="_compute_counts")
    device_count = fields.Integer(compute="_compute_counts")
    area_count = fields.Integer(compute="_compute_counts")

    _sql_constraints = [
        (
            "label_id_instance_unique",
            "UNIQUE(instance_id, label_id)",
            "A label ID must be unique per Home Assistant instance.",
        ),
    ]

    @api.depends("entity_ids", "device_ids", "area_ids")
    def _compute_counts(self):
        for label in self:
            label.entity_count = len(label.entity_ids)
            label.device_count = len(label.device_ids)
            label.area_count = len(label.area_ids)

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.su:
            return super().create(vals_list)
        return self._registry_create(vals_list, super(HaLabel, self.sudo()).create)

    def unlink(self):
        if self.env.su:
            return super().unlink()
        return self._registry_unlink("config/label_registry/delete", "label_id", super().unlink)

    def _registry_payload(self, vals):
        payload = {}
        if "name" in vals:
            payload["name"] = self._registry_text(vals["name"])
        for name in ("color", "description"):
            if name in vals:
                payload[name] = self._registry_text(vals[name])
        return payload

    def _registry_send_create(self, vals):
        entry = self._registry_call(
            "config/label_registry/create", **{"name": None, **self._registry_payload(vals)}
        )
        return {"label_id": entry["label_id"], **self._registry_stored(entry)}

    def _registry_send_edit(self, edited):
        entry = self._registry_call(
            "config/label_registry/update", label_id=self.label_id, **self._registry_payload(edited)
        )
        return self._registry_stored(entry)

    @staticmethod
    def _registry_stored(entry):
        return {
            "name": entry["name"],
            "color": entry.get("color") or False,
            "description": entry.get("description") or False,
            "icon": entry.get("icon") or False,
        }
