"""The calls of the dashboard's controls, made by a Home Assistant *User* (not a manager)
through ``/odoo_ha_addon/call_service``, against the real Home Assistant of the test run.

For every entity of the demo integration that has one of these controls, the test makes the
call the control makes (static/src/controls/table/*.js: same service, same data) and reads
Home Assistant's state until it shows the effect. A user granted the same entities for viewing
only is refused each domain's call by the addon, and Home Assistant is left as it was.

The demo has no to-do list and no input_* helpers: this class adds a shopping list (its
to-do entity) and helpers to Home Assistant before Odoo connects, and removes them at the
end. Home Assistant 2024.3's demo has no valve, lawn mower or remote entity: those controls
are covered by the hoot and policy tests only.
"""

import json
import time
from contextlib import contextmanager

from websockets.sync.client import connect as websocket_connect

from odoo import Command
from odoo.tests import new_test_user, tagged

from ..hass.rest import HARestClient
from .api_common import ApiCase
from .common import _running_ha_server

WAIT_TIMEOUT_S = 20.0
POLL_INTERVAL_S = 0.05
WS_TIMEOUT_S = 10.0
ALARM_CODE = "1234"  # the demo alarm panel's
TODO = "todo.shopping_list"
# Helpers this class creates: (domain, settings); their entity ids come from their names.
HELPER_PREFIX = "Odoo controls "
HELPERS = (
    ("input_number", {"name": "level", "min": 0, "max": 10, "step": 0.5, "initial": 5}),
    ("input_text", {"name": "note", "min": 0, "max": 20, "mode": "text"}),
    ("input_datetime", {"name": "wake", "has_date": True, "has_time": True}),
    ("input_datetime", {"name": "day", "has_date": True, "has_time": False}),
    ("input_datetime", {"name": "alarm", "has_date": False, "has_time": True}),
    ("input_select", {"name": "mode", "options": ["eco", "comfort"]}),
)
# The domains whose entities (all of them, where the demo has some) this class controls.
DOMAINS = (
    "alarm_control_panel",
    "water_heater",
    "humidifier",
    "siren",
    "text",
    "date",
    "time",
    "datetime",
    "update",
    "climate",
    "cover",
    "light",
    "media_player",
    "fan",
    "vacuum",
    "script",
    "number",
    "input_number",
    "input_text",
    "input_datetime",
    "input_select",
    "todo",
)
# EntityFeature bits the controls read (static/src/controls/table/*.js).
MEDIA_MUTE, MEDIA_PREVIOUS, MEDIA_NEXT, MEDIA_SOURCE = 8, 16, 32, 2048
VACUUM_PAUSE, VACUUM_STOP, VACUUM_FAN_SPEED, VACUUM_LOCATE, VACUUM_START = 4, 8, 32, 512, 8192
UPDATE_INSTALL = 1
ALARM_MODES = {
    "alarm_arm_home": ("armed_home", 1),
    "alarm_arm_away": ("armed_away", 2),
    "alarm_arm_night": ("armed_night", 4),
    "alarm_arm_custom_bypass": ("armed_custom_bypass", 16),
    "alarm_arm_vacation": ("armed_vacation", 32),
}


def helper_entity_id(domain, settings):
    return f"{domain}.{(HELPER_PREFIX + settings['name']).lower().replace(' ', '_')}"


