import json

from odoo import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.addons.bus.tests.common import WebsocketCase

from ..models.ha_realtime_update import ENTITY_CHANGES, INSTANCE_STATUS
from .common import HaTestCommon


class BusRowsMixin:
    def _bus_rows(self, target):
        self.env.cr.precommit.run()  # bus.bus rows are written when the transaction commits
        channel = json_dump(channel_with_db(self.env.cr.dbname, target))
        return [
            json.loads(row.message)
            for row in self.env["bus.bus"].sudo().search([("channel", "=", channel)])
        ]


@tagged("post_install", "-at_install")
class TestRealtimeNotifications(BusRowsMixin, HaTestCommon):
    def test_entity_changes_make_one_bus_row_per_instance(self):
        self.group_kitchen.user_ids = [Command.link(self.user_outsider.id)]  # two watchers
        changes = {"light.kitchen": {"state": "off"}, "sensor.outside_temperature": {"state": "3"}}
        self.env["ha.realtime.update"]._notify_entity_changes(self.instance, changes)
        self.env["ha.realtime.update"]._notify_entity_changes(self.instance, {})
        rows = self._bus_rows(self.instance)
        self.assertEqual(
            rows,
            [
                {
                    "type": ENTITY_CHANGES,
                    "payload": {"instance_id": self.instance.id, "changes": changes},
                }
            ],
        )
        self.assertFalse(self._bus_rows(self.user_member.partner_id))

    def test_instance_status_never_carries_the_token(self):
        self.instance.sudo().write({"ha_version": "2024.3.3", "entity_count": 7})
        self.env["ha.realtime.update"]._notify_instance_status(self.instance)
        (row,) = self._bus_rows(self.instance)
        self.assertEqual(row["type"], INSTANCE_STATUS)
        self.assertEqual(row["payload"]["status"], "disconnected")
        self.assertEqual(row["payload"]["ha_version"], "2024.3.3")
        self.assertEqual(row["payload"]["entity_count"], 7)
        self.assertNotIn(self.TOKEN, json.dumps(row))

    def test_user_notification_goes_to_that_user_only(self):
        self.env["ha.realtime.update"]._notify_user(
            self.user_member, "odoo_ha_addon/instance_switched", {"instance_id": self.instance.id}
        )
        self.assertEqual(
            self._bus_rows(self.user_member.partner_id),
            [
                {
                    "type": "odoo_ha_addon/instance_switched",
                    "payload": {"instance_id": self.instance.id},
                }
            ],
        )
        self.assertFalse(self._bus_rows(self.user_outsider.partner_id))
        self.assertFalse(self._bus_rows(self.instance))


@tagged("post_install", "-at_install")
class TestInstanceChannelSubscription(WebsocketCase, HaTestCommon):
    """A browser session is subscribed to the channels of the instances its user may see."""

    def _connect(self, login):
        session = self.authenticate(login, login)
        websocket = self.websocket_connect(cookie=f"session_id={session.sid};")
        self.subscribe(websocket, [], self.env["bus.bus"]._bus_last_id())
        return websocket

    def _received(self, websocket, *types):
        """The notifications of the given types in the next batch the websocket receives."""
        return [n for n in json.loads(websocket.recv()) if n["message"]["type"] in types]

    def _send_changes_to_both_instances(self):
        realtime = self.env["ha.realtime.update"]
        realtime._notify_entity_changes(self.other_instance, {"switch.pump": {"state": "on"}})
        realtime._notify_entity_changes(self.instance, {"light.kitchen": {"state": "off"}})
        self.trigger_notification_dispatching([self.instance, self.other_instance])

    def test_member_receives_only_their_instance(self):
        websocket = self._connect("ha_test_member")
        self._send_changes_to_both_instances()
        notifications = self._received(websocket, ENTITY_CHANGES)
        self.assertEqual(
            [n["message"]["payload"]["instance_id"] for n in notifications], [self.instance.id]
        )

    def test_manager_receives_every_instance(self):
        websocket = self._connect("ha_test_manager")
        self._send_changes_to_both_instances()
        notifications = self._received(websocket, ENTITY_CHANGES)
        self.assertEqual(
            sorted(n["message"]["payload"]["instance_id"] for n in notifications),
            sorted([self.instance.id, self.other_instance.id]),
        )

    def test_user_without_home_assistant_access_keeps_a_working_bus(self):
        employee = new_test_user(self.env, login="ha_test_employee", groups="base.group_user")
        websocket = self._connect("ha_test_employee")
        self._send_changes_to_both_instances()
        self.env["ha.realtime.update"]._notify_user(employee, "ping", {})
        self.trigger_notification_dispatching([employee.partner_id])
        notifications = self._received(websocket, ENTITY_CHANGES, "ping")
        self.assertEqual([n["message"]["type"] for n in notifications], ["ping"])

    def test_outsider_is_not_subscribed(self):
        websocket = self._connect("ha_test_outsider")
        self._send_changes_to_both_instances()
        # Something the outsider does receive, to prove nothing arrived before it.
        self.env["ha.realtime.update"]._notify_user(self.user_outsider, "ping", {})
        self.trigger_notification_dispatching([self.user_outsider.partner_id])
        notifications = self._received(websocket, ENTITY_CHANGES, "ping")
        self.assertEqual([n["message"]["type"] for n in notifications], ["ping"])
