"""Floors, labels and categories: mirrored from the Home Assistants that have them, hidden
for those that do not, readable as areas are.

The connector tests talk to a scripted Home Assistant that answers and announces as releases
2024.4.0 and 2025.1.0 do (``scripted_registries.py`` names the Home Assistant source of every
message); the real 2024.3.3 of the other connector tests has floors and labels but no
categories (``test_connector.py``).
"""

import time

from odoo import Command, api
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from ..connector.instance_connector import REGISTRY_RESYNC_DELAY_S
from .common import HaServerCase
from .connector_common import ConnectorCase
from .scripted_ha import ScriptedHA, make_sensors
from .scripted_registries import RELEASE_2024_4, RELEASE_2025_1, ScriptedRegistries
from .test_shares import ShareCommon

ADDON_LOGGER = "odoo.addons.odoo_ha_addon"
ORGANISER_EVENTS = ("floor_registry_updated", "label_registry_updated", "category_registry_updated")


def _home(version):
    """Two floors, two labels, two categories, two areas, a device and three entities."""
    home = ScriptedRegistries(version)
    home.create("floor", floor_id="ground", name="Ground floor", level=0, aliases=["Downstairs"])
    home.create("floor", floor_id="first", name="First floor", level=1, icon="mdi:home-floor-1")
    home.create("label", label_id="energy", name="Energy", color="green", icon="mdi:leaf")
    home.create("label", label_id="night", name="Night", color="#112233", description="Dark")
    home.create("category", scope="automation", category_id="c_morning", name="Morning")
    home.create("category", scope="helpers", category_id="c_limits", name="Limits")
    home.create("area", area_id="kitchen", name="Kitchen", floor_id="ground", labels=["energy"])
    home.create("area", area_id="bedroom", name="Bedroom", floor_id="first")
    home.create("device", id="dev-meter", name="Meter", area_id="kitchen", labels=["energy"])
    home.create("entity", entity_id="sensor.s_0", device_id="dev-meter", labels=["energy", "night"])
    home.create("entity", entity_id="sensor.s_1", area_id="bedroom")
    home.create(
        "entity",
        entity_id="automation.wake_up",
        labels=["night"],
        categories={"automation": "c_morning"},
    )
    return home


def _states():
    states = make_sensors(2)
    states["automation.wake_up"] = {"s": "on", "a": {"friendly_name": "Wake up"}, "c": "c", "lc": 1}
    return states


