"""Device keys: how an outside app (a wall tablet, a phone, a script) logs in without the
user's password.

A device key is one of Odoo's own API keys (``res.users.apikeys``, stored hashed) with the
scope ``odoo_ha_addon``. ``/odoo_ha_addon/device/login`` trades it for a session that is
limited to this addon's routes and Odoo's ``/websocket`` (``ir.http``); every session opened
with a key is recorded, so removing the key (here, or from the user's Account Security
page) deletes those sessions: the next request is refused and the open socket is closed at
its next notification.

A device-key session is the app, not the person: over Odoo's bus it joins only the Home
Assistant channels of its user (models/ir_websocket.py), never mail, Discuss, presence or the
partner channel. Its channel list also names its key, and every dispatch to that socket
checks that the key is still there and not expired (``bus.bus._poll``): the socket closes at
its next notification however the key went away (removed here, from Account Security, or
expired and deleted by Odoo's own clean-up, which deletes with SQL and calls no ``unlink``).

That check is shared by the sockets of a process (``DeviceKeyCheck``): one bus notification
wakes every socket that listens to its channel, and a query per socket made each dispatch of
a device socket hold its pooled connection a third longer (docs/PERFORMANCE.md, "Prefork +
gevent"). The first dispatch that delivers a notification newer than the last check reads
every key the process serves, with their expiry, in one query; the others compare the expiry
with the clock. A key removed after that check is thus seen at the first notification
numbered after it (removing it through the ORM also ends its sessions at once).
"""

import logging
import threading
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessDenied
from odoo.http import SessionExpiredException, root

from odoo.addons.base.models.res_users import INDEX_SIZE, KEY_CRYPT_CONTEXT, check_identity

_logger = logging.getLogger(__name__)

DEVICE_KEY_SCOPE = "odoo_ha_addon"
CREDENTIAL_TYPE = "odoo_ha_addon_device_key"
# Session key naming the device key a session was opened with.
SESSION_DEVICE_KEY = "odoo_ha_addon_device_key_id"
DEFAULT_KEY_DAYS = 90
# Subchannel naming a device key in its sessions' bus channel list; nothing is sent on it.
DEVICE_KEY_SUBCHANNEL = "odoo_ha_addon_device_key"


class DeviceKeyCheck:
    """The device keys of one database as of one bus notification: which exist (their expiry,
    or None) among those the sockets of this process use. Replaced, never changed."""

    def __init__(self, bus_id, expiries):
        self.bus_id = bus_id
        self.expiries = expiries

    def current(self, key_ids, now):
        """Whether each of ``key_ids`` was there at the check and has not expired since."""
        return all(
            key_id in self.expiries
            and (self.expiries[key_id] is None or self.expiries[key_id] >= now)
            for key_id in key_ids
        )


# Per database: the keys the sockets of this process use, and the last check of them.
_served_keys = {}
_key_checks = {}
_served_keys_lock = threading.Lock()


def session_device_key_id(session):
    """The id of the device key ``session`` was opened with; None for any other session."""
    return session.get(SESSION_DEVICE_KEY) if session else None


def device_key_channel(env, key_id):
    return (env["res.users.apikeys"].browse(key_id), DEVICE_KEY_SUBCHANNEL)


