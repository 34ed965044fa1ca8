from odoo import models
from odoo.exceptions import AccessDenied
from odoo.http import SessionExpiredException, request

from .ha_device_key import SESSION_DEVICE_KEY

# What a session opened with a device key may reach: this addon's routes, Odoo's bus socket
# and logging out. Nothing else of Odoo (no /web/dataset, no backend pages).
DEVICE_PATH_PREFIXES = ("/odoo_ha_addon/", "/websocket", "/web/session/destroy")


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _authenticate_explicit(cls, auth):
        super()._authenticate_explicit(auth)
        key_id = request.session.get(SESSION_DEVICE_KEY)
        if not key_id or request.session.uid is None:
            return
        # The key may have been removed on another server sharing this database: the
        # session file is then still there, the key is not.
        if not request.env["res.users.apikeys"].sudo()._ha_device_key_exists(key_id):
            request.session.logout(keep_db=True)
            raise SessionExpiredException(
                request.env._("This device key was revoked or has expired.")
            )
        if not request.httprequest.path.startswith(DEVICE_PATH_PREFIXES):
            raise AccessDenied(request.env._("A device key opens the Home Assistant API only."))
