"""The service-call policy for Home Assistant users who are not managers (policy/services.py)."""

import pytest

from policy.services import (
    ACCESS_DENIED,
    ENTITY_SERVICES,
    INVALID_INPUT,
    REFUSAL_REASONS,
    ServiceRefused,
    allowed_calls,
    check_user_call,
)

LIGHT = ("light.kitchen", {"supported_color_modes": ["hs", "color_temp"]})
SWITCH = ("switch.decorative_lights", {})
GOOD_NIGHT = ("script.good_night", {})
SELECT = ("select.speed", {"options": ["slow", "fast"]})
CLIMATE = (
    "climate.ecobee",
    {
        "hvac_modes": ["off", "heat", "cool"],
        "fan_modes": ["on_low", "auto_low"],
        "swing_modes": ["auto", "off"],
        "preset_modes": ["home", "eco"],
    },
)
# Entities as the demo integration of Home Assistant 2024.3 describes them.
EFFECT_LIGHT = ("light.bed_light", {"effect_list": ["rainbow", "none"]})
COVER = ("cover.living_room_window", {"current_tilt_position": 50})
VALVE = ("valve.front_garden", {"current_position": 40})
FAN = ("fan.living_room_fan", {"preset_modes": ["auto", "smart"], "direction": "forward"})
MEDIA = ("media_player.lounge_room", {"source_list": ["dvd", "youtube"]})
VACUUM = ("vacuum.0_ground_floor", {"fan_speed_list": ["min", "medium", "high", "max"]})
ALARM = ("alarm_control_panel.security", {"code_format": "number"})
WATER_HEATER = (
    "water_heater.demo_water_heater",
    {"min_temp": 43.3, "max_temp": 60, "operation_list": ["eco", "gas", "off"]},
)
HUMIDIFIER = (
    "humidifier.hygrostat",
    {"min_humidity": 30, "max_humidity": 80, "available_modes": ["home", "eco"]},
)
SIREN = ("siren.siren_with_all_features", {"available_tones": ["fire", "alarm"]})
TEXT = ("text.text_with_1_to_5_characters", {"min": 1, "max": 5, "mode": "text"})
INPUT_TEXT = ("input_text.note", {"min": 0, "max": 100, "mode": "text"})
TODO = ("todo.shopping_list", {})


