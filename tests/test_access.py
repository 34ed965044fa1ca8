from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from .common import HaTestCommon


@tagged("post_install", "-at_install")
class TestEntityAccess(HaTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.history = cls.env["ha.entity.history"].create(
            [
                {
                    "entity_id": entity.id,
                    "state": "on",
                    "last_updated": fields.Datetime.now(),
                }
                for entity in (cls.light_kitchen, cls.sensor_outside)
            ]
        )

    def test_outsider_sees_nothing_of_the_instance(self):
        env = self.env(user=self.user_outsider)
        for model in ("ha.instance", "ha.entity", "ha.entity.history", "ha.area", "ha.device"):
            self.assertFalse(env[model].search([]), model)
            self.assertEqual(env[model].search_count([]), 0, model)
        self.assertFalse(env["ha.entity.group"].search([]))

    @mute_logger("odoo.models")
    def test_outsider_cannot_read_an_entity_by_id(self):
        env = self.env(user=self.user_outsider)
        with self.assertRaises(AccessError):
            env["ha.entity"].browse(self.light_kitchen.id).read(["state"])
        with self.assertRaises(AccessError):
            env["ha.instance"].browse(self.instance.id).read(["name"])
        with self.assertRaises(AccessError):
            env["ha.entity.history"].browse(self.history.ids).read(["state"])

    def test_member_sees_the_entities_of_their_groups_only(self):
        env = self.env(user=self.user_member)
        self.assertEqual(env["ha.entity"].search([]), self.light_kitchen)
        self.assertEqual(env["ha.entity"].browse(self.light_kitchen.id).state, "on")
        self.assertEqual(env["ha.instance"].search([]), self.instance)
        self.assertEqual(env["ha.area"].search([]), self.area_kitchen)
        self.assertEqual(env["ha.device"].search([]), self.device_bulb)
        self.assertEqual(env["ha.entity.group"].search([]), self.group_kitchen)
        self.assertEqual(env["ha.entity.history"].search([]).entity_id, self.light_kitchen)

    @mute_logger("odoo.models")
    def test_member_cannot_read_an_entity_outside_their_groups(self):
        env = self.env(user=self.user_member)
        with self.assertRaises(AccessError):
            env["ha.entity"].browse(self.sensor_outside.id).read(["state"])
        with self.assertRaises(AccessError):
            env["ha.entity"].browse(self.cabin_switch.id).read(["state"])
        with self.assertRaises(AccessError):
            env["ha.instance"].browse(self.other_instance.id).read(["name"])

    def test_access_follows_group_membership(self):
        outsider_entities = self.env(user=self.user_outsider)["ha.entity"]
        self.group_kitchen.user_ids = [Command.link(self.user_outsider.id)]
        self.assertEqual(outsider_entities.search([]), self.light_kitchen)
        self.group_kitchen.user_ids = [Command.unlink(self.user_outsider.id)]
        self.assertFalse(outsider_entities.search([]))

    def test_users_choose_their_current_instance(self):
        self.user_member.with_user(self.user_member).write(
            {"current_ha_instance_id": self.instance.id}
        )
        self.assertEqual(self.user_member.current_ha_instance_id, self.instance)
        own = self.user_member.with_user(self.user_member).read(["current_ha_instance_id"])
        self.assertEqual(own[0]["current_ha_instance_id"][0], self.instance.id)

    @mute_logger("odoo.models")
    def test_current_instance_only_among_those_the_user_may_read(self):
        portal = new_test_user(self.env, login="ha_test_portal", groups="base.group_portal")
        employee = new_test_user(self.env, login="ha_test_employee", groups="base.group_user")
        for user in (self.user_member, self.user_outsider, employee, portal):
            with self.subTest(user=user.login), self.assertRaises(ValidationError):
                user.with_user(user).write({"current_ha_instance_id": self.other_instance.id})
            self.assertFalse(user.current_ha_instance_id)
        # Nor can an administrator point a user at an instance that user may not read.
        with self.assertRaises(ValidationError):
            self.user_member.write({"current_ha_instance_id": self.other_instance.id})

    @mute_logger("odoo.models")
    def test_current_instance_of_others_is_for_managers_only(self):
        self.user_member.current_ha_instance_id = self.instance
        for reader in (self.user_outsider, new_test_user(self.env, login="ha_test_employee")):
            with self.subTest(reader=reader.login), self.assertRaises(AccessError):
                self.user_member.with_user(reader).read(["current_ha_instance_id"])
            with self.assertRaises(AccessError):
                self.env["res.users"].with_user(reader).search_read(
                    [("id", "=", self.user_member.id)], ["current_ha_instance_id"]
                )
        row = self.user_member.with_user(self.manager).read(["current_ha_instance_id"])[0]
        self.assertEqual(row["current_ha_instance_id"][0], self.instance.id)

    def test_manager_sees_everything(self):
        env = self.env(user=self.manager)
        self.assertEqual(
            env["ha.entity"].search(
                [("instance_id", "in", (self.instance | self.other_instance).ids)]
            ),
            self.light_kitchen | self.sensor_outside | self.cabin_switch,
        )
        self.assertEqual(env["ha.instance"].browse(self.other_instance.id).name, "Cabin")

    @mute_logger("odoo.models")
    def test_ha_users_cannot_change_configuration(self):
        env = self.env(user=self.user_member)
        with self.assertRaises(AccessError):
            env["ha.instance"].browse(self.instance.id).write({"url": "http://127.0.0.1:1"})
        with self.assertRaises(AccessError):
            env["ha.entity.group"].browse(self.group_kitchen.id).write(
                {"user_ids": [Command.link(self.user_outsider.id)]}
            )
        with self.assertRaises(AccessError):
            env["ha.entity"].browse(self.light_kitchen.id).write({"state": "off"})

    def test_internal_user_without_ha_group_has_no_access(self):
        employee = new_test_user(self.env, login="ha_test_employee", groups="base.group_user")
        self.group_kitchen.user_ids = [Command.link(employee.id)]
        # Internal users may read what is shared with them (ha.entity.share): nothing here.
        env = self.env(user=employee)
        for model in ("ha.entity", "ha.instance", "ha.area", "ha.device", "ha.entity.share"):
            self.assertFalse(env[model].search([]), model)
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            self.light_kitchen.with_user(employee).read(["state"])
        with self.assertRaises(AccessError), mute_logger("odoo.models"):
            env["ha.entity.group"].search([])


@tagged("post_install", "-at_install")
class TestTokenAccess(HaTestCommon):
    """The token is readable by managers only, whatever way a user asks for it."""

    @mute_logger("odoo.models")
    def test_orm_read_of_token_is_refused(self):
        instance = self.env(user=self.user_member)["ha.instance"].browse(self.instance.id)
        with self.assertRaises(AccessError):
            instance.read(["token"])
        with self.assertRaises(AccessError):
            instance.search_read([], ["name", "token"])

    def test_default_reads_leave_the_token_out(self):
        Instance = self.env(user=self.user_member)["ha.instance"]
        for row in Instance.search_read([]):
            self.assertNotIn("token", row)
            self.assertNotIn(self.TOKEN, repr(row))
        (row,) = Instance.browse(self.instance.id).read()
        self.assertNotIn("token", row)
        self.assertNotIn(self.TOKEN, repr(row))

    @mute_logger("odoo.models")
    def test_export_of_token_is_refused(self):
        Instance = self.env(user=self.user_member)["ha.instance"]
        self.assertTrue(self.user_member.has_group("base.group_allow_export"))
        with self.assertRaises(AccessError):
            Instance.browse(self.instance.id).export_data(["name", "token"])
        # Exporting what one may read still works.
        self.assertEqual(
            Instance.browse(self.instance.id).export_data(["name"]), {"datas": [["Home"]]}
        )

    def test_manager_reads_the_token(self):
        instance = self.env(user=self.manager)["ha.instance"].browse(self.instance.id)
        self.assertEqual(instance.read(["token"])[0]["token"], self.TOKEN)

    def test_forms_never_load_the_token_even_for_managers(self):
        Instance = self.env(user=self.manager)["ha.instance"]
        views = Instance.get_views([(False, "form"), (False, "list")])
        self.assertNotIn("token", views["models"]["ha.instance"]["fields"])
        self.assertIn("token_input", views["models"]["ha.instance"]["fields"])
        (row,) = Instance.browse(self.instance.id).web_read({"token_input": {}, "has_token": {}})
        self.assertEqual((row["token_input"], row["has_token"]), (False, True))

    def test_manager_replaces_the_token_through_the_form(self):
        with Form(self.instance.with_user(self.manager)) as form:
            form.token_input = "  new-token  "
        self.assertEqual(self.instance.token, "new-token")
        # Saving the form without touching the token keeps it.
        with Form(self.instance.with_user(self.manager)) as form:
            form.name = "Home sweet home"
        self.assertEqual(self.instance.token, "new-token")

    def test_a_new_url_forgets_the_token_unless_a_new_one_comes_with_it(self):
        instance = self.instance.with_user(self.manager)
        instance.write({"url": "http://homeassistant.example:8123"})
        self.assertFalse(self.instance.token)
        self.assertFalse(instance.has_token)
        with self.assertRaises(UserError):
            instance.action_test_connection()
        instance.write({"url": "http://other.example:8123", "token_input": "token-for-other"})
        self.assertEqual(self.instance.token, "token-for-other")
        # The same URL written again (a form saved unchanged) keeps the token.
        instance.write({"url": "http://other.example:8123/", "name": "Home"})
        self.assertEqual(self.instance.token, "token-for-other")
        # Several instances at once: only those whose URL changes forget theirs.
        both = (self.instance | self.other_instance).with_user(self.manager)
        both.write({"url": "http://other.example:8123"})
        self.assertEqual(self.instance.token, "token-for-other")
        self.assertFalse(self.other_instance.token)

    def test_token_not_in_views_for_users(self):
        Instance = self.env(user=self.user_member)["ha.instance"]
        views = Instance.get_views([(False, "form"), (False, "list")])
        for view in views["views"].values():
            self.assertNotIn('name="token"', view["arch"])
        self.assertNotIn("token", views["models"]["ha.instance"]["fields"])


@tagged("post_install", "-at_install")
class TestRequestQueueAccess(HaTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.request_row = cls.env["ha.ws.request.queue"].create(
            {"instance_id": cls.instance.id, "message_type": "ping", "payload": {}}
        )

    @mute_logger("odoo.models")
    def test_users_cannot_create_write_or_read_requests(self):
        Queue = self.env(user=self.user_member)["ha.ws.request.queue"]
        with self.assertRaises(AccessError):
            Queue.create({"instance_id": self.instance.id, "message_type": "call_service"})
        with self.assertRaises(AccessError):
            Queue.browse(self.request_row.id).write({"state": "done"})
        with self.assertRaises(AccessError):
            Queue.search([])

    @mute_logger("odoo.models")
    def test_managers_only_read_requests(self):
        Queue = self.env(user=self.manager)["ha.ws.request.queue"]
        self.assertEqual(Queue.search([("id", "=", self.request_row.id)]).message_type, "ping")
        with self.assertRaises(AccessError):
            Queue.create({"instance_id": self.instance.id, "message_type": "call_service"})
        with self.assertRaises(AccessError):
            Queue.browse(self.request_row.id).write({"state": "done"})
        with self.assertRaises(AccessError):
            Queue.browse(self.request_row.id).unlink()