@tagged("post_install", "-at_install")
class TestFloorsAndLabels(ConnectorCase):
    """The connector against scripted Home Assistants of 2024.4 and 2025.1, and of a release
    without these registries."""

    @classmethod
    def setUpClass(cls):
        # ConnectorCase's helpers without its real Home Assistant: HaServerCase is skipped.
        super(HaServerCase, cls).setUpClass()
        cls.dbname = cls.env.cr.dbname

    def connect(self, home, refused=()):
        self.server = ScriptedHA(_states(), home=home)
        self.server.refused_event_types.update(refused)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.ha = self.server
        instance_id = self.create_instance(name=f"Scripted {home.version}")
        self.start_supervisor(instance_id)
        self.wait_status(instance_id, "connected")
        return instance_id

    # What Odoo holds, read from committed rows --------------------------------------------

    def floors(self, instance_id):
        rows = self.query(
            "SELECT floor_id, name, CASE WHEN has_level THEN level END, aliases, icon"
            " FROM ha_floor WHERE instance_id = %s",
            (instance_id,),
        )
        return {row[0]: row[1:] for row in rows}

    def labels(self, instance_id):
        rows = self.query(
            "SELECT label_id, name, color, icon, description FROM ha_label WHERE instance_id = %s",
            (instance_id,),
        )
        return {row[0]: row[1:] for row in rows}

    def categories(self, instance_id):
        rows = self.query(
            "SELECT scope, category_id, name FROM ha_category WHERE instance_id = %s",
            (instance_id,),
        )
        return {(scope, category_id): name for scope, category_id, name in rows}

    def area_floors(self, instance_id):
        rows = self.query(
            "SELECT a.area_id, f.floor_id FROM ha_area a LEFT JOIN ha_floor f"
            " ON f.id = a.floor_id WHERE a.instance_id = %s",
            (instance_id,),
        )
        return dict(rows)

    def links(self, instance_id, relation, owner_table, owner_key, target_table, target_key):
        """owner's Home Assistant id -> sorted target Home Assistant ids."""
        owner_column = owner_table.removeprefix("ha_") + "_id"
        target_column = target_table.removeprefix("ha_") + "_id"
        rows = self.query(
            f"SELECT o.{owner_key}, t.{target_key} FROM {relation} r"
            f" JOIN {owner_table} o ON o.id = r.{owner_column}"
            f" JOIN {target_table} t ON t.id = r.{target_column}"
            " WHERE o.instance_id = %s",
            (instance_id,),
        )
        found = {}
        for owner, target in rows:
            found.setdefault(owner, []).append(target)
        return {owner: sorted(targets) for owner, targets in found.items()}

    def entity_labels(self, instance_id):
        return self.links(
            instance_id, "ha_entity_label_rel", "ha_entity", "entity_id", "ha_label", "label_id"
        )

    def supported(self, instance_id):
        return self.query(
            "SELECT has_floor_registry, has_label_registry, has_category_registry"
            " FROM ha_instance WHERE id = %s",
            (instance_id,),
        )[0]

    def wait_for(self, read, expected, message):
        seen = {}

        def reached():
            seen["value"] = read()
            return seen["value"] == expected

        self.wait_until(reached, f"{message}: {seen.get('value')!r} != {expected!r}")

    # Mirrored on connect ------------------------------------------------------------------

    def _assert_home_mirrored(self, instance_id):
        self.assertEqual(self.supported(instance_id), (True, True, True))
        self.assertEqual(
            self.floors(instance_id),
            {
                "ground": ("Ground floor", 0, "Downstairs", None),
                "first": ("First floor", 1, None, "mdi:home-floor-1"),
            },
        )
        self.assertEqual(
            self.labels(instance_id),
            {
                "energy": ("Energy", "green", "mdi:leaf", None),
                "night": ("Night", "#112233", None, "Dark"),
            },
        )
        self.assertEqual(
            self.categories(instance_id),
            {("automation", "c_morning"): "Morning", ("helpers", "c_limits"): "Limits"},
        )
        self.assertEqual(self.area_floors(instance_id), {"kitchen": "ground", "bedroom": "first"})
        self.assertEqual(
            self.links(
                instance_id, "ha_area_label_rel", "ha_area", "area_id", "ha_label", "label_id"
            ),
            {"kitchen": ["energy"]},
        )
        self.assertEqual(
            self.links(
                instance_id,
                "ha_device_label_rel",
                "ha_device",
                "device_id",
                "ha_label",
                "label_id",
            ),
            {"dev-meter": ["energy"]},
        )
        # The entities did not exist before the snapshot: their labels and categories are
        # applied once it is stored.
        self.wait_for(
            lambda: self.entity_labels(instance_id),
            {"sensor.s_0": ["energy", "night"], "automation.wake_up": ["night"]},
            "entity labels",
        )
        self.assertEqual(
            self.links(
                instance_id,
                "ha_entity_category_rel",
                "ha_entity",
                "entity_id",
                "ha_category",
                "category_id",
            ),
            {"automation.wake_up": ["c_morning"]},
        )
        for event_type in ORGANISER_EVENTS:
            self.assertIn(event_type, self.server.subscribed_event_types)

    def test_2024_4_home_is_mirrored_on_connect(self):
        instance_id = self.connect(_home(RELEASE_2024_4))
        self._assert_home_mirrored(instance_id)

    def test_2025_1_home_is_mirrored_on_connect(self):
        instance_id = self.connect(_home(RELEASE_2025_1))
        self._assert_home_mirrored(instance_id)
        # The ORM sees what the connector wrote: floors on areas, devices and entities.
        with self.registry.cursor() as cr:
            env = self.env(cr=cr)
            entity = env["ha.entity"].search(
                [("instance_id", "=", instance_id), ("entity_id", "=", "sensor.s_0")]
            )
            self.assertEqual(entity.floor_id.floor_id, "ground")
            self.assertEqual(entity.device_id.floor_id.name, "Ground floor")
            self.assertEqual(sorted(entity.label_ids.mapped("name")), ["Energy", "Night"])
            on_ground = env["ha.entity"].search(
                [("instance_id", "=", instance_id), ("floor_id.level", "=", 0)]
            )
            self.assertEqual(on_ground, entity)
            groups = env["ha.entity"].read_group(
                [("instance_id", "=", instance_id)], ["floor_id"], ["floor_id"]
            )
            self.assertEqual(
                {g["floor_id"][1] if g["floor_id"] else None: g["floor_id_count"] for g in groups},
                {"Ground floor": 1, "First floor": 1, None: 1},
            )

    # Live -----------------------------------------------------------------------------------

    def test_registry_events_are_applied_live(self):
        home = _home(RELEASE_2025_1)
        instance_id = self.connect(home)
        self.wait_for(lambda: bool(self.entity_labels(instance_id)), True, "entity labels")

        self.server.announce(home.create("floor", floor_id="attic", name="Attic", level=2))
        self.wait_for(
            lambda: self.floors(instance_id).get("attic"),
            ("Attic", 2, None, None),
            "a created floor",
        )
        # A floor without a level is not a ground floor.
        self.server.announce(home.create("floor", floor_id="annex", name="Annex", level=None))
        self.wait_for(
            lambda: self.floors(instance_id).get("annex"),
            ("Annex", None, None, None),
            "a floor without level",
        )
        self.server.announce(home.update("floor", "first", name="Upstairs", aliases=["Up"]))
        self.wait_for(
            lambda: self.floors(instance_id)["first"],
            ("Upstairs", 1, "Up", "mdi:home-floor-1"),
            "a renamed floor",
        )
        # An area moved to another floor.
        self.server.announce(home.update("area", "bedroom", floor_id="attic"))
        self.wait_for(
            lambda: self.area_floors(instance_id)["bedroom"], "attic", "the bedroom's floor"
        )
        # A floor removed: its areas are on no floor.
        self.server.announce(home.remove("floor", "ground"))
        home.areas["kitchen"]["floor_id"] = None
        self.wait_for(lambda: self.area_floors(instance_id)["kitchen"], None, "a removed floor")

        self.server.announce(home.update("label", "night", name="Nightly", color="indigo"))
        self.wait_for(
            lambda: self.labels(instance_id)["night"],
            ("Nightly", "indigo", None, "Dark"),
            "a changed label",
        )
        # A label put on an entity and taken off another.
        self.server.announce(home.update("entity", "sensor.s_1", labels=["night"]))
        self.server.announce(home.update("entity", "automation.wake_up", labels=[]))
        self.wait_for(
            lambda: self.entity_labels(instance_id),
            {"sensor.s_0": ["energy", "night"], "sensor.s_1": ["night"]},
            "labels of entities",
        )
        # A label removed: off every entity, device and area (Home Assistant takes it off
        # them too, each with its own event).
        self.server.announce(home.remove("label", "energy"))
        for table, key in (("area", "kitchen"), ("device", "dev-meter"), ("entity", "sensor.s_0")):
            entry = {"area": home.areas, "device": home.devices, "entity": home.entities}[table][
                key
            ]
            entry["labels"] = [label for label in entry.get("labels", ()) if label != "energy"]
        self.wait_for(lambda: sorted(self.labels(instance_id)), ["night"], "a removed label")
        self.assertEqual(
            self.entity_labels(instance_id), {"sensor.s_0": ["night"], "sensor.s_1": ["night"]}
        )

        event = home.create("category", scope="scene", category_id="c_moods", name="Moods")
        self.server.announce(event)
        self.wait_for(
            lambda: self.categories(instance_id).get(("scene", "c_moods")),
            "Moods",
            "a created category",
        )
        self.server.announce(home.remove("category", ("automation", "c_morning")))
        self.wait_for(
            lambda: ("automation", "c_morning") in self.categories(instance_id),
            False,
            "a removed category",
        )

    # Edits by managers -----------------------------------------------------------------

    def as_manager(self, function):
        """``function(env)`` as a Home Assistant manager, committed: the connector sees only
        committed rows, and its request queue the committed user."""
        manager_id = getattr(self, "_manager_id", None) or self._committed_manager()
        with self.registry.cursor() as cr:
            result = function(api.Environment(cr, manager_id, {}))
            cr.commit()
            return result

    def _committed_manager(self):
        manager_id = self.run_committed(
            lambda env: (
                env["res.users"]
                .create(
                    {
                        "name": "Floor manager",
                        "login": f"ha_floor_manager_{self._testMethodName}",
                        "groups_id": [Command.set([env.ref("odoo_ha_addon.group_ha_manager").id])],
                    }
                )
                .id
            )
        )
        self.addCleanup(
            self.run_committed, lambda env: env["res.users"].browse(manager_id).unlink()
        )
        self._manager_id = manager_id
        return manager_id

    def test_managers_move_areas_and_label_things_in_home_assistant(self):
        home = _home(RELEASE_2025_1)
        instance_id = self.connect(home)
        self.wait_for(lambda: bool(self.entity_labels(instance_id)), True, "entity labels")

        def record(env, model, key, value):
            return env[model].search([("instance_id", "=", instance_id), (key, "=", value)])

        def edit(env):
            first = record(env, "ha.floor", "floor_id", "first")
            energy = record(env, "ha.label", "label_id", "energy")
            night = record(env, "ha.label", "label_id", "night")
            record(env, "ha.area", "area_id", "kitchen").write(
                {"floor_id": first.id, "label_ids": [Command.clear()]}
            )
            record(env, "ha.entity", "entity_id", "sensor.s_1").label_ids = [
                Command.link(energy.id)
            ]
            record(env, "ha.device", "device_id", "dev-meter").label_ids = [Command.set(night.ids)]
            floor = env["ha.floor"].create(
                {"instance_id": instance_id, "name": "Attic", "has_level": True, "level": 2}
            )
            label = env["ha.label"].create(
                {"instance_id": instance_id, "name": "Spare", "color": "indigo"}
            )
            label.write({"name": "Spares"})
            floor.unlink()

        self.as_manager(edit)
        # Home Assistant has the changes ...
        self.assertEqual(home.areas["kitchen"]["floor_id"], "first")
        self.assertEqual(home.areas["kitchen"]["labels"], [])
        self.assertEqual(home.entities["sensor.s_1"]["labels"], ["energy"])
        self.assertEqual(home.devices["dev-meter"]["labels"], ["night"])
        self.assertNotIn("attic", home.floors)
        self.assertEqual(home.labels["spare"]["name"], "Spares")
        # ... and Odoo what Home Assistant answered, which its events leave as it is.
        expected_labels = {
            "sensor.s_0": ["energy", "night"],
            "sensor.s_1": ["energy"],
            "automation.wake_up": ["night"],
        }
        self.assertEqual(self.area_floors(instance_id)["kitchen"], "first")
        self.assertEqual(self.entity_labels(instance_id), expected_labels)
        self.assertEqual(self.labels(instance_id)["spare"], ("Spares", "indigo", None, None))
        self.assertNotIn("attic", self.floors(instance_id))
        # The registry events of these edits make the connector read the registries again.
        time.sleep(REGISTRY_RESYNC_DELAY_S + 1)
        self.assertEqual(self.entity_labels(instance_id), expected_labels)
        self.assertEqual(self.area_floors(instance_id)["kitchen"], "first")

        # A label of another instance is refused before anything is sent.
        def foreign_label(env):
            other = env["ha.instance"].create(
                {"name": "Other", "url": "http://127.0.0.1:9", "token": "t", "active": False}
            )
            label = (
                env["ha.label"]
                .sudo()
                .create({"instance_id": other.id, "label_id": "x", "name": "X"})
            )
            entity = record(env, "ha.entity", "entity_id", "sensor.s_0")
            entity.label_ids = [Command.link(label.id)]

        with self.assertRaisesRegex(UserError, "same Home Assistant instance"):
            self.as_manager(foreign_label)

    # Older and restricted servers ------------------------------------------------------

    def test_groups_and_shares_follow_moves_and_labels_in_home_assistant_live(self):
        """A group of the kitchen (entities added later to view only) and a share of the
        "night" label, while Home Assistant moves and relabels entities: each reader gets
        what the targets hold now, no more, and a scope that lost an entity moves to a new
        channel."""
        home = _home(RELEASE_2025_1)
        instance_id = self.connect(home)
        self.wait_for(lambda: bool(self.entity_labels(instance_id)), True, "entity labels")

        def scopes(env):
            instance = env["ha.instance"].browse(instance_id)
            resident = new_test_user(
                env, login="live_group_resident", groups="odoo_ha_addon.group_ha_user"
            )
            tenant = new_test_user(env, login="live_label_tenant", groups="base.group_portal")
            kitchen = env["ha.area"].search(
                [("instance_id", "=", instance_id), ("area_id", "=", "kitchen")]
            )
            night = env["ha.label"].search(
                [("instance_id", "=", instance_id), ("label_id", "=", "night")]
            )
            group = env["ha.entity.group"].create(
                {
                    "name": "Kitchen",
                    "instance_id": instance.id,
                    "access_level": "control",
                    "include_later": True,
                    "area_ids": [Command.set(kitchen.ids)],
                    "user_ids": [Command.set(resident.ids)],
                }
            )
            share = env["ha.entity.share"].create(
                {"label_id": night.id, "user_id": tenant.id, "permission": "view"}
            )
            return resident.id, tenant.id, group.id, share.id

        resident_id, tenant_id, group_id, share_id = self.run_committed(scopes)
        self.addCleanup(
            self.run_committed,
            lambda env: env["res.users"].browse([resident_id, tenant_id]).unlink(),
        )

        def seen(user_id):
            """entity id -> whether the user may control it, through the ORM as that user."""

            def read(env):
                entities = env["ha.entity"].with_user(user_id).search([])
                controlled = entities._controllable_by(env["res.users"].browse(user_id))
                return {e.entity_id: e in controlled for e in entities}

            return self.run_committed(read)

        def generations():
            return self.query(
                "SELECT (SELECT bus_generation FROM ha_entity_group WHERE id = %s),"
                " (SELECT bus_generation FROM ha_entity_share WHERE id = %s)",
                (group_id, share_id),
            )[0]

        # The meter sits in the kitchen: its sensor is the group's; both night entities are
        # the label share's.
        self.assertEqual(seen(resident_id), {"sensor.s_0": True})
        self.assertEqual(seen(tenant_id), {"sensor.s_0": False, "automation.wake_up": False})
        start = generations()

        # Home Assistant moves the bedroom sensor into the kitchen: the group's users see it,
        # to view only, and nobody lost anything.
        self.server.announce(home.update("entity", "sensor.s_1", area_id="kitchen"))
        self.wait_for(
            lambda: seen(resident_id),
            {"sensor.s_0": True, "sensor.s_1": False},
            "an entity that joined the kitchen",
        )
        self.assertEqual(generations(), start)

        # It takes the night label off the automation: the tenant loses it, and the share's
        # channel moves on.
        self.server.announce(home.update("entity", "automation.wake_up", labels=[]))
        self.wait_for(lambda: seen(tenant_id), {"sensor.s_0": False}, "a label taken off")
        self.wait_for(generations, (start[0], start[1] + 1), "the label share's new channel")

        # It moves the meter's sensor to the bedroom: out of the group, whose channel moves on.
        self.server.announce(home.update("entity", "sensor.s_0", area_id="bedroom"))
        self.wait_for(
            lambda: seen(resident_id), {"sensor.s_1": False}, "an entity that left the kitchen"
        )
        self.wait_for(generations, (start[0] + 1, start[1] + 1), "the group's new channel")

    def test_release_without_these_registries_shows_none_and_logs_nothing_alarming(self):
        # A release before 2024.3: every one of these list commands is unknown_command.
        home = ScriptedRegistries("2024.2.0")
        home.create("area", area_id="kitchen", name="Kitchen")
        # The connector says so at INFO, once per connection.
        with self.assertNoLogs(ADDON_LOGGER, "WARNING"):
            instance_id = self.connect(home)
            self.wait_in_sync_with_server(instance_id)
        self.assertEqual(self.supported(instance_id), (False, False, False))
        self.assertEqual(self.area_floors(instance_id), {"kitchen": None})
        self.assertFalse(self.floors(instance_id) or self.labels(instance_id))
        self.assertFalse(self.categories(instance_id))
        self.assertFalse(set(ORGANISER_EVENTS) & set(self.server.subscribed_event_types))

    def test_refused_event_subscriptions_leave_the_mirror_working(self):
        # Home Assistant 2024.4 refuses these subscriptions to users who are not
        # administrators: the registries are still read on connect and on the other events.
        home = _home(RELEASE_2024_4)
        with self.assertNoLogs(ADDON_LOGGER, "WARNING"):
            instance_id = self.connect(home, refused=ORGANISER_EVENTS)
        self._assert_home_mirrored_without_subscriptions(instance_id)
        home.create("floor", floor_id="attic", name="Attic", level=2)
        self.server.announce(home.update("area", "bedroom", floor_id="attic"))
        self.wait_for(
            lambda: self.area_floors(instance_id)["bedroom"], "attic", "the bedroom's floor"
        )

    def _assert_home_mirrored_without_subscriptions(self, instance_id):
        self.assertEqual(self.supported(instance_id), (True, True, True))
        self.assertEqual(sorted(self.floors(instance_id)), ["first", "ground"])
        self.assertFalse(set(ORGANISER_EVENTS) & set(self.server.subscribed_event_types))

    def wait_in_sync_with_server(self, instance_id):
        self.wait_for(
            lambda: sorted(
                entity_id
                for entity_id, row in self.entity_rows(instance_id).items()
                if row["active"]
            ),
            sorted(self.server.entities),
            "entities",
        )


