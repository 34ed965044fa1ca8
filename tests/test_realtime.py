import json

from odoo import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.addons.bus.tests.common import WebsocketCase

from ..models.ha_realtime_update import (
    ACCESS_CHANGED,
    ENTITIES_RELOAD,
    ENTITY_CHANGES,
    INSTANCE_STATUS,
    REGISTRY_CHANGED,
    scope_channel,
    user_channel,
)
from .common import HaTestCommon, SubscribeInBatches


def _change(state):
    return {"state": state, "attributes": {}, "last_updated": "2024-03-01T12:00:00+00:00"}


class BusRowsMixin:
    def setUp(self):
        super().setUp()
        self._bus_start = self._bus_mark()

    def _bus_mark(self):
        """The last bus row written so far (rows are written when a transaction commits:
        what the fixtures queued is written now, so a test sees its own rows only)."""
        self.env.cr.precommit.run()
        return self.env["bus.bus"].sudo()._bus_last_id()

    def _bus_rows(self, target):
        """Messages sent to ``target`` since the test started."""
        self.env.cr.precommit.run()
        channel = json_dump(channel_with_db(self.env.cr.dbname, target))
        rows = (
            self.env["bus.bus"]
            .sudo()
            .search([("channel", "=", channel), ("id", ">", self._bus_start)], order="id")
        )
        return [json.loads(row.message) for row in rows]

    def _rows_since(self, bus_id):
        """(channel, message) of every bus row written after ``bus_id``."""
        self.env.cr.precommit.run()
        return [
            (json.loads(row.channel), json.loads(row.message))
            for row in self.env["bus.bus"].sudo().search([("id", ">", bus_id)], order="id")
        ]


