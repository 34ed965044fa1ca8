"""Shares of an area, a floor or a label, as the portal user they are shared with gets them:
the entities the target had when shared, later ones only with "Include entities added later"
and then to view only, through the ORM, the JSON API, the portal page and the bus; nothing
else."""

import json

from psycopg2.errors import CheckViolation

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..models.ha_realtime_update import ENTITY_CHANGES, scope_channel
from .test_realtime import BusRowsMixin, _change
from .test_shares import ShareCommon

API = "/odoo_ha_addon"


class FloorsAndAreas(BusRowsMixin):
    """Fixtures of a home with floors, for a class of ``HaTestCommon``: the ground floor
    holds the kitchen (the bulb's light) and the hall (its switch); the attic is on no
    floor. Shared by the tests of shares and of entity groups of areas, floors and labels."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.ground = env["ha.floor"].create(
            {"instance_id": cls.instance.id, "floor_id": "ground", "name": "Ground floor"}
        )
        cls.area_kitchen.floor_id = cls.ground
        Area = env["ha.area"]
        cls.hall = Area.create(
            {
                "instance_id": cls.instance.id,
                "area_id": "hall",
                "name": "Hall",
                "floor_id": cls.ground.id,
            }
        )
        cls.attic = Area.create(
            {"instance_id": cls.instance.id, "area_id": "attic", "name": "Attic"}
        )
        cls.hall_switch = cls._entity("switch.hall", cls.hall)
        cls.attic_sensor = cls._entity("sensor.attic", cls.attic)

    @classmethod
    def _entity(cls, entity_id, area, **values):
        return cls.env["ha.entity"].create(
            {
                "instance_id": cls.instance.id,
                "entity_id": entity_id,
                "name": entity_id.split(".")[1].replace("_", " ").capitalize(),
                "state": "off",
                "area_id": area.id,
                **values,
            }
        )

    def _ok(self, route, **params):
        """The data of a JSON route of the API as the session's user gets it; fails on an
        error envelope."""
        response = self.url_open(
            f"{API}/{route}",
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200, response.text[:500])
        envelope = response.json()["result"]
        self.assertTrue(envelope["success"], envelope)
        return envelope["data"]

    def _bus_entities(self, scope, entities):
        """The entity ids among ``entities`` whose changes reach ``scope``'s channel."""
        start = self._bus_mark()
        self.env["ha.realtime.update"]._notify_entity_changes(
            self.instance, {entity.entity_id: _change("on") for entity in entities}
        )
        channel = list(scope_channel(scope))
        return sorted(
            entity_id
            for c, m in self._rows_since(start)
            if c[1:] == [scope._name, scope.id, channel[1]] and m["type"] == ENTITY_CHANGES
            for entity_id in m["payload"]["changes"]
        )