def refused(domain, service, entities, data=None):
    with pytest.raises(ServiceRefused) as caught:
        check_user_call(domain, service, entities, data or {})
    assert caught.value.reason in REFUSAL_REASONS
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
        # Controls added with issue 17: each with the data its control sends.
        ("alarm_control_panel", "alarm_arm_home", [ALARM], {"code": "1234"}),
        ("alarm_control_panel", "alarm_arm_away", [ALARM], {}),
        ("alarm_control_panel", "alarm_arm_night", [ALARM], {"code": "1234"}),
        ("alarm_control_panel", "alarm_arm_vacation", [ALARM], {"code": "1234"}),
        ("alarm_control_panel", "alarm_arm_custom_bypass", [ALARM], {"code": "1234"}),
        ("alarm_control_panel", "alarm_disarm", [ALARM], {"code": "1234"}),
        ("water_heater", "set_temperature", [WATER_HEATER], {"temperature": 50}),
        ("water_heater", "set_operation_mode", [WATER_HEATER], {"operation_mode": "gas"}),
        ("water_heater", "set_away_mode", [WATER_HEATER], {"away_mode": True}),
        ("humidifier", "turn_off", [HUMIDIFIER], {}),
        ("humidifier", "toggle", [HUMIDIFIER], {}),
        ("humidifier", "set_humidity", [HUMIDIFIER], {"humidity": 45}),
        ("humidifier", "set_mode", [HUMIDIFIER], {"mode": "eco"}),
        ("humidifier", "set_humidity", [("humidifier.bare", {})], {"humidity": 100}),
        ("valve", "open_valve", [VALVE], {}),
        ("valve", "close_valve", [VALVE], {}),
        ("valve", "stop_valve", [VALVE], {}),
        ("valve", "set_valve_position", [VALVE], {"position": 25}),
        ("siren", "turn_on", [SIREN], {"tone": "fire"}),
        ("siren", "turn_on", [SIREN], {}),
        ("siren", "toggle", [SIREN], {}),
        ("text", "set_value", [TEXT], {"value": "abc"}),
        ("text", "set_value", [("text.text", {"min": 0, "max": 255})], {"value": ""}),
        ("input_text", "set_value", [INPUT_TEXT], {"value": "Buy milk"}),
        ("date", "set_value", [("date.date", {})], {"date": "2024-02-29"}),
        ("time", "set_value", [("time.time", {})], {"time": "08:30:00"}),
        ("time", "set_value", [("time.time", {})], {"time": "08:30"}),
        ("datetime", "set_value", [("datetime.x", {})], {"datetime": "2024-05-06T08:30:00+02:00"}),
        ("datetime", "set_value", [("datetime.x", {})], {"datetime": "2024-05-06T08:30:00Z"}),
        ("input_datetime", "set_datetime", [("input_datetime.x", {})], {"date": "2024-05-06"}),
        ("input_datetime", "set_datetime", [("input_datetime.x", {})], {"time": "07:15:00"}),
        (
            "input_datetime",
            "set_datetime",
            [("input_datetime.x", {})],
            {"datetime": "2024-05-06 07:15:00"},
        ),
        ("remote", "turn_on", [("remote.tv", {})], {}),
        ("remote", "toggle", [("remote.tv", {})], {}),
        ("homeassistant", "turn_off", [("remote.tv", {}), HUMIDIFIER], {}),
        ("lawn_mower", "start_mowing", [("lawn_mower.mower", {})], {}),
        ("lawn_mower", "pause", [("lawn_mower.mower", {})], {}),
        ("lawn_mower", "dock", [("lawn_mower.mower", {})], {}),
        ("update", "install", [("update.demo_add_on", {})], {}),
        ("climate", "set_fan_mode", [CLIMATE], {"fan_mode": "auto_low"}),
        ("climate", "set_swing_mode", [CLIMATE], {"swing_mode": "auto"}),
        ("climate", "set_preset_mode", [CLIMATE], {"preset_mode": "eco"}),
        ("climate", "set_temperature", [CLIMATE], {"target_temp_low": 19, "target_temp_high": 24}),
        ("cover", "open_cover_tilt", [COVER], {}),
        ("cover", "close_cover_tilt", [COVER], {}),
        ("cover", "set_cover_tilt_position", [COVER], {"tilt_position": 80}),
        ("light", "turn_on", [EFFECT_LIGHT], {"effect": "rainbow"}),
        ("media_player", "media_next_track", [MEDIA], {}),
        ("media_player", "media_previous_track", [MEDIA], {}),
        ("media_player", "volume_mute", [MEDIA], {"is_volume_muted": True}),
        ("media_player", "select_source", [MEDIA], {"source": "youtube"}),
        ("fan", "set_direction", [FAN], {"direction": "reverse"}),
        ("fan", "set_preset_mode", [FAN], {"preset_mode": "smart"}),
        ("vacuum", "stop", [VACUUM], {}),
        ("vacuum", "pause", [VACUUM], {}),
        ("vacuum", "locate", [VACUUM], {}),
        ("vacuum", "set_fan_speed", [VACUUM], {"fan_speed": "max"}),
        ("script", "turn_off", [GOOD_NIGHT], {}),
        ("number", "set_value", [("number.volume", {})], {"value": 43}),
        ("input_number", "increment", [("input_number.level", {})], {}),
        ("input_number", "decrement", [("input_number.level", {})], {}),
        ("todo", "add_item", [TODO], {"item": "Milk"}),
        ("todo", "update_item", [TODO], {"item": "5f1c", "status": "completed"}),
        ("todo", "update_item", [TODO], {"item": "5f1c", "status": "needs_action"}),
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
        ("person", "turn_on", [("person.anne", {})]),
        ("device_tracker", "see", [("device_tracker.phone", {})]),
        ("camera", "snapshot", [("camera.door", {})]),
        ("calendar", "create_event", [("calendar.home", {})]),
        ("weather", "get_forecasts", [("weather.home", {})]),
        # What the new domains' controls never do.
        ("alarm_control_panel", "alarm_trigger", [ALARM]),
        ("remote", "send_command", [("remote.tv", {})]),
        ("remote", "learn_command", [("remote.tv", {})]),
        ("remote", "delete_command", [("remote.tv", {})]),
        ("update", "skip", [("update.demo_add_on", {})]),
        ("todo", "remove_item", [TODO]),
        ("todo", "remove_completed_items", [TODO]),
        ("todo", "get_items", [TODO]),
        ("vacuum", "send_command", [VACUUM]),
        ("vacuum", "clean_spot", [VACUUM]),
        ("water_heater", "turn_off", [WATER_HEATER]),
        ("input_text", "reload", [INPUT_TEXT]),
        ("input_datetime", "reload", [("input_datetime.x", {})]),
        ("number", "increment", [("number.volume", {})]),
        ("homeassistant", "turn_on", [("update.demo_add_on", {})]),
        ("homeassistant", "toggle", [ALARM]),
        # A service of the same name in another domain.
        ("valve", "open_cover", [VALVE]),
        ("cover", "open_valve", [COVER]),
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
        # Fields of the new services that only managers may send.
        ("update", "install", [("update.demo_add_on", {})], {"version": "0.0.1"}),
        ("update", "install", [("update.demo_add_on", {})], {"backup": False}),
        ("siren", "turn_on", [SIREN], {"duration": 3600}),
        ("siren", "turn_on", [SIREN], {"volume_level": 1}),
        ("siren", "turn_off", [SIREN], {"tone": "fire"}),
        ("water_heater", "set_temperature", [WATER_HEATER], {"operation_mode": "gas"}),
        ("climate", "set_temperature", [CLIMATE], {"hvac_mode": "heat"}),
        ("todo", "add_item", [TODO], {"item": "x", "due_date": "2024-01-01"}),
        ("todo", "add_item", [TODO], {"item": "x", "description": "y"}),
        ("todo", "update_item", [TODO], {"item": "x", "rename": "y"}),
        ("remote", "turn_on", [("remote.tv", {})], {"activity": "Watch TV"}),
        ("input_datetime", "set_datetime", [("input_datetime.x", {})], {"timestamp": 0}),
        ("alarm_control_panel", "alarm_disarm", [ALARM], {"code": "1", "entity": "x"}),
        ("vacuum", "locate", [VACUUM], {"fan_speed": "max"}),
        ("input_number", "increment", [("input_number.level", {})], {"value": 3}),
        ("humidifier", "turn_on", [HUMIDIFIER], {"humidity": 50}),
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
    assert refused("todo", "add_item", [TODO], {"item": "Milk", **data}) == INVALID_INPUT
    assert refused("alarm_control_panel", "alarm_disarm", [ALARM], data) == INVALID_INPUT
    assert refused("text", "set_value", [TEXT], {"value": "ab", **data}) == INVALID_INPUT


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
        # Codes and texts: strings, bounded.
        ("alarm_control_panel", "alarm_disarm", [ALARM], {"code": 1234}),
        ("alarm_control_panel", "alarm_disarm", [ALARM], {"code": "1" * 65}),
        ("alarm_control_panel", "alarm_arm_away", [ALARM], {"code": ["1234"]}),
        ("text", "set_value", [TEXT], {"value": "too long"}),
        ("text", "set_value", [TEXT], {"value": ""}),
        ("text", "set_value", [TEXT], {"value": 42}),
        ("text", "set_value", [("text.text", {"max": 10000})], {"value": "x" * 256}),
        ("input_text", "set_value", [INPUT_TEXT], {"value": "x" * 101}),
        ("input_text", "set_value", [INPUT_TEXT], {"value": None}),
        ("todo", "add_item", [TODO], {"item": ""}),
        ("todo", "add_item", [TODO], {"item": "x" * 256}),
        ("todo", "add_item", [TODO], {"item": {"summary": "x"}}),
        ("todo", "update_item", [TODO], {"item": "5f1c", "status": "deleted"}),
        ("todo", "update_item", [TODO], {"item": "5f1c", "status": True}),
        # Numbers within the entity's own bounds.
        ("water_heater", "set_temperature", [WATER_HEATER], {"temperature": 80}),
        ("water_heater", "set_temperature", [WATER_HEATER], {"temperature": "50"}),
        ("humidifier", "set_humidity", [HUMIDIFIER], {"humidity": 90}),
        ("humidifier", "set_humidity", [HUMIDIFIER], {"humidity": 10}),
        ("humidifier", "set_humidity", [("humidifier.bare", {})], {"humidity": 101}),
        ("valve", "set_valve_position", [VALVE], {"position": 101}),
        ("cover", "set_cover_tilt_position", [COVER], {"tilt_position": -1}),
        ("climate", "set_temperature", [CLIMATE], {"target_temp_low": "cold"}),
        ("climate", "set_temperature", [CLIMATE], {"target_temp_high": float("nan")}),
        # Options among the entity's own lists, choices among the service's.
        ("water_heater", "set_operation_mode", [WATER_HEATER], {"operation_mode": "nuclear"}),
        ("water_heater", "set_away_mode", [WATER_HEATER], {"away_mode": "on"}),
        ("humidifier", "set_mode", [HUMIDIFIER], {"mode": "boost"}),
        ("humidifier", "set_mode", [("humidifier.humidifier", {})], {"mode": "home"}),
        ("siren", "turn_on", [SIREN], {"tone": "siren.other"}),
        ("siren", "turn_on", [("siren.siren", {})], {"tone": "fire"}),
        ("climate", "set_fan_mode", [CLIMATE], {"fan_mode": "turbo"}),
        ("climate", "set_swing_mode", [CLIMATE], {"swing_mode": "/config"}),
        ("climate", "set_preset_mode", [CLIMATE], {"preset_mode": "away"}),
        ("light", "turn_on", [EFFECT_LIGHT], {"effect": "strobe"}),
        ("light", "turn_on", [LIGHT], {"effect": "rainbow"}),
        ("media_player", "select_source", [MEDIA], {"source": "http://example.com/x"}),
        ("media_player", "volume_mute", [MEDIA], {"is_volume_muted": 1}),
        ("fan", "set_direction", [FAN], {"direction": "up"}),
        ("fan", "set_preset_mode", [FAN], {"preset_mode": "turbo"}),
        ("vacuum", "set_fan_speed", [VACUUM], {"fan_speed": "vacuum.other"}),
        # Dates and times: ISO strings of real dates and times only.
        ("date", "set_value", [("date.date", {})], {"date": "2024-02-30"}),
        ("date", "set_value", [("date.date", {})], {"date": "20240506"}),
        ("date", "set_value", [("date.date", {})], {"date": "2024-05-06T00:00:00"}),
        ("date", "set_value", [("date.date", {})], {"date": 20240506}),
        ("time", "set_value", [("time.time", {})], {"time": "25:00:00"}),
        ("time", "set_value", [("time.time", {})], {"time": "8:30"}),
        ("time", "set_value", [("time.time", {})], {"time": "08:30:00+02:00"}),
        ("datetime", "set_value", [("datetime.x", {})], {"datetime": "2024-05-06"}),
        ("datetime", "set_value", [("datetime.x", {})], {"datetime": "2024-W19-1T08:30"}),
        ("datetime", "set_value", [("datetime.x", {})], {"datetime": "2024-13-06T08:30:00"}),
        ("datetime", "set_value", [("datetime.x", {})], {"datetime": "now"}),
        ("input_datetime", "set_datetime", [("input_datetime.x", {})], {"date": "tomorrow"}),
        ("input_datetime", "set_datetime", [("input_datetime.x", {})], {"time": 730}),
        ("input_datetime", "set_datetime", [("input_datetime.x", {})], {"datetime": "x" * 300}),
    ],
)
def test_values_of_the_wrong_kind_are_refused(domain, service, entities, data):
    assert refused(domain, service, entities, data) == INVALID_INPUT


