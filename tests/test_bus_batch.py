"""Bus notifications reach many sockets through one batch (bus_batch.py), on Odoo's real
``/websocket``: each socket gets exactly what Odoo's own dispatch would give it, once, and a
session that ended or whose password changed is closed as Odoo closes it."""

import json
import socket
import threading
from unittest.mock import patch

import websocket as ws_client

from odoo.http import root
from odoo.tests import tagged

from odoo.addons.bus import websocket as bus_websocket
from odoo.addons.bus.models import bus as bus_models
from odoo.addons.bus.tests.common import WebsocketCase
from odoo.addons.bus.websocket import CloseCode

from .. import bus_batch
from ..models.ha_realtime_update import ENTITY_CHANGES
from .common import HaTestCommon
from .test_realtime import SocketMixin

SOCKETS_PER_USER = 6
MANAGER_SEES = ["light.kitchen", "sensor.outside_temperature"]


@tagged("post_install", "-at_install")
class TestBatchedDispatch(SocketMixin, WebsocketCase, HaTestCommon):
    def _change_kitchen_and_ping(self, *users):
        self.env["ha.realtime.update"]._notify_entity_changes(
            self.instance,
            {"light.kitchen": {"state": "off"}, "sensor.outside_temperature": {"state": "13"}},
        )
        for user in users:
            self.env["ha.realtime.update"]._notify_user(user, "ping", {})
        self._dispatch()

    def _entities(self, messages):
        return sorted(
            entity_id
            for message in messages
            if message["type"] == ENTITY_CHANGES
            for entity_id in message["payload"]["changes"]
        )

    def _count_cursors(self):
        calls = []
        acquire = bus_websocket.acquire_cursor

        def counting(db):
            calls.append(db)
            return acquire(db)

        self.startPatcher(patch.object(bus_websocket, "acquire_cursor", counting))
        return calls

    def _count_batches(self):
        """An event set once a batch of the dispatcher is over."""
        over = threading.Event()
        batch_dispatch = bus_batch.BatchDispatcher._dispatch

        def dispatch(dispatcher, sockets):
            batch_dispatch(dispatcher, sockets)
            over.set()

        self.startPatcher(patch.object(bus_batch.BatchDispatcher, "_dispatch", dispatch))
        return over

    def _sockets(self, login, count):
        """``count`` sockets of one session of ``login`` (a device's tabs)."""
        session = self.authenticate(login, login)
        # The next authenticate() would end this session.
        self.session = None
        last = self.env["bus.bus"]._bus_last_id()
        sockets = []
        for _ in range(count):
            socket = self.websocket_connect(cookie=f"session_id={session.sid};")
            self.subscribe(socket, [], last)
            sockets.append(socket)
        return sockets

    def test_sockets_woken_together_share_one_read_and_each_gets_its_own(self):
        members = self._sockets("ha_test_member", SOCKETS_PER_USER)
        managers = self._sockets("ha_test_manager", SOCKETS_PER_USER)
        cursors = self._count_cursors()
        wakeups = []
        odoo_dispatch = bus_websocket.Websocket._dispatch_bus_notifications
        self.startPatcher(
            patch.object(
                bus_websocket.Websocket,
                "_dispatch_bus_notifications",
                lambda server_socket: wakeups.append(server_socket) or odoo_dispatch(server_socket),
            )
        )
        self._change_kitchen_and_ping(self.user_member, self.manager)
        for client in members:
            self.assertEqual(self._entities(self._read_until_ping(client)), ["light.kitchen"])
        for client in managers:
            self.assertEqual(self._entities(self._read_until_ping(client)), MANAGER_SEES)
        # Odoo's own dispatch takes a cursor per socket: 12 here, 1,000 for 1,000 sockets.
        self.assertLessEqual(len(cursors), 3, "the woken sockets are read together")
        # Nor is any socket's own thread woken to send its frame: the batch sends them.
        self.assertEqual(wakeups, [])

    def test_new_sockets_catch_up_together_on_what_odoos_poll_gives_them(self):
        # Changes from before the sockets opened: a socket without a last id gets the
        # notifications of its channels from Odoo's last TIMEOUT seconds.
        self._change_kitchen_and_ping(self.user_member, self.manager)
        session = self.authenticate("ha_test_member", "ha_test_member")
        self.session = None
        polls = []
        odoo_poll = bus_models.ImBus._poll

        def counting_poll(model, *args, **kwargs):
            polls.append(args)
            return odoo_poll(model, *args, **kwargs)

        # On Odoo's own class: one the batch knows it may answer for.
        self.startPatcher(patch.object(bus_models.ImBus, "_poll", counting_poll))
        clients = []
        for _ in range(3):
            client = self.websocket_connect(cookie=f"session_id={session.sid};")
            self.subscribe(client, [], 0)
            clients.append(client)
        self.assertEqual(polls, [], "no socket was read on its own")
        (server_socket, *_others) = (
            server_socket
            for server_sockets in self._subscribed().values()
            for server_socket in server_sockets
            if server_socket._session.sid == session.sid
        )
        expected = self.env["bus.bus"]._poll(server_socket._channels, 0, [])
        self.assertIn("light.kitchen", json.dumps(expected))
        for client in clients:
            self.assertEqual(json.loads(client.recv()), expected)

    def test_a_notification_is_sent_once_and_nothing_is_sent_twice(self):
        socket = self._connect("ha_test_member")
        self._change_kitchen_and_ping(self.user_member)
        self.assertEqual(self._entities(self._read_until_ping(socket)), ["light.kitchen"])
        # Woken again with nothing new: no frame at all.
        self._dispatch()
        socket.settimeout(0.5)
        with self.assertRaises(ws_client.WebSocketTimeoutException):
            socket.recv()
        socket.settimeout(10)
        self._change_kitchen_and_ping(self.user_member)
        self.assertEqual(self._entities(self._read_until_ping(socket)), ["light.kitchen"])

    def test_the_frame_is_what_odoos_dispatch_sends(self):
        socket = self._connect("ha_test_member")
        self._change_kitchen_and_ping(self.user_member)
        received = []
        while not received or received[-1]["message"]["type"] != "ping":
            received += json.loads(socket.recv())
        # The rows of the bus table, in id order, with their message as Odoo sends them.
        self.env.cr.execute(
            "SELECT id, message FROM bus_bus WHERE id = ANY(%s) ORDER BY id",
            ([notification["id"] for notification in received],),
        )
        self.assertEqual(
            received, [{"id": i, "message": json.loads(m)} for i, m in self.env.cr.fetchall()]
        )

    def test_a_reader_that_stops_reading_holds_up_nobody_and_then_gets_all_in_order(self):
        session = self.authenticate("ha_test_member", "ha_test_member")
        self.session = None
        # A small receive window: the frame below cannot all leave the server at once.
        slow = self.websocket_connect(
            cookie=f"session_id={session.sid};",
            sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),),
        )
        self.subscribe(slow, [], self.env["bus.bus"]._bus_last_id())
        (quick,) = self._sockets("ha_test_manager", 1)
        blob = "x" * (1 << 20)
        for number in range(16):
            self.env["ha.realtime.update"]._notify_user(
                self.user_member, "bulk", {"number": number, "blob": blob}
            )
        batches = self._count_batches()
        self._dispatch()
        # The batch is over (the test cursor is free again) while its frame is being written.
        self.assertTrue(batches.wait(10))
        # The 16 MB frame to the member is stuck in the kernel's buffers; the manager's
        # socket is served meanwhile.
        self._change_kitchen_and_ping(self.manager)
        self.assertEqual(self._entities(self._read_until_ping(quick)), MANAGER_SEES)
        self._change_kitchen_and_ping(self.user_member)
        # The pong answering this ping must not cut into the frame being written.
        slow.ping(b"still there")
        slow.settimeout(30)
        ids, types, pongs = [], [], []
        while "ping" not in types:
            frame = slow.recv_data_frame(control_frame=True)[1]
            if frame.opcode == ws_client.ABNF.OPCODE_PONG:
                pongs.append(frame.data)
                continue
            for notification in json.loads(frame.data):
                ids.append(notification["id"])
                message = notification["message"]
                types.append(message["type"])
                if message["type"] == "bulk":
                    self.assertEqual(message["payload"]["blob"], blob)
        self.assertEqual(pongs, [b"still there"])
        self.assertEqual(ids, sorted(set(ids)), "each notification once, in order")
        self.assertEqual(types[:16], ["bulk"] * 16)
        # Both changes reach the member too (the first one was for every reader).
        self.assertEqual(types[16:], [ENTITY_CHANGES, ENTITY_CHANGES, "ping"])

    def test_a_socket_of_an_ended_session_is_closed(self):
        session = self.authenticate("ha_test_member", "ha_test_member")
        socket = self.websocket_connect(cookie=f"session_id={session.sid};")
        self.subscribe(socket, [], self.env["bus.bus"]._bus_last_id())
        root.session_store.delete(session)
        self._change_kitchen_and_ping(self.user_member)
        self.assert_close_with_code(socket, CloseCode.SESSION_EXPIRED)

    def test_a_socket_is_closed_once_its_users_password_changed(self):
        (other,) = self._sockets("ha_test_manager", 1)
        (socket,) = self._sockets("ha_test_member", 1)
        # The session token follows the password: the old session no longer checks.
        self.user_member.password = "a-new-password-for-the-member"
        self._change_kitchen_and_ping(self.user_member, self.manager)
        self.assert_close_with_code(socket, CloseCode.SESSION_EXPIRED)
        # Its neighbour in the same batch is served as usual.
        self.assertEqual(self._entities(self._read_until_ping(other)), MANAGER_SEES)

    def test_a_poll_another_addon_overrides_is_left_to_odoo(self):
        bus = type(self.env["bus.bus"])
        self.assertTrue(bus_batch.poll_is_known(bus))

        class OtherAddonBus(bus):
            __module__ = "odoo.addons.other_addon.models.bus"

            def _poll(self, channels, last=0, ignore_ids=None):
                return super()._poll(channels, last, ignore_ids)

        self.assertFalse(bus_batch.poll_is_known(OtherAddonBus))
