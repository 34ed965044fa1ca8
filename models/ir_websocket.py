from odoo import models


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        # Subscribe every session to the channels of the instances its user may read; the
        # record rules of ha.instance decide which, so nobody can ask for another instance's.
        channels = super()._build_bus_channel_list(channels)
        user = self.env.user
        if user and user._is_internal() and user.has_group("odoo_ha_addon.group_ha_user"):
            channels = list(channels)
            channels.extend(self.env["ha.instance"].search([]))
        return channels
