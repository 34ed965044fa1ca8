"""Service calls of users who are not managers, through the JSON API, against the real Home
Assistant of the test run (its configuration has two scripts and a scene; each script turns on
an input_boolean, so whether it ran shows in Home Assistant).

A member controls ``script.good_night``, ``light.bed_light`` and the entities below; every
refusal must come from the addon (``access_denied`` / ``invalid_input``), never from Home
Assistant, and leave Home Assistant as it was.
"""

from odoo import Command
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..controllers.main import _refusal_message
from ..policy.services import REFUSAL_REASONS, ServiceRefused, allowed_calls
from .api_common import LIGHT, ApiCase

GOOD_NIGHT = "script.good_night"
UNLOCK = "script.unlock_front_door"
GOOD_NIGHT_RAN = "input_boolean.good_night_ran"
FRONT_DOOR_UNLOCKED = "input_boolean.front_door_unlocked"
SCENE = "scene.evening"
SWITCH = "switch.decorative_lights"
MEDIA = "media_player.living_room"
CAMERA = "camera.demo_camera"
CONTROLLED = (GOOD_NIGHT, SCENE, SWITCH, MEDIA, CAMERA)


@tagged("post_install", "-at_install")
class TestServicePermissions(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        entities = cls.env["ha.entity"].search(
            [("instance_id", "=", cls.live_id), ("entity_id", "in", CONTROLLED)]
        )
        assert len(entities) == len(CONTROLLED), entities.mapped("entity_id")
        cls.env["ha.entity.group"].create(
            {
                "name": "Evening routine",
                "instance_id": cls.live_id,
                "access_level": "control",
                "entity_ids": [Command.set(entities.ids)],
                "user_ids": [Command.link(cls.member.id)],
            }
        )
        cls.portal = new_test_user(cls.env, login="api_portal", groups="base.group_portal")

    def setUp(self):
        super().setUp()
        for flag in (GOOD_NIGHT_RAN, FRONT_DOOR_UNLOCKED):
            self.rest.call_service("input_boolean", "turn_off", {"entity_id": flag})
            self.wait_ha_state(flag, "off")

    def call_as_member(self, error_type, domain, service, entity_id, service_data=None):
        self.login(self.member)
        params = {"domain": domain, "service": service, "entity_id": entity_id}
        if service_data is not None:
            params["service_data"] = service_data
        if error_type is None:
            return self.ok("call_service", ha_instance_id=self.live_id, **params)
        return self.refused("call_service", error_type, ha_instance_id=self.live_id, **params)

    def test_a_controlled_script_runs_and_cannot_run_another(self):
        self.call_as_member(None, "script", "turn_on", GOOD_NIGHT)
        self.wait_ha_state(GOOD_NIGHT_RAN, "on")
        self.rest.call_service("input_boolean", "turn_off", {"entity_id": GOOD_NIGHT_RAN})
        # The script's own service, on that script.
        self.call_as_member(None, "script", "good_night", GOOD_NIGHT)
        self.wait_ha_state(GOOD_NIGHT_RAN, "on")
        # script.unlock_front_door runs its own script whatever target it is given.
        self.call_as_member("access_denied", "script", "unlock_front_door", GOOD_NIGHT)
        self.call_as_member("access_denied", "script", "unlock_front_door", [GOOD_NIGHT, UNLOCK])
        self.call_as_member("access_denied", "script", "turn_on", UNLOCK)
        self.assertEqual(self.rest.get_state(FRONT_DOOR_UNLOCKED)["state"], "off")

    def test_domain_wide_and_unknown_services_are_refused_by_the_addon(self):
        before = self.rest.get_state(LIGHT)
        refusals = [
            ("switch", "odoo_sec_probe_no_such_service", SWITCH, None),
            ("switch", "reload", SWITCH, None),
            ("script", "reload", GOOD_NIGHT, None),
            ("scene", "reload", SCENE, None),
            ("scene", "apply", SCENE, {"entities": {LIGHT: "off"}}),
            ("scene", "create", SCENE, {"scene_id": "mine", "entities": {LIGHT: "off"}}),
            ("automation", "reload", SWITCH, None),
            ("homeassistant", "reload_all", SWITCH, None),
            ("light", "no_such_service", LIGHT, None),
        ]
        for domain, service, entity_id, data in refusals:
            with self.subTest(service=f"{domain}.{service}"):
                message = self.call_as_member("access_denied", domain, service, entity_id, data)
                self.assertIn(f"{domain}.{service}", message)
        self.assertEqual(self.rest.get_state(LIGHT)["state"], before["state"])

    def test_entity_references_in_service_data_are_refused(self):
        refusals = [
            ("access_denied", "tts", "speak", MEDIA, {"media_player_entity_id": MEDIA}),
            ("access_denied", "media_player", "join", MEDIA, {"group_members": [MEDIA]}),
            ("access_denied", "camera", "play_stream", CAMERA, {"media_player": MEDIA}),
            ("access_denied", "camera", "snapshot", CAMERA, {"filename": "/config/x.jpg"}),
            ("access_denied", "camera", "record", CAMERA, {"filename": "/config/x.mp4"}),
            ("access_denied", "light", "turn_on", LIGHT, {"profile": "relax"}),
            ("invalid_input", "light", "turn_on", LIGHT, {"brightness_pct": "light.x"}),
            ("invalid_input", "light", "turn_on", LIGHT, {"entity_id": "lock.front_door"}),
            # Home Assistant 2024.4 and later take floors and labels as targets too: a whole
            # floor or label would widen the call beyond the entities checked.
            ("invalid_input", "light", "turn_on", LIGHT, {"floor_id": "ground_floor"}),
            ("invalid_input", "light", "turn_on", LIGHT, {"label_id": "all_lights"}),
            ("invalid_input", "switch", "turn_off", SWITCH, {"floor_id": ["ground_floor"]}),
            ("invalid_input", "media_player", "volume_set", MEDIA, {"volume_level": 7}),
        ]
        for error_type, domain, service, entity_id, data in refusals:
            with self.subTest(service=f"{domain}.{service}", data=data):
                self.call_as_member(error_type, domain, service, entity_id, data)

    def test_a_target_beside_the_entity_is_refused(self):
        # The route takes entities only: a target naming a floor, label, area or device is an
        # unknown parameter, refused before anything is sent.
        self.login(self.member)
        before = self.rest.get_state(SWITCH)["state"]
        for target in ({"floor_id": "ground_floor"}, {"label_id": "all_lights"}):
            with self.subTest(target=target):
                self.refused(
                    "call_service",
                    "invalid_input",
                    ha_instance_id=self.live_id,
                    domain="switch",
                    service="turn_off",
                    entity_id=SWITCH,
                    target=target,
                )
        self.assertEqual(self.rest.get_state(SWITCH)["state"], before)

    def test_the_controls_calls_still_work(self):
        self.call_as_member(None, "switch", "turn_off", SWITCH)
        self.wait_ha_state(SWITCH, "off")
        self.call_as_member(None, "homeassistant", "turn_on", SWITCH)
        self.wait_ha_state(SWITCH, "on")
        self.call_as_member(None, "media_player", "volume_set", MEDIA, {"volume_level": 0.25})
        self.call_as_member(None, "scene", "turn_on", SCENE)
        self.wait_ha_state(LIGHT, "on")

    def test_users_without_home_assistant_rights_call_nothing(self):
        for user in (self.internal, self.outsider):
            with self.subTest(user=user.login):
                self.login(user)
                self.refused(
                    "call_service",
                    "instance_not_found",
                    ha_instance_id=self.live_id,
                    domain="script",
                    service="good_night",
                    entity_id=GOOD_NIGHT,
                )
        self.authenticate(self.portal.login, self.portal.login)
        response = self.json_rpc(
            "/odoo_ha_addon/call_service",
            {
                "ha_instance_id": self.live_id,
                "domain": "script",
                "service": "good_night",
                "entity_id": GOOD_NIGHT,
            },
        )
        self.assertFalse(response.json()["result"]["success"])
        self.assertEqual(self.rest.get_state(GOOD_NIGHT_RAN)["state"], "off")

    def test_managers_keep_every_service(self):
        self.login(self.manager)
        self.ok(
            "call_service",
            ha_instance_id=self.live_id,
            domain="script",
            service="unlock_front_door",
            entity_id=GOOD_NIGHT,
        )
        self.wait_ha_state(FRONT_DOOR_UNLOCKED, "on")
        self.ok(
            "call_service",
            ha_instance_id=self.live_id,
            domain="scene",
            service="apply",
            service_data={"entities": {LIGHT: "off"}},
        )
        self.wait_ha_state(LIGHT, "off")

    def test_every_allowed_service_exists_in_home_assistant_and_takes_an_entity_target(self):
        # Home Assistant's service descriptions (REST: one entry per domain).
        services = {item["domain"]: item["services"] for item in self.rest.get("/api/services")}
        checked = []
        for domain, service in sorted(allowed_calls()):
            if domain not in services:
                continue  # no integration of that domain in the test configuration
            with self.subTest(service=f"{domain}.{service}"):
                self.assertIn(service, services[domain])
                target = services[domain][service].get("target") or {}
                self.assertIn("entity", target, f"{domain}.{service} takes no entity target")
                checked.append(domain)
        self.assertGreaterEqual(len(set(checked)), 12, sorted(set(checked)))

    def test_registry_edits_over_rpc_are_for_managers_only(self):
        light = self.env["ha.entity"].search(
            [("instance_id", "=", self.live_id), ("entity_id", "=", LIGHT)]
        )
        before = self.rest.get_state(LIGHT)["attributes"]["friendly_name"]
        for user in (self.member, self.internal):
            with self.subTest(user=user.login), mute_logger("odoo.http"):
                self.login(user)
                response = self.json_rpc(
                    "/web/dataset/call_kw/ha.entity/write",
                    {
                        "model": "ha.entity",
                        "method": "write",
                        "args": [[light.id], {"name": "Hijacked"}],
                        "kwargs": {},
                    },
                )
                error = response.json().get("error", {})
                self.assertEqual(error.get("data", {}).get("name"), "odoo.exceptions.AccessError")
        self.assertEqual(self.rest.get_state(LIGHT)["attributes"]["friendly_name"], before)


@tagged("post_install", "-at_install")
class TestRefusalMessages(TransactionCase):
    # Outside a request the messages stay in English, which _() says with a warning.
    @mute_logger("odoo.tools.translate")
    def test_every_policy_refusal_has_a_sentence_for_people(self):
        params = dict.fromkeys(
            ("service", "domain", "field", "entity", "attribute", "choices"), "x"
        ) | {"minimum": 1, "maximum": 2}
        for reason in REFUSAL_REASONS:
            with self.subTest(reason=reason):
                message = _refusal_message(ServiceRefused(reason, **params))
                self.assertTrue(message and reason not in message)
