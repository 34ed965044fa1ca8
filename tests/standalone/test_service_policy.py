"""The service-call policy for Home Assistant users who are not managers (policy/services.py)."""

import pytest

from policy.services import (
    ACCESS_DENIED,
    ENTITY_SERVICES,
    INVALID_INPUT,
    ServiceRefused,
    allowed_calls,
    check_user_call,
)

LIGHT = ("light.kitchen", {"supported_color_modes": ["hs", "color_temp"]})
SWITCH = ("switch.decorative_lights", {})
GOOD_NIGHT = ("script.good_night", {})
SELECT = ("select.speed", {"options": ["slow", "fast"]})
CLIMATE = ("climate.hvac", {"hvac_modes": ["off", "heat", "cool"]})


def refused(domain, service, entities, data=None):
    with pytest.raises(ServiceRefused) as caught:
        check_user_call(domain, service, entities, data or {})
    return caught.value.error_type


@pytest.mark.parametrize(
    ("domain", "service", "entities", "data"),
    [
        ("light", "turn_on", [LIGHT], {"brightness_pct": 40}),
        ("light", "turn_on", [LIGHT], {"color_temp_kelvin": 3000, "rgb_color": [255, 0, 10]}),
        ("light", "toggle", [LIGHT], {}),
        ("switch", "turn_off", [SWITCH], {}),
        ("homeassistant", "toggle", [LIGHT, SWITCH], {}),
        ("script", "turn_on", [GOOD_NIGHT], {}),
        # A script's own service, on that script: it runs itself.
        ("script", "good_night", [GOOD_NIGHT], {}),
        ("select", "select_option", [SELECT], {"option": "fast"}),
        ("climate", "set_hvac_mode", [CLIMATE], {"hvac_mode": "heat"}),
        ("climate", "set_temperature", [CLIMATE], {"temperature": 21.5}),
        ("media_player", "volume_set", [("media_player.tv", {})], {"volume_level": 0.3}),
        ("fan", "oscillate", [("fan.ceiling", {})], {"oscillating": True}),
    ],
)
def test_what_the_controls_do_is_allowed(domain, service, entities, data):
    check_user_call(domain, service, entities, data)


def test_a_controlled_script_cannot_run_another():
    assert refused("script", "unlock_front_door", [GOOD_NIGHT]) == ACCESS_DENIED
    assert refused("script", "good_night", [GOOD_NIGHT, ("script.other", {})]) == ACCESS_DENIED
    # Script variables are for managers.
    assert refused("script", "good_night", [GOOD_NIGHT], {"door": "front"}) == ACCESS_DENIED


@pytest.mark.parametrize(
    ("domain", "service", "entities"),
    [
        ("switch", "odoo_sec_probe_no_such_service", [SWITCH]),
        ("switch", "reload", [SWITCH]),
        ("scene", "apply", [("scene.romantic", {})]),
        ("scene", "create", [("scene.romantic", {})]),
        ("automation", "reload", [("automation.morning", {})]),
        ("homeassistant", "restart", [SWITCH]),
        ("homeassistant", "stop", [SWITCH]),
        ("shell_command", "wipe", [SWITCH]),
        # Generic services only where the entity's domain has that service.
        ("homeassistant", "turn_on", [("lock.front_door", {})]),
        ("homeassistant", "turn_on", [("sensor.temperature", {})]),
        # Another domain's service on a controlled entity.
        ("lock", "unlock", [SWITCH]),
        # Read-only domains have no service at all.
        ("sensor", "turn_on", [("sensor.temperature", {})]),
    ],
)
def test_services_beyond_the_controls_are_refused(domain, service, entities):
    assert refused(domain, service, entities) == ACCESS_DENIED


@pytest.mark.parametrize(
    ("domain", "service", "entities", "data"),
    [
        ("tts", "speak", [("tts.google", {})], {"media_player_entity_id": "media_player.tv"}),
        ("media_player", "join", [("media_player.tv", {})], {"group_members": ["media_player.x"]}),
        ("camera", "play_stream", [("camera.door", {})], {"media_player": "media_player.tv"}),
        ("camera", "snapshot", [("camera.door", {})], {"filename": "/config/secrets.yaml"}),
        ("scene", "apply", [("scene.romantic", {})], {"entities": {"lock.front_door": "unlocked"}}),
        ("light", "turn_on", [LIGHT], {"profile": "relax"}),
        ("light", "turn_on", [LIGHT], {"flash": "long"}),
        ("homeassistant", "turn_on", [LIGHT], {"brightness_pct": 10}),
    ],
)
def test_service_data_beyond_the_controls_is_refused(domain, service, entities, data):
    assert refused(domain, service, entities, data) == ACCESS_DENIED


@pytest.mark.parametrize(
    "data",
    [
        {"entity_id": "lock.front_door"},
        {"device_id": "abc"},
        {"area_id": "kitchen"},
        {"floor_id": "ground"},
        {"label_id": "all"},
    ],
)
def test_targets_in_service_data_are_refused(data):
    assert refused("light", "turn_on", [LIGHT], data) == INVALID_INPUT


@pytest.mark.parametrize(
    ("domain", "service", "entities", "data"),
    [
        ("light", "turn_on", [LIGHT], {"brightness_pct": 400}),
        ("light", "turn_on", [LIGHT], {"brightness_pct": "lock.front_door"}),
        ("light", "turn_on", [LIGHT], {"brightness_pct": True}),
        ("light", "turn_on", [LIGHT], {"rgb_color": [255, 0]}),
        ("light", "turn_on", [LIGHT], {"rgb_color": "http://example.com/x"}),
        # An option must be one of the entity's own: no entity id, path or URL gets through.
        ("select", "select_option", [SELECT], {"option": "lock.front_door"}),
        ("select", "select_option", [SELECT], {"option": "/config/secrets.yaml"}),
        ("climate", "set_hvac_mode", [CLIMATE], {"hvac_mode": "dry"}),
        ("fan", "oscillate", [("fan.ceiling", {})], {"oscillating": "yes"}),
    ],
)
def test_values_of_the_wrong_kind_are_refused(domain, service, entities, data):
    assert refused(domain, service, entities, data) == INVALID_INPUT


def test_a_call_needs_its_entities():
    assert refused("light", "turn_on", []) == ACCESS_DENIED


def test_every_domain_has_services_and_allowed_calls_lists_them():
    assert all(ENTITY_SERVICES.values())
    assert ("light", "turn_on") in allowed_calls()
    assert ("script", "good_night") not in allowed_calls()
    assert not any(service == "reload" for _domain, service in allowed_calls())
