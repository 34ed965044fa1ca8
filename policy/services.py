"""Which Home Assistant service calls a user who is not a manager may make.

A Home Assistant *User* may make Home Assistant do exactly what the controls they were
granted do, to exactly the entities they were granted. The checks go by what a service
does, not by its domain's name: Home Assistant registers services that ignore their target
(``script.<name>`` runs that script whatever entity it is given, ``scene.apply`` and
``scene.create`` take their entities in the data, ``*.reload`` acts on the whole domain),
so a domain match alone would let a user run a script they were never granted.

``ENTITY_SERVICES`` is the allow-list: per entity domain, the services the web client's
controls call (static/src/controls/control_table.js; a browser test holds the two equal)
and, per service, the ``service_data`` fields those controls send with a check of each
value. Everything else is for managers: other services and fields, and any value that is
not of the field's kind (a field may never name an entity, a device, an area, a file or a
URL). Where Home Assistant gives the entity's own list of choices (options, hvac_modes,
effect_list...) or bounds (min/max_humidity, min/max text length), a value must be among or
within them; free text (an alarm code, a to-do item) is bounded in length and can only ever be
that service's value. Home Assistant itself refuses nothing that passes here for lack of
permission; it only validates the values further.

Pure Python: no Odoo import, tested in the standalone tier.
"""

import math
import re
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime, time
from typing import Any, TypeGuard

ACCESS_DENIED = "access_denied"
INVALID_INPUT = "invalid_input"

# Keys that name targets: they would widen the call beyond the entities checked.
TARGET_KEYS = ("entity_id", "device_id", "area_id", "floor_id", "label_id")
# Services of any entity's domain, addressed through the "homeassistant" domain: allowed
# when the entity's own domain allows the same service.
GENERIC_SERVICES = ("turn_on", "turn_off", "toggle")
GENERIC_DOMAIN = "homeassistant"
# Domains whose entity ids name a service of their own (script.good_night is also the
# service script.good_night, which runs it).
SELF_SERVICE_DOMAINS = ("script",)
MAX_OPTION_LENGTH = 255
# Home Assistant keeps states of 255 characters at most: a longer text could never be shown.
MAX_TEXT_LENGTH = 255
# Alarm panel codes are PINs or short pass phrases.
MAX_CODE_LENGTH = 64
# ISO forms the web client sends, strictly: Python's fromisoformat alone accepts more
# (week dates, compact forms) than the controls ever produce.
# Home Assistant's own rule for domain, service and object ids: lowercase ASCII words.
SLUG_RE = re.compile(r"^[a-z0-9_]{1,64}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_RE = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$"
)


# Every ``reason`` a ServiceRefused may carry: the API words each for people.
REFUSAL_REASONS = (
    "no_entities",
    "target_in_data",
    "service_not_allowed",
    "other_domain",
    "own_service_only",
    "field_not_allowed",
    *(
        f"bad_{kind}"
        for kind in (
            "number",
            "number_range",
            "boolean",
            "rgb",
            "one_of",
            "choice",
            "text",
            "date",
            "time",
            "datetime",
        )
    ),
)


class ServiceRefused(Exception):
    """A call the policy refuses. ``reason`` names the rule (the caller words it for people,
    in their language), ``params`` fill its sentence; ``error_type`` is the API's."""

    def __init__(self, reason: str, error_type: str = ACCESS_DENIED, **params: Any) -> None:
        super().__init__(reason, params)
        self.reason = reason
        self.error_type = error_type
        self.params = params


# Value checks: each returns None when the value is fine, else what it should be, as a kind
# among "number", "number_range" (with minimum, maximum), "boolean", "rgb", "one_of" (with
# attribute), "choice" (with choices), "text" (with minimum, maximum: its length), "date",
# "time" and "datetime", and its parameters. ``entity`` is the (entity_id, attributes) pair
# the call targets, for checks that depend on it.

