"""The dashboard's floors and labels: what the ``entities`` route gives each reader, and how
changes reach open pages (registry lists, entity diffs, reloads for shares)."""

from odoo.tests import HttpCase, tagged

from ..connector import registry_sync
from ..models.ha_realtime_update import ENTITIES_RELOAD, ENTITY_CHANGES, scope_channel
from .test_floors_labels import TestFloorsAndLabelsAccess
from .test_realtime import BusRowsMixin


@tagged("post_install", "-at_install")
class TestDashboardFloorsAndLabels(BusRowsMixin, HttpCase, TestFloorsAndLabelsAccess):
    """The fixtures of ``TestFloorsAndLabelsAccess`` plus a basement on the cellar whose lamp
    carries a label of its own and the kitchen light's."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.area_basement = cls.env["ha.area"].create(
            {
                "instance_id": cls.instance.id,
                "area_id": "basement",
                "name": "Basement",
                "floor_id": cls.cellar.id,
            }
        )
        cls.cellar.write({"level": -1, "has_level": True})
        cls.label_secret = cls.env["ha.label"].create(
            {"instance_id": cls.instance.id, "label_id": "secret", "name": "Secret", "color": "red"}
        )
        cls.lamp_basement = cls.env["ha.entity"].create(
            {
                "instance_id": cls.instance.id,
                "entity_id": "light.basement",
                "state": "off",
                "area_id": cls.area_basement.id,
                "label_ids": [(6, 0, (cls.label_secret | cls.label_light).ids)],
            }
        )
        cls.group_kitchen.entity_ids |= cls.lamp_basement

    def _dashboard(self, user):
        self.authenticate(user.login, user.login)
        response = self.make_jsonrpc_request("/odoo_ha_addon/entities", {})
        self.assertTrue(response["success"], response)
        return response["data"]

    def test_a_portal_user_gets_the_floors_and_labels_of_shared_entities_only(self):
        data = self._dashboard(self.portal)
        self.assertEqual(
            data["floors"],
            [{"id": self.ground.id, "floor_id": "g", "name": "G", "level": None, "icon": None}],
        )
        self.assertEqual(
            [(a["id"], a["floor_id"]) for a in data["areas"]],
            [(self.area_kitchen.id, self.ground.id)],
        )
        # The light's own label, and its device's and area's (what the record rules open),
        # never the labels of entities not shared with the portal user.
        self.assertEqual(
            {label["id"] for label in data["labels"]},
            set((self.label_light | self.label_bulb | self.label_area).ids),
        )
        light = next(label for label in data["labels"] if label["id"] == self.label_light.id)
        self.assertEqual(
            light,
            {"id": light["id"], "label_id": "light", "name": "Light", "color": None, "icon": None},
        )
        self.assertEqual(
            [(e["entity_id"], e["label_ids"]) for e in data["entities"]],
            [("light.kitchen", self.label_light.ids)],
        )

    def test_a_share_of_an_entity_without_area_gives_no_floor(self):
        data = self._dashboard(self.employee)
        self.assertEqual(data["floors"], [])
        self.assertEqual([label["id"] for label in data["labels"]], self.label_outside.ids)
        self.assertEqual(
            [(e["entity_id"], e["label_ids"]) for e in data["entities"]],
            [("sensor.outside_temperature", self.label_outside.ids)],
        )

    def test_a_home_assistant_user_gets_the_instance_floors_by_level(self):
        data = self._dashboard(self.user_member)
        self.assertEqual(
            [(f["name"], f["level"]) for f in data["floors"]], [("C", -1), ("G", None)]
        )
        self.assertEqual(
            {a["name"]: a["floor_id"] for a in data["areas"]},
            {"Kitchen": self.ground.id, "Basement": self.cellar.id},
        )
        instance_labels = self.env["ha.label"].search([("instance_id", "=", self.instance.id)])
        self.assertEqual({label["id"] for label in data["labels"]}, set(instance_labels.ids))
        self.assertEqual(
            {e["entity_id"]: e["label_ids"] for e in data["entities"]},
            {
                "light.kitchen": self.label_light.ids,
                "light.basement": sorted((self.label_light | self.label_secret).ids),
            },
        )

    def test_entity_labels_changed_in_home_assistant_reach_open_pages(self):
        realtime = self.env["ha.realtime.update"]
        labels = {"light.kitchen": sorted((self.label_light | self.label_secret).ids)}
        realtime._notify_registry_changes(
            self.instance, registry_sync.RegistryChanges(False, {}, labels)
        )
        for scope in (self.instance, self.group_kitchen):
            self.assertIn(
                {
                    "type": ENTITY_CHANGES,
                    "payload": {
                        "instance_id": self.instance.id,
                        "changes": {"light.kitchen": {"label_ids": labels["light.kitchen"]}},
                    },
                },
                self._bus_rows(scope_channel(scope)),
            )
        # The portal user may now read a label it could not: its page reads its data again.
        self.assertIn(
            {"type": ENTITIES_RELOAD, "payload": {"instance_id": self.instance.id}},
            self._bus_rows(scope_channel(self.share_light)),
        )
        # The employee's share holds no relabelled entity: nothing is sent to it.
        self.assertEqual(self._bus_rows(scope_channel(self.share_sensor)), [])

    def test_labels_a_manager_puts_on_an_entity_reach_open_pages(self):
        # What ha.registry.mirror does once Home Assistant answered a label edit.
        self.light_kitchen.label_ids = self.label_light | self.label_secret
        self.light_kitchen.sudo()._registry_notify({"label_ids": []})
        label_ids = sorted((self.label_light | self.label_secret).ids)
        self.assertIn(
            {
                "type": ENTITY_CHANGES,
                "payload": {
                    "instance_id": self.instance.id,
                    "changes": {"light.kitchen": {"label_ids": label_ids}},
                },
            },
            self._bus_rows(scope_channel(self.group_kitchen)),
        )
        self.assertIn(
            {"type": ENTITIES_RELOAD, "payload": {"instance_id": self.instance.id}},
            self._bus_rows(scope_channel(self.share_light)),
        )

    def test_a_sync_tells_pages_of_floor_and_label_changes_and_relabelled_entities(self):
        instance = self.other_instance
        self.env["ha.entity"].create(
            {"instance_id": instance.id, "entity_id": "light.cabin", "state": "on"}
        )
        floors = [{"floor_id": "g", "name": "Ground", "level": 0}]
        labels = [{"label_id": "warm", "name": "Warm", "color": "red"}]
        areas = [{"area_id": "hall", "name": "Hall", "floor_id": "g"}]
        entities = [{"entity_id": "light.cabin", "labels": ["warm"]}]

        def sync(floors, labels, areas, entities):
            organised = {"floors": floors, "labels": labels, "categories": None}
            return registry_sync.sync_registries(
                self.env.cr, instance.id, areas, [], entities, organised
            )[1]

        changes = sync(floors, labels, areas, entities)
        self.assertTrue(changes.registry_changed)
        warm = self.env["ha.label"].search([("instance_id", "=", instance.id)])
        self.assertEqual(changes.entity_labels, {"light.cabin": warm.ids})
        # The same registries again: nothing to tell.
        changes = sync(floors, labels, areas, entities)
        self.assertFalse(changes.registry_changed)
        self.assertEqual(changes.entity_labels, {})
        # A floor's level, a label's colour: pages show both.
        for floors_now, labels_now in (
            ([{**floors[0], "level": 1}], labels),
            ([{**floors[0], "level": 1}], [{**labels[0], "color": "blue"}]),
        ):
            self.assertTrue(sync(floors_now, labels_now, areas, entities).registry_changed)
        # A label taken off an entity: that entity's labels, and no list changed.
        changes = sync(
            [{**floors[0], "level": 1}],
            [{**labels[0], "color": "blue"}],
            areas,
            [{"entity_id": "light.cabin", "labels": []}],
        )
        self.assertFalse(changes.registry_changed)
        self.assertEqual(changes.entity_labels, {"light.cabin": []})
