from odoo import models


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
