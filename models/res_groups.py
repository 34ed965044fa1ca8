from odoo import models

# The addon's two groups (security/ha_security.xml). Managers configure instances and see
# everything; users see and control what their entity groups grant. People a share grants
# entities to are in neither.
MANAGER_GROUP = "odoo_ha_addon.group_ha_manager"
USER_GROUP = "odoo_ha_addon.group_ha_user"


class ResGroups(models.Model):
    _inherit = "res.groups"

    def write(self, vals):
        # Users added to or removed from a group (e.g. Home Assistant / Manager) from the
        # group's own form: their bus channels follow, as when the user form changes groups.
        if "users" not in vals:
            return super().write(vals)
        realtime = self.env["ha.realtime.update"]
        old_users = self.users
        before = realtime._access_snapshot(old_users)
        result = super().write(vals)
        realtime._apply_access_change(before, self.users - old_users)
        return result