class HomeAssistantCommands:
    """Commands over a websocket session with Home Assistant, for what its REST API cannot do
    (creating helpers, listing a to-do list's items)."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 1

    def command(self, message_type, **payload):
        message_id = self.next_id
        self.next_id += 1
        self.socket.send(json.dumps({"id": message_id, "type": message_type, **payload}))
        while True:
            answer = json.loads(self.socket.recv(WS_TIMEOUT_S))
            if answer.get("id") == message_id and answer["type"] == "result":
                assert answer["success"], answer
                return answer["result"]


@contextmanager
def ha_session(ha):
    """HomeAssistantCommands on an authenticated websocket session with ``ha``."""
    url = ha.url.replace("http", "ws", 1) + "/api/websocket"
    with websocket_connect(url, open_timeout=WS_TIMEOUT_S) as socket:
        json.loads(socket.recv(WS_TIMEOUT_S))  # auth_required
        socket.send(json.dumps({"type": "auth", "access_token": ha.token}))
        answer = json.loads(socket.recv(WS_TIMEOUT_S))
        assert answer["type"] == "auth_ok", answer
        yield HomeAssistantCommands(socket)


def _wait(predicate, message):
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while not (outcome := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(POLL_INTERVAL_S)
    return outcome


def _state_or_none(rest, entity_id):
    return next((s for s in rest.get_states() if s["entity_id"] == entity_id), None)


def add_test_entities(ha, rest):
    """Create the helpers and the shopping list, and wait until Home Assistant shows them."""
    remove_test_entities(ha, rest)  # what a run that did not end left behind
    with ha_session(ha) as session:
        for domain, settings in HELPERS:
            session.command(
                f"{domain}/create", **{**settings, "name": HELPER_PREFIX + settings["name"]}
            )
    flow = rest.post("/api/config/config_entries/flow", {"handler": "shopping_list"})
    if flow["type"] == "form":
        rest.post(f"/api/config/config_entries/flow/{flow['flow_id']}", {})
    expected = [helper_entity_id(domain, settings) for domain, settings in HELPERS] + [TODO]
    _wait(
        lambda: all(_state_or_none(rest, entity_id) for entity_id in expected),
        f"Home Assistant never showed {expected}",
    )


def remove_test_entities(ha, rest):
    with ha_session(ha) as session:
        for domain in sorted({domain for domain, _settings in HELPERS}):
            for item in session.command(f"{domain}/list"):
                if item.get("name", "").startswith(HELPER_PREFIX):
                    session.command(f"{domain}/delete", **{f"{domain}_id": item["id"]})
    for entry in rest.get("/api/config/config_entries/entry", domain="shopping_list"):
        rest.request("DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}")


@tagged("post_install", "-at_install")
class TestDomainControls(ApiCase):
    """``controller`` controls every entity of DOMAINS; ``viewer`` may only view them."""

    @classmethod
    def setUpClass(cls):
        ha = _running_ha_server()
        rest = HARestClient(ha.url, ha.token)
        try:
            # Before Odoo connects, so that the mirror (read by this test's transaction,
            # which ApiCase starts) holds them.
            add_test_entities(ha, rest)
            super().setUpClass()
        except Exception:
            remove_test_entities(ha, rest)
            rest.close()
            raise
        # Runs first (cleanups are last-in first-out), while Home Assistant still runs.
        cls.addClassCleanup(rest.close)
        cls.addClassCleanup(remove_test_entities, ha, rest)

        states = {state["entity_id"]: state for state in cls.rest.get_states()}
        cls.initial = states
        cls.entity_ids = sorted(eid for eid in states if eid.split(".", 1)[0] in DOMAINS)
        entities = cls.env["ha.entity"].search(
            [("instance_id", "=", cls.live_id), ("entity_id", "in", cls.entity_ids)]
        )
        missing = set(cls.entity_ids) - set(entities.mapped("entity_id"))
        assert not missing, f"not in Odoo's mirror: {sorted(missing)}"
        cls.controller = new_test_user(
            cls.env, login="controls_user", groups="odoo_ha_addon.group_ha_user"
        )
        cls.viewer = new_test_user(
            cls.env, login="controls_viewer", groups="odoo_ha_addon.group_ha_user"
        )
        Group = cls.env["ha.entity.group"]
        for name, access_level, user in (
            ("Every control", "control", cls.controller),
            ("Every value", "view", cls.viewer),
        ):
            Group.create(
                {
                    "name": name,
                    "instance_id": cls.live_id,
                    "access_level": access_level,
                    "entity_ids": [Command.set(entities.ids)],
                    "user_ids": [Command.link(user.id)],
                }
            )

    def setUp(self):
        super().setUp()
        self.login(self.controller)

    # Helpers -------------------------------------------------------------------------------

    def of_domain(self, domain, attribute=None, feature=None):
        """The demo entities of ``domain`` (with ``attribute`` set, ``feature`` supported)."""
        found = []
        for entity_id in self.entity_ids:
            attributes = self.initial[entity_id]["attributes"]
            if entity_id.split(".", 1)[0] != domain:
                continue
            if attribute and not attributes.get(attribute):
                continue
            if feature and not (attributes.get("supported_features") or 0) & feature:
                continue
            found.append(entity_id)
        return found

    def control(self, domain, service, entity_id, data=None):
        """The call a control makes, as ``controller``: Home Assistant accepts it."""
        params = {"domain": domain, "service": service, "entity_id": entity_id}
        if data is not None:
            params["service_data"] = data
        result = self.ok("call_service", ha_instance_id=self.live_id, **params)
        self.assertEqual((result["domain"], result["service"]), (domain, service))

    def wait_for(self, entity_id, predicate, what):
        """Home Assistant's state of ``entity_id`` once ``predicate(state)`` holds."""
        last = {}

        def holds():
            last["state"] = self.rest.get_state(entity_id)
            return predicate(last["state"])

        try:
            _wait(holds, "")
        except AssertionError:
            state = last.get("state") or {}
            self.fail(
                f"{entity_id}: never {what}; last {state.get('state')!r} {state.get('attributes')}"
            )
        return last["state"]

    def wait_state(self, entity_id, value):
        return self.wait_for(entity_id, lambda s: s["state"] == value, f"state {value!r}")

    def wait_attribute(self, entity_id, name, value):
        return self.wait_for(
            entity_id, lambda s: s["attributes"].get(name) == value, f"{name} = {value!r}"
        )

    def test_the_demo_entities_are_all_there(self):
        # The list this class works through: a Home Assistant without them tests nothing.
        counts = {domain: len(self.of_domain(domain)) for domain in DOMAINS}
        self.assertTrue(all(counts.values()), counts)

    # One test per domain ---------------------------------------------------------------------

    def test_alarm_panel_arms_and_disarms_with_its_code(self):
        (panel,) = self.of_domain("alarm_control_panel")
        features = self.initial[panel]["attributes"]["supported_features"]
        for service, (armed, feature) in ALARM_MODES.items():
            if not features & feature:
                continue
            with self.subTest(service=service):
                self.control("alarm_control_panel", service, panel, {"code": ALARM_CODE})
                # The demo panel arms after a delay: "arming" towards the mode asked for.
                self.wait_for(
                    panel,
                    lambda s, armed=armed: (
                        s["state"] == armed
                        or (s["state"] == "arming" and s["attributes"].get("next_state") == armed)
                    ),
                    f"arming to {armed}",
                )
                self.control("alarm_control_panel", "alarm_disarm", panel, {"code": ALARM_CODE})
                self.wait_state(panel, "disarmed")

    def test_water_heaters(self):
        for heater in self.of_domain("water_heater"):
            with self.subTest(heater=heater):
                self.control("water_heater", "set_temperature", heater, {"temperature": 50})
                self.wait_attribute(heater, "temperature", 50)
                self.control(
                    "water_heater", "set_operation_mode", heater, {"operation_mode": "gas"}
                )
                self.wait_state(heater, "gas")
                away = self.initial[heater]["attributes"]["away_mode"] != "on"
                self.control("water_heater", "set_away_mode", heater, {"away_mode": away})
                self.wait_attribute(heater, "away_mode", "on" if away else "off")

    def test_humidifiers(self):
        for humidifier in self.of_domain("humidifier"):
            with self.subTest(humidifier=humidifier):
                self.control("humidifier", "set_humidity", humidifier, {"humidity": 40})
                self.wait_attribute(humidifier, "humidity", 40)
                self.control("humidifier", "turn_off", humidifier)
                self.wait_state(humidifier, "off")
                self.control("humidifier", "toggle", humidifier)
                self.wait_state(humidifier, "on")
                modes = self.initial[humidifier]["attributes"].get("available_modes")
                if modes:
                    self.control("humidifier", "set_mode", humidifier, {"mode": modes[-1]})
                    self.wait_attribute(humidifier, "mode", modes[-1])
        self.assertTrue(self.of_domain("humidifier", "available_modes"))

    def test_sirens(self):
        for siren in self.of_domain("siren"):
            with self.subTest(siren=siren):
                self.control("siren", "turn_off", siren)
                self.wait_state(siren, "off")
                tones = self.initial[siren]["attributes"].get("available_tones")
                self.control("siren", "turn_on", siren, {"tone": tones[0]} if tones else None)
                self.wait_state(siren, "on")
                self.control("siren", "toggle", siren)
                self.wait_state(siren, "off")
        self.assertTrue(self.of_domain("siren", "available_tones"))

    def test_texts(self):
        values = {"text.text_with_1_to_5_characters": "abc"}
        for entity_id in self.of_domain("text"):
            value = values.get(entity_id, "odoo")
            with self.subTest(entity=entity_id):
                self.control("text", "set_value", entity_id, {"value": value})
                self.wait_state(entity_id, value)

    def test_date_time_and_datetime(self):
        (date,) = self.of_domain("date")
        (time_,) = self.of_domain("time")
        (datetime,) = self.of_domain("datetime")
        self.control("date", "set_value", date, {"date": "2024-05-06"})
        self.wait_state(date, "2024-05-06")
        self.control("time", "set_value", time_, {"time": "08:30:00"})
        self.wait_state(time_, "08:30:00")
        # What the datetime-local input of a user in UTC+2 sends.
        self.control("datetime", "set_value", datetime, {"datetime": "2024-05-06T08:30:00+02:00"})
        self.wait_state(datetime, "2024-05-06T06:30:00+00:00")

    def test_updates_install(self):
        installable = [
            entity_id
            for entity_id in self.of_domain("update", feature=UPDATE_INSTALL)
            if self.initial[entity_id]["state"] == "on"
        ]
        self.assertGreaterEqual(len(installable), 2, installable)
        for update in installable:
            with self.subTest(update=update):
                latest = self.initial[update]["attributes"]["latest_version"]
                self.control("update", "install", update)
                state = self.wait_state(update, "off")
                self.assertEqual(state["attributes"]["installed_version"], latest)

    def test_climate_fan_swing_and_preset_modes_and_target_range(self):
        checked = []
        for domain_list, service, field, value_attr in (
            ("fan_modes", "set_fan_mode", "fan_mode", "fan_mode"),
            ("swing_modes", "set_swing_mode", "swing_mode", "swing_mode"),
            ("preset_modes", "set_preset_mode", "preset_mode", "preset_mode"),
        ):
            for climate in self.of_domain("climate", domain_list):
                attributes = self.initial[climate]["attributes"]
                value = next(v for v in attributes[domain_list] if v != attributes[value_attr])
                with self.subTest(climate=climate, service=service):
                    self.control("climate", service, climate, {field: value})
                    self.wait_attribute(climate, value_attr, value)
                    checked.append(service)
        self.assertEqual(set(checked), {"set_fan_mode", "set_swing_mode", "set_preset_mode"})
        ranged = [
            climate
            for climate in self.of_domain("climate", "target_temp_low")
            if self.initial[climate]["attributes"].get("target_temp_high") is not None
        ]
        self.assertTrue(ranged)
        for climate in ranged:
            self.control(
                "climate",
                "set_temperature",
                climate,
                {"target_temp_low": 19, "target_temp_high": 25},
            )
            state = self.wait_attribute(climate, "target_temp_low", 19)
            self.assertEqual(state["attributes"]["target_temp_high"], 25)

    def test_cover_tilt(self):
        tilting = self.of_domain("cover", "current_tilt_position")
        self.assertGreaterEqual(len(tilting), 2, tilting)
        # Both at once (the call names them all); the demo moves a tilt 10 % a second.
        self.control("cover", "set_cover_tilt_position", tilting, {"tilt_position": 80})
        for cover in tilting:
            self.wait_attribute(cover, "current_tilt_position", 80)
        self.control("cover", "open_cover_tilt", tilting)
        for cover in tilting:
            self.wait_attribute(cover, "current_tilt_position", 100)
        self.control("cover", "close_cover_tilt", tilting)
        for cover in tilting:
            self.wait_for(
                cover, lambda s: s["attributes"]["current_tilt_position"] < 100, "closing its tilt"
            )
        # Still for the tests that follow.
        self.rest.call_service("cover", "stop_cover_tilt", {"entity_id": tilting})

    def test_light_effect(self):
        lights = self.of_domain("light", "effect_list")
        self.assertTrue(lights)
        for light in lights:
            effect = self.initial[light]["attributes"]["effect_list"][0]
            self.control("light", "turn_on", light, {"effect": effect})
            self.wait_attribute(light, "effect", effect)

    def test_media_players_tracks_mute_and_source(self):
        track_keys = ("media_track", "media_episode", "media_title")

        def track(state):
            return tuple(state["attributes"].get(key) for key in track_keys)

        with_next = self.of_domain("media_player", feature=MEDIA_NEXT)
        self.assertTrue(with_next)
        for player in with_next:
            with self.subTest(player=player, service="next/previous"):
                before = track(self.rest.get_state(player))
                self.control("media_player", "media_next_track", player)
                self.wait_for(player, lambda s, b=before: track(s) != b, "on the next track")
                if self.initial[player]["attributes"]["supported_features"] & MEDIA_PREVIOUS:
                    self.control("media_player", "media_previous_track", player)
                    self.wait_for(player, lambda s, b=before: track(s) == b, "back on its track")
        muting = [
            player
            for player in self.of_domain("media_player", feature=MEDIA_MUTE)
            if isinstance(self.initial[player]["attributes"].get("is_volume_muted"), bool)
        ]
        self.assertTrue(muting)
        for player in muting:
            with self.subTest(player=player, service="volume_mute"):
                self.control("media_player", "volume_mute", player, {"is_volume_muted": True})
                self.wait_attribute(player, "is_volume_muted", True)
                self.control("media_player", "volume_mute", player, {"is_volume_muted": False})
                self.wait_attribute(player, "is_volume_muted", False)
        sources = self.of_domain("media_player", "source_list", MEDIA_SOURCE)
        self.assertTrue(sources)
        for player in sources:
            attributes = self.initial[player]["attributes"]
            source = next(s for s in attributes["source_list"] if s != attributes.get("source"))
            self.control("media_player", "select_source", player, {"source": source})
            self.wait_attribute(player, "source", source)

    def test_fan_direction_and_preset(self):
        directed = self.of_domain("fan", "direction")
        self.assertTrue(directed)
        for fan in directed:
            direction = (
                "reverse"
                if self.initial[fan]["attributes"]["direction"] != "reverse"
                else "forward"
            )
            self.control("fan", "set_direction", fan, {"direction": direction})
            self.wait_attribute(fan, "direction", direction)
        with_presets = self.of_domain("fan", "preset_modes")
        self.assertTrue(with_presets)
        for fan in with_presets:
            preset = self.initial[fan]["attributes"]["preset_modes"][1]
            self.control("fan", "set_preset_mode", fan, {"preset_mode": preset})
            self.wait_attribute(fan, "preset_mode", preset)

    def test_vacuums(self):
        covered = set()
        for vacuum in self.of_domain("vacuum"):
            attributes = self.initial[vacuum]["attributes"]
            features = attributes["supported_features"]
            with self.subTest(vacuum=vacuum):
                if features & VACUUM_FAN_SPEED and attributes.get("fan_speed_list"):
                    self.control("vacuum", "set_fan_speed", vacuum, {"fan_speed": "max"})
                    self.wait_attribute(vacuum, "fan_speed", "max")
                    covered.add("set_fan_speed")
                if not features & VACUUM_START:
                    continue
                self.control("vacuum", "start", vacuum)
                self.wait_state(vacuum, "cleaning")
                if features & VACUUM_PAUSE:
                    self.control("vacuum", "pause", vacuum)
                    self.wait_state(vacuum, "paused")
                    self.control("vacuum", "start", vacuum)
                    self.wait_state(vacuum, "cleaning")
                    covered.add("pause")
                if features & VACUUM_STOP:
                    self.control("vacuum", "stop", vacuum)
                    self.wait_state(vacuum, "idle")
                    covered.add("stop")
                if features & VACUUM_LOCATE:
                    self.control("vacuum", "return_to_base", vacuum)
                    self.wait_state(vacuum, "returning")
                    # The demo vacuum answers a locate by leaving its dock run: idle.
                    self.control("vacuum", "locate", vacuum)
                    self.wait_state(vacuum, "idle")
                    covered.add("locate")
        self.assertEqual(covered, {"set_fan_speed", "pause", "stop", "locate"})

    def test_script_stop(self):
        # The test scripts end at once: stopping one that does not run is accepted and
        # changes nothing.
        for script in self.of_domain("script"):
            self.control("script", "turn_off", script)
            self.assertEqual(self.rest.get_state(script)["state"], "off")

    def test_numbers_step_up_and_down(self):
        for number in self.of_domain("number"):
            attributes = self.initial[number]["attributes"]
            value = float(self.initial[number]["state"])
            step = attributes["step"]
            # What the + button computes: one step up, within max (else one step down).
            target = value + step if value + step <= attributes["max"] else value - step
            target = round(target, 6)
            with self.subTest(number=number):
                self.control("number", "set_value", number, {"value": target})
                self.wait_for(
                    number, lambda s, t=target: abs(float(s["state"]) - t) < 1e-9, f"{target}"
                )

    def test_input_helpers(self):
        level = helper_entity_id(*HELPERS[0])
        self.control("input_number", "increment", level)
        self.wait_state(level, "5.5")
        self.control("input_number", "decrement", level)
        self.wait_state(level, "5.0")
        self.control("input_number", "set_value", level, {"value": 7})
        self.wait_state(level, "7.0")
        note = helper_entity_id(*HELPERS[1])
        self.control("input_text", "set_value", note, {"value": "Buy milk"})
        self.wait_state(note, "Buy milk")
        wake, day, alarm = (helper_entity_id(*helper) for helper in HELPERS[2:5])
        self.control("input_datetime", "set_datetime", wake, {"datetime": "2024-05-06 07:15:00"})
        self.wait_state(wake, "2024-05-06 07:15:00")
        self.control("input_datetime", "set_datetime", day, {"date": "2024-05-07"})
        self.wait_state(day, "2024-05-07")
        self.control("input_datetime", "set_datetime", alarm, {"time": "06:45:00"})
        self.wait_state(alarm, "06:45:00")
        mode = helper_entity_id(*HELPERS[5])
        self.control("input_select", "select_option", mode, {"option": "comfort"})
        self.wait_state(mode, "comfort")

    def test_todo_items_added_completed_and_reopened(self):
        before = int(self.rest.get_state(TODO)["state"])
        # The shopping list keeps its items in a file, from one run to the next.
        summary = f"Milk from Odoo {time.time_ns()}"
        self.addCleanup(
            self.rest.call_service, "todo", "remove_item", {"entity_id": TODO, "item": summary}
        )
        self.control("todo", "add_item", TODO, {"item": summary})
        self.wait_state(TODO, str(before + 1))
        with ha_session(self.ha) as session:
            items = session.command("todo/item/list", entity_id=TODO)["items"]
        (uid,) = [item["uid"] for item in items if item["summary"] == summary]
        # The controls name an item by its uid.
        self.control("todo", "update_item", TODO, {"item": uid, "status": "completed"})
        self.wait_state(TODO, str(before))
        self.control("todo", "update_item", TODO, {"item": uid, "status": "needs_action"})
        self.wait_state(TODO, str(before + 1))

    # What the controls never send ------------------------------------------------------------

    def refused_to_controller(self, error_type, service, entity_id, data):
        """The refusal of ``service`` of the entity's domain for ``controller``; Home Assistant
        is left as it was."""
        before = self.rest.get_state(entity_id)
        message = self.refused(
            "call_service",
            error_type,
            ha_instance_id=self.live_id,
            domain=entity_id.split(".", 1)[0],
            service=service,
            entity_id=entity_id,
            service_data=data,
        )
        after = self.rest.get_state(entity_id)
        self.assertEqual(
            (after["state"], after["attributes"]), (before["state"], before["attributes"])
        )
        return message

    def test_values_beyond_the_entity_and_fields_beyond_the_controls_are_refused(self):
        refusals = [
            ("invalid_input", "set_humidity", "humidifier.hygrostat", {"humidity": 101}),
            ("invalid_input", "set_fan_mode", "climate.hvac", {"fan_mode": "turbo"}),
            ("invalid_input", "turn_on", "light.bed_light", {"effect": "strobe"}),
            ("invalid_input", "volume_mute", "media_player.walkman", {"is_volume_muted": "y"}),
            (
                "invalid_input",
                "set_temperature",
                "water_heater.demo_water_heater",
                {"temperature": 90},
            ),
            ("invalid_input", "add_item", TODO, {"item": "x", "entity_id": "todo.other"}),
            ("access_denied", "install", "update.demo_add_on", {"version": "0.0.1"}),
            ("access_denied", "turn_on", "siren.siren_with_all_features", {"duration": 3600}),
            ("access_denied", "alarm_trigger", "alarm_control_panel.security", {"code": "1"}),
            ("access_denied", "send_command", "vacuum.0_ground_floor", {"command": "x"}),
        ]
        for error_type, service, entity_id, data in refusals:
            with self.subTest(service=service, entity=entity_id, data=data):
                self.refused_to_controller(error_type, service, entity_id, data)

    def test_texts_choices_dates_and_times_of_the_wrong_form_are_refused(self):
        # Each refusal names the field and says what it should be, in the user's language.
        refusals = [
            ("set_value", "text.text_with_1_to_5_characters", {"value": "too long"}, "value"),
            ("alarm_disarm", "alarm_control_panel.security", {"code": 1234}, "code"),
            ("set_direction", "fan.living_room_fan", {"direction": "up"}, "direction"),
            ("update_item", TODO, {"item": "x", "status": "deleted"}, "status"),
            ("set_value", "date.date", {"date": "2024-02-30"}, "date"),
            ("set_value", "time.time", {"time": "25:00"}, "time"),
            ("set_value", "datetime.date_and_time", {"datetime": "tomorrow"}, "datetime"),
        ]
        for service, entity_id, data, field in refusals:
            with self.subTest(service=service, entity=entity_id, data=data):
                message = self.refused_to_controller("invalid_input", service, entity_id, data)
                self.assertIn(f"“{field}”", message)

    # Viewing is not controlling ------------------------------------------------------------

    def test_people_who_may_only_view_are_refused_every_control(self):
        calls = [
            ("alarm_control_panel", "alarm_disarm", {"code": ALARM_CODE}),
            ("water_heater", "set_away_mode", {"away_mode": True}),
            ("humidifier", "turn_off", None),
            ("siren", "toggle", None),
            ("text", "set_value", {"value": "abc"}),
            ("date", "set_value", {"date": "2024-05-06"}),
            ("time", "set_value", {"time": "08:30:00"}),
            ("datetime", "set_value", {"datetime": "2024-05-06T08:30:00+00:00"}),
            ("update", "install", None),
            ("climate", "set_fan_mode", {"fan_mode": "auto_low"}),
            ("cover", "open_cover_tilt", None),
            ("light", "turn_on", {"effect": "rainbow"}),
            ("media_player", "volume_mute", {"is_volume_muted": True}),
            ("fan", "set_direction", {"direction": "reverse"}),
            ("vacuum", "locate", None),
            ("script", "turn_off", None),
            ("number", "set_value", {"value": 1}),
            ("input_number", "increment", None),
            ("input_text", "set_value", {"value": "x"}),
            ("input_datetime", "set_datetime", {"date": "2024-05-06"}),
            ("todo", "add_item", {"item": "Not from a viewer"}),
        ]
        self.login(self.viewer)
        for domain, service, data in calls:
            entity_id = self.of_domain(domain)[0]
            before = self.rest.get_state(entity_id)
            with self.subTest(service=f"{domain}.{service}"):
                params = {"domain": domain, "service": service, "entity_id": entity_id}
                if data is not None:
                    params["service_data"] = data
                self.refused("call_service", "access_denied", ha_instance_id=self.live_id, **params)
                after = self.rest.get_state(entity_id)
                self.assertEqual(
                    (after["state"], after["attributes"]), (before["state"], before["attributes"])
                )
