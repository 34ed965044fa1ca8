from odoo import models


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        # Every session joins the access scopes of its user, as ha.realtime.update decides:
        # the client's own channel list can name none of them (only strings are accepted).
        channels = super()._build_bus_channel_list(channels)
        return [*channels, *self.env["ha.realtime.update"]._user_channels(self.env.user)]
