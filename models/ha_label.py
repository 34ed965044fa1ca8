from odoo import api, fields, models


class HaLabel(models.Model):
    """A label of Home Assistant's label registry (2024.3 and later), put on entities, devices
    and areas.

    Mirrored from Home Assistant (connector/registry_floors_labels.py), read-only in Odoo.
    """

    _name = "ha.label"
    _description = "Home Assistant Label"
    _order = "instance_id, name, id"

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    label_id = fields.Char(
        string="Label ID", required=True, readonly=True, help="The label's id in Home Assistant."
    )
    name = fields.Char(required=True, readonly=True)
    color = fields.Char(
        string="Colour",
        readonly=True,
        help="A colour of Home Assistant's theme (e.g. indigo) or a hex colour (#RRGGBB).",
    )
    icon = fields.Char(readonly=True, help="Material Design icon name, e.g. mdi:tag.")
    description = fields.Text(readonly=True)
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
