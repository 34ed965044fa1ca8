"""JSON API of the Home Assistant addon: ``/odoo_ha_addon/<name>``.

Every route is ``type="json"``, ``auth="user"`` and answers
``{"success": bool, "data": ..., "error": str | None, "error_type": str | None}``. Routes run
with the user's environment; the few sudo() calls below come after an explicit access check
and say why. Read routes read Odoo's mirror of Home Assistant and never trigger a sync.
"""

import logging
from datetime import timedelta

from odoo import _, fields, http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

from ..hass import errors
from ..models.ha_entity_share import SHARE_NOW_KEY
from ..models.ha_realtime_update import INSTANCE_STATUS_FIELDS, USER_ONLY_STATUS_FIELDS
from ..models.ha_service_policy import SERVICE_CALL_TIMEOUT_S, refusal_message
from ..models.ha_service_request import RepeatedError
from ..models.res_groups import MANAGER_GROUP, USER_GROUP
from ..policy.services import SLUG_RE
from . import instance_resolver
from .params import REQUEST_ID_RE, ApiError, Params

_logger = logging.getLogger(__name__)

PREFIX = "/odoo_ha_addon"
# Kinds of Home Assistant's search/related answer that list entities.
RELATED_ENTITY_KINDS = ("automation", "script", "scene")
HISTORY_DEFAULT_RANGE = timedelta(hours=24)
HISTORY_MAX_RANGE = timedelta(days=366)
HISTORY_MAX_ENTITIES = 20
# Server information: the Supervisor endpoint, then the core websocket command that gives it.
SERVER_INFO_SOURCES = {
    "hardware_info": ("/hardware/info", "hardware/info"),
    "network_info": ("/network/info", "network"),
}


# Expected failures and their error types, first match wins (AccessError is a UserError).
FAILURE_TYPES = (
    (AccessError, "access_denied"),
    (errors.NotConnected, "not_connected"),
    (errors.RequestTimeout, "timeout"),
    (errors.CommandFailed, "command_failed"),
    (errors.HAError, "ha_error"),
    (UserError, "invalid_input"),
)


def _failure(error):
    """(message, error type) of an expected failure; None for an unexpected one."""
    if isinstance(error, (ApiError, RepeatedError)):
        return str(error), error.error_type
    for kind, error_type in FAILURE_TYPES:
        if isinstance(error, kind):
            message = error.message if isinstance(error, errors.CommandFailed) else str(error)
            return message, error_type
    return None


def _failure_or_unexpected(error):
    """(message, error type) of any failure, unexpected ones included."""
    return _failure(error) or (_("An unexpected error occurred; it was logged."), "internal_error")


def _envelope(data=None, error=None, error_type=None):
    return {"success": error is None, "data": data, "error": error, "error_type": error_type}


def api_route(name):
    """Declare ``/odoo_ha_addon/<name>``: validate params, map every failure to the envelope."""

    def decorate(method):
        def endpoint(self, **params):
            # One instant for every share check of the request: a share that expires while
            # it runs is current for all of it or none of it (never listed, then refused).
            request.update_context(
                **{SHARE_NOW_KEY: fields.Datetime.to_string(fields.Datetime.now())}
            )
            try:
                return _envelope(data=method(self, Params(params)))
            except Exception as error:
                failure = _failure(error)
                if failure is None:
                    _logger.exception("Home Assistant API %s failed", name)
                    failure = (
                        _("An unexpected error occurred; it was logged."),
                        "internal_error",
                    )
            # Whatever the route wrote before failing is undone: errors change nothing.
            request.env.cr.rollback()
            return _envelope(error=failure[0], error_type=failure[1])

        # Name and docstring only: Odoo passes a route the parameters its signature names, and
        # functools.wraps would expose ``method(self, params)`` instead of ``**params``.
        endpoint.__name__ = endpoint.__qualname__ = method.__name__
        endpoint.__doc__ = method.__doc__
        return http.route(
            f"{PREFIX}/{name}", type="json", auth="user", methods=["POST"], readonly=False
        )(endpoint)

    return decorate


