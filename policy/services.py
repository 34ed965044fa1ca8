"""Which Home Assistant service calls a user who is not a manager may make.

A Home Assistant *User* may make Home Assistant do exactly what the controls they were
granted do, to exactly the entities they were granted. The checks go by what a service
does, not by its domain's name: Home Assistant registers services that ignore their target
(``script.<name>`` runs that script whatever entity it is given, ``scene.apply`` and
``scene.create`` take their entities in the data, ``*.reload`` acts on the whole domain),
so a domain match alone would let a user run a script they were never granted.

``ENTITY_SERVICES`` is the allow-list: per entity domain, the services the web client's
controls call (static/src/controls/domain_controls.js; a browser test holds the two equal)
and, per service, the ``service_data`` fields those controls send with a check of each
value. Everything else is for managers: other services and fields, and any value that is
not of the field's kind (a field may never name an entity, a device, an area, a file or a
URL). Home Assistant itself refuses nothing that passes here for lack of permission; it only
validates the values further.

Pure Python: no Odoo import, tested in the standalone tier.
"""

import math
import re

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
SLUG_RE = re.compile(r"^[a-z0-9_]{1,64}$")


class ServiceRefused(Exception):
    """A call the policy refuses. ``reason`` names the rule (the caller words it for people,
    in their language), ``params`` fill its sentence; ``error_type`` is the API's."""

    def __init__(self, reason, error_type=ACCESS_DENIED, **params):
        super().__init__(reason, params)
        self.reason = reason
        self.error_type = error_type
        self.params = params


# Value checks: each returns None when the value is fine, else what it should be, as a kind
# among "number", "number_range" (with minimum, maximum), "boolean", "rgb" and "one_of"
# (with attribute) and its parameters. ``entity`` is the (entity_id, attributes) pair the
# call targets, for checks that depend on it.


def _number(minimum=None, maximum=None):
    """A finite number, within [minimum, maximum] when they are given (both or neither)."""

    def check(value, _entity):
        is_number = (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
        if not is_number or (minimum is not None and not minimum <= value <= maximum):
            if minimum is None and maximum is None:
                return ("number", {})
            return ("number_range", {"minimum": minimum, "maximum": maximum})
        return None

    return check


def _boolean(value, _entity):
    return None if isinstance(value, bool) else ("boolean", {})


def _rgb(value, _entity):
    if (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)
    ):
        return None
    return ("rgb", {})


def _one_of_attribute(attribute):
    """A string among the entity's own ``attribute`` list (options, hvac_modes...)."""

    def check(value, entity):
        allowed = (entity[1] or {}).get(attribute) or []
        if isinstance(value, str) and len(value) <= MAX_OPTION_LENGTH and value in allowed:
            return None
        return ("one_of", {"attribute": attribute})

    return check


ON_OFF = {"turn_on": {}, "turn_off": {}, "toggle": {}}
SET_VALUE = {"set_value": {"value": _number()}}
SELECT_OPTION = {"select_option": {"option": _one_of_attribute("options")}}
PRESS = {"press": {}}

ENTITY_SERVICES = {
    "light": {
        "turn_on": {
            "brightness_pct": _number(0, 100),
            "color_temp_kelvin": _number(1000, 40000),
            "rgb_color": _rgb,
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
    },
    "climate": {
        "set_temperature": {"temperature": _number(-100, 200)},
        "set_hvac_mode": {"hvac_mode": _one_of_attribute("hvac_modes")},
    },
    "cover": {
        "open_cover": {},
        "close_cover": {},
        "stop_cover": {},
        "set_cover_position": {"position": _number(0, 100)},
    },
    "lock": {"lock": {}, "unlock": {}},
    "media_player": {
        "media_play_pause": {},
        "volume_set": {"volume_level": _number(0, 1)},
    },
    "scene": {"turn_on": {}},
    "script": {"turn_on": {}},
    "automation": {**ON_OFF, "trigger": {}},
    "button": PRESS,
    "input_button": PRESS,
    "number": SET_VALUE,
    "input_number": SET_VALUE,
    "select": SELECT_OPTION,
    "input_select": SELECT_OPTION,
    "vacuum": {"start": {}, "return_to_base": {}},
}


def allowed_calls():
    """Every (domain, service) a user may call, generic ones excluded: for tests and docs."""
    return {
        (domain, service) for domain, services in ENTITY_SERVICES.items() for service in services
    }


def check_user_call(domain, service, entities, service_data):
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


def _check_no_data(label, service_data):
    if service_data:
        raise ServiceRefused("field_not_allowed", service=label, field=sorted(service_data)[0])
