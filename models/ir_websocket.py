"""Which bus channels a session joins.

A browser session joins what Odoo gives it (its partner, its groups, Discuss...) plus the
Home Assistant access scopes of its user and the user's own Home Assistant channel, as
ha.realtime.update decides: the client's own channel list can name none of them (only
strings are accepted).

A session opened with a device key (models/ha_device_key.py) is an outside app, not the
person: it joins only those Home Assistant channels, whatever other addons add to the list,
for ``/websocket`` and ``/websocket/peek_notifications`` alike; it gets no presence and shows
none. Its list also names its key (``device_key_channel``), so that the socket is closed at
its next notification once the key is expired or gone (``bus.bus._poll``).
"""

from odoo import models
from odoo.http import request, root
from odoo.tools import OrderedSet

from odoo.addons.bus.websocket import wsrequest

from .ha_device_key import device_key_channel, session_device_key_id


def _session_device_key_id():
    req = request or wsrequest
    return session_device_key_id(req.session) if req else None


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        channels = super()._build_bus_channel_list(channels)
        return [*channels, *self.env["ha.realtime.update"]._session_channels(self.env.user)]

    def _prepare_subscribe_data(self, channels, last):
        key_id = _session_device_key_id()
        if not key_id:
            return super()._prepare_subscribe_data(channels, last)
        # Not through super(): what Odoo and other addons would add (and look up) for the
        # person is dropped for an app anyway. The client's input is checked as Odoo does.
        if not all(isinstance(channel, str) for channel in channels):
            raise ValueError("bus.Bus only string channels are allowed.")
        # sudo - bus.bus: reading non-sensitive last bus id.
        last = 0 if last > self.env["bus.bus"].sudo()._bus_last_id() else last
        realtime = self.env["ha.realtime.update"]
        return {
            "channels": OrderedSet(
                [*realtime._session_channels(self.env.user), device_key_channel(self.env, key_id)]
            ),
            "last": last,
            "missed_presences": self.env["bus.presence"],
        }

    def _get_missed_presences_bus_target(self):
        if _session_device_key_id():
            return None
        return super()._get_missed_presences_bus_target()

    def _update_bus_presence(self, inactivity_period, im_status_ids_by_model):
        # A wall tablet left on does not make its owner "online" in Discuss.
        if _session_device_key_id():
            return
        super()._update_bus_presence(inactivity_period, im_status_ids_by_model)

    def _on_websocket_closed(self, cookies):
        # Called after the socket closed, outside any request: the cookie names the session.
        session = root.session_store.get(cookies.get("session_id") or "")
        if session_device_key_id(session):
            return
        super()._on_websocket_closed(cookies)
