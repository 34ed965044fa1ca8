from odoo import fields, models

# res.users fields that can change what a user may read of Home Assistant data.
ACCESS_FIELDS = ("groups_id", "active", "share")
ACCESS_FIELD_PREFIXES = ("in_group_", "sel_groups_")


def _changes_access(vals):
    return any(key in ACCESS_FIELDS or key.startswith(ACCESS_FIELD_PREFIXES) for key in vals)


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

    def write(self, vals):
        if not _changes_access(vals):
            return super().write(vals)
        realtime = self.env["ha.realtime.update"]
        before = realtime._access_snapshot(self)
        result = super().write(vals)
        realtime._apply_access_change(before)
        return result
