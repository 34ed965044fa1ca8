from odoo import api, fields, models

# The scopes Home Assistant's frontend keeps categories for.
CATEGORY_SCOPES = [
    ("automation", "Automations"),
    ("scene", "Scenes"),
    ("script", "Scripts"),
    ("helpers", "Helpers"),
]


class HaCategory(models.Model):
    """A category of Home Assistant's category registry (2024.4 and later): automations,
    scripts, scenes and helpers each have their own categories, and each of them is in at
    most one category of its scope.

    Mirrored from Home Assistant (connector/registry_floors_labels.py), read-only in Odoo.
    """

    _name = "ha.category"
    _description = "Home Assistant Category"
    _order = "instance_id, scope, name, id"

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    scope = fields.Selection(CATEGORY_SCOPES, required=True, readonly=True)
    category_id = fields.Char(
        string="Category ID",
        required=True,
        readonly=True,
        help="The category's id in Home Assistant.",
    )
    name = fields.Char(required=True, readonly=True)
    icon = fields.Char(readonly=True, help="Material Design icon name, e.g. mdi:lightbulb.")
    entity_ids = fields.Many2many(
        "ha.entity",
        "ha_entity_category_rel",
        "category_id",
        "entity_id",
        string="Entities",
        readonly=True,
    )
    entity_count = fields.Integer(compute="_compute_entity_count")

    _sql_constraints = [
        (
            "category_id_instance_unique",
            "UNIQUE(instance_id, scope, category_id)",
            "A category ID must be unique per scope and Home Assistant instance.",
        ),
    ]

    @api.depends("entity_ids")
    def _compute_entity_count(self):
        for category in self:
            category.entity_count = len(category.entity_ids)
