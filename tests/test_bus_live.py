"""What reaches a browser's socket when Home Assistant changes, end to end: a real Home
Assistant, a real Odoo server hosting its connection (``OdooServer``), and Odoo's own
``/websocket`` opened with a logged-in session, as the web client or any outside client does.
"""

import json
import struct
import time
from datetime import timedelta

import requests
import websocket

from odoo import Command, fields
from odoo.tests import TransactionCase, get_db_name, tagged

from odoo.addons.bus.websocket import CloseCode, WebsocketConnectionHandler

from ..hass.rest import HARestClient
from ..models.ha_device_key import DEVICE_KEY_SCOPE
from ..models.ha_realtime_update import ACCESS_CHANGED, ENTITY_CHANGES
from .common import _running_ha_server
from .odoo_server import OdooServer
from .test_dashboard import _committed

LIVE_TIMEOUT_S = 30.0
# After the last expected change arrived, how long a socket is still watched for one that
# should not come (a flush is 0.1 s; one more entity would be in the same or the next).
QUIET_S = 1.5
GRANTED_VIEW = "light.bed_light"
GRANTED_CONTROL = "switch.decorative_lights"
NOT_GRANTED = ("device_tracker.demo_paulus", "light.ceiling_lights", "sensor.outside_temperature")
PASSWORD = "ha-live-bus-password"
# What a Discuss message carries that must never reach a device-key session.
SECRET = "the alarm code is 2580"