@tagged("post_install", "-at_install")
class TestRealtimeNotifications(BusRowsMixin, HaTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.group_outside = cls.env["ha.entity.group"].create(
            {
                "name": "Outside",
                "instance_id": cls.instance.id,
                "entity_ids": [Command.link(cls.sensor_outside.id)],
                "user_ids": [Command.link(cls.user_outsider.id)],
            }
        )
        cls.group_empty = cls.env["ha.entity.group"].create(
            {
                "name": "Nobody",
                "instance_id": cls.instance.id,
                "entity_ids": [Command.link(cls.light_kitchen.id)],
            }
        )

    def _notify(self, changes):
        self.env["ha.realtime.update"]._notify_entity_changes(self.instance, changes)

    def test_each_scope_gets_only_its_entities(self):
        changes = {"light.kitchen": _change("off"), "sensor.outside_temperature": _change("3")}
        self._notify(changes)
        self._notify({})
        everything = {"instance_id": self.instance.id, "changes": changes}
        self.assertEqual(
            self._bus_rows(scope_channel(self.instance)),
            [{"type": ENTITY_CHANGES, "payload": everything}],
        )
        self.assertEqual(
            [
                row["payload"]["changes"]
                for row in self._bus_rows(scope_channel(self.group_kitchen))
            ],
            [{"light.kitchen": changes["light.kitchen"]}],
        )
        self.assertEqual(
            [
                row["payload"]["changes"]
                for row in self._bus_rows(scope_channel(self.group_outside))
            ],
            [{"sensor.outside_temperature": changes["sensor.outside_temperature"]}],
        )
        # A group nobody belongs to costs no row; nothing goes to people directly.
        self.assertFalse(self._bus_rows(scope_channel(self.group_empty)))
        self.assertFalse(self._bus_rows(user_channel(self.user_member)))
        self.assertFalse(self._bus_rows(self.instance))

    def test_an_entity_in_no_group_reaches_the_instance_scope_only(self):
        bus_id = self._bus_mark()
        self._notify({"device_tracker.paulus": _change("home")})
        rows = self._rows_since(bus_id)
        self.assertEqual([channel[-1] for channel, _message in rows], ["ha_all/0"])

    def test_rows_per_flush_follow_scopes_not_users(self):
        users = [
            new_test_user(self.env, login=f"ha_test_many_{n}", groups="odoo_ha_addon.group_ha_user")
            for n in range(10)
        ]
        groups = self.env["ha.entity.group"].create(
            [
                {
                    "name": f"Scope {n}",
                    "instance_id": self.instance.id,
                    "entity_ids": [Command.link(self.light_kitchen.id)],
                    "user_ids": [Command.set([u.id for u in users[n::3]])],
                }
                for n in range(3)
            ]
        )
        self.assertEqual(len(groups.user_ids), 10)
        bus_id = self._bus_mark()
        self._notify({"light.kitchen": _change("off"), "sensor.outside_temperature": _change("2")})
        # The instance scope, group_kitchen, group_outside and the three new groups.
        self.assertEqual(len(self._rows_since(bus_id)), 6)

    def test_status_and_reload_reach_every_scope_of_the_instance_without_the_token(self):
        self.instance.sudo().write({"ha_version": "2024.3.3", "entity_count": 7})
        realtime = self.env["ha.realtime.update"]
        realtime._notify_instance_status(self.instance)
        realtime._notify_entities_reload(self.instance)
        for scope in (self.instance, self.group_kitchen, self.group_outside):
            status, reload = self._bus_rows(scope_channel(scope))
            self.assertEqual(status["type"], INSTANCE_STATUS)
            self.assertEqual(status["payload"]["status"], "disconnected")
            self.assertEqual(status["payload"]["entity_count"], 7)
            self.assertNotIn(self.TOKEN, json.dumps(status))
            self.assertEqual(
                reload, {"type": ENTITIES_RELOAD, "payload": {"instance_id": self.instance.id}}
            )
        self.assertFalse(self._bus_rows(scope_channel(self.other_instance)))
        self.assertFalse(self._bus_rows(scope_channel(self.group_empty)))

    def test_scopes_are_what_the_orm_gives_the_user(self):
        realtime = self.env["ha.realtime.update"]
        for user in (self.user_member, self.user_outsider):
            groups = self.env["ha.entity.group"].union(*realtime._user_scopes(user))
            self.assertEqual(groups, self.env["ha.entity.group"].with_user(user).search([]))
            # Every entity of those groups, and nothing else, is readable by the user.
            self.assertEqual(groups.entity_ids, self.env["ha.entity"].with_user(user).search([]))
        self.assertEqual(
            realtime._user_scopes(self.manager),
            list(
                self.env["ha.instance"]
                .with_user(self.manager)
                .with_context(active_test=False)
                .search([])
            ),
        )
        portal = new_test_user(self.env, login="ha_test_portal", groups="base.group_portal")
        self.group_kitchen.user_ids = [Command.link(portal.id)]
        self.assertEqual(realtime._user_scopes(portal), [])

    def test_the_channels_version_follows_what_the_user_may_read(self):
        realtime = self.env["ha.realtime.update"]
        version = realtime._channels_version(self.user_member)
        self.assertEqual(realtime._channels_version(self.user_member), version)
        self.assertNotEqual(realtime._channels_version(self.user_outsider), version)
        self.group_kitchen.write({"user_ids": [Command.unlink(self.user_member.id)]})
        self.assertNotEqual(realtime._channels_version(self.user_member), version)

    def test_registry_lists_reach_each_scope_as_its_members_read_them(self):
        self.env["ha.realtime.update"]._notify_registry_lists(self.instance)
        (row,) = self._bus_rows(scope_channel(self.group_kitchen))
        self.assertEqual(row["type"], REGISTRY_CHANGED)
        member_env = self.env(user=self.user_member)
        self.assertEqual(
            [area["id"] for area in row["payload"]["areas"]],
            member_env["ha.area"].search([("instance_id", "=", self.instance.id)]).ids,
        )
        self.assertEqual(
            [device["id"] for device in row["payload"]["devices"]],
            member_env["ha.device"].search([("instance_id", "=", self.instance.id)]).ids,
        )
        # Nothing for the other instance's scope, nor for people directly.
        self.assertFalse(self._bus_rows(scope_channel(self.other_instance)))
        self.assertFalse(self._bus_rows(user_channel(self.user_outsider)))

    def test_user_notification_goes_to_that_user_only(self):
        self.env["ha.realtime.update"]._notify_user(
            self.user_member, "odoo_ha_addon/instance_switched", {"instance_id": self.instance.id}
        )
        self.assertEqual(
            self._bus_rows(user_channel(self.user_member)),
            [
                {
                    "type": "odoo_ha_addon/instance_switched",
                    "payload": {"instance_id": self.instance.id},
                }
            ],
        )
        self.assertFalse(self._bus_rows(user_channel(self.user_outsider)))

    def test_removing_a_member_moves_the_group_to_a_new_channel(self):
        old_channel = scope_channel(self.group_kitchen)
        self.group_kitchen.write({"user_ids": [Command.unlink(self.user_member.id)]})
        self.assertEqual(self.group_kitchen.bus_generation, 1)
        self.assertEqual([row["type"] for row in self._bus_rows(old_channel)], [ACCESS_CHANGED])
        # The new channel carries what follows; the old one never carries anything again.
        self.group_kitchen.write({"user_ids": [Command.link(self.user_outsider.id)]})
        self._notify({"light.kitchen": _change("off")})
        self.assertEqual([row["type"] for row in self._bus_rows(old_channel)], [ACCESS_CHANGED])
        self.assertEqual(
            [row["type"] for row in self._bus_rows(scope_channel(self.group_kitchen))],
            [ENTITY_CHANGES],
        )
        # The newcomer is told to subscribe again; the other groups kept their channels.
        self.assertEqual(
            [row["type"] for row in self._bus_rows(user_channel(self.user_outsider))],
            [ACCESS_CHANGED],
        )
        self.assertEqual(self.group_outside.bus_generation, 0)
        self.assertEqual(self.instance.bus_generation, 0)

    def test_removing_an_entity_from_a_group_retires_its_channel_adding_one_does_not(self):
        self.group_kitchen.write({"entity_ids": [Command.link(self.sensor_outside.id)]})
        self.assertEqual(self.group_kitchen.bus_generation, 0)
        self.assertEqual(
            [row["type"] for row in self._bus_rows(scope_channel(self.group_kitchen))],
            [ACCESS_CHANGED],
        )
        self.group_kitchen.write({"entity_ids": [Command.unlink(self.sensor_outside.id)]})
        self.assertEqual(self.group_kitchen.bus_generation, 1)

    def test_losing_home_assistant_rights_retires_every_scope_of_the_user(self):
        manager = new_test_user(
            self.env, login="ha_test_boss", groups="odoo_ha_addon.group_ha_manager"
        )
        manager.write(
            {"groups_id": [Command.unlink(self.env.ref("odoo_ha_addon.group_ha_manager").id)]}
        )
        self.assertEqual((self.instance.bus_generation, self.other_instance.bus_generation), (1, 1))
        self.user_member.write({"active": False})
        self.assertEqual(self.group_kitchen.bus_generation, 1)
        self.assertEqual(self.group_outside.bus_generation, 0)
        # Promoted to manager: the old group loses nobody, the user joins every instance.
        self.user_outsider.write(
            {"groups_id": [Command.link(self.env.ref("odoo_ha_addon.group_ha_manager").id)]}
        )
        self.assertEqual(self.group_outside.bus_generation, 0)
        self.assertEqual(
            [row["type"] for row in self._bus_rows(user_channel(self.user_outsider))],
            [ACCESS_CHANGED],
        )

    def test_membership_edited_from_the_access_group_form(self):
        manager_group = self.env.ref("odoo_ha_addon.group_ha_manager")
        manager_group.write({"users": [Command.link(self.user_member.id)]})
        self.assertEqual(
            [row["type"] for row in self._bus_rows(user_channel(self.user_member))],
            [ACCESS_CHANGED],
        )
        manager_group.write({"users": [Command.unlink(self.user_member.id)]})
        self.assertEqual(self.instance.bus_generation, 1)


class SocketMixin(SubscribeInBatches):
    """Sessions of a WebsocketCase on Odoo's /websocket, and what reaches them."""

    def _connect(self, login, last=None):
        session = self.authenticate(login, login)
        websocket = self.websocket_connect(cookie=f"session_id={session.sid};")
        self.subscribe(websocket, [], self.env["bus.bus"]._bus_last_id() if last is None else last)
        return websocket

    def _dispatch(self):
        # The bus is told of new rows by a NOTIFY after commit, which tests never do.
        self.env.cr.precommit.run()
        for websockets in list(self._subscribed().values()):
            for websocket in list(websockets):
                websocket.trigger_notification_dispatching()

    def _subscribed(self):
        from odoo.addons.bus.models.bus import dispatch

        return dispatch._channels_to_ws

    def _send_ping(self, user):
        """A last message to ``user``: once a socket has it, nothing else is on its way."""
        self.env["ha.realtime.update"]._notify_user(user, "ping", {})
        self._dispatch()

    def _read_until_ping(self, websocket):
        received = []
        while True:
            for notification in json.loads(websocket.recv()):
                message = notification["message"]
                if message["type"] == "ping":
                    return received
                received.append(message)

    def _received_messages(self, websocket, user):
        """Every message the websocket receives, up to a ping sent last to ``user``."""
        self._send_ping(user)
        return self._read_until_ping(websocket)

    def _received_entities(self, websocket, user):
        """Entity ids of every entity change the websocket receives (``_received_messages``)."""
        return sorted(
            entity_id
            for message in self._received_messages(websocket, user)
            if message["type"] == ENTITY_CHANGES
            for entity_id in message["payload"]["changes"]
        )


@tagged("post_install", "-at_install")
class TestScopeSubscription(SocketMixin, WebsocketCase, HaTestCommon):
    """Real sessions on Odoo's /websocket receive exactly what their user may read."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Entity = cls.env["ha.entity"]
        cls.switch_lights = Entity.create(
            {"instance_id": cls.instance.id, "entity_id": "switch.decorative_lights", "state": "on"}
        )
        cls.others = Entity.create(
            [
                {"instance_id": cls.instance.id, "entity_id": entity_id, "state": "x"}
                for entity_id in (
                    "device_tracker.demo_paulus",
                    "light.ceiling_lights",
                    "sensor.bench_5",
                )
            ]
        )
        # A colleague stays in the group: its channel goes on carrying the switch's changes.
        cls.colleague = new_test_user(
            cls.env, login="ha_test_colleague", groups="odoo_ha_addon.group_ha_user"
        )
        cls.group_switch = cls.env["ha.entity.group"].create(
            {
                "name": "Switches",
                "instance_id": cls.instance.id,
                "entity_ids": [Command.link(cls.switch_lights.id)],
                "user_ids": [Command.link(cls.user_member.id), Command.link(cls.colleague.id)],
                "access_level": "control",
            }
        )
        cls.group_kitchen.access_level = "view"
        cls.employee = new_test_user(cls.env, login="ha_test_employee", groups="base.group_user")
        cls.portal = new_test_user(cls.env, login="ha_test_portal", groups="base.group_portal")
        # Even listed in a group, neither may read anything: no Home Assistant rights.
        cls.group_kitchen.write(
            {"user_ids": [Command.link(cls.employee.id), Command.link(cls.portal.id)]}
        )

    def _three_others_and_two_granted_change(self):
        changes = {entity.entity_id: _change("changed") for entity in self.others}
        changes["light.kitchen"] = _change("off")
        changes["switch.decorative_lights"] = _change("off")
        self.env["ha.realtime.update"]._notify_entity_changes(self.instance, changes)
        self.env["ha.realtime.update"]._notify_entity_changes(
            self.other_instance, {"switch.pump": _change("on")}
        )

    def test_member_receives_the_granted_entities_only(self):
        websocket = self._connect("ha_test_member")
        self._three_others_and_two_granted_change()
        self.assertEqual(
            self._received_entities(websocket, self.user_member),
            ["light.kitchen", "switch.decorative_lights"],
        )

    def test_manager_receives_every_entity_of_every_instance(self):
        websocket = self._connect("ha_test_manager")
        self._three_others_and_two_granted_change()
        self.assertEqual(
            self._received_entities(websocket, self.manager),
            sorted(
                [
                    "light.kitchen",
                    "switch.decorative_lights",
                    "switch.pump",
                    *self.others.mapped("entity_id"),
                ]
            ),
        )

    def test_users_without_home_assistant_rights_receive_nothing(self):
        # Read before any socket: sockets of this process share the test's cursor, and the
        # server is done with each before the next opens.
        users = [(user, user.login) for user in (self.employee, self.portal, self.user_outsider)]
        for user, login in users:
            websocket = self._connect(login)
            self._three_others_and_two_granted_change()
            self.assertEqual(self._received_entities(websocket, user), [], login)
            self.close_socket(websocket)

    def test_catching_up_replays_no_ungranted_entity(self):
        before = self.env["bus.bus"]._bus_last_id()
        self._three_others_and_two_granted_change()
        self.env.cr.precommit.run()
        # last=0 replays the rows of the last minute by their creation time; the test's
        # transaction is older than that, so the rows get the real clock's time.
        self.env.cr.execute(
            "UPDATE bus_bus SET create_date = clock_timestamp() AT TIME ZONE 'UTC' WHERE id > %s",
            (before,),
        )
        for last in (0, before):
            websocket = self._connect("ha_test_member", last=last)
            self.assertEqual(
                self._received_entities(websocket, self.user_member),
                ["light.kitchen", "switch.decorative_lights"],
                f"catching up from {last}",
            )

    def test_a_removed_member_stops_receiving_without_logging_in_again(self):
        websocket = self._connect("ha_test_member")
        self.group_switch.write({"user_ids": [Command.unlink(self.user_member.id)]})
        self._three_others_and_two_granted_change()
        # The socket is not subscribed again (a client may ignore access_changed): the
        # group's changes stop all the same, while its remaining member still gets them.
        self.assertEqual(self._received_entities(websocket, self.user_member), ["light.kitchen"])
        colleague = self._connect("ha_test_colleague")
        self._three_others_and_two_granted_change()
        self.assertEqual(
            self._received_entities(colleague, self.colleague), ["switch.decorative_lights"]
        )