def device_key_ids_of(channels):
    """The device keys named in ``channels`` (as the bus keeps them, with the database)."""
    return [
        channel[2]
        for channel in channels
        if isinstance(channel, (tuple, list))
        and len(channel) == 4
        and channel[1] == "res.users.apikeys"
        and channel[3] == DEVICE_KEY_SUBCHANNEL
    ]


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

    @api.model
    def _ha_device_keys_current(self, key_ids, bus_id):
        """Whether the device keys ``key_ids`` are there and not expired, for delivering bus
        notifications up to ``bus_id`` (see the module docstring)."""
        dbname = self.env.cr.dbname
        with _served_keys_lock:
            served = _served_keys.setdefault(dbname, set())
            served.update(key_ids)
        check = _key_checks.get(dbname)
        if (
            check is None
            or check.bus_id < bus_id
            or not all(key_id in check.expiries for key_id in key_ids)
        ):
            with _served_keys_lock:
                keys = list(served)
            # One snapshot for both: the keys as they were when that notification was there.
            self.env.cr.execute(
                f"""
                SELECT (SELECT coalesce(max(id), 0) FROM bus_bus),
                       array_agg(id), array_agg(expiration_date)
                  FROM {self._table} WHERE id = ANY(%s)
                """,
                (keys,),
            )
            last_bus_id, ids, expiries = self.env.cr.fetchone()
            check = DeviceKeyCheck(last_bus_id, dict(zip(ids or [], expiries or [], strict=True)))
            _key_checks[dbname] = check
        return check.current(key_ids, fields.Datetime.now())

    @api.model
    def _ha_check_device_socket(self, channels, notifications, key_ids=None):
        """Raise SessionExpiredException if ``channels`` name a device key that is gone or
        expired; the socket is then closed instead of getting ``notifications``.
        ``key_ids``: the keys ``channels`` name, when the caller knows them already."""
        if key_ids is None:
            key_ids = device_key_ids_of(channels)
        if key_ids:
            newest = max((notification["id"] for notification in notifications), default=0)
            if not self._ha_device_keys_current(key_ids, newest):
                raise SessionExpiredException(
                    self.env._("This device key was revoked or has expired.")
                )

    def unlink(self):
        self.env["ha.device.session"].sudo()._revoke_keys(self.ids)
        return super().unlink()

    def action_ha_revoke(self):
        """Revoke device keys from the Outside apps list (identity checked, as Odoo does
        for every API key removal)."""
        return self.remove()


class BusBus(models.Model):
    _inherit = "bus.bus"

    @api.model
    def _poll(self, channels, last=0, ignore_ids=None):
        # Every dispatch to a socket (and every peek) of a device-key session passes here,
        # or through the same check in bus_batch.py.
        notifications = super()._poll(channels, last, ignore_ids)
        self.env["res.users.apikeys"]._ha_check_device_socket(channels, notifications)
        return notifications


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

    @api.autovacuum
    def _gc_sessions_of_gone_keys(self):
        """End the sessions of keys that expired or were deleted without ``unlink`` (Odoo's
        own clean-up of expired keys deletes them with SQL)."""
        self.env.cr.execute(
            """
            SELECT DISTINCT session.key_id
              FROM ha_device_session session
              LEFT JOIN res_users_apikeys apikey
                ON apikey.id = session.key_id
               AND (apikey.expiration_date IS NULL
                    OR apikey.expiration_date >= now() at time zone 'utc')
             WHERE apikey.id IS NULL
            """
        )
        key_ids = [key_id for (key_id,) in self.env.cr.fetchall()]
        if key_ids:
            self._revoke_keys(key_ids)


class HaDeviceKeyWizard(models.TransientModel):
    """Connect an outside app: name the device and choose the expiry, then make the key.

    The key itself is never stored: like Odoo's own API keys, it is handed to a form of the
    non-stored ``ha.device.key.show`` through the action's context, and this row is deleted.
    A record rule keeps each row to the user who made it."""

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

    @check_identity
    def action_make_key(self):
        self.ensure_one()
        name, expiration_date = self.name, self.expiration_date
        key = self.env["res.users.apikeys"]._generate(DEVICE_KEY_SCOPE, name, expiration_date)
        self.unlink()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ha.device.key.show",
            "view_mode": "form",
            "views": [(self.env.ref("odoo_ha_addon.ha_device_key_show_view_form").id, "form")],
            "target": "new",
            "name": _("Your device key"),
            "context": {"default_key": key, "default_name": name},
        }


class HaDeviceKeyShow(models.AbstractModel):
    """The made key, shown once: a form with no table behind it (as ``res.users.apikeys.show``)."""

    _name = "ha.device.key.show"
    _description = "Your Device Key"

    # The form's onchange needs an id to return the default values.
    id = fields.Id()
    name = fields.Char(string="Device", readonly=True)
    key = fields.Char(readonly=True)