@tagged("post_install", "-at_install")
class TestAreaFloorLabelShares(FloorsAndAreas, HttpCase, ShareCommon):
    """The homes of ``FloorsAndAreas``; ``tenant`` (portal) is shared only what each test
    shares."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tenant = new_test_user(cls.env, login="target_tenant", groups="base.group_portal")

    def _share(self, include_later=False, **target):
        return (
            self.env["ha.entity.share"]
            .with_user(self.manager)
            .create(
                {
                    "user_id": self.tenant.id,
                    "permission": "control",
                    "include_later": include_later,
                    **target,
                }
            )
        )

    def _readable(self, model="ha.entity"):
        return self.env[model].with_user(self.tenant).search([])

    def _seen(self):
        """entity id -> can_control, as the portal page's JSON route and the entities route
        give them to ``tenant`` over HTTP (the two must agree)."""
        self.authenticate(self.tenant.login, self.tenant.login)
        shared = self._ok("shared_entities")
        by_page = {
            entity["entity_id"]: entity["can_control"]
            for instance in shared["instances"]
            for area in instance["areas"]
            for entity in area["entities"]
        }
        self.assertEqual(shared["entity_count"], len(by_page))
        listed = self._ok("entities", ha_instance_id=self.instance.id)["entities"]
        self.assertEqual({e["entity_id"]: e["can_control"] for e in listed}, by_page)
        return by_page

    def test_a_floor_share_gives_the_portal_user_the_floor_entities_it_had(self):
        share = self._share(floor_id=self.ground.id)
        on_floor = self.light_kitchen | self.hall_switch
        self.assertEqual(share.granted_entity_ids, on_floor)
        self.assertEqual(share.instance_id, self.instance)
        self.assertIn("Ground floor", share.name)
        # Home Assistant adds a lamp to the hall after the floor was shared.
        lamp = self._entity("light.hall_lamp", self.hall)
        self.assertEqual(share.entity_ids, on_floor)
        self.assertEqual(self._readable(), on_floor)
        with self.assertRaises(AccessError):
            lamp.with_user(self.tenant).read(["state"])
        self.assertEqual(self._readable("ha.floor"), self.ground)
        self.assertEqual(self._readable("ha.area"), self.area_kitchen | self.hall)
        self.assertEqual(self._seen(), {"light.kitchen": True, "switch.hall": True})
        page = self.url_open("/my/ha").text
        self.assertIn("Hall", page)
        self.assertNotIn("Hall lamp", page)
        self.assertNotIn("sensor.attic", page)
        self.assertTrue(self.hall_switch._controllable_by(self.tenant))
        self.assertFalse(lamp._controllable_by(self.tenant))
        self.assertEqual(
            self._bus_entities(share, on_floor | lamp), ["light.kitchen", "switch.hall"]
        )

        # Included later: the lamp is shown, to view only.
        share.with_user(self.manager).include_later = True
        self.assertEqual(self._readable(), on_floor | lamp)
        self.assertEqual(lamp.with_user(self.tenant).read(["state"])[0]["state"], "off")
        self.assertFalse(lamp._controllable_by(self.tenant))
        self.assertEqual(
            self._seen(),
            {"light.kitchen": True, "switch.hall": True, "light.hall_lamp": False},
        )
        self.assertEqual(
            self._bus_entities(share, on_floor | lamp | self.attic_sensor),
            ["light.hall_lamp", "light.kitchen", "switch.hall"],
        )
        # A manager shares the current entities: the lamp gets control.
        share.with_user(self.manager).action_grant_current_entities()
        self.assertTrue(lamp._controllable_by(self.tenant))

        # The hall moves off the floor: its entities leave the share.
        self.hall.floor_id = False
        self.assertEqual(self._readable(), self.light_kitchen)
        self.assertFalse(self.hall_switch._controllable_by(self.tenant))
        self.assertEqual(self._seen(), {"light.kitchen": True})

    def test_an_area_share_covers_the_area_entities_it_had(self):
        share = self._share(area_id=self.hall.id)
        self.assertEqual(share.granted_entity_ids, self.hall_switch)
        lamp = self._entity("light.hall_lamp", self.hall)
        self.assertEqual(self._readable(), self.hall_switch)
        self.assertEqual(self._readable("ha.floor"), self.ground)
        self.assertEqual(self._seen(), {"switch.hall": True})
        share.include_later = True
        self.assertEqual(self._seen(), {"switch.hall": True, "light.hall_lamp": False})
        self.assertFalse(lamp._controllable_by(self.tenant))
        # The switch moves to the attic: no longer in the shared area.
        self.hall_switch.area_id = self.attic
        self.assertEqual(self._readable(), lamp)
        self.assertFalse(self.hall_switch._controllable_by(self.tenant))

    def test_a_label_share_covers_labelled_entities_devices_and_areas(self):
        label = self.env["ha.label"].create(
            {"instance_id": self.instance.id, "label_id": "tenant", "name": "Tenant"}
        )
        self.hall_switch.label_ids = label
        self.device_bulb.label_ids = label
        self.attic.label_ids = label
        share = self._share(label_id=label.id)
        labelled = self.hall_switch | self.light_kitchen | self.attic_sensor
        self.assertEqual(share.granted_entity_ids, labelled)
        self.assertEqual(share.entity_ids, labelled)
        self.assertEqual(self._readable(), labelled)
        self.assertEqual(self._readable("ha.label"), label)
        self.assertEqual(
            self._seen(), {"switch.hall": True, "light.kitchen": True, "sensor.attic": True}
        )
        # Labelled afterwards, directly or through its area: not shared without include-later.
        lamp = self._entity("light.hall_lamp", self.hall, label_ids=[Command.link(label.id)])
        attic_fan = self._entity("fan.attic", self.attic)
        self.assertEqual(self._readable(), labelled)
        share.include_later = True
        self.assertEqual(self._readable(), labelled | lamp | attic_fan)
        self.assertFalse(lamp._controllable_by(self.tenant))
        self.assertFalse(attic_fan._controllable_by(self.tenant))
        # The label taken off the switch: it leaves the share.
        self.hall_switch.label_ids = False
        self.assertNotIn(self.hall_switch, self._readable())

    def test_a_person_granted_a_floor_gets_nothing_else(self):
        self._share(floor_id=self.ground.id)
        as_tenant = self.env["ha.entity"].with_user(self.tenant)
        self.assertEqual(self._readable(), self.light_kitchen | self.hall_switch)
        for entity in (self.sensor_outside, self.attic_sensor, self.cabin_switch):
            with self.assertRaises(AccessError):
                entity.with_user(self.tenant).read(["state"])
            self.assertFalse(entity._controllable_by(self.tenant))
        self.assertFalse(as_tenant.search([("entity_id", "=", "sensor.attic")]))
        self.assertEqual(self._readable("ha.area"), self.area_kitchen | self.hall)
        self.assertEqual(self._readable("ha.device"), self.device_bulb)
        self.assertEqual(self._readable("ha.instance"), self.instance)
        self.assertEqual(self._readable("ha.floor"), self.ground)
        self.assertFalse(self._readable("ha.label"))
        own = self._readable("ha.entity.share")
        self.assertEqual(own.user_id, self.tenant)
        for model in ("ha.entity.group", "ha.device.key"):
            if model in self.env:
                with self.assertRaises(AccessError):
                    self.env[model].with_user(self.tenant).search([])
        # The stranger's floor-free share is untouched, and the stranger gets no floor.
        self.assertEqual(
            self.env["ha.entity"].with_user(self.stranger).search([]), self.cabin_switch
        )
        self.assertFalse(self.env["ha.floor"].with_user(self.stranger).search([]))

        self.authenticate(self.tenant.login, self.tenant.login)
        self.assertEqual(self._seen(), {"light.kitchen": True, "switch.hall": True})
        states = self._ok(
            "entity_states",
            ha_instance_id=self.instance.id,
            entity_ids=["sensor.attic", "sensor.outside_temperature", "switch.hall"],
        )
        self.assertEqual([e["entity_id"] for e in states["entities"]], ["switch.hall"])
        self.assertEqual(sorted(states["unknown"]), ["sensor.attic", "sensor.outside_temperature"])
        listed = self._ok("entities", ha_instance_id=self.instance.id)
        self.assertEqual({a["name"] for a in listed["areas"]}, {"Kitchen", "Hall"})
        self.assertEqual([f["name"] for f in listed["floors"]], ["Ground floor"])
        self.assertEqual([d["name"] for d in listed["devices"]], ["Bulb"])
        self.assertEqual(listed["labels"], [])
        envelope = self.url_open(
            f"{API}/entities",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {"ha_instance_id": self.other_instance.id},
                }
            ),
            headers={"Content-Type": "application/json"},
        ).json()["result"]
        self.assertFalse(envelope["success"])

    def test_the_wizard_shares_areas_floors_and_labels(self):
        label = self.env["ha.label"].create(
            {"instance_id": self.instance.id, "label_id": "spare", "name": "Spare"}
        )
        self.attic.label_ids = label
        Wizard = self.env["ha.entity.share.wizard"].with_user(self.manager)
        for model, records, field in (
            ("ha.floor", self.ground, "floor_id"),
            ("ha.area", self.hall, "area_id"),
            ("ha.label", label, "label_id"),
        ):
            wizard = Wizard.with_context(active_model=model, active_ids=records.ids).create(
                {
                    "user_ids": [Command.set(self.tenant.ids)],
                    "permission": "view",
                    "include_later": True,
                }
            )
            share = self.env["ha.entity.share"].search(wizard.action_share()["domain"])
            self.assertEqual(share[field], records)
            self.assertTrue(share.include_later)
            self.assertEqual(share.granted_entity_ids, share._entities_of(records))
        self.assertEqual(
            self._readable(), self.light_kitchen | self.hall_switch | self.attic_sensor
        )

    def test_a_share_is_of_one_target(self):
        with mute_logger("odoo.sql_db"), self.assertRaises(CheckViolation):
            self._share(floor_id=self.ground.id, area_id=self.hall.id)