def _is_manager(env):
    return env.user.has_group(MANAGER_GROUP)


def _is_ha_user(env):
    return env.user.has_group(USER_GROUP)


def _instance_data(instance, current_id=None):
    """What pages show of an instance. People a share grants (not Home Assistant users) get
    its name and status only: not its URL, not its last error."""
    ha_user = _is_ha_user(instance.env)
    data = {
        "id": instance.id,
        "name": instance.name,
        "url": instance.url if ha_user else None,
        "current": instance.id == current_id,
    }
    for name in INSTANCE_STATUS_FIELDS:
        if name in USER_ONLY_STATUS_FIELDS and not ha_user:
            data[name] = None
            continue
        value = instance[name]
        data[name] = (
            fields.Datetime.to_string(value)
            if name.endswith(("_since", "_at")) and value
            else value
        )
    return data


def readable_entities(env, instance, entity_ids):
    """The entities among ``entity_ids`` of ``instance`` that the user of ``env`` may read, in
    the order of ``entity_ids``: what the record rules allow (managers all, Home Assistant
    users their groups' entities, anyone a current share's). Every route that names entities
    goes through this (``ha.service.policy._readable_entities``)."""
    return env["ha.service.policy"]._readable_entities(instance, entity_ids)


# The sentence of a refusal of policy/services.py (the service-call policy's, in the model).
_refusal_message = refusal_message


