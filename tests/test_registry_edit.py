"""Edits of areas, devices and entity names and areas made in Odoo, written through to the
real Home Assistant of the test run (ha.registry.mirror), against its registries."""

import asyncio
import contextlib
import time
from unittest.mock import patch

from odoo import Command, api
from odoo.exceptions import AccessError, UserError
from odoo.service.model import retrying
from odoo.tools import mute_logger

from .connector_common import ConnectorCase

LIGHT = "light.bed_light"
# Home Assistant's registry events reach Odoo after the connector's resync delay.
SETTLE_S = 20.0
WRITE_COMMANDS = ("/create", "/update", "/delete")


class RegistryEditCase(ConnectorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager_id, cls.member_id = cls._committed_users()

    @classmethod
    def _committed_users(cls):
        with cls.registry.cursor() as cr:
            env = api.Environment(cr, 1, {})
            users = env["res.users"].create(
                [
                    {
                        "name": login,
                        "login": login,
                        "groups_id": [Command.set([env.ref(group).id])],
                    }
                    for login, group in (
                        ("ha_registry_manager", "odoo_ha_addon.group_ha_manager"),
                        ("ha_registry_member", "odoo_ha_addon.group_ha_user"),
                    )
                ]
            )
            cr.commit()
        cls.addClassCleanup(cls._delete_users, users.ids)
        return users.ids

    @classmethod
    def _delete_users(cls, user_ids):
        with cls.registry.cursor() as cr:
            api.Environment(cr, 1, {})["res.users"].browse(user_ids).unlink()
            cr.commit()

    def setUp(self):
        super().setUp()
        self.instance_id = self.create_instance()
        self.supervisor = self.start_supervisor(self.instance_id)
        self.wait_status(self.instance_id, "connected")
        self.hosted = self.supervisor.connectors[self.instance_id]
        self.wait_until(lambda: LIGHT in self.entity_rows(self.instance_id), "no light yet")

    def as_user(self, user_id, function):
        """``function(env)`` as that user in a transaction of its own, committed if it
        succeeds (the connector and the checks below see committed rows only), and tried
        again after a serialization failure, as Odoo does for every web request."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, user_id, {})
            with mute_logger("odoo.sql_db"):
                result = retrying(lambda: function(env), env)
            cr.commit()
            return result

    def ha_call(self, message_type, **payload):
        """A command on the connection the supervisor holds."""
        future = asyncio.run_coroutine_threadsafe(
            self.hosted.client.call(message_type, **payload), self.hosted.loop
        )
        return future.result(10)

    def ha_area(self, name):
        return next(
            (a for a in self.ha_call("config/area_registry/list") if a["name"] == name), None
        )

    def ha_entity(self, entity_id):
        entries = self.ha_call("config/entity_registry/list")
        return next(e for e in entries if e["entity_id"] == entity_id)

    def odoo(self, model, domain, fields):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, 1, {"active_test": False})
            return env[model].search_read([("instance_id", "=", self.instance_id), *domain], fields)

    @contextlib.contextmanager
    def counting_writes(self):
        """Yields a list that gets every registry write command sent to Home Assistant."""
        sent = []
        client = self.hosted.client
        original = client.call

        async def call(message_type, /, **payload):
            if message_type.startswith("config/") and message_type.endswith(WRITE_COMMANDS):
                sent.append(message_type)
            return await original(message_type, **payload)

        with patch.object(client, "call", call):
            yield sent


class TestRegistryEdits(RegistryEditCase):
    def test_area_created_renamed_and_deleted_in_home_assistant(self):
        def create(env):
            return env["ha.area"].create({"instance_id": self.instance_id, "name": " Attic "}).id

        with self.counting_writes() as sent:
            area_id = self.as_user(self.manager_id, create)
        self.assertEqual(sent, ["config/area_registry/create"])
        in_ha = self.ha_area("Attic")
        self.assertTrue(in_ha, "the area was not created in Home Assistant")
        (row,) = self.odoo("ha.area", [("id", "=", area_id)], ["area_id", "name"])
        self.assertEqual((row["area_id"], row["name"]), (in_ha["area_id"], "Attic"))

        self.as_user(
            self.manager_id, lambda env: env["ha.area"].browse(area_id).write({"name": "Loft"})
        )
        self.assertEqual(self.ha_area("Loft")["area_id"], in_ha["area_id"])
        self.assertEqual(self.odoo("ha.area", [("id", "=", area_id)], ["name"])[0]["name"], "Loft")

        self.as_user(self.manager_id, lambda env: env["ha.area"].browse(area_id).unlink())
        self.assertIsNone(self.ha_area("Loft"))
        self.assertFalse(self.odoo("ha.area", [("id", "=", area_id)], ["name"]))

    def test_floor_and_label_made_changed_and_deleted_in_home_assistant(self):
        # Home Assistant 2024.3 has both registries; its areas take no floor yet (2024.4).
        def create(env):
            floor = env["ha.floor"].create(
                {"instance_id": self.instance_id, "name": " Cellar ", "has_level": True}
            )
            label = env["ha.label"].create(
                {"instance_id": self.instance_id, "name": "Heating", "color": "#aa0000"}
            )
            return floor.id, label.id

        with self.counting_writes() as sent:
            floor_id, label_id = self.as_user(self.manager_id, create)
        self.assertEqual(sent, ["config/floor_registry/create", "config/label_registry/create"])
        (floor,) = self.odoo("ha.floor", [("id", "=", floor_id)], ["floor_id", "name", "level"])
        in_ha = {f["floor_id"]: f for f in self.ha_call("config/floor_registry/list")}
        self.assertEqual(in_ha[floor["floor_id"]]["name"], "Cellar")
        self.assertEqual(in_ha[floor["floor_id"]]["level"], 0)
        self.assertEqual((floor["name"], floor["level"]), ("Cellar", 0))
        (label,) = self.odoo("ha.label", [("id", "=", label_id)], ["label_id", "color"])
        labels = {entry["label_id"]: entry for entry in self.ha_call("config/label_registry/list")}
        self.assertEqual(labels[label["label_id"]]["color"], "#aa0000")

        def change(env):
            env["ha.floor"].browse(floor_id).write({"name": "Basement", "level": -1})
            env["ha.label"].browse(label_id).write({"description": "Radiators"})

        self.as_user(self.manager_id, change)
        in_ha = {f["floor_id"]: f for f in self.ha_call("config/floor_registry/list")}
        self.assertEqual(
            (in_ha[floor["floor_id"]]["name"], in_ha[floor["floor_id"]]["level"]), ("Basement", -1)
        )
        labels = {entry["label_id"]: entry for entry in self.ha_call("config/label_registry/list")}
        self.assertEqual(labels[label["label_id"]]["description"], "Radiators")

        # This Home Assistant refuses a floor for an area: Odoo says so and changes nothing.
        kitchen = self.odoo("ha.area", [("area_id", "=", "kitchen")], ["id"])[0]["id"]
        with self.assertRaisesRegex(UserError, "Home Assistant refused the change"):
            self.as_user(
                self.manager_id,
                lambda env: env["ha.area"].browse(kitchen).write({"floor_id": floor_id}),
            )
        self.assertFalse(self.odoo("ha.area", [("id", "=", kitchen)], ["floor_id"])[0]["floor_id"])

        # An HA user reads floors and labels, and changes none.
        with self.counting_writes() as sent, self.assertRaises(AccessError):
            self.as_user(
                self.member_id,
                lambda env: env["ha.floor"].browse(floor_id).write({"name": "Mine"}),
            )
        self.assertEqual(sent, [])

        def delete(env):
            env["ha.floor"].browse(floor_id).unlink()
            env["ha.label"].browse(label_id).unlink()

        self.as_user(self.manager_id, delete)
        self.assertNotIn(
            floor["floor_id"], [f["floor_id"] for f in self.ha_call("config/floor_registry/list")]
        )
        self.assertNotIn(
            label["label_id"], [e["label_id"] for e in self.ha_call("config/label_registry/list")]
        )
        self.assertFalse(self.odoo("ha.floor", [("id", "=", floor_id)], ["name"]))

    def test_entity_renamed_and_moved_then_following_its_device(self):
        self.addCleanup(self.ha_call, "config/entity_registry/update", entity_id=LIGHT, name=None)
        self.addCleanup(
            self.ha_call, "config/entity_registry/update", entity_id=LIGHT, area_id=None
        )
        kitchen = self.odoo("ha.area", [("area_id", "=", "kitchen")], ["id"])[0]["id"]

        def edit(values):
            def write(env):
                entity = env["ha.entity"].search(
                    [("instance_id", "=", self.instance_id), ("entity_id", "=", LIGHT)]
                )
                entity.write(values)

            return write

        with self.counting_writes() as sent:
            self.as_user(self.manager_id, edit({"name": "Bedside lamp", "area_id": kitchen}))
            time.sleep(1.0)  # Home Assistant's registry event and the connector's resync
        # One command for the edit; the registry event it causes sends nothing back.
        self.assertEqual(sent, ["config/entity_registry/update"])
        entry = self.ha_entity(LIGHT)
        self.assertEqual((entry["name"], entry["area_id"]), ("Bedside lamp", "kitchen"))
        # Odoo shows what Home Assistant shows: the new name in the entity's friendly name.
        self.wait_until(
            lambda: (
                self.entity_rows(self.instance_id)[LIGHT]["name"]
                == self.rest.get_state(LIGHT)["attributes"]["friendly_name"]
                and "Bedside lamp" in self.entity_rows(self.instance_id)[LIGHT]["name"]
                and self.entity_rows(self.instance_id)[LIGHT]["area_id"] == kitchen
            ),
            "Odoo does not show what Home Assistant holds",
            SETTLE_S,
        )

        # Emptied: the entity follows its device's area again, in both.
        self.as_user(self.manager_id, edit({"area_id": False}))
        self.assertIsNone(self.ha_entity(LIGHT)["area_id"])
        device = self.odoo("ha.device", [("entity_ids.entity_id", "=", LIGHT)], ["area_id"])[0]
        self.assertEqual(
            self.entity_rows(self.instance_id)[LIGHT]["area_id"],
            device["area_id"][0] if device["area_id"] else None,
        )

    def test_device_renamed_and_moved(self):
        devices = self.odoo("ha.device", [("entity_ids.entity_id", "=", LIGHT)], ["device_id"])
        device_id = devices[0]["id"]
        ha_device_id = devices[0]["device_id"]
        self.addCleanup(
            self.ha_call,
            "config/device_registry/update",
            device_id=ha_device_id,
            name_by_user=None,
            area_id=None,
        )
        kitchen = self.odoo("ha.area", [("area_id", "=", "kitchen")], ["id"])[0]["id"]
        self.as_user(
            self.manager_id,
            lambda env: (
                env["ha.device"]
                .browse(device_id)
                .write({"name_by_user": "Bedroom lamp", "area_id": kitchen})
            ),
        )
        in_ha = next(
            d for d in self.ha_call("config/device_registry/list") if d["id"] == ha_device_id
        )
        self.assertEqual((in_ha["name_by_user"], in_ha["area_id"]), ("Bedroom lamp", "kitchen"))
        # The light follows its device into the kitchen (no area of its own).
        self.wait_until(
            lambda: self.entity_rows(self.instance_id)[LIGHT]["area_id"] == kitchen,
            "the device's entity did not follow it",
            SETTLE_S,
        )

    def test_an_edit_made_in_home_assistant_wins_over_a_form_saved_later(self):
        self.addCleanup(self.ha_call, "config/entity_registry/update", entity_id=LIGHT, name=None)

        def save_note(env):
            entity = env["ha.entity"].search(
                [("instance_id", "=", self.instance_id), ("entity_id", "=", LIGHT)]
            )
            name_seen = entity.name  # the form was opened before the change in HA
            self.ha_call("config/entity_registry/update", entity_id=LIGHT, name="Renamed in HA")
            entity.write({"note": "saved while HA changed"})  # a form sends what changed
            return name_seen

        # The connector's write of HA's new name may meet the note's: a serialization failure
        # that Odoo answers by trying the request again.
        self.as_user(self.manager_id, save_note)
        self.assertEqual(self.ha_entity(LIGHT)["name"], "Renamed in HA")
        self.wait_until(
            lambda: "Renamed in HA" in self.entity_rows(self.instance_id)[LIGHT]["name"],
            "Odoo never showed Home Assistant's name",
            SETTLE_S,
        )


class TestRegistryRefusals(RegistryEditCase):
    @mute_logger("odoo.models")
    def test_users_who_are_not_managers_change_nothing(self):
        before = self.ha_entity(LIGHT)

        def rename(env):
            env["ha.entity"].sudo(False).search([("entity_id", "=", LIGHT)]).write({"name": "x"})

        with self.counting_writes() as sent:
            for attempt in (
                rename,
                lambda env: env["ha.area"].create(
                    {"instance_id": self.instance_id, "name": "Nope"}
                ),
                lambda env: env["ha.area"].search([], limit=1).unlink(),
            ):
                with self.assertRaises(AccessError):
                    self.as_user(self.member_id, attempt)
        self.assertEqual(sent, [])
        self.assertEqual(self.ha_entity(LIGHT)["name"], before["name"])

    def test_an_area_deleted_in_home_assistant_before_the_save_is_a_clear_error(self):
        created = self.ha_call("config/area_registry/create", name="Shed")
        self.wait_until(
            lambda: self.odoo("ha.area", [("area_id", "=", created["area_id"])], ["id"]),
            "the new area never reached Odoo",
            SETTLE_S,
        )
        shed = self.odoo("ha.area", [("area_id", "=", created["area_id"])], ["id"])[0]["id"]

        def move_to_shed(env):
            entity = env["ha.entity"].search(
                [("instance_id", "=", self.instance_id), ("entity_id", "=", LIGHT)]
            )
            # The form holds the area; Home Assistant deletes it before the save.
            self.ha_call("config/area_registry/delete", area_id=created["area_id"])
            entity.write({"area_id": shed})

        with self.assertRaises(UserError) as caught:
            self.as_user(self.manager_id, move_to_shed)
        self.assertIn("Shed", str(caught.exception))
        self.assertIsNone(self.ha_entity(LIGHT)["area_id"])

    def test_a_disconnected_instance_changes_nothing(self):
        self.supervisor.stop()
        self.wait_until(
            lambda: self.instance_row(self.instance_id)["status"] != "connected",
            "the instance stayed connected",
        )
        area = self.odoo("ha.area", [], ["id", "name"])[0]
        with self.assertRaises(UserError) as caught:
            self.as_user(
                self.manager_id,
                lambda env: env["ha.area"].browse(area["id"]).write({"name": "Elsewhere"}),
            )
        self.assertIn("not connected", str(caught.exception))
        self.assertEqual(self.odoo("ha.area", [("id", "=", area["id"])], ["name"])[0], area)
