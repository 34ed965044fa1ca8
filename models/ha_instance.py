import asyncio
import concurrent.futures
import json
import logging
from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from .. import connector
from ..connector import channels, nodes, request_queue
from ..connector.settings import HISTORY_DOMAINS_DEFAULT, HISTORY_DOMAINS_PARAM, split_domains
from ..hass import errors
from ..hass.probe import check_connection
from ..hass.rest import HARestClient
from ..hass.urls import base_url
from .ha_entity import check_domain_list
from .ha_realtime_update import ACCESS_CHANGED
from .res_groups import MANAGER_GROUP, USER_GROUP

URL_SCHEMES = ("http", "https")
# The form's "Test connection" waits at most this long for Home Assistant to answer.
TEST_CONNECTION_TIMEOUT_S = 10.0
# ws_call waits this long for Home Assistant's answer unless told otherwise.
WS_CALL_TIMEOUT_S = 10.0
# A camera image is read whole into memory before it is sent on: refuse anything larger
# (a 4K JPEG is about 2 MB).
CAMERA_IMAGE_MAX_BYTES = 10 * 1024 * 1024
# The whole download of a camera image; a live page asks again rather than wait.
CAMERA_IMAGE_TIMEOUT_S = 5.0
# Raster images only: an SVG served from Odoo's origin could run scripts.
CAMERA_IMAGE_TYPES = frozenset(
    ("image/jpeg", "image/jpg", "image/png", "image/gif", "image/webp", "image/bmp")
)
# Changing these restarts the instance's connection, in whichever process hosts it.
CONNECTION_FIELDS = ("url", "token", "active")
# Connection statuses of hass.client.HAClient that the form has no own label for.
CLIENT_STATUS_ALIASES = {"stopped": "disconnected"}
# Client action of static/src/system_info/.
SYSTEM_INFO_ACTION = "odoo_ha_addon.system_info"

_logger = logging.getLogger(__name__)


def normalize_url(url):
    """The base URL as stored (http(s)://host[:port][/prefix], no trailing slash), from what
    people paste: a trailing slash, a ws:// URL, the /api/websocket endpoint itself.
    Left as typed when it is no URL at all, for ``_check_url`` to explain."""
    try:
        return base_url(url)
    except ValueError:
        return url


