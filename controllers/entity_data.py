"""What some entity domains show beyond their state, asked of Home Assistant when a page needs
it: a camera's current image, a to-do list's items, a calendar's events, a weather forecast.

Every route names one entity and serves one domain. It first checks, with the user's
environment, that the user may read that entity through the ORM (Home Assistant users through
their groups, managers, anyone through a current share: ``readable_entities``, the rule of
every route), and only then asks Home Assistant, with the instance's token, which never
leaves the server. Nothing here writes: a refusal changes nothing.

``camera_snapshot`` answers the image itself (an ``<img src>`` needs bytes, not JSON) and its
refusals as HTTP statuses with a short text; the others are JSON routes with the API's
envelope (controllers/main.py).
"""

import logging
import re
from datetime import UTC, datetime, timedelta

from odoo import _, http
from odoo.exceptions import AccessError
from odoo.http import request

from ..hass import errors
from . import instance_resolver
from .main import PREFIX, SERVICE_CALL_TIMEOUT_S, api_route, readable_entities
from .params import ENTITY_ID_RE, ApiError, invalid

_logger = logging.getLogger(__name__)

CALENDAR_DEFAULT_DAYS = 7
CALENDAR_MAX_DAYS = 31
FORECAST_TYPES = ("daily", "hourly")
# domain (64) + "." + object id (255): the longest id ENTITY_ID_RE accepts.
MAX_ENTITY_ID_CHARS = 320
# An instance id in a query string, as text: what Params.record_id accepts as a number.
QUERY_RECORD_ID_RE = re.compile(r"^[1-9][0-9]{0,9}$")
MAX_RECORD_ID = 2**31 - 1
# The camera route's HTTP status for each refusal: it answers an image, not the envelope.
SNAPSHOT_STATUS = {
    "invalid_input": 400,
    "access_denied": 403,
    "instance_not_found": 403,
    "not_found": 404,
    "instance_inactive": 503,
    "instance_not_configured": 503,
}
SNAPSHOT_HEADERS = [
    # A camera changes from one request to the next, and a shared image must not outlive
    # the share in a cache.
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'"),
]


def _entity_param(params, domain):
    """The ``entity_id`` param: one entity id of ``domain``."""
    entity_id = params.string(
        "entity_id", required=True, pattern=ENTITY_ID_RE, max_length=MAX_ENTITY_ID_CHARS
    )
    if entity_id.partition(".")[0] != domain:
        raise invalid(_("%(entity)s is not a %(domain)s entity.", entity=entity_id, domain=domain))
    return entity_id


def _instance_reading(entity_id, instance_id):
    """The instance the request works on (see instance_resolver), once the user is known to
    read ``entity_id`` there."""
    env = request.env
    instance = instance_resolver.resolve_instance(env, instance_id)
    if not readable_entities(env, instance, [entity_id]):
        # Unknown and unreadable get one answer: an id tells nothing of what exists.
        raise ApiError(_("Unknown entity or no access: %(ids)s", ids=entity_id), "access_denied")
    return instance


def _service_response(instance, domain, service, entity_id, service_data):
    """What a service that answers (``return_response``) answers for ``entity_id``."""
    # sudo: ws_call is for managers and system code; the user may read this entity, and the
    # services called here only read.
    result = instance.sudo().ws_call(
        "call_service",
        {
            "domain": domain,
            "service": service,
            "service_data": service_data,
            "target": {"entity_id": [entity_id]},
            "return_response": True,
        },
        timeout=SERVICE_CALL_TIMEOUT_S,
    )
    answer = ((result or {}).get("response") or {}).get(entity_id)
    return answer if isinstance(answer, dict) else {}


def _todo_item(item):
    data = {name: item.get(name) for name in ("uid", "summary", "status")}
    # Home Assistant leaves out what the list does not have (a shopping list has no dates).
    data.update({name: item[name] for name in ("due", "description") if item.get(name)})
    return data


def _calendar_event(event):
    start = event.get("start")
    data = {
        "summary": event.get("summary") or "",
        "start": start,
        "end": event.get("end"),
        # An all-day event starts on a date, a timed one at a date-time.
        "all_day": isinstance(start, str) and "T" not in start,
    }
    data.update({name: event[name] for name in ("location", "description") if event.get(name)})
    return data


