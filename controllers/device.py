"""``/odoo_ha_addon/device/login``: an outside app trades its device key for a session."""

import logging

from odoo import _, http, release
from odoo.exceptions import AccessDenied
from odoo.http import request, root

from odoo.addons.bus.websocket import WebsocketConnectionHandler

from ..models.ha_device_key import CREDENTIAL_TYPE, SESSION_DEVICE_KEY
from .main import PREFIX, _envelope

_logger = logging.getLogger(__name__)


class HaDeviceController(http.Controller):
    @http.route(
        f"{PREFIX}/device/login", type="json", auth="none", methods=["POST"], readonly=False
    )
    def device_login(self, login=None, key=None, db=None, **unknown):
        """Log in with a device key (see models/ha_device_key.py). Answers the envelope of the
        JSON API; the session comes as the ``session_id`` cookie and in ``data``, with the
        bus version the ``/websocket`` URL needs."""
        if unknown or not isinstance(login, str) or not isinstance(key, str):
            return _envelope(
                error=_("Give “login” and “key” (and “db” when the server has several)."),
                error_type="invalid_input",
            )
        # The session is made on the database this request runs on (the server's, or the one
        # chosen by its database filter); naming another one is an error, not a switch.
        dbname = request.db
        if not dbname or (db is not None and db != dbname):
            return _envelope(error=_("Unknown database."), error_type="invalid_input")
        credential = {"type": CREDENTIAL_TYPE, "login": login, "key": key}
        try:
            auth_info = request.session.authenticate(dbname, credential)
        except AccessDenied:
            return _envelope(error=_("Wrong login or device key."), error_type="access_denied")
        session = request.session
        # The session id changes at login; settle it now so that it can be recorded, and the
        # session ended when the key is removed.
        root.session_store.rotate(session, request.env)
        session[SESSION_DEVICE_KEY] = auth_info["key_id"]
        env = request.env(user=session.uid)
        env["ha.device.session"]._record(auth_info["key_id"], session.uid, session.sid)
        return _envelope(
            data={
                "uid": session.uid,
                "name": env.user.name,
                "session_id": session.sid,
                "bus_version": WebsocketConnectionHandler._VERSION,
                "server_version": release.version,
            }
        )