# A call's target: (entity_id, attributes).
Entity = tuple[str, Mapping[str, Any] | None]
# What a value check finds wrong: (kind, parameters), or None.
Problem = tuple[str, dict[str, Any]] | None
ValueCheck = Callable[[Any, Entity], Problem]
# A service's allowed service_data fields: field name -> check of its value.
ServiceFields = dict[str, ValueCheck]


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(minimum: float | None = None, maximum: float | None = None) -> ValueCheck:
    """A finite number, within [minimum, maximum] when they are given (both or neither)."""

    def check(value: Any, _entity: Entity) -> Problem:
        if not _is_number(value) or (
            minimum is not None and maximum is not None and not minimum <= value <= maximum
        ):
            if minimum is None and maximum is None:
                return ("number", {})
            return ("number_range", {"minimum": minimum, "maximum": maximum})
        return None

    return check


def _boolean(value: Any, _entity: Entity) -> Problem:
    return None if isinstance(value, bool) else ("boolean", {})


def _rgb(value: Any, _entity: Entity) -> Problem:
    if (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
    ):
        return None
    return ("rgb", {})


def _one_of_attribute(attribute: str) -> ValueCheck:
    """A string among the entity's own ``attribute`` list (options, hvac_modes...)."""

    def check(value: Any, entity: Entity) -> Problem:
        allowed = (entity[1] or {}).get(attribute) or []
        if isinstance(value, str) and len(value) <= MAX_OPTION_LENGTH and value in allowed:
            return None
        return ("one_of", {"attribute": attribute})

    return check


def _number_within_attributes(
    low: str, high: str, default_low: float, default_high: float
) -> ValueCheck:
    """A finite number within the entity's own [``low``, ``high``] attributes (humidity,
    water temperature), or the defaults where the entity gives none."""

    def check(value: Any, entity: Entity) -> Problem:
        attributes = entity[1] or {}
        minimum = attributes.get(low)
        maximum = attributes.get(high)
        minimum = minimum if _is_number(minimum) else default_low
        maximum = maximum if _is_number(maximum) else default_high
        if _is_number(value) and minimum <= value <= maximum:
            return None
        return ("number_range", {"minimum": minimum, "maximum": maximum})

    return check


def _choice(*choices: str) -> ValueCheck:
    """A string among fixed ``choices`` (the service's own, not the entity's)."""

    def check(value: Any, _entity: Entity) -> Problem:
        if isinstance(value, str) and value in choices:
            return None
        return ("choice", {"choices": ", ".join(choices)})

    return check


def _text(minimum: int = 0, maximum: int = MAX_TEXT_LENGTH) -> ValueCheck:
    """A string of ``minimum`` to ``maximum`` characters."""

    def check(value: Any, _entity: Entity) -> Problem:
        if isinstance(value, str) and minimum <= len(value) <= maximum:
            return None
        return ("text", {"minimum": minimum, "maximum": maximum})

    return check


def _text_within_attributes(value: Any, entity: Entity) -> Problem:
    """A string as long as the entity allows (its ``min``/``max`` attributes: text and
    input_text), never more than MAX_TEXT_LENGTH."""
    attributes = entity[1] or {}
    minimum = attributes.get("min")
    maximum = attributes.get("max")
    minimum = int(minimum) if _is_number(minimum) and minimum > 0 else 0
    maximum = int(maximum) if _is_number(maximum) else MAX_TEXT_LENGTH
    return _text(minimum, min(maximum, MAX_TEXT_LENGTH))(value, entity)


def _iso(pattern: re.Pattern[str], parse: Callable[[str], object], kind: str) -> ValueCheck:
    """A string of the ISO form ``pattern`` that ``parse`` accepts (a real date or time)."""

    def check(value: Any, _entity: Entity) -> Problem:
        if isinstance(value, str) and pattern.match(value):
            try:
                parse(value)
            except ValueError:
                pass
            else:
                return None
        return (kind, {})

    return check