class HaApiController(http.Controller):
    # Instances -----------------------------------------------------------------------------

    @api_route("instances")
    def instances(self, params):
        params.done()
        env = request.env
        try:
            current = instance_resolver.resolve_instance(env).id
        except ApiError:
            current = None
        instances = env["ha.instance"].search([], order="sequence, id")
        return {
            "current_instance_id": current,
            "instances": [_instance_data(i, current) for i in instances],
            "channels_version": env["ha.realtime.update"]._channels_version(env.user),
        }

    @api_route("switch_instance")
    def switch_instance(self, params):
        instance_id = params.record_id("ha_instance_id", required=True)
        params.done()
        instance = instance_resolver.switch_instance(request.env, instance_id)
        return _instance_data(instance, instance.id)

    @api_route("websocket_status")
    def websocket_status(self, params):
        instance = self._instance(params)
        params.done()
        data = _instance_data(instance, instance.id)
        data["connected"] = instance.status == "connected"
        return data

    @api_route("websocket_restart")
    def websocket_restart(self, params):
        instance = self._instance(params)
        params.done()
        if not _is_manager(request.env):
            raise ApiError(
                _("Only Home Assistant managers can restart a connection."), "access_denied"
            )
        instance.action_restart_connection()
        return {"instance_id": instance.id, "restarting": True}

    # Server information ----------------------------------------------------------------------

    @api_route("ha_urls")
    def ha_urls(self, params):
        instance = self._instance(params)
        params.done()
        self._require_manager()
        urls = {"url": instance.url, "internal_url": None, "external_url": None}
        try:
            config = instance.ws_call("get_config", timeout=SERVICE_CALL_TIMEOUT_S)
        except errors.NotConnected:
            return urls
        urls.update(
            internal_url=config.get("internal_url"), external_url=config.get("external_url")
        )
        return urls

    @api_route("hardware_info")
    def hardware_info(self, params):
        instance = self._instance(params)
        params.done()
        return self._server_info(instance, "hardware_info")

    @api_route("network_info")
    def network_info(self, params):
        instance = self._instance(params)
        params.done()
        return self._server_info(instance, "network_info")

    def _server_info(self, instance, name):
        """Ask the Supervisor (Home Assistant OS and Supervised installs), then the core
        integration that offers a part of it; neither: ``not_supported``."""
        self._require_manager()
        endpoint, core_command = SERVER_INFO_SOURCES[name]
        server = instance
        attempts = (
            ("supervisor", "supervisor/api", {"endpoint": endpoint, "method": "get"}),
            ("core", core_command, {}),
        )
        for source, message_type, payload in attempts:
            try:
                result = server.ws_call(message_type, payload, timeout=SERVICE_CALL_TIMEOUT_S)
            except errors.CommandFailed as error:
                if error.code in ("unknown_command", "not_found", "home_assistant_error"):
                    continue
                raise
            return {"source": source, "info": result}
        raise ApiError(
            _(
                "This Home Assistant installation does not provide this information: it needs "
                "the Home Assistant Supervisor (Home Assistant OS or a Supervised install)."
            ),
            "not_supported",
        )

    # Areas and entities ----------------------------------------------------------------------

    @api_route("areas")
    def areas(self, params):
        instance = self._instance(params)
        params.done()
        env = request.env
        counts = dict(
            env["ha.entity"]._read_group(
                [("instance_id", "=", instance.id)], ["area_id"], ["__count"]
            )
        )
        areas = env["ha.area"].search([("instance_id", "=", instance.id)])
        data = [
            {
                "id": a.id,
                "area_id": a.area_id,
                "name": a.name,
                "icon": a.icon or None,
                "entity_count": counts.get(a, 0),
            }
            for a in areas
        ]
        return {"areas": data, "unassigned_count": counts.get(env["ha.area"], 0)}

    @api_route("entities")
    def entities(self, params):
        """Every entity of the instance the user may read, with the instance's areas: what a
        dashboard needs to render in one call."""
        instance = self._instance(params)
        params.done()
        env = request.env
        entities = env["ha.entity"].search(
            [("instance_id", "=", instance.id)], order="name, entity_id"
        )
        return {
            "instance": _instance_data(instance, instance.id),
            # areas and devices, read as the user
            **env["ha.realtime.update"]._registry_payload(instance),
            "entities": entities._api_data(env.user),
            "can_manage": _is_manager(env),
        }

    @api_route("entities_by_area")
    def entities_by_area(self, params):
        instance = self._instance(params)
        area_id = params.record_id("area_id")
        params.done()
        domain = [("instance_id", "=", instance.id), ("area_id", "=", area_id or False)]
        entities = request.env["ha.entity"].search(domain, order="name, entity_id")
        return {"area_id": area_id, "entities": entities._api_data(request.env.user)}

    @api_route("entity_states")
    def entity_states(self, params):
        instance = self._instance(params)
        entity_ids = params.entity_ids("entity_ids", required=True)
        params.done()
        entities = self._entities(instance, entity_ids)
        found = set(entities.mapped("entity_id"))
        # Entities the user may not read are "unknown" like missing ones: no existence leak.
        return {
            "entities": entities._api_data(request.env.user),
            "unknown": [e for e in entity_ids if e not in found],
        }

    @api_route("call_service")
    def call_service(self, params):
        instance = self._instance(params)
        domain = params.string("domain", required=True, pattern=SLUG_RE)
        service = params.string("service", required=True, pattern=SLUG_RE)
        entity_ids = params.entity_ids("entity_id")
        service_data = params.service_data("service_data")
        request_id = params.string("request_id", pattern=REQUEST_ID_RE)
        params.done()
        # Managers: any service, any target; anyone else: only on entities they control, only
        # what their controls do (AccessError or UserError otherwise: see ha.service.policy).
        payload = request.env["ha.service.policy"]._service_call_payload(
            instance, domain, service, entity_ids, service_data
        )
        answer = {"domain": domain, "service": service, "entity_ids": entity_ids}

        def call():
            # sudo: ws_call is reserved to managers and system code; a plain user's call was
            # checked above (entities they control, what their controls do).
            result = instance.sudo().ws_call(
                "call_service", payload, timeout=SERVICE_CALL_TIMEOUT_S
            )
            return {**answer, "result": result, "repeated": False}

        if request_id:
            # A repeat of request_id answers what the first one answered.
            return request.env["ha.service.request"]._call_once(
                request_id, call, _failure_or_unexpected, SERVICE_CALL_TIMEOUT_S + 5
            )
        return call()

    @api_route("entity_related")
    def entity_related(self, params):
        """What uses an entity in Home Assistant (its ``search/related``): automations,
        scripts and scenes, its device and area; only what the user may read in Odoo."""
        instance = self._instance(params)
        entity_ids = params.entity_ids("entity_id", required=True, max_items=1)
        params.done()
        if not self._entities(instance, entity_ids):
            raise ApiError(
                _("Unknown entity or no access: %(ids)s", ids=entity_ids[0]), "access_denied"
            )
        # sudo: ws_call is for managers and system code; the user may read this entity, and
        # the answer is narrowed below to what the user may read.
        related = instance.sudo().ws_call(
            "search/related",
            {"item_type": "entity", "item_id": entity_ids[0]},
            timeout=SERVICE_CALL_TIMEOUT_S,
        )
        env = request.env
        by_kind = {kind: set(related.get(kind) or ()) for kind in RELATED_ENTITY_KINDS}
        readable = {
            entity.entity_id: entity
            for entity in self._entities(instance, sorted(set().union(*by_kind.values())))
        }
        data = {
            kind: [
                {"id": readable[e].id, "entity_id": e, "name": readable[e].display_name}
                for e in sorted(ids)
                if e in readable
            ]
            for kind, ids in by_kind.items()
        }
        for kind, model, field in (
            ("device", "ha.device", "device_id"),
            ("area", "ha.area", "area_id"),
        ):
            records = env[model].search(
                [("instance_id", "=", instance.id), (field, "in", list(related.get(kind) or ()))]
            )
            data[kind] = [{"id": r.id, "name": r.display_name} for r in records]
        return data

    # Shares --------------------------------------------------------------------------------

    @api_route("shared_entities")
    def shared_entities(self, params):
        """What the user's current shares grant, by instance and area (the portal page)."""
        params.done()
        return request.env["ha.entity.share"]._shared_with_me()

    # History -------------------------------------------------------------------------------

    @api_route("entity_history")
    def entity_history(self, params):
        instance = self._instance(params)
        entity_ids = params.entity_ids("entity_ids", required=True, max_items=HISTORY_MAX_ENTITIES)
        end = params.datetime("end") or fields.Datetime.now()
        start = params.datetime("start") or end - HISTORY_DEFAULT_RANGE
        max_points = params.integer("max_points", default=300, minimum=10, maximum=2000)
        params.done()
        if not start < end or end - start > HISTORY_MAX_RANGE:
            raise ApiError(
                _("The time range must be positive and at most a year."), "invalid_input"
            )
        entities = self._entities(instance, entity_ids)
        if len(entities) != len(entity_ids):
            raise ApiError(
                _(
                    "Unknown entity or no access: %(ids)s",
                    ids=", ".join(sorted(set(entity_ids) - set(entities.mapped("entity_id"))))[
                        :200
                    ],
                ),
                "access_denied",
            )
        closed = entities - entities._history_readable_by(request.env.user)
        if closed:
            # A share grants an entity's state, not its past.
            raise ApiError(
                _(
                    "You may not read the history of %(ids)s.",
                    ids=", ".join(closed.mapped("entity_id"))[:200],
                ),
                "access_denied",
            )
        series = request.env["ha.entity.history"]._api_series(entities, start, end, max_points)
        return {
            "start": fields.Datetime.to_string(start),
            "end": fields.Datetime.to_string(end),
            "series": series,
        }

    # Helpers -------------------------------------------------------------------------------

    def _require_manager(self):
        """What Home Assistant says of its host (addresses, interfaces, hardware, URLs) is for
        the managers who run it, as the System info page."""
        if not _is_manager(request.env):
            raise ApiError(
                _("Only Home Assistant managers may see the server's details."), "access_denied"
            )

    def _instance(self, params):
        return instance_resolver.resolve_instance(request.env, params.record_id("ha_instance_id"))

    def _entities(self, instance, entity_ids):
        return readable_entities(request.env, instance, entity_ids)