@tagged("post_install", "-at_install")
class TestLiveBusScopes(TransactionCase):
    """Threaded Odoo (``--workers 0``): one process serves HTTP and ``/websocket``."""

    WORKERS = 0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ha = _running_ha_server()
        cls.addClassCleanup(cls.ha.stop)
        cls.rest = HARestClient(cls.ha.url, cls.ha.token)
        cls.addClassCleanup(cls.rest.close)
        cls.dbname = get_db_name()
        cls.ids = _committed(cls.dbname, cls._create_instance_and_users)
        cls.addClassCleanup(_committed, cls.dbname, cls._delete_committed)
        cls.server = OdooServer(cls.dbname, workers=cls.WORKERS)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls._wait_for(
            lambda: _committed(
                cls.dbname,
                lambda env: (
                    env["ha.entity"].search_count(
                        [
                            ("instance_id", "=", cls.ids["instance"]),
                            ("entity_id", "in", (GRANTED_VIEW, GRANTED_CONTROL, *NOT_GRANTED)),
                        ]
                    )
                    == 5
                ),
            ),
            "the live server never mirrored the entities",
        )
        cls.ids.update(_committed(cls.dbname, cls._create_groups))

    @classmethod
    def _create_instance_and_users(cls, env):
        values = {"name": "Live bus home", "url": cls.ha.url, "token": cls.ha.token}
        users = env["res.users"].create(
            [
                {
                    "name": login,
                    "login": login,
                    "password": PASSWORD,
                    "groups_id": [Command.set([env.ref(group).id])],
                }
                for login, group in (
                    ("ha_live_member", "odoo_ha_addon.group_ha_user"),
                    ("ha_live_manager", "odoo_ha_addon.group_ha_manager"),
                    ("ha_live_employee", "base.group_user"),
                )
            ]
        )
        return {
            "instance": env["ha.instance"].create(values).id,
            "member": users[0].id,
            "users": users.ids,
        }

    @classmethod
    def _create_groups(cls, env):
        def entity(entity_id):
            return env["ha.entity"].search(
                [("instance_id", "=", cls.ids["instance"]), ("entity_id", "=", entity_id)]
            )

        groups = env["ha.entity.group"].create(
            [
                {
                    "name": name,
                    "instance_id": cls.ids["instance"],
                    "entity_ids": [Command.link(entity(entity_id).id)],
                    "user_ids": [Command.link(cls.ids["member"])],
                    "access_level": level,
                }
                for name, entity_id, level in (
                    ("Live view", GRANTED_VIEW, "view"),
                    ("Live control", GRANTED_CONTROL, "control"),
                )
            ]
        )
        return {"view_group": groups[0].id, "control_group": groups[1].id}

    @classmethod
    def _delete_committed(cls, env):
        env["ha.instance"].browse(cls.ids["instance"]).exists().unlink()
        env["res.users"].browse(cls.ids["users"]).exists().unlink()

    @classmethod
    def _wait_for(cls, predicate, message):
        cls.server.wait_for(predicate, message, LIVE_TIMEOUT_S)

    # A client of Odoo's /websocket --------------------------------------------------------

    def _open_socket(self, login):
        response = requests.post(
            f"{self.server.url}/web/session/authenticate",
            json={"params": {"db": self.dbname, "login": login, "password": PASSWORD}},
            timeout=30,
        )
        response.raise_for_status()
        self.assertTrue(response.json().get("result", {}).get("uid"), response.text)
        return self._socket_of(response.cookies["session_id"])

    def _socket_of(self, session_id):
        socket = websocket.create_connection(
            f"{self.server.ws_url}/websocket?version={WebsocketConnectionHandler._VERSION}",
            cookie=f"session_id={session_id}",
            timeout=LIVE_TIMEOUT_S,
        )
        self.addCleanup(socket.close)
        socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
        return socket

    def _device_key_socket(self, login, key):
        response = requests.post(
            f"{self.server.url}/odoo_ha_addon/device/login",
            json={"params": {"db": self.dbname, "login": login, "key": key}},
            timeout=30,
        )
        response.raise_for_status()
        envelope = response.json()["result"]
        self.assertTrue(envelope["success"], envelope)
        return self._socket_of(envelope["data"]["session_id"])

    def _messages_until_quiet(self, socket, expected):
        """Every message the socket receives until it has seen an entity change of each of
        ``expected`` and ``QUIET_S`` more."""
        messages = []
        received = set()
        deadline = time.monotonic() + LIVE_TIMEOUT_S
        quiet_until = None
        while quiet_until is None or time.monotonic() < quiet_until:
            if time.monotonic() > deadline:
                self.fail(f"expected {sorted(expected)}, received only {sorted(received)}")
            socket.settimeout(max(0.05, (quiet_until or deadline) - time.monotonic()))
            try:
                opcode, data = socket.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                self.fail(f"the server closed the socket ({code}):\n{self.server.log_tail()}")
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            for notification in json.loads(data):
                message = notification["message"]
                messages.append(message)
                if message["type"] == ENTITY_CHANGES:
                    received |= message["payload"]["changes"].keys()
            if quiet_until is None and expected <= received:
                quiet_until = time.monotonic() + QUIET_S
        return messages

    def _close_code(self, socket):
        """The close code the server ends ``socket`` with (waiting for it)."""
        deadline = time.monotonic() + LIVE_TIMEOUT_S
        while time.monotonic() < deadline:
            socket.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                opcode, data = socket.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return struct.unpack("!H", data[:2])[0]
        self.fail("the server did not close the socket")

    def _entities_received(self, socket, expected):
        """Entity ids of the entity changes the socket receives until it has seen every
        one of ``expected`` (an empty set: until the quiet period ends) and ``QUIET_S`` more."""
        received = set()
        deadline = time.monotonic() + LIVE_TIMEOUT_S
        quiet_until = None if expected else time.monotonic() + QUIET_S
        while True:
            now = time.monotonic()
            if quiet_until is not None and now >= quiet_until:
                return received
            if now > deadline:
                self.fail(f"expected {sorted(expected)}, received only {sorted(received)}")
            socket.settimeout(max(0.05, (quiet_until or deadline) - now))
            try:
                batch = json.loads(socket.recv())
            except websocket.WebSocketTimeoutException:
                continue
            for notification in batch:
                message = notification["message"]
                if message["type"] == ENTITY_CHANGES:
                    received |= message["payload"]["changes"].keys()
            if quiet_until is None and expected <= received:
                quiet_until = time.monotonic() + QUIET_S

    def _change_in_home_assistant(self, entity_ids, tag):
        for entity_id in entity_ids:
            current = self.rest.get_state(entity_id)
            self.rest.post(
                f"/api/states/{entity_id}",
                {"state": current["state"], "attributes": {**current["attributes"], "probe": tag}},
            )

    # The tests ---------------------------------------------------------------------------

    def test_each_session_receives_what_its_user_may_read(self):
        member = self._open_socket("ha_live_member")
        manager = self._open_socket("ha_live_manager")
        employee = self._open_socket("ha_live_employee")
        time.sleep(1.0)  # subscriptions are handled asynchronously by the server
        everything = {GRANTED_VIEW, GRANTED_CONTROL, *NOT_GRANTED}
        self._change_in_home_assistant(sorted(everything), "scopes")

        self.assertEqual(
            self._entities_received(member, {GRANTED_VIEW, GRANTED_CONTROL}),
            {GRANTED_VIEW, GRANTED_CONTROL},
        )
        self.assertLessEqual(everything, self._entities_received(manager, everything))
        self.assertEqual(self._entities_received(employee, set()), set())

        # Out of the control group, same socket, no new login: its entity no longer arrives.
        _committed(
            self.dbname,
            lambda env: (
                env["ha.entity.group"]
                .browse(self.ids["control_group"])
                .write({"user_ids": [Command.unlink(self.ids["member"])]})
            ),
        )
        self._change_in_home_assistant([GRANTED_VIEW, GRANTED_CONTROL], "removed")
        self.assertEqual(self._entities_received(member, {GRANTED_VIEW}), {GRANTED_VIEW})

    def test_a_device_key_session_gets_home_assistant_and_nothing_of_discuss(self):
        member, manager = self.ids["member"], self.ids["users"][1]

        def make_key(env):
            user = env["res.users"].browse(member)
            expiry = fields.Datetime.now() + timedelta(hours=1)
            return (
                env["res.users.apikeys"]
                .with_user(user)
                ._generate(DEVICE_KEY_SCOPE, "Live tablet", expiry)
            )

        # The manager and the member have a Discuss chat (its channel is the member's).
        chat_id = _committed(
            self.dbname,
            lambda env: (
                env["discuss.channel"]
                .with_user(manager)
                .channel_get([env["res.users"].browse(member).partner_id.id])
                .id
            ),
        )
        self.addCleanup(
            _committed, self.dbname, lambda env: env["discuss.channel"].browse(chat_id).unlink()
        )
        # The browser logs in first: the live server rehashes a password the test run stored
        # with its cheaper settings at its first login, which ends every session made before.
        browser = self._open_socket("ha_live_member")
        tablet = self._device_key_socket("ha_live_member", _committed(self.dbname, make_key))
        time.sleep(1.0)  # subscriptions are handled asynchronously by the server
        _committed(
            self.dbname,
            lambda env: (
                env["discuss.channel"]
                .with_user(manager)
                .browse(chat_id)
                .message_post(body=SECRET, message_type="comment", subtype_xmlid="mail.mt_comment")
            ),
        )
        self._change_in_home_assistant([GRANTED_VIEW, GRANTED_CONTROL], "tablet")
        granted = {GRANTED_VIEW, GRANTED_CONTROL}
        on_browser = self._messages_until_quiet(browser, granted)
        on_tablet = self._messages_until_quiet(tablet, granted)
        # The same person's browser receives the message: the check can fail.
        self.assertIn(SECRET, json.dumps(on_browser))
        self.assertNotIn(SECRET, json.dumps(on_tablet))
        self.assertEqual(
            {m["type"] for m in on_tablet} - {ENTITY_CHANGES, ACCESS_CHANGED}, set(), on_tablet
        )

        # The key expires: the socket is closed at its next notification.
        _committed(
            self.dbname,
            lambda env: env.cr.execute(
                "UPDATE res_users_apikeys SET expiration_date = %s WHERE name = 'Live tablet'",
                (fields.Datetime.now() - timedelta(seconds=1),),
            ),
        )
        self._change_in_home_assistant([GRANTED_VIEW], "expired")
        self.assertEqual(self._close_code(tablet), CloseCode.SESSION_EXPIRED)
        # The browser session lives on.
        self.assertIn(GRANTED_VIEW, self._entities_received(browser, {GRANTED_VIEW}))


@tagged("post_install", "-at_install")
class TestLiveBusScopesPrefork(TestLiveBusScopes):
    """The same, as production runs Odoo: prefork HTTP workers, and the gevent process that
    alone serves ``/websocket`` on its own port."""

    WORKERS = 2
    # Odoo runs only the test methods a class defines itself unless told otherwise.
    allow_inherited_tests_method = True
