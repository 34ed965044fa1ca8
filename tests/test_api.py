"""The JSON API over real HTTP sessions, against the real Home Assistant of the test run
(fixtures: tests/api_common.py)."""

import json
import time
from datetime import timedelta
from unittest.mock import patch

from odoo import Command, fields
from odoo.tests import tagged

from .. import connector
from ..controllers import main
from ..controllers.instance_resolver import INSTANCE_FALLBACK, INSTANCE_SWITCHED
from .api_common import API, LIGHT, OTHER_LIGHT, SENSOR, ApiCase


@tagged("post_install", "-at_install")
class TestJsonApi(ApiCase):
    # Instances ----------------------------------------------------------------------------

    def test_instances_lists_what_the_user_may_use_with_its_status(self):
        self.login(self.member)
        data = self.ok("instances")
        listed = {item["name"]: item for item in data["instances"]}
        self.assertEqual(list(listed), ["Attic", "Live"])
        self.assertEqual(listed["Live"]["status"], "connected")
        self.assertEqual(listed["Live"]["ha_version"], "2024.3.3")
        self.assertGreater(listed["Live"]["entity_count"], 50)
        self.assertEqual(data["current_instance_id"], self.attic.id)
        self.assertTrue(listed["Attic"]["current"])
        self.assertNotIn("token", listed["Live"])

        self.login(self.manager)
        names = [item["name"] for item in self.ok("instances")["instances"]]
        self.assertEqual(names, ["Attic", "Cabin", "Live"])

    def test_fallback_chain_step_by_step(self):
        # (3) No session instance, no preference: the first usable instance by sequence.
        self.login(self.member)
        self.assertEqual(self.ok("websocket_status")["id"], self.attic.id)

        # (2) The user's preference wins over the order.
        self.member.current_ha_instance_id = self.live
        self.login(self.member)
        status = self.ok("websocket_status")
        self.assertEqual((status["id"], status["connected"]), (self.live_id, True))

        # (1) The session's instance wins over the preference, and switching records both.
        bus_before = self.last_bus_id()
        self.assertEqual(
            self.ok("switch_instance", ha_instance_id=self.attic.id)["id"], self.attic.id
        )
        self.assertEqual(self.member.current_ha_instance_id, self.attic)
        self.member.current_ha_instance_id = self.live
        self.assertEqual(self.ok("websocket_status")["id"], self.attic.id)
        self.assertEqual(
            self.bus_payloads(self.member, INSTANCE_SWITCHED, bus_before),
            [{"instance_id": self.attic.id, "name": "Attic"}],
        )

        # The session's instance is archived: the preference takes over, the tabs are told.
        self.attic.active = False
        bus_before = self.last_bus_id()
        self.assertEqual(self.ok("websocket_status")["id"], self.live_id)
        self.assertEqual(
            self.bus_payloads(self.member, INSTANCE_FALLBACK, bus_before),
            [{"previous_instance_id": self.attic.id, "instance_id": self.live_id}],
        )
        # The session now holds the fallback: no second notification.
        bus_before = self.last_bus_id()
        self.ok("areas")
        self.assertEqual(self.bus_payloads(self.member, INSTANCE_FALLBACK, bus_before), [])

        # An explicit id must be usable: archived, unconfigured, unknown, not the user's.
        self.assertIn(
            "Attic",
            self.refused("websocket_status", "instance_inactive", ha_instance_id=self.attic.id),
        )
        # Not the member's and not existing: the same answer, so an id reveals nothing.
        not_yours = self.refused(
            "websocket_status", "instance_not_found", ha_instance_id=self.cabin.id
        )
        missing = self.refused(
            "websocket_status", "instance_not_found", ha_instance_id=2_000_000_000
        )
        self.assertEqual(
            not_yours.replace(str(self.cabin.id), "N"), missing.replace("2000000000", "N")
        )
        self.attic.write({"active": True, "token": False})
        self.refused("websocket_status", "instance_not_configured", ha_instance_id=self.attic.id)

        # Out of every group: nothing is left to fall back to.
        self.env["ha.entity.group"].search([]).write({"user_ids": [Command.unlink(self.member.id)]})
        self.refused("websocket_status", "instance_not_found")
        self.assertEqual(self.ok("instances")["instances"], [])

    def test_switching_reaches_only_that_users_tabs(self):
        self.login(self.member)
        bus_before = self.last_bus_id()
        self.ok("switch_instance", ha_instance_id=self.live_id)
        self.assertEqual(len(self.bus_payloads(self.member, INSTANCE_SWITCHED, bus_before)), 1)
        self.assertEqual(self.bus_payloads(self.colleague, INSTANCE_SWITCHED, bus_before), [])
        self.env.cr.execute(
            "SELECT count(*) FROM bus_bus WHERE id > %s AND channel LIKE %s",
            (bus_before, f'%"res.partner",{self.colleague.partner_id.id}]'),
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        # The colleague's own choice is untouched.
        self.login(self.colleague)
        self.assertFalse(self.colleague.current_ha_instance_id)
        self.assertEqual(self.ok("websocket_status")["id"], self.live_id)

    def test_switching_to_an_instance_outside_the_users_groups_is_refused(self):
        self.login(self.member)
        self.refused("switch_instance", "instance_not_found", ha_instance_id=self.cabin.id)
        self.assertFalse(self.member.current_ha_instance_id)
        self.refused("switch_instance", "invalid_input")

    def test_restart_is_for_managers(self):
        self.login(self.member)
        self.refused("websocket_restart", "access_denied", ha_instance_id=self.live_id)
        self.login(self.manager)
        data = self.ok("websocket_restart", ha_instance_id=self.live_id)
        self.assertEqual(data, {"instance_id": self.live_id, "restarting": True})

    def test_users_without_home_assistant_rights_get_nothing(self):
        self.login(self.internal)
        # Nothing is shared with them: no instance, and a named one is not theirs.
        self.assertEqual(self.ok("instances")["instances"], [])
        self.refused("entities", "instance_not_found")
        self.refused("websocket_status", "instance_not_found", ha_instance_id=self.live_id)
        self.refused(
            "entity_states", "instance_not_found", ha_instance_id=self.live_id, entity_ids=[LIGHT]
        )

    def test_anonymous_requests_are_refused_by_the_session_check(self):
        response = self.url_open(
            f"{API}/instances",
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {}}),
            headers={"Content-Type": "application/json"},
        )
        body = response.json()
        self.assertNotIn("result", body)
        self.assertEqual(body["error"]["data"]["name"], "odoo.http.SessionExpiredException")

    # Server information -------------------------------------------------------------------

    def test_urls_come_from_the_instance_and_home_assistant(self):
        self.login(self.manager)
        data = self.ok("ha_urls", ha_instance_id=self.live_id)
        config = self.rest.get_config()
        self.assertEqual(
            data,
            {
                "url": self.ha.url,
                "internal_url": config.get("internal_url"),
                "external_url": config.get("external_url"),
            },
        )

    def test_server_information_comes_from_the_core_integrations(self):
        # No Supervisor here (a core install): the hardware and network integrations answer.
        self.login(self.manager)
        hardware = self.ok("hardware_info", ha_instance_id=self.live_id)
        self.assertEqual(hardware["source"], "core")
        self.assertIn("hardware", hardware["info"])
        network = self.ok("network_info", ha_instance_id=self.live_id)
        self.assertEqual(network["source"], "core")
        adapters = [adapter["name"] for adapter in network["info"]["adapters"]]
        self.assertIn("lo", adapters)

    def test_server_information_home_assistant_cannot_give_is_not_supported(self):
        # An installation without the Supervisor nor the core integration: Home Assistant
        # answers unknown_command to both, which the route reports as not_supported.
        self.login(self.manager)
        missing = {"hardware_info": ("/hardware/info", "hardware/not_installed")}
        with patch.dict(main.SERVER_INFO_SOURCES, missing):
            message = self.refused("hardware_info", "not_supported", ha_instance_id=self.live_id)
        self.assertIn("Supervisor", message)

    def test_server_information_of_an_unreachable_instance_says_not_connected(self):
        self.login(self.manager)
        self.refused("hardware_info", "not_connected", ha_instance_id=self.attic.id)

    def test_server_information_is_for_managers_only(self):
        # What Home Assistant tells of its host (addresses, interfaces, URLs) is the System
        # info page's, for managers: a Home Assistant user who is not one is refused.
        self.login(self.member)
        for route in ("ha_urls", "hardware_info", "network_info"):
            with self.subTest(route=route):
                self.refused(route, "access_denied", ha_instance_id=self.live_id)

    # Areas and entities -------------------------------------------------------------------

    def test_areas_and_entities_by_area_show_only_what_the_user_may_see(self):
        self.login(self.member)
        data = self.ok("areas", ha_instance_id=self.live_id)
        areas = self.env["ha.area"].search([("instance_id", "=", self.live_id)])
        self.assertEqual(
            sorted(a["area_id"] for a in data["areas"]), sorted(areas.mapped("area_id"))
        )
        visible = self.light | self.other_light | self.sensor
        counted = sum(a["entity_count"] for a in data["areas"]) + data["unassigned_count"]
        self.assertEqual(counted, len(visible))

        seen = []
        for area_id in [a["id"] for a in data["areas"]] + [None]:
            listed = self.ok("entities_by_area", ha_instance_id=self.live_id, area_id=area_id)
            self.assertEqual(listed["area_id"], area_id)
            seen += listed["entities"]
        self.assertEqual(sorted(e["entity_id"] for e in seen), sorted(visible.mapped("entity_id")))
        by_id = {e["entity_id"]: e for e in seen}
        self.assertTrue(by_id[LIGHT]["can_control"])
        self.assertFalse(by_id[OTHER_LIGHT]["can_control"])
        self.assertEqual(by_id[SENSOR]["state"], self.sensor.state)
        self.assertEqual(by_id[SENSOR]["unit_of_measurement"], "°C")

    def test_entities_gives_the_dashboard_everything_in_one_call(self):
        self.login(self.member)
        data = self.ok("entities")
        self.assertEqual(data["instance"]["id"], self.attic.id)
        data = self.ok("entities", ha_instance_id=self.live_id)
        self.assertEqual(data["instance"]["status"], "connected")
        self.assertFalse(data["can_manage"])
        self.assertEqual(
            sorted(e["entity_id"] for e in data["entities"]), sorted([LIGHT, OTHER_LIGHT, SENSOR])
        )
        areas = self.env["ha.area"].search([("instance_id", "=", self.live_id)])
        self.assertEqual(sorted(a["id"] for a in data["areas"]), sorted(areas.ids))
        self.login(self.manager)
        data = self.ok("entities", ha_instance_id=self.live_id)
        self.assertTrue(data["can_manage"])
        self.assertEqual(len(data["entities"]), self.live.entity_count)

    def test_entity_states_answer_for_readable_entities_only(self):
        self.login(self.member)
        hidden = "switch.decorative_lights"
        data = self.ok(
            "entity_states",
            ha_instance_id=self.live_id,
            entity_ids=[LIGHT, SENSOR, hidden, "light.does_not_exist"],
        )
        self.assertEqual([e["entity_id"] for e in data["entities"]], [LIGHT, SENSOR])
        self.assertEqual(data["unknown"], [hidden, "light.does_not_exist"])
        ha_light = self.rest.get_state(LIGHT)
        light = data["entities"][0]
        self.assertEqual(light["attributes"], self.light.attributes)
        self.assertEqual(light["name"], ha_light["attributes"]["friendly_name"])

    def test_read_routes_read_the_mirror_without_asking_home_assistant(self):
        self.login(self.member)
        # Stop the connection: a read route that asked Home Assistant would now fail.
        connector.stop_supervisor(self.env.cr.dbname)
        self.addCleanup(connector.ensure_supervisor, self.env.cr.dbname, [self.live_id])
        data = self.ok("entity_states", ha_instance_id=self.live_id, entity_ids=[SENSOR])
        self.assertEqual(data["entities"][0]["state"], self.sensor.state)
        self.ok("areas", ha_instance_id=self.live_id)
        self.ok("entities_by_area", ha_instance_id=self.live_id)
        message = self.refused(
            "call_service",
            "not_connected",
            ha_instance_id=self.live_id,
            domain="light",
            service="toggle",
            entity_id=LIGHT,
        )
        self.assertTrue(message)

    # Service calls ------------------------------------------------------------------------

    def test_member_controls_the_entities_of_their_control_group(self):
        self.login(self.member)
        self.ok(
            "call_service",
            domain="light",
            service="turn_off",
            entity_id=LIGHT,
            ha_instance_id=self.live_id,
        )
        self.wait_ha_state(LIGHT, "off")
        self.ok(
            "call_service",
            ha_instance_id=self.live_id,
            domain="light",
            service="turn_on",
            entity_id=[LIGHT],
            service_data={"brightness_pct": 47},
        )
        self.wait_ha_state(LIGHT, "on")
        self.assertEqual(self.rest.get_state(LIGHT)["attributes"]["brightness"], 120)
        self.ok(
            "call_service",
            ha_instance_id=self.live_id,
            domain="homeassistant",
            service="toggle",
            entity_id=LIGHT,
        )
        self.wait_ha_state(LIGHT, "off")

    def test_member_cannot_go_beyond_their_entities_and_domains(self):
        self.login(self.member)
        before = self.rest.get_state(OTHER_LIGHT)["state"]
        refusals = [
            # A view-only entity.
            {"domain": "light", "service": "toggle", "entity_id": OTHER_LIGHT},
            # A service of another domain on a controllable entity.
            {"domain": "switch", "service": "turn_off", "entity_id": LIGHT},
            {"domain": "homeassistant", "service": "stop"},
            {"domain": "homeassistant", "service": "stop", "entity_id": LIGHT},
            {"domain": "homeassistant", "service": "restart", "entity_id": LIGHT},
            # Entities outside the user's groups, or unknown.
            {"domain": "switch", "service": "toggle", "entity_id": "switch.decorative_lights"},
            {"domain": "light", "service": "toggle", "entity_id": [LIGHT, "light.nope"]},
            # No entity at all: the call would reach every light.
            {"domain": "light", "service": "turn_off"},
        ]
        for params in refusals:
            with self.subTest(**params):
                self.refused("call_service", "access_denied", ha_instance_id=self.live_id, **params)
        message = self.refused(
            "call_service",
            "invalid_input",
            ha_instance_id=self.live_id,
            domain="light",
            service="turn_off",
            entity_id=LIGHT,
            service_data={"entity_id": OTHER_LIGHT},
        )
        self.assertIn("entity_id", message)
        self.assertEqual(self.rest.get_state(OTHER_LIGHT)["state"], before)
        # Nothing reaches an instance outside the member's groups, even by id.
        self.refused(
            "call_service",
            "instance_not_found",
            ha_instance_id=self.cabin.id,
            domain="switch",
            service="toggle",
            entity_id="switch.pump",
        )

    def test_home_assistant_errors_come_back_as_command_failed(self):
        # A manager's calls go to Home Assistant as they are: it answers unknown services.
        self.login(self.manager)
        message = self.refused(
            "call_service",
            "command_failed",
            ha_instance_id=self.live_id,
            domain="light",
            service="no_such_service",
            entity_id=LIGHT,
        )
        self.assertIn("no_such_service", message)
        self.refused(
            "call_service",
            "command_failed",
            ha_instance_id=self.live_id,
            domain="light",
            service="turn_on",
            entity_id=LIGHT,
            service_data={"brightness": "very bright"},
        )

    def test_managers_may_call_any_service_of_the_instance(self):
        self.login(self.manager)
        self.rest.call_service("light", "turn_on", {"entity_id": OTHER_LIGHT})
        self.wait_ha_state(OTHER_LIGHT, "on")
        data = self.ok(
            "call_service",
            ha_instance_id=self.live_id,
            domain="light",
            service="turn_off",
            entity_id=OTHER_LIGHT,
        )
        self.assertEqual(
            (data["domain"], data["service"], data["entity_ids"]),
            ("light", "turn_off", [OTHER_LIGHT]),
        )
        self.wait_ha_state(OTHER_LIGHT, "off")

    # Related -------------------------------------------------------------------------------

    def test_related_lists_what_uses_an_entity_as_far_as_the_user_may_read(self):
        self.login(self.manager)
        # Another test may have restarted the connection: wait until it is back.
        deadline = time.monotonic() + 20
        while True:
            envelope = self.call("entity_related", ha_instance_id=self.live_id, entity_id=LIGHT)
            if envelope["error_type"] != "not_connected" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertTrue(envelope["success"], envelope)
        data = envelope["data"]
        self.assertIn(
            "automation.evening_lights", [item["entity_id"] for item in data["automation"]]
        )
        self.assertEqual(len(data["device"]), 1)
        # The member reads the light but not the automation that uses it.
        self.login(self.member)
        data = self.ok("entity_related", ha_instance_id=self.live_id, entity_id=LIGHT)
        self.assertEqual(data["automation"], [])
        self.assertEqual(len(data["device"]), 1)
        self.refused(
            "entity_related",
            "access_denied",
            ha_instance_id=self.live_id,
            entity_id="automation.evening_lights",
        )
        self.login(self.internal)
        self.refused(
            "entity_related", "instance_not_found", ha_instance_id=self.live_id, entity_id=LIGHT
        )

    # History ------------------------------------------------------------------------------

    def test_history_is_downsampled_per_entity(self):
        History = self.env["ha.entity.history"]
        # Two days ago: clear of the states the connector records now.
        end = fields.Datetime.now().replace(microsecond=0) - timedelta(days=2)
        start = end - timedelta(hours=1)
        # 360 readings, one every 10 s: 20.0, 20.1, ... and the light switching every 10 min.
        for i in range(360):
            History.create(
                {
                    "entity_id": self.sensor.id,
                    "state": str(20 + (i % 10) / 10),
                    "last_updated": start + timedelta(seconds=10 * i),
                }
            )
        for i in range(6):
            History.create(
                {
                    "entity_id": self.light.id,
                    "state": "on" if i % 2 == 0 else "off",
                    "last_updated": start + timedelta(minutes=10 * i, seconds=5),
                }
            )
        self.login(self.member)
        data = self.ok(
            "entity_history",
            ha_instance_id=self.live_id,
            entity_ids=[SENSOR, LIGHT],
            start=fields.Datetime.to_string(start),
            end=(end).isoformat() + "+00:00",
            max_points=12,
        )
        sensor, light = data["series"]
        self.assertEqual(
            (sensor["entity_id"], sensor["kind"], sensor["unit"]), (SENSOR, "numeric", "°C")
        )
        self.assertEqual(len(sensor["points"]), 12)
        self.assertEqual(sensor["bucket_seconds"], 300)
        self.assertEqual(sum(p["count"] for p in sensor["points"]), 360)
        for point in sensor["points"]:
            self.assertAlmostEqual(point["min"], 20.0)
            self.assertAlmostEqual(point["max"], 20.9)
            self.assertAlmostEqual(point["avg"], 20.45)
        self.assertEqual(sensor["points"][0]["t"], start.isoformat() + "Z")
        self.assertEqual(light["kind"], "timeline")
        self.assertEqual([s["state"] for s in light["segments"]], ["on", "off"] * 3)
        self.assertEqual(
            light["segments"][1]["start"],
            (start + timedelta(minutes=10, seconds=5)).isoformat() + "Z",
        )
        self.assertEqual(light["segments"][0]["end"], light["segments"][1]["start"])

    def test_history_of_entities_the_user_may_not_read_is_refused(self):
        self.login(self.member)
        self.refused(
            "entity_history",
            "access_denied",
            ha_instance_id=self.live_id,
            entity_ids=[SENSOR, "switch.decorative_lights"],
        )
        self.refused(
            "entity_history",
            "instance_not_found",
            ha_instance_id=self.cabin.id,
            entity_ids=["switch.pump"],
        )

    # Bad input ----------------------------------------------------------------------------

    def test_malformed_input_gets_a_structured_error(self):
        self.login(self.member)
        live = self.live_id
        megabyte = "x" * (1024 * 1024)
        cases = [
            ("websocket_status", {"ha_instance_id": "1"}),
            ("websocket_status", {"ha_instance_id": -4}),
            ("websocket_status", {"ha_instance_id": True}),
            ("websocket_status", {"ha_instance_id": 2**40}),
            ("websocket_status", {"ha_instance_id": [live]}),
            ("websocket_status", {"ha_instance_id": 1.5}),
            ("websocket_status", {"instance": live}),
            ("switch_instance", {"ha_instance_id": {"id": live}}),
            ("entities_by_area", {"ha_instance_id": live, "area_id": "kitchen"}),
            ("entity_states", {"ha_instance_id": live}),
            ("entity_states", {"ha_instance_id": live, "entity_ids": "not an entity"}),
            ("entity_states", {"ha_instance_id": live, "entity_ids": [1, 2]}),
            ("entity_states", {"ha_instance_id": live, "entity_ids": {"light": "bed_light"}}),
            ("entity_states", {"ha_instance_id": live, "entity_ids": [LIGHT] * 501}),
            ("entity_states", {"ha_instance_id": live, "entity_ids": [megabyte]}),
            (
                "entity_states",
                {"ha_instance_id": live, "entity_ids": ["light.x'; DROP TABLE ha_entity;--"]},
            ),
            (
                "call_service",
                {
                    "ha_instance_id": live,
                    "domain": "light",
                    "service": "turn_on",
                    "entity_id": LIGHT,
                    "service_data": {"x": megabyte},
                },
            ),
            (
                "call_service",
                {
                    "ha_instance_id": live,
                    "domain": "light",
                    "service": "turn_on",
                    "entity_id": LIGHT,
                    "service_data": [1],
                },
            ),
            (
                "call_service",
                {
                    "ha_instance_id": live,
                    "domain": "Light",
                    "service": "turn_on",
                    "entity_id": LIGHT,
                },
            ),
            (
                "call_service",
                {
                    "ha_instance_id": live,
                    "domain": "light",
                    "service": "turn_on; --",
                    "entity_id": LIGHT,
                },
            ),
            (
                "call_service",
                {
                    "ha_instance_id": live,
                    "domain": "light",
                    "service": megabyte,
                    "entity_id": LIGHT,
                },
            ),
            (
                "call_service",
                {"ha_instance_id": live, "domain": 7, "service": "turn_on", "entity_id": LIGHT},
            ),
            ("call_service", {"ha_instance_id": live, "service": "turn_on", "entity_id": LIGHT}),
            (
                "entity_history",
                {"ha_instance_id": live, "entity_ids": [SENSOR], "start": "yesterday"},
            ),
            (
                "entity_history",
                {"ha_instance_id": live, "entity_ids": [SENSOR], "start": 1700000000},
            ),
            ("entity_history", {"ha_instance_id": live, "entity_ids": [SENSOR], "max_points": 5}),
            (
                "entity_history",
                {"ha_instance_id": live, "entity_ids": [SENSOR], "max_points": "100"},
            ),
            ("entity_history", {"ha_instance_id": live, "entity_ids": [SENSOR] * 21}),
            (
                "entity_history",
                {
                    "ha_instance_id": live,
                    "entity_ids": [SENSOR],
                    "start": "2024-03-02T00:00:00",
                    "end": "2024-03-01T00:00:00",
                },
            ),
            (
                "entity_history",
                {
                    "ha_instance_id": live,
                    "entity_ids": [SENSOR],
                    "start": "2020-01-01T00:00:00",
                    "end": "2024-01-01T00:00:00",
                },
            ),
        ]
        for route, params in cases:
            with self.subTest(route=route, params=str(params)[:120]):
                message = self.refused(route, "invalid_input", **params)
                self.assertLess(len(message), 500)
        # The SQL-ish id was only ever a parameter.
        self.assertTrue(self.env["ha.entity"].search_count([]))

    def test_service_calls_that_would_widen_or_break_the_call_are_refused(self):
        self.login(self.member)
        call = {"ha_instance_id": self.live_id, "domain": "light", "service": "turn_on"}
        cases = [
            *(
                ({"entity_id": LIGHT, "service_data": {key: "x"}}, "invalid_input")
                for key in ("device_id", "area_id", "floor_id", "label_id")
            ),
            ({"entity_id": 5}, "invalid_input"),
            ({"entity_id": [LIGHT, None]}, "invalid_input"),
            ({"entity_id": "Light.Bed_Light"}, "invalid_input"),
            ({"entity_id": LIGHT, "service_data": "brightness=3"}, "invalid_input"),
            ({"entity_id": LIGHT, "service": ""}, "invalid_input"),
            ({"entity_id": LIGHT, "service": "turn.on"}, "invalid_input"),
            ({"entity_id": LIGHT, "target": {"area_id": "kitchen"}}, "invalid_input"),
            # Home Assistant's JSON parser refuses NaN: it would drop the whole connection.
            ({"entity_id": LIGHT, "service_data": {"brightness": float("nan")}}, "invalid_input"),
            ({"entity_id": []}, "access_denied"),
        ]
        for params, error_type in cases:
            with self.subTest(params=str(params)):
                self.refused("call_service", error_type, **{**call, **params})
        # The connection survived all of it.
        self.ok("call_service", **call, entity_id=LIGHT)
        self.wait_ha_state(LIGHT, "on")

    def test_token_is_in_no_response(self):
        # ``call`` checks every response body for the token; walk every route as a manager.
        self.login(self.manager)
        live = {"ha_instance_id": self.live_id}
        for route, params in [
            ("instances", {}),
            ("switch_instance", live),
            ("websocket_status", live),
            ("ha_urls", live),
            ("areas", live),
            ("entities", live),
            ("entities_by_area", live),
            ("entity_states", {**live, "entity_ids": [LIGHT, SENSOR]}),
            ("entity_history", {**live, "entity_ids": [SENSOR]}),
        ]:
            with self.subTest(route=route):
                self.assertNotIn("attic-token", json.dumps(self.ok(route, **params)))