_date = _iso(DATE_RE, date.fromisoformat, "date")
_time = _iso(TIME_RE, time.fromisoformat, "time")
_datetime = _iso(DATETIME_RE, datetime.fromisoformat, "datetime")


ON_OFF: dict[str, ServiceFields] = {"turn_on": {}, "turn_off": {}, "toggle": {}}
SET_VALUE: dict[str, ServiceFields] = {"set_value": {"value": _number()}}
SELECT_OPTION: dict[str, ServiceFields] = {
    "select_option": {"option": _one_of_attribute("options")}
}
PRESS: dict[str, ServiceFields] = {"press": {}}
SET_TEXT: dict[str, ServiceFields] = {"set_value": {"value": _text_within_attributes}}
ALARM_CODE: ServiceFields = {"code": _text(0, MAX_CODE_LENGTH)}

# Domain -> service -> the fields a user may send with it.
ENTITY_SERVICES: dict[str, dict[str, ServiceFields]] = {
    "light": {
        "turn_on": {
            "brightness_pct": _number(0, 100),
            "color_temp_kelvin": _number(1000, 40000),
            "rgb_color": _rgb,
            "effect": _one_of_attribute("effect_list"),
        },
        "turn_off": {},
        "toggle": {},
    },
    "switch": ON_OFF,
    "input_boolean": ON_OFF,
    "fan": {
        **ON_OFF,
        "set_percentage": {"percentage": _number(0, 100)},
        "oscillate": {"oscillating": _boolean},
        "set_direction": {"direction": _choice("forward", "reverse")},
        "set_preset_mode": {"preset_mode": _one_of_attribute("preset_modes")},
    },
    "climate": {
        "set_temperature": {
            "temperature": _number(-100, 200),
            "target_temp_low": _number(-100, 200),
            "target_temp_high": _number(-100, 200),
        },
        "set_hvac_mode": {"hvac_mode": _one_of_attribute("hvac_modes")},
        "set_fan_mode": {"fan_mode": _one_of_attribute("fan_modes")},
        "set_swing_mode": {"swing_mode": _one_of_attribute("swing_modes")},
        "set_preset_mode": {"preset_mode": _one_of_attribute("preset_modes")},
    },
    "cover": {
        "open_cover": {},
        "close_cover": {},
        "stop_cover": {},
        "set_cover_position": {"position": _number(0, 100)},
        "open_cover_tilt": {},
        "close_cover_tilt": {},
        "set_cover_tilt_position": {"tilt_position": _number(0, 100)},
    },
    "valve": {
        "open_valve": {},
        "close_valve": {},
        "stop_valve": {},
        "set_valve_position": {"position": _number(0, 100)},
    },
    "lock": {"lock": {}, "unlock": {}},
    "media_player": {
        "media_play_pause": {},
        "media_next_track": {},
        "media_previous_track": {},
        "volume_set": {"volume_level": _number(0, 1)},
        "volume_mute": {"is_volume_muted": _boolean},
        "select_source": {"source": _one_of_attribute("source_list")},
    },
    "scene": {"turn_on": {}},
    "script": {"turn_on": {}, "turn_off": {}},
    "automation": {**ON_OFF, "trigger": {}},
    "button": PRESS,
    "input_button": PRESS,
    "number": SET_VALUE,
    "input_number": {**SET_VALUE, "increment": {}, "decrement": {}},
    "select": SELECT_OPTION,
    "input_select": SELECT_OPTION,
    "text": SET_TEXT,
    "input_text": SET_TEXT,
    "date": {"set_value": {"date": _date}},
    "time": {"set_value": {"time": _time}},
    "datetime": {"set_value": {"datetime": _datetime}},
    "input_datetime": {"set_datetime": {"date": _date, "time": _time, "datetime": _datetime}},
    "vacuum": {
        "start": {},
        "stop": {},
        "pause": {},
        "return_to_base": {},
        "locate": {},
        "set_fan_speed": {"fan_speed": _one_of_attribute("fan_speed_list")},
    },
    "lawn_mower": {"start_mowing": {}, "pause": {}, "dock": {}},
    "alarm_control_panel": {
        "alarm_disarm": ALARM_CODE,
        "alarm_arm_home": ALARM_CODE,
        "alarm_arm_away": ALARM_CODE,
        "alarm_arm_night": ALARM_CODE,
        "alarm_arm_vacation": ALARM_CODE,
        "alarm_arm_custom_bypass": ALARM_CODE,
    },
    "water_heater": {
        "set_temperature": {
            "temperature": _number_within_attributes("min_temp", "max_temp", -100, 200)
        },
        "set_operation_mode": {"operation_mode": _one_of_attribute("operation_list")},
        "set_away_mode": {"away_mode": _boolean},
    },
    "humidifier": {
        **ON_OFF,
        "set_humidity": {
            "humidity": _number_within_attributes("min_humidity", "max_humidity", 0, 100)
        },
        "set_mode": {"mode": _one_of_attribute("available_modes")},
    },
    "siren": {**ON_OFF, "turn_on": {"tone": _one_of_attribute("available_tones")}},
    "remote": ON_OFF,
    # The version to install and a backup first are the administrator's choice.
    "update": {"install": {}},
    "todo": {
        "add_item": {"item": _text(1, MAX_TEXT_LENGTH)},
        # ``item`` names the item by its uid (or summary) within this list only.
        "update_item": {
            "item": _text(1, MAX_TEXT_LENGTH),
            "status": _choice("needs_action", "completed"),
        },
    },
}