def _moment(value):
    """An event's start or end as an aware date-time, to sort by; an all-day event's date
    counts from its midnight in UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return datetime.max.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _query_record_id(name, value):
    """An optional record id given in a query string."""
    if value in (None, ""):
        return None
    if not QUERY_RECORD_ID_RE.match(value) or int(value) > MAX_RECORD_ID:
        raise invalid(_("“%(name)s” must be a positive integer id.", name=name))
    return int(value)


# What Home Assistant may fail with, as the camera route's (HTTP status, text); first match wins.
SNAPSHOT_HA_FAILURES = (
    (errors.CannotConnect, 503, lambda: _("Home Assistant cannot be reached.")),
    (errors.NotConnected, 503, lambda: _("Home Assistant cannot be reached.")),
    (
        errors.RequestTimeout,
        504,
        lambda: _("Home Assistant did not send the camera image in time."),
    ),
    (errors.ResponseTooLarge, 502, lambda: _("The camera image is too large.")),
    (errors.HAError, 502, lambda: _("Home Assistant could not give the camera image.")),
)


def _snapshot_failure(error, entity_id):
    """(HTTP status, short text) of a camera image the route does not send; None for an
    unexpected failure."""
    if isinstance(error, ApiError):
        return SNAPSHOT_STATUS.get(error.error_type, 400), str(error)
    if isinstance(error, AccessError):
        return 403, str(error)
    if not isinstance(error, errors.HAError):
        return None
    # The details name the server's URL: for the log, not for people a share grants.
    _logger.info("Camera image of %s not available: %s", entity_id, error)
    if isinstance(error, errors.CommandFailed) and error.code == "http_404":
        return 404, _("Home Assistant knows no camera %(entity)s.", entity=entity_id)
    return next(
        (status, text()) for kind, status, text in SNAPSHOT_HA_FAILURES if isinstance(error, kind)
    )


class HaEntityDataController(http.Controller):
    @http.route(
        f"{PREFIX}/camera_snapshot", type="http", auth="user", methods=["GET"], readonly=False
    )
    def camera_snapshot(self, entity_id=None, ha_instance_id=None, **_ignored):
        """The current image of the camera ``entity_id``, with Home Assistant's content type.

        Other query params are ignored: pages add one to defeat caches. Refusals: 400 bad
        params, 403 no access (unknown cameras too), 404 not a camera or unknown to Home
        Assistant, 502 Home Assistant failed, 503 cannot be reached, 504 too slow.
        """
        try:
            if not isinstance(entity_id, str) or not ENTITY_ID_RE.match(entity_id):
                raise invalid(_("“entity_id” must be an entity id like camera.front_door."))
            instance_id = _query_record_id("ha_instance_id", ha_instance_id)
            if entity_id.partition(".")[0] != "camera":
                raise ApiError(_("%(entity)s is not a camera.", entity=entity_id), "not_found")
            instance = _instance_reading(entity_id, instance_id)
            # sudo: the instance's URL and token are read here, on the server; the user may
            # read this camera.
            content_type, image = instance.sudo()._camera_image(entity_id)
        except Exception as error:
            failure = _snapshot_failure(error, str(entity_id)[:80])
            if failure is None:
                _logger.exception("Camera image of %s failed", str(entity_id)[:80])
                failure = 500, _("An unexpected error occurred; it was logged.")
            status, message = failure
            # Whatever resolving the instance wrote is undone: a refusal changes nothing.
            request.env.cr.rollback()
            return request.make_response(
                message,
                headers=[("Content-Type", "text/plain; charset=utf-8"), *SNAPSHOT_HEADERS],
                status=status,
            )
        return request.make_response(
            image, headers=[("Content-Type", content_type), *SNAPSHOT_HEADERS]
        )

    @api_route("todo_items")
    def todo_items(self, params):
        """The items of a to-do list: ``{items: [{uid, summary, status, due?, description?}]}``
        in Home Assistant's order (its ``todo/item/list``)."""
        entity_id = _entity_param(params, "todo")
        instance_id = params.record_id("ha_instance_id")
        params.done()
        instance = _instance_reading(entity_id, instance_id)
        # sudo: ws_call is for managers and system code; the user may read this list.
        result = instance.sudo().ws_call(
            "todo/item/list", {"entity_id": entity_id}, timeout=SERVICE_CALL_TIMEOUT_S
        )
        items = (result or {}).get("items") or []
        return {"items": [_todo_item(item) for item in items if isinstance(item, dict)]}

    @api_route("calendar_events")
    def calendar_events(self, params):
        """The events of a calendar from now to ``days`` days later, by start:
        ``{events: [{summary, start, end, all_day, location?, description?}]}`` (Home
        Assistant's ``calendar.get_events``; an all-day event's start and end are dates)."""
        entity_id = _entity_param(params, "calendar")
        instance_id = params.record_id("ha_instance_id")
        days = params.integer(
            "days", default=CALENDAR_DEFAULT_DAYS, minimum=1, maximum=CALENDAR_MAX_DAYS
        )
        params.done()
        instance = _instance_reading(entity_id, instance_id)
        start = datetime.now(UTC).replace(microsecond=0)
        period = {
            "start_date_time": start.isoformat(),
            "end_date_time": (start + timedelta(days=days)).isoformat(),
        }
        response = _service_response(instance, "calendar", "get_events", entity_id, period)
        events = [_calendar_event(e) for e in response.get("events") or [] if isinstance(e, dict)]
        events.sort(key=lambda event: (_moment(event["start"]), _moment(event["end"])))
        return {"events": events}

    @api_route("weather_forecast")
    def weather_forecast(self, params):
        """A weather entity's forecast of ``type`` daily or hourly: ``{forecast: [...]}``, each
        item as Home Assistant's ``weather.get_forecasts`` gives it (datetime, condition,
        temperature...). An entity without that kind of forecast: ``command_failed``."""
        entity_id = _entity_param(params, "weather")
        instance_id = params.record_id("ha_instance_id")
        forecast_type = params.string("type", max_length=16) or FORECAST_TYPES[0]
        if forecast_type not in FORECAST_TYPES:
            raise invalid(_("“type” must be daily or hourly."))
        params.done()
        instance = _instance_reading(entity_id, instance_id)
        response = _service_response(
            instance, "weather", "get_forecasts", entity_id, {"type": forecast_type}
        )
        forecast = response.get("forecast") or []
        return {"forecast": [item for item in forecast if isinstance(item, dict)]}