class HaInstance(models.Model):
    """One Home Assistant server Odoo connects to.

    ``url``, ``token`` and ``active`` are configured by a manager; the status fields below them
    are written by the connector that holds this instance's connection, never by a form.
    """

    _name = "ha.instance"
    _inherit = ["bus.listener.mixin"]
    _description = "Home Assistant Instance"
    _order = "sequence, id"

    name = fields.Char(required=True)
    # For Home Assistant users only: people a share grants see an instance's name and status,
    # not where it runs or what went wrong there.
    url = fields.Char(
        string="URL",
        required=True,
        groups=USER_GROUP,
        help="Base URL of the Home Assistant server, e.g. http://homeassistant.local:8123. "
        "Changing it forgets the stored access token unless a new one is pasted in the same "
        "save: a token is only ever sent to the server it was given for.",
    )
    token = fields.Char(
        string="Access Token",
        groups=MANAGER_GROUP,
        copy=False,
        help="A long-lived access token created in the Home Assistant user profile.",
    )
    # What forms show instead of the token: write-only, so the secret never reaches a browser,
    # not even a manager's (a password widget only hides what was already sent).
    token_input = fields.Char(
        string="New Access Token",
        compute="_compute_token_input",
        inverse="_inverse_token_input",
        groups=MANAGER_GROUP,
        help="Paste a long-lived access token created in the Home Assistant user profile. "
        "The stored token is never shown; pasting a new one replaces it.",
    )
    has_token = fields.Boolean(string="Token Set", compute="_compute_has_token")
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10)
    history_domains = fields.Char(
        string="Record History By Default",
        groups=USER_GROUP,
        default=lambda self: self._default_history_domains(),
        help="Entity domains, separated by commas, whose entities record history as they "
        "appear, e.g. sensor, binary_sensor. Entities already known keep their setting: use "
        "the Record history / Stop recording actions of the entity list for them.",
    )

    status = fields.Selection(
        [
            ("disconnected", "Disconnected"),
            ("connecting", "Connecting"),
            ("connected", "Connected"),
            ("auth_failed", "Authentication Failed"),
            ("unreachable", "Unreachable"),
        ],
        default="disconnected",
        required=True,
        readonly=True,
        copy=False,
    )
    status_since = fields.Datetime(readonly=True, copy=False)
    last_event_at = fields.Datetime(
        string="Last Event", readonly=True, copy=False, help="When the last state change arrived."
    )
    # What the server runs and holds is for Home Assistant users, not for people a share
    # grants a few entities.
    ha_version = fields.Char(
        string="Home Assistant Version", readonly=True, copy=False, groups=USER_GROUP
    )
    entity_count = fields.Integer(readonly=True, copy=False, groups=USER_GROUP)
    last_error = fields.Text(readonly=True, copy=False, groups=USER_GROUP)
    # Rules wait until then, or until the connection that set it has recorded the states of
    # the time without connection (connector/automation_events.py ``hold_rules``).
    rules_held_until = fields.Datetime(readonly=True, copy=False, groups=MANAGER_GROUP)
    # Read from PostgreSQL at each read: the session holding the instance's lock names its node.
    host_node = fields.Char(
        string="Hosted By",
        compute="_compute_host_node",
        groups=MANAGER_GROUP,
        help="The Odoo node (host name:process id) that holds the connection to this Home "
        "Assistant. With several Odoo servers on one database, the instances are shared out "
        "between them. Empty while no Odoo process holds it.",
    )
    # Part of the bus channel of all this instance's entities; raised when someone loses
    # manager access (see ha.realtime.update).
    bus_generation = fields.Integer(readonly=True, copy=False, default=0)
    # Which of the registries that came with Home Assistant 2024.3 and 2024.4 the server has,
    # as the connector found at its last registry read (connector/registry_floors_labels.py).
    has_floor_registry = fields.Boolean(
        string="Floor Registry", readonly=True, copy=False, groups=USER_GROUP
    )
    has_label_registry = fields.Boolean(
        string="Label Registry", readonly=True, copy=False, groups=USER_GROUP
    )
    has_category_registry = fields.Boolean(
        string="Category Registry", readonly=True, copy=False, groups=USER_GROUP
    )

    entity_ids = fields.One2many("ha.entity", "instance_id", string="Entities")
    area_ids = fields.One2many("ha.area", "instance_id", string="Areas")
    floor_ids = fields.One2many("ha.floor", "instance_id", string="Floors")
    label_ids = fields.One2many("ha.label", "instance_id", string="Labels")
    device_ids = fields.One2many("ha.device", "instance_id", string="Devices")
    group_ids = fields.One2many("ha.entity.group", "instance_id", string="Entity Groups")

    @api.model
    def _default_history_domains(self):
        text = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param(HISTORY_DOMAINS_PARAM, HISTORY_DOMAINS_DEFAULT)
        )
        return ", ".join(split_domains(text))

    def _compute_token_input(self):
        self.token_input = False

    def _inverse_token_input(self):
        for instance in self:
            if instance.token_input:
                instance.token = instance.token_input.strip()

    @api.depends("token")
    def _compute_has_token(self):
        # sudo: whether a token exists is no secret; HA users see it as a health hint.
        for instance in self:
            instance.has_token = bool(instance.sudo().token)

    def _compute_host_node(self):
        hosts = nodes.instance_hosts(self.env.cr, [i for i in self.ids if isinstance(i, int)])
        for instance in self:
            node = hosts.get(instance.id)
            instance.host_node = node.label if node else False

    @api.constrains("url")
    def _check_url(self):
        for instance in self:
            parts = urlsplit(instance.url or "")
            if parts.scheme not in URL_SCHEMES or not parts.hostname:
                raise ValidationError(
                    _(
                        "“%(url)s” is not a valid Home Assistant URL: use http:// or https:// "
                        "followed by a host name, e.g. http://homeassistant.local:8123",
                        url=instance.url,
                    )
                )
            try:
                parts.port  # noqa: B018 - raises ValueError on an out-of-range port
            except ValueError as exc:
                raise ValidationError(
                    _("“%(url)s” has an invalid port: %(error)s", url=instance.url, error=exc)
                ) from exc

    @api.constrains("history_domains")
    def _check_history_domains(self):
        for instance in self:
            check_domain_list(self.env, instance.history_domains)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("url"):
                vals["url"] = normalize_url(vals["url"])
            if vals.get("history_domains"):
                vals["history_domains"] = ", ".join(split_domains(vals["history_domains"]))
        instances = super().create(vals_list)
        instances._notify_connection_change("reload")
        # Managers' open sessions join the new instance's channel.
        realtime = self.env["ha.realtime.update"]
        for manager in self.env.ref(MANAGER_GROUP).sudo().users:
            realtime._notify_user(manager, ACCESS_CHANGED, {})
        return instances

    def write(self, vals):
        if vals.get("url"):
            vals = dict(vals, url=normalize_url(vals["url"]))
        if vals.get("token_input"):
            vals = dict(vals, token=vals["token_input"].strip())
        if vals.get("history_domains"):
            vals = dict(vals, history_domains=", ".join(split_domains(vals["history_domains"])))
        changed = self.filtered(
            lambda instance: any(
                name in vals and instance.sudo()[name] != vals[name] for name in CONNECTION_FIELDS
            )
        )
        # A token is never sent to a host it was not given for: a new URL without a new token
        # in the same save forgets the stored one.
        moved = self.filtered(lambda i: "url" in vals and i.url != vals["url"])
        if moved and not vals.get("token"):
            if moved != self:
                super(HaInstance, moved).write({"token": False})
            else:
                vals = dict(vals, token=False)
        result = super().write(vals)
        if changed:
            # A new URL or token deserves a fresh chance even after "authentication failed".
            if "url" in vals or "token" in vals:
                changed.sudo()._set_connection_status("disconnected", notify=False)
            changed._notify_connection_change("reload")
        return result

    def unlink(self):
        ids = self.ids
        result = super().unlink()
        for instance_id in ids:
            channels.notify(
                self.env.cr,
                channels.CONTROL_CHANNEL,
                json.dumps({"instance_id": instance_id, "action": "reload"}),
            )
        return result

    def _register_hook(self):
        """Start this process's connector supervisor when the registry loads (see connector/)."""
        super()._register_hook()
        if connector.autostart_allowed():
            connector.ensure_supervisor(self.env.cr.dbname)

    @api.model
    def _cron_ensure_connectors(self):
        """Watchdog: restart this process's supervisor if it died, and let it run an election
        at once (a process whose registry loaded lazily, e.g. a cron worker, becomes a
        candidate host too)."""
        if connector.autostart_allowed():
            connector.ensure_supervisor(self.env.cr.dbname).wake()

    def _notify_connection_change(self, action):
        """Tell the process hosting each instance's connection (any process, any node) to
        reload its configuration or restart; delivered when this transaction commits."""
        for instance in self:
            channels.notify(
                self.env.cr,
                channels.CONTROL_CHANNEL,
                json.dumps({"instance_id": instance.id, "action": action}),
            )

    def _set_connection_status(self, status, error=None, ha_version=None, notify=True):
        """Record what the connector reports; browsers watching the instance are told."""
        status = CLIENT_STATUS_ALIASES.get(status, status)
        for instance in self:
            vals = {}
            if instance.status != status:
                vals.update(status=status, status_since=fields.Datetime.now())
            if status == "connected":
                vals["last_error"] = False
            elif error:
                vals["last_error"] = str(error)
            if ha_version and ha_version != instance.ha_version:
                vals["ha_version"] = ha_version
            if vals:
                instance.write(vals)
        if notify:
            self.env["ha.realtime.update"]._notify_instance_status(self)

    def action_restart_connection(self):
        """Drop and re-open the Home Assistant connection, in whichever process hosts it."""
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Home Assistant managers can restart a connection."))
        # The hosting process reports the new statuses itself, as it reconnects.
        self._notify_connection_change("restart")
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Restart connection"),
                "message": _("The connection to %(name)s is being restarted.", name=self.name),
                "type": "info",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_system_info(self):
        """Open the page of what this instance's Home Assistant tells of itself: version,
        URLs, hardware, network (the ``system_info`` client action reads them through the
        API routes)."""
        self.ensure_one()
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                _("Only Home Assistant managers can see a server's system information.")
            )
        return {
            "type": "ir.actions.client",
            "tag": SYSTEM_INFO_ACTION,
            "name": _("System info: %(name)s", name=self.name),
            # active_id: the web client keeps it in the URL, so the page survives a reload.
            "context": {"active_id": self.id},
        }

    @api.model
    def _default_instance(self):
        """The instance a user with no choice of their own works on: the first active,
        configured one by (sequence, id), as the API's instance resolver finds it."""
        # sudo: the order of instances is no secret; only a URL and a token are tested here.
        # pylint: disable-next=no-search-all
        instances = self.sudo().with_context(active_test=True).search([], order="sequence, id")
        for instance in instances:
            if instance.url and instance.has_token:
                return instance.with_env(self.env)
        return self.browse()

    def _make_default(self):
        """Put this instance first by sequence, so that the resolver picks it for users who
        chose none; the other instances keep their order."""
        self.ensure_one()
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Home Assistant managers can choose the default instance."))
        if not self.active or not self.sudo().url or not self.has_token:
            raise UserError(
                _(
                    "%(name)s has no URL or access token yet, or is archived: it cannot be the "
                    "default instance.",
                    name=self.name,
                )
            )
        if self._default_instance() == self:
            return
        others = self.with_context(active_test=False).search([("id", "!=", self.id)])
        if others:
            self.sequence = min(others.mapped("sequence")) - 1

    def _check_command_access(self):
        """What ``ws_call`` and ``_camera_image`` ask first: one instance, the caller a manager
        or system code (``sudo()``), the instance not archived (``NotConnected``)."""
        self.ensure_one()
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Home Assistant managers can send commands directly."))
        if not self.active:
            raise errors.NotConnected(_("The instance %(name)s is archived.", name=self.name))

    def ws_call(self, message_type, payload=None, timeout=WS_CALL_TIMEOUT_S):
        """Send one websocket command to this instance's Home Assistant and return its result.

        Works from any Odoo process: when this process hosts the connection the command goes
        straight onto the socket, otherwise through ``ha.ws.request.queue`` (LISTEN/NOTIFY on
        a session of its own: the caller's transaction is neither committed nor rolled back).

        Raises ``hass.errors.NotConnected`` at once when no process holds a live connection,
        ``hass.errors.RequestTimeout`` after ``timeout`` seconds, ``hass.errors.CommandFailed``
        with Home Assistant's code and message.

        Reserved to managers and to system code (``sudo()``): controllers check what a user may
        do with an entity before they call this with sudo.
        """
        self._check_command_access()
        payload = dict(payload or {})
        hosted = connector.hosted_connector(self.env.cr.dbname, self.id)
        if hosted is not None:
            return self._ws_call_direct(hosted, message_type, payload, timeout)
        return request_queue.call(
            self.env.cr.dbname, self.id, message_type, payload, timeout_s=timeout, uid=self.env.uid
        )

    def _ws_call_direct(self, hosted, message_type, payload, timeout):
        future = asyncio.run_coroutine_threadsafe(
            hosted.client.call(message_type, **payload), hosted.loop
        )
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise errors.RequestTimeout(
                _("Home Assistant did not answer within %(timeout)s s", timeout=timeout)
            ) from None

    def _camera_image(self, entity_id):
        """``(content type, bytes)`` of a camera's current image, from Home Assistant's REST
        API (``/api/camera_proxy/<entity_id>``) with the instance's token, which stays here.

        Any process may ask: REST needs no websocket connection. Raises the ``hass.errors`` of
        ``HARestClient.get_binary`` (``CommandFailed`` ``http_404`` when Home Assistant knows
        no such camera). Reserved to managers and system code, like ``ws_call``: the
        controller checks that the user may read the camera first.
        """
        self._check_command_access()
        with HARestClient(self.url, self.token, timeout_s=CAMERA_IMAGE_TIMEOUT_S) as client:
            return client.get_binary(
                f"/api/camera_proxy/{entity_id}",
                max_bytes=CAMERA_IMAGE_MAX_BYTES,
                content_types=CAMERA_IMAGE_TYPES,
            )

    def action_test_connection(self):
        """Check the saved URL and token against the server and report what it answers."""
        self.ensure_one()
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Home Assistant managers can test a connection."))
        if not self.token:
            raise UserError(_("Set the access token before testing the connection."))
        try:
            info = check_connection(self.url, self.token, timeout_s=TEST_CONNECTION_TIMEOUT_S)
        except errors.AuthenticationFailed as exc:
            raise UserError(_("Authentication failed: %(reason)s", reason=exc)) from None
        except errors.NotHomeAssistant as exc:
            raise UserError(_("Not a Home Assistant server: %(reason)s", reason=exc)) from None
        except errors.CannotConnect as exc:
            reason = str(exc)  # "cannot reach <url>: <why>", made a sentence
            raise UserError(reason[:1].upper() + reason[1:]) from None
        except errors.HAError as exc:
            raise UserError(_("Connection test failed: %(reason)s", reason=exc)) from None
        # Only a new version is written: the connector of a live instance updates this row
        # all the time, and a needless write would fail on it as a concurrent update.
        if self.ha_version != info.version:
            self.ha_version = info.version
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Test connection"),
                "message": _(
                    "Connected to Home Assistant %(version)s: %(count)s entities",
                    version=info.version,
                    count=info.entity_count,
                ),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