def test_a_refusal_names_what_the_value_should_be():
    with pytest.raises(ServiceRefused) as caught:
        check_user_call("humidifier", "set_humidity", [HUMIDIFIER], {"humidity": 90})
    assert caught.value.reason == "bad_number_range"
    assert caught.value.params["minimum"] == 30
    assert caught.value.params["maximum"] == 80
    with pytest.raises(ServiceRefused) as caught:
        check_user_call("text", "set_value", [TEXT], {"value": "too long"})
    assert (caught.value.reason, caught.value.params["maximum"]) == ("bad_text", 5)
    with pytest.raises(ServiceRefused) as caught:
        check_user_call("fan", "set_direction", [FAN], {"direction": "up"})
    assert caught.value.reason == "bad_choice"
    assert caught.value.params["choices"] == "forward, reverse"


def test_a_call_needs_its_entities():
    assert refused("light", "turn_on", []) == ACCESS_DENIED


def test_every_domain_has_services_and_allowed_calls_lists_them():
    assert all(ENTITY_SERVICES.values())
    assert ("light", "turn_on") in allowed_calls()
    assert ("script", "good_night") not in allowed_calls()
    assert not any(service == "reload" for _domain, service in allowed_calls())
    # What users may never do, whatever entity they control.
    for call in (
        ("remote", "send_command"),
        ("update", "skip"),
        ("alarm_control_panel", "alarm_trigger"),
        ("todo", "remove_item"),
    ):
        assert call not in allowed_calls()
