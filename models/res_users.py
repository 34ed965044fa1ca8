from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    current_ha_instance_id = fields.Many2one(
        "ha.instance",
        string="Current Home Assistant Instance",
        ondelete="set null",
        help="The instance the Home Assistant dashboard opens on for this user.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return [*super().SELF_READABLE_FIELDS, "current_ha_instance_id"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return [*super().SELF_WRITEABLE_FIELDS, "current_ha_instance_id"]
