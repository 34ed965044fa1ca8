from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from .res_groups import MANAGER_GROUP

# res.users fields that can change what a user may read of Home Assistant data.
ACCESS_FIELDS = ("groups_id", "active", "share")
ACCESS_FIELD_PREFIXES = ("in_group_", "sel_groups_")


def _changes_access(vals):
    return any(key in ACCESS_FIELDS or key.startswith(ACCESS_FIELD_PREFIXES) for key in vals)


class ResUsers(models.Model):
    _inherit = "res.users"

    # Readable by managers, and by each user on their own record (SELF_READABLE_FIELDS).
    current_ha_instance_id = fields.Many2one(
        "ha.instance",
        string="Current Home Assistant Instance",
        ondelete="set null",
        groups=MANAGER_GROUP,
        help="The instance the Home Assistant dashboard opens on for this user.",
    )

    @property
    def SELF_READABLE_FIELDS(self):
        return [*super().SELF_READABLE_FIELDS, "current_ha_instance_id"]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return [*super().SELF_WRITEABLE_FIELDS, "current_ha_instance_id"]

    @api.constrains("current_ha_instance_id")
    def _check_current_ha_instance(self):
        # A user writes this field on their own record as superuser (SELF_WRITEABLE_FIELDS):
        # the instance must be one that user may read, whoever writes it.
        for user in self.sudo():
            instance = user.current_ha_instance_id
            if not instance:
                continue
            try:
                instance.with_user(user).check_access("read")
            except AccessError:
                raise ValidationError(
                    _(
                        "Home Assistant instance %(id)s does not exist or is not available to "
                        "%(user)s.",
                        id=instance.id,
                        user=user.name,
                    )
                ) from None

    def write(self, vals):
        if not _changes_access(vals):
            return super().write(vals)
        realtime = self.env["ha.realtime.update"]
        before = realtime._access_snapshot(self)
        result = super().write(vals)
        realtime._apply_access_change(before)
        return result