def allowed_calls() -> set[tuple[str, str]]:
    """Every (domain, service) a user may call, generic ones excluded: for tests and docs."""
    return {
        (domain, service) for domain, services in ENTITY_SERVICES.items() for service in services
    }


def check_user_call(
    domain: str, service: str, entities: Collection[Entity], service_data: Mapping[str, Any]
) -> None:
    """Refuse (``ServiceRefused``) a call a user who is not a manager may not make.

    :param entities: ``[(entity_id, attributes)]``, the call's targets, every one of which
        the caller has already been found to control
    :param service_data: the call's data (a dict)
    """
    label = f"{domain}.{service}"
    if not entities:
        raise ServiceRefused("no_entities", service=label)
    if any(key in service_data for key in TARGET_KEYS):
        raise ServiceRefused("target_in_data", INVALID_INPUT, service=label)
    domains = {entity_id.split(".", 1)[0] for entity_id, _attributes in entities}
    if domain == GENERIC_DOMAIN and service in GENERIC_SERVICES:
        if any(service not in ENTITY_SERVICES.get(d, {}) for d in domains):
            raise ServiceRefused("service_not_allowed", service=label)
        _check_no_data(label, service_data)
        return
    if domains != {domain}:
        raise ServiceRefused("other_domain", service=label, domain=domain)
    if domain in SELF_SERVICE_DOMAINS and service not in ENTITY_SERVICES[domain]:
        # script.good_night run as its own service: only that script, which runs itself.
        if [entity_id for entity_id, _attributes in entities] != [f"{domain}.{service}"]:
            raise ServiceRefused("own_service_only", service=label)
        _check_no_data(label, service_data)
        return
    fields = ENTITY_SERVICES.get(domain, {}).get(service)
    if fields is None:
        raise ServiceRefused("service_not_allowed", service=label)
    for key, value in service_data.items():
        check = fields.get(key)
        if check is None:
            raise ServiceRefused("field_not_allowed", service=label, field=key)
        for entity in entities:
            problem = check(value, entity)
            if problem is not None:
                kind, params = problem
                raise ServiceRefused(
                    f"bad_{kind}",
                    INVALID_INPUT,
                    service=label,
                    field=key,
                    entity=entity[0],
                    **params,
                )


def _check_no_data(label: str, service_data: Mapping[str, Any]) -> None:
    if service_data:
        raise ServiceRefused("field_not_allowed", service=label, field=sorted(service_data)[0])
