"""Entity groups of areas, floors and labels, as the Home Assistant user they give entities
to gets them: the entities the targets held when added, later ones only with "Include
entities added later" and then to view only, through the ORM, the JSON API and the bus;
nothing else. Moves in Home Assistant's registries shrink a group, and its channel with it."""

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL

from ..connector import registry_sync
from ..models import target_members
from ..models.ha_realtime_update import ACCESS_CHANGED, scope_channel
from .common import HaTestCommon
from .test_share_targets import FloorsAndAreas


@tagged("post_install", "-at_install")
class TestGroupTargets(FloorsAndAreas, HttpCase, HaTestCommon):
    """The homes of ``FloorsAndAreas``; ``resident`` (a Home Assistant user) is in no group
    but the one each test makes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.resident = new_test_user(
            cls.env, login="group_resident", groups="odoo_ha_addon.group_ha_user"
        )

    def _group(self, include_later=False, **targets):
        return (
            self.env["ha.entity.group"]
            .with_user(self.manager)
            .create(
                {
                    "name": "Targets",
                    "instance_id": self.instance.id,
                    "access_level": "control",
                    "include_later": include_later,
                    "user_ids": [Command.set(self.resident.ids)],
                    **{name: [Command.set(records.ids)] for name, records in targets.items()},
                }
            )
        )

    def _readable(self, model="ha.entity"):
        return self.env[model].with_user(self.resident).search([])

    def _controllable(self):
        entities = self.env["ha.entity"].search([("instance_id", "=", self.instance.id)])
        return entities._controllable_by(self.resident)

    def _seen(self):
        """entity id -> can_control, as the entities route gives them to ``resident``."""
        self.authenticate(self.resident.login, self.resident.login)
        listed = self._ok("entities", ha_instance_id=self.instance.id)["entities"]
        return {e["entity_id"]: e["can_control"] for e in listed}

    def _move(self, entity, area):
        """What the connector's registry sync does when Home Assistant moves ``entity``: the
        area written with SQL, then open pages told, with what the scopes held before."""
        realtime = self.env["ha.realtime.update"]
        before = realtime._scope_members(self.instance)
        self.env.cr.execute(
            "UPDATE ha_entity SET area_id = %s WHERE id = %s", (area.id or None, entity.id)
        )
        self.env.invalidate_all()
        changes = registry_sync.RegistryChanges(
            False, {entity.entity_id: (area.id or None, entity.device_id.id or None)}, {}
        )
        realtime._notify_registry_changes(self.instance, changes, before)

    def test_a_floor_group_gives_its_users_the_floor_entities_it_had(self):
        group = self._group(floor_ids=self.ground)
        on_floor = self.light_kitchen | self.hall_switch
        self.assertEqual(group.granted_entity_ids, on_floor)
        self.assertEqual(group.member_entity_ids, on_floor)
        self.assertEqual(group.entity_count, 2)
        # Home Assistant adds a lamp to the hall after the floor was added to the group.
        lamp = self._entity("light.hall_lamp", self.hall)
        self.assertEqual(group.member_entity_ids, on_floor)
        self.assertEqual(self._readable(), on_floor)
        with self.assertRaises(AccessError):
            lamp.with_user(self.resident).read(["state"])
        self.assertEqual(self._readable("ha.instance"), self.instance)
        self.assertEqual(self._controllable(), on_floor)
        self.assertEqual(
            self.env["ha.entity"].browse(lamp.id)._history_readable_by(self.resident), lamp.browse()
        )
        self.assertEqual(self._seen(), {"light.kitchen": True, "switch.hall": True})
        self.assertEqual(
            self._bus_entities(group, on_floor | lamp), ["light.kitchen", "switch.hall"]
        )
        # Another instance's entities never reach the group, nor the attic's.
        self.assertNotIn(self.attic_sensor, self._readable())
        self.assertNotIn(self.cabin_switch, self._readable())

    def test_entities_that_join_later_are_view_only_until_granted(self):
        group = self._group(include_later=True, area_ids=self.hall)
        lamp = self._entity("light.hall_lamp", self.hall)
        self.assertEqual(group.member_entity_ids, self.hall_switch | lamp)
        self.assertEqual(self._readable(), self.hall_switch | lamp)
        self.assertEqual(self._seen(), {"switch.hall": True, "light.hall_lamp": False})
        # No service call on the lamp: the policy follows the same rule.
        with self.assertRaises(AccessError):
            self.env["ha.service.policy"].with_user(self.resident)._service_call_payload(
                self.instance, "light", "turn_on", ["light.hall_lamp"], {}
            )
        group.with_user(self.manager).action_grant_current_entities()
        self.assertEqual(self._seen(), {"switch.hall": True, "light.hall_lamp": True})

    def test_a_label_group_holds_labelled_entities_devices_and_areas(self):
        Label = self.env["ha.label"]
        night = Label.create(
            {"instance_id": self.instance.id, "label_id": "night", "name": "Night"}
        )
        self.attic_sensor.label_ids = night
        self.device_bulb.label_ids = night
        self.hall.label_ids = night
        group = self._group(label_ids=night)
        expected = self.attic_sensor | self.light_kitchen | self.hall_switch
        self.assertEqual(group.member_entity_ids, expected)
        self.assertEqual(self._readable(), expected)
        # Taken off the device: the light is no longer the group's.
        self.device_bulb.label_ids = Label
        self.assertEqual(self._readable(), self.attic_sensor | self.hall_switch)

    def test_hand_picked_entities_and_targets_add_up(self):
        group = self._group(area_ids=self.attic)
        group.with_user(self.manager).entity_ids = self.sensor_outside
        self.assertEqual(self._readable(), self.attic_sensor | self.sensor_outside)
        # Adding an area grants what it holds now; the attic's grant stays.
        group.with_user(self.manager).area_ids |= self.hall
        self.assertEqual(group.granted_entity_ids, self.attic_sensor | self.hall_switch)
        self.assertEqual(
            self._controllable(), self.attic_sensor | self.sensor_outside | self.hall_switch
        )

    def test_an_area_of_another_instance_is_refused(self):
        cabin = self.env["ha.area"].create(
            {"instance_id": self.other_instance.id, "area_id": "deck", "name": "Deck"}
        )
        with self.assertRaises(ValidationError):
            self._group(area_ids=cabin)

    def test_an_entity_moved_out_of_the_area_leaves_the_group_and_its_channel(self):
        group = self._group(area_ids=self.hall)
        # An area share of the hall with a portal tenant follows the same move.
        tenant = new_test_user(self.env, login="group_tenant", groups="base.group_portal")
        share = (
            self.env["ha.entity.share"]
            .with_user(self.manager)
            .create({"area_id": self.hall.id, "user_id": tenant.id, "permission": "view"})
        )
        generations = (group.bus_generation, share.bus_generation)
        old_group_channel, old_share_channel = scope_channel(group), scope_channel(share)
        self._move(self.hall_switch, self.attic)
        self.assertFalse(self._readable())
        self.assertFalse(self.env["ha.entity"].with_user(tenant).search([]))
        # Both scopes moved to new channels: the rows of the switch already sent on the old
        # ones are never replayed to their readers, who are told to subscribe again.
        self.assertEqual(
            (group.bus_generation, share.bus_generation), tuple(g + 1 for g in generations)
        )
        self.assertIn({"type": ACCESS_CHANGED, "payload": {}}, self._bus_rows(old_group_channel))
        self.assertIn({"type": ACCESS_CHANGED, "payload": {}}, self._bus_rows(old_share_channel))
        # Moved back, the granted switch is the group's again; a move that takes nothing
        # from anyone leaves every channel where it is.
        self._move(self.hall_switch, self.hall)
        self.assertEqual(self._readable(), self.hall_switch)
        generations = (group.bus_generation, share.bus_generation)
        self._move(self.attic_sensor, self.area_kitchen)
        self.assertEqual((group.bus_generation, share.bus_generation), generations)

    def test_a_share_of_a_floor_group_covers_the_group_members(self):
        group = self._group(floor_ids=self.ground)
        tenant = new_test_user(self.env, login="group_share_tenant", groups="base.group_portal")
        share = (
            self.env["ha.entity.share"]
            .with_user(self.manager)
            .create({"group_id": group.id, "user_id": tenant.id, "permission": "view"})
        )
        on_floor = self.light_kitchen | self.hall_switch
        self.assertEqual(share.entity_ids, on_floor)
        self.assertEqual(self.env["ha.entity"].with_user(tenant).search([]), on_floor)


@tagged("post_install", "-at_install")
class TestGroupFormInTheBrowser(HttpCase, HaTestCommon):
    """The entity group form in the web client (headless Chromium), as a manager sees it."""

    def test_a_manager_gives_a_group_a_floor(self):
        ground = self.env["ha.floor"].create(
            {"instance_id": self.instance.id, "floor_id": "ground", "name": "Ground floor"}
        )
        self.area_kitchen.floor_id = ground
        hall = self.env["ha.area"].create(
            {"instance_id": self.instance.id, "area_id": "hall", "name": "Hall"}
        )
        hall.floor_id = ground
        switch = self.env["ha.entity"].create(
            {
                "instance_id": self.instance.id,
                "entity_id": "switch.hall",
                "name": "Hall switch",
                "state": "off",
                "area_id": hall.id,
            }
        )
        group = self.env["ha.entity.group"].create(
            {
                "name": "Downstairs",
                "instance_id": self.instance.id,
                "user_ids": [Command.set(self.user_outsider.ids)],
            }
        )
        self.start_tour(
            f"/odoo/action-odoo_ha_addon.ha_entity_group_action/{group.id}",
            "odoo_ha_addon_group_targets",
            login="ha_test_manager",
        )
        self.assertEqual(group.floor_ids, ground)
        self.assertTrue(group.include_later)
        self.assertEqual(group.granted_entity_ids, self.light_kitchen | switch)
        self.assertEqual(
            self.env["ha.entity"].with_user(self.user_outsider).search([]),
            self.light_kitchen | switch,
        )


@tagged("post_install", "-at_install")
class TestAccessQueriesWithoutJit(HaTestCommon):
    def test_the_access_queries_run_without_jit_and_leave_the_setting_as_it_was(self):
        cr = self.env.cr
        cr.execute("SET LOCAL jit = on")
        during = target_members.execute_without_jit(self.env, SQL("SELECT current_setting('jit')"))
        self.assertEqual(during, [("off",)])
        cr.execute("SELECT current_setting('jit')")
        self.assertEqual(cr.fetchone(), ("on",))
        # What the bus routes by, as the connector's flush asks it.
        scopes = self.env["ha.realtime.update"]._scopes_holding(self.instance, ["light.kitchen"])
        self.assertEqual(scopes, {self.group_kitchen: ["light.kitchen"]})
        cr.execute("SELECT current_setting('jit')")
        self.assertEqual(cr.fetchone(), ("on",))
