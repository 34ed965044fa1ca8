"""Device keys: how an outside app (a wall tablet, a phone, a script) logs in without the
user's password.

A device key is one of Odoo's own API keys (``res.users.apikeys``, stored hashed) with the
scope ``odoo_ha_addon``. ``/odoo_ha_addon/device/login`` trades it for a session that is
limited to this addon's routes and Odoo's ``/websocket`` (``ir.http``); every session opened
with a key is recorded, so removing the key (here, or from the user's Account Security
page) deletes those sessions: the next request is refused and the open socket is closed at
its next notification.
"""

import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessDenied
from odoo.http import root

from odoo.addons.base.models.res_users import INDEX_SIZE, KEY_CRYPT_CONTEXT, check_identity

_logger = logging.getLogger(__name__)

DEVICE_KEY_SCOPE = "odoo_ha_addon"
CREDENTIAL_TYPE = "odoo_ha_addon_device_key"
# Session key naming the device key a session was opened with.
SESSION_DEVICE_KEY = "odoo_ha_addon_device_key_id"
DEFAULT_KEY_DAYS = 90


class ResUsers(models.Model):
    _inherit = "res.users"

    def _check_credentials(self, credential, user_agent_env):
        if credential.get("type") != CREDENTIAL_TYPE:
            return super()._check_credentials(credential, user_agent_env)
        key_id = self.env["res.users.apikeys"]._ha_device_key_id(credential.get("key"), self.id)
        if not key_id:
            raise AccessDenied()
        return {"uid": self.id, "auth_method": CREDENTIAL_TYPE, "mfa": "skip", "key_id": key_id}


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    @api.model
    def _ha_device_key_id(self, key, user_id):
        """The id of ``user_id``'s valid device key ``key``, or None. Odoo's own check, with
        the key's id (which Odoo's ``_check_credentials`` does not give)."""
        if not isinstance(key, str) or len(key) < INDEX_SIZE:
            return None
        self.env.cr.execute(
            f"""
            SELECT id, key FROM {self._table}
             WHERE user_id = %s AND index = %s AND scope = %s
               AND (expiration_date IS NULL OR expiration_date >= now() at time zone 'utc')
            """,
            (user_id, key[:INDEX_SIZE], DEVICE_KEY_SCOPE),
        )
        for key_id, hashed in self.env.cr.fetchall():
            if KEY_CRYPT_CONTEXT.verify(key, hashed):
                return key_id
        return None

    @api.model
    def _ha_device_key_exists(self, key_id):
        self.env.cr.execute(
            f"SELECT 1 FROM {self._table} WHERE id = %s"
            " AND (expiration_date IS NULL OR expiration_date >= now() at time zone 'utc')",
            (key_id,),
        )
        return bool(self.env.cr.fetchone())

    def unlink(self):
        self.env["ha.device.session"].sudo()._revoke_keys(self.ids)
        return super().unlink()

    def action_ha_revoke(self):
        """Revoke device keys from the Outside apps list (identity checked, as Odoo does
        for every API key removal)."""
        return self.remove()


class HaDeviceSession(models.Model):
    """A session opened with a device key, so that removing the key ends it."""

    _name = "ha.device.session"
    _description = "Home Assistant Device Session"
    _log_access = False

    key_id = fields.Integer(required=True, index=True)
    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    session_identifier = fields.Char(required=True)
    created = fields.Datetime(default=fields.Datetime.now, required=True)

    @api.model
    def _record(self, key_id, user_id, sid):
        self.sudo().create({"key_id": key_id, "user_id": user_id, "session_identifier": sid[:42]})

    @api.model
    def _revoke_keys(self, key_ids):
        """Delete every session opened with one of ``key_ids``."""
        sessions = self.search([("key_id", "in", list(key_ids))])
        if not sessions:
            return
        root.session_store.delete_from_identifiers(sessions.mapped("session_identifier"))
        _logger.info(
            "Device key(s) %s revoked: %d session(s) ended", sorted(key_ids), len(sessions)
        )
        sessions.unlink()


class HaDeviceKeyWizard(models.TransientModel):
    """Connect an outside app: make a device key, shown once."""

    _name = "ha.device.key.wizard"
    _description = "Connect an Outside App"

    name = fields.Char(
        string="Device", required=True, help="e.g. Hall tablet: to recognise it when revoking."
    )
    expiration_date = fields.Datetime(
        string="Expires",
        default=lambda self: fields.Datetime.now() + timedelta(days=DEFAULT_KEY_DAYS),
        help="Odoo limits how long your keys may live (Settings, Users, Groups).",
    )
    key = fields.Char(readonly=True)

    @check_identity
    def action_make_key(self):
        self.ensure_one()
        if self.key:
            raise AccessDenied(_("This key was already shown."))
        self.key = self.env["res.users.apikeys"]._generate(
            DEVICE_KEY_SCOPE, self.name, self.expiration_date
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "views": [(self.env.ref("odoo_ha_addon.ha_device_key_wizard_view_key").id, "form")],
            "target": "new",
            "name": _("Your device key"),
        }
