"""Shares over HTTP, against the real Home Assistant: the JSON API and the portal pages as a
portal user and as an internal user without Home Assistant rights."""

import html
import json
import time
from datetime import timedelta

from odoo import Command, fields
from odoo.tests import new_test_user, tagged

from .api_common import LIGHT, OTHER_LIGHT, SENSOR, ApiCase


@tagged("post_install", "-at_install")
class TestShareApi(ApiCase):
    """``tenant`` (portal) controls LIGHT and views SENSOR; ``internal`` (no Home Assistant
    rights) views OTHER_LIGHT; ``neighbour`` (portal) has the Cabin's pump."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.tenant = new_test_user(env, login="api_tenant", groups="base.group_portal")
        cls.neighbour = new_test_user(env, login="api_neighbour", groups="base.group_portal")
        Share = env["ha.entity.share"].with_user(cls.manager)
        cls.share_light = Share.create(
            {
                "entity_id": cls.light.id,
                "user_id": cls.tenant.id,
                "permission": "control",
                "date_end": fields.Datetime.now() + timedelta(hours=1),
            }
        )
        cls.share_sensor = Share.create({"entity_id": cls.sensor.id, "user_id": cls.tenant.id})
        cls.share_other_light = Share.create(
            {"entity_id": cls.other_light.id, "user_id": cls.internal.id}
        )
        pump = env["ha.entity"].search([("instance_id", "=", cls.cabin.id)])
        Share.create({"entity_id": pump.id, "user_id": cls.neighbour.id, "permission": "control"})

    def setUp(self):
        super().setUp()
        self.rest.call_service("light", "turn_on", {"entity_id": LIGHT})
        self.rest.call_service("light", "turn_on", {"entity_id": OTHER_LIGHT})

    def test_the_api_gives_a_person_exactly_what_is_shared(self):
        self.login(self.tenant)
        data = self.ok("instances")
        self.assertEqual([i["id"] for i in data["instances"]], [self.live_id])
        (instance,) = data["instances"]
        self.assertIsNone(instance["url"], "where the server runs is for HA users")
        # What the server runs and holds is the team's, too (the connected instance has both).
        self.assertEqual((instance["ha_version"], instance["entity_count"]), (None, None))
        data = self.ok("entities")
        self.assertEqual(
            {e["entity_id"]: e["can_control"] for e in data["entities"]},
            {LIGHT: True, SENSOR: False},
        )
        self.assertFalse(data["can_manage"])
        self.assertEqual(
            self.ok("entity_states", entity_ids=[OTHER_LIGHT])["unknown"], [OTHER_LIGHT]
        )
        self.refused("switch_instance", "instance_not_found", ha_instance_id=self.cabin.id)
        self.refused("entities", "instance_not_found", ha_instance_id=self.attic.id)
        self.refused("ha_urls", "access_denied")
        self.refused("hardware_info", "access_denied")
        self.refused("entity_history", "access_denied", entity_ids=[SENSOR])

        shared = self.ok("shared_entities")
        self.assertEqual(shared["entity_count"], 2)
        (instance,) = shared["instances"]
        self.assertEqual(instance["name"], "Live")
        listed = {e["entity_id"]: e for area in instance["areas"] for e in area["entities"]}
        self.assertEqual(set(listed), {LIGHT, SENSOR})
        self.assertTrue(listed[LIGHT]["shared_until"])
        self.assertIsNone(listed[SENSOR]["shared_until"])
        self.assertGreater(shared["next_change_in"], 3500)

        self.login(self.internal)
        self.assertEqual([e["entity_id"] for e in self.ok("entities")["entities"]], [OTHER_LIGHT])

    def test_a_control_share_operates_the_entity_in_home_assistant(self):
        self.login(self.tenant)
        data = self.ok("call_service", domain="light", service="turn_off", entity_id=LIGHT)
        self.assertEqual(data["entity_ids"], [LIGHT])
        self.wait_ha_state(LIGHT, "off")

    def test_a_view_share_refuses_control(self):
        self.login(self.internal)
        self.refused(
            "call_service",
            "access_denied",
            domain="light",
            service="turn_off",
            entity_id=OTHER_LIGHT,
        )
        self.login(self.tenant)
        self.refused(
            "call_service", "access_denied", domain="sensor", service="turn_off", entity_id=SENSOR
        )
        time.sleep(0.3)
        self.assertEqual(self.rest.get_state(OTHER_LIGHT)["state"], "on")

    def test_a_share_cannot_be_widened(self):
        self.login(self.tenant)
        attempts = [
            ("access_denied", {"entity_id": [LIGHT, OTHER_LIGHT]}),
            ("access_denied", {"entity_id": [OTHER_LIGHT]}),
            ("invalid_input", {"entity_id": LIGHT, "service_data": {"entity_id": OTHER_LIGHT}}),
            ("invalid_input", {"entity_id": LIGHT, "service_data": {"area_id": "bedroom"}}),
            ("invalid_input", {"entity_id": LIGHT, "service_data": {"device_id": "abc"}}),
            ("invalid_input", {"entity_id": LIGHT, "service_data": {"label_id": "all"}}),
            ("invalid_input", {"entity_id": LIGHT, "service_data": {"floor_id": "ground"}}),
            ("invalid_input", {"entity_id": LIGHT, "target": {"floor_id": "ground"}}),
            (
                "access_denied",
                {"entity_id": LIGHT, "service_data": {"target": {"entity_id": "all"}}},
            ),
        ]
        for error_type, params in attempts:
            with self.subTest(params=params):
                self.refused(
                    "call_service", error_type, domain="light", service="turn_off", **params
                )
        # Nor another domain's services, nor Home Assistant's generic ones, on the light.
        for domain, service in (
            ("switch", "turn_off"),
            ("homeassistant", "turn_off"),
            ("homeassistant", "stop"),
            ("script", "good_night"),
        ):
            with self.subTest(service=f"{domain}.{service}"):
                self.refused(
                    "call_service", "access_denied", domain=domain, service=service, entity_id=LIGHT
                )
        time.sleep(0.3)
        self.assertEqual(self.rest.get_state(LIGHT)["state"], "on")
        self.assertEqual(self.rest.get_state(OTHER_LIGHT)["state"], "on")

    def test_expiry_refuses_the_open_page_one_second_later(self):
        self.login(self.tenant)
        self.assertEqual(len(self.ok("entities")["entities"]), 2)
        expiry = fields.Datetime.now() + timedelta(seconds=2)
        self.share_light.date_end = expiry
        self.share_sensor.date_end = expiry
        self.env.flush_all()
        time.sleep(max(0.0, (expiry - fields.Datetime.now()).total_seconds()) + 1.0)
        # The same session, no job run, nothing written since: the instance itself is no
        # longer the person's.
        for instance in ({}, {"ha_instance_id": self.live_id}):
            self.refused(
                "call_service",
                "instance_not_found",
                domain="light",
                service="turn_off",
                entity_id=LIGHT,
                **instance,
            )
            self.refused("entities", "instance_not_found", **instance)
        self.assertEqual(self.ok("shared_entities")["instances"], [])
        self.assertEqual(self.rest.get_state(LIGHT)["state"], "on")

    def test_revocation_is_immediate(self):
        self.login(self.tenant)
        self.ok("entity_states", entity_ids=[LIGHT])
        self.share_light.with_user(self.manager).action_revoke()
        self.refused(
            "call_service", "access_denied", domain="light", service="turn_off", entity_id=LIGHT
        )
        self.assertEqual(self.ok("entity_states", entity_ids=[LIGHT])["unknown"], [LIGHT])

    def test_the_portal_pages_show_what_is_shared(self):
        self.login(self.tenant)
        page = self.url_open("/my/ha")
        self.assertEqual(page.status_code, 200)
        text = html.unescape(page.text)
        self.assertIn("odoo_ha_addon.shared_entities", text)
        self.assertIn(LIGHT, text)
        self.assertIn(SENSOR, text)
        for hidden in (OTHER_LIGHT, "switch.pump", "switch.fan", self.ha.token, self.ha.url):
            self.assertNotIn(hidden, text)
        home = self.url_open("/my/home")
        self.assertIn('href="/my/ha"', home.text)
        counters = self.json_rpc("/my/counters", {"counters": ["ha_entity_count"]}).json()
        self.assertEqual(counters["result"], {"ha_entity_count": 2})

        self.login(self.internal)
        text = html.unescape(self.url_open("/my/ha").text)
        self.assertIn(OTHER_LIGHT, text)
        self.assertNotIn(LIGHT, text)

        self.login(self.neighbour)
        text = html.unescape(self.url_open("/my/ha").text)
        self.assertIn("switch.pump", text)
        self.assertNotIn(LIGHT, text)
        data = json.loads(self.json_rpc("/my/counters", {"counters": ["ha_entity_count"]}).text)[
            "result"
        ]
        self.assertEqual(data, {"ha_entity_count": 1})

    def test_a_group_share_gives_later_entities_to_view_only_and_when_asked(self):
        """The neighbour controls the "Porch" group, shared with LIGHT in it; OTHER_LIGHT
        joins the group later."""
        group = self.env["ha.entity.group"].create(
            {
                "name": "Porch",
                "instance_id": self.live_id,
                "entity_ids": [Command.link(self.light.id)],
            }
        )
        share = (
            self.env["ha.entity.share"]
            .with_user(self.manager)
            .create({"group_id": group.id, "user_id": self.neighbour.id, "permission": "control"})
        )
        group.entity_ids = [Command.link(self.other_light.id)]
        self.env.flush_all()
        live = {"ha_instance_id": self.live_id}

        def listed():
            return {
                e["entity_id"]: e["can_control"] for e in self.ok("entities", **live)["entities"]
            }

        def turn_off_other_light_refused():
            self.refused(
                "call_service",
                "access_denied",
                domain="light",
                service="turn_off",
                entity_id=OTHER_LIGHT,
                **live,
            )

        self.login(self.neighbour)
        self.assertEqual(listed(), {LIGHT: True})
        self.assertEqual(
            self.ok("entity_states", entity_ids=[OTHER_LIGHT], **live)["unknown"], [OTHER_LIGHT]
        )
        turn_off_other_light_refused()

        share.include_later = True
        self.env.flush_all()
        self.assertEqual(listed(), {LIGHT: True, OTHER_LIGHT: False})
        shared = self.ok("shared_entities")
        self.assertEqual(
            {
                e["entity_id"]: e["can_control"]
                for instance in shared["instances"]
                for area in instance["areas"]
                for e in area["entities"]
            },
            {LIGHT: True, OTHER_LIGHT: False, "switch.pump": True},
        )
        turn_off_other_light_refused()
        time.sleep(0.3)
        self.assertEqual(self.rest.get_state(OTHER_LIGHT)["state"], "on")

        share.with_user(self.manager).action_grant_current_entities()
        self.env.flush_all()
        self.assertEqual(listed(), {LIGHT: True, OTHER_LIGHT: True})
        self.ok("call_service", domain="light", service="turn_off", entity_id=OTHER_LIGHT, **live)
        self.wait_ha_state(OTHER_LIGHT, "off")

        group.entity_ids = [Command.unlink(self.light.id)]
        self.env.flush_all()
        self.assertEqual(listed(), {OTHER_LIGHT: True})