@tagged("post_install", "-at_install")
class TestFloorsAndLabelsAccess(ShareCommon):
    """Floors, labels and categories are read as areas are: HA users of the instance's
    groups, managers all; people a share grants entities, those entities' floors and labels
    only, and no categories."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Floor, Label = cls.env["ha.floor"], cls.env["ha.label"]
        cls.ground = Floor.create({"instance_id": cls.instance.id, "floor_id": "g", "name": "G"})
        cls.cellar = Floor.create({"instance_id": cls.instance.id, "floor_id": "c", "name": "C"})
        cls.cabin_floor = Floor.create(
            {"instance_id": cls.other_instance.id, "floor_id": "g", "name": "Cabin G"}
        )
        cls.area_kitchen.floor_id = cls.ground
        cls.label_light = Label.create(
            {"instance_id": cls.instance.id, "label_id": "light", "name": "Light"}
        )
        cls.label_bulb = Label.create(
            {"instance_id": cls.instance.id, "label_id": "bulb", "name": "Bulb"}
        )
        cls.label_area = Label.create(
            {"instance_id": cls.instance.id, "label_id": "room", "name": "Room"}
        )
        cls.label_outside = Label.create(
            {"instance_id": cls.instance.id, "label_id": "outside", "name": "Outside"}
        )
        cls.light_kitchen.label_ids = cls.label_light
        cls.device_bulb.label_ids = cls.label_bulb
        cls.area_kitchen.label_ids = cls.label_area
        cls.sensor_outside.label_ids = cls.label_outside
        cls.category = cls.env["ha.category"].create(
            {
                "instance_id": cls.instance.id,
                "scope": "automation",
                "category_id": "morning",
                "name": "Morning",
            }
        )
        cls.cabin_switch.category_ids = cls.env["ha.category"].create(
            {
                "instance_id": cls.other_instance.id,
                "scope": "helpers",
                "category_id": "pumps",
                "name": "Pumps",
            }
        )
        cls.user_nobody = new_test_user(cls.env, login="ha_nobody", groups="base.group_user")

    def _read(self, user, model):
        return self.env[model].with_user(user).search([])

    def test_ha_users_read_their_instances_and_managers_all(self):
        for model in ("ha.floor", "ha.label", "ha.category"):
            everything = self.env[model].search([])
            self.assertEqual(self._read(self.manager, model), everything)
            self.assertEqual(
                self._read(self.user_member, model),
                everything.filtered(lambda r: r.instance_id == self.instance),
            )
            # An HA user in no group of any instance reads none of them.
            self.assertFalse(self._read(self.user_outsider, model))

    def test_shares_open_the_floors_and_labels_of_shared_entities_only(self):
        self.assertEqual(self._read(self.portal, "ha.floor"), self.ground)
        self.assertEqual(
            self._read(self.portal, "ha.label"),
            self.label_light | self.label_bulb | self.label_area,
        )
        self.assertEqual(self._read(self.employee, "ha.label"), self.label_outside)
        self.assertFalse(self._read(self.employee, "ha.floor"))
        self.assertFalse(self._read(self.stranger, "ha.floor"))
        self.assertFalse(self._read(self.stranger, "ha.label"))
        light = self.light_kitchen.with_user(self.portal)
        self.assertEqual(light.floor_id, self.ground)
        self.assertEqual(light.label_ids, self.label_light)
        for user in (self.portal, self.stranger, self.employee):
            with self.assertRaises(AccessError):
                self.env["ha.category"].with_user(user).search([])
        # Categories are not even a field for them.
        self.assertNotIn(
            "category_ids", self.env["ha.entity"].with_user(self.stranger).fields_get()
        )

    def test_an_internal_user_without_shares_reads_nothing(self):
        for model in ("ha.floor", "ha.label"):
            self.assertFalse(self._read(self.user_nobody, model))

    def test_only_managers_change_floors_and_labels_and_only_in_home_assistant(self):
        for user in (self.user_member, self.portal):
            for record in (self.ground, self.label_light, self.category):
                with self.assertRaises(AccessError):
                    record.with_user(user).write({"name": "Renamed"})
        for record in (self.light_kitchen, self.device_bulb, self.area_kitchen):
            with self.assertRaises(AccessError):
                record.with_user(self.user_member).write({"label_ids": [Command.clear()]})
        # Categories are not edited from Odoo, not even by managers.
        with self.assertRaises(AccessError):
            self.category.with_user(self.manager).write({"name": "Renamed"})
        # A manager's change goes to Home Assistant first: without a connection, nothing.
        changes = [
            (self.ground, {"name": "Renamed"}),
            (self.label_light, {"color": "red"}),
            (self.area_kitchen, {"floor_id": self.cellar.id}),
            (self.light_kitchen, {"label_ids": [Command.clear()]}),
        ]
        for record, values in changes:
            with self.assertRaisesRegex(UserError, "not connected"):
                record.with_user(self.manager).write(values)
        with self.assertRaisesRegex(UserError, "not connected"):
            self.env["ha.label"].with_user(self.manager).create(
                {"instance_id": self.instance.id, "name": "X"}
            )
        self.assertEqual(self.ground.name, "G")
        self.assertEqual(self.area_kitchen.floor_id, self.ground)
        self.assertEqual(self.light_kitchen.label_ids, self.label_light)
