"""What reaches a browser's socket when Home Assistant changes, end to end: a real Home
Assistant, a real Odoo server hosting its connection (``OdooServer``), and Odoo's own
``/websocket`` opened with a logged-in session, as the web client or any outside client does.
"""

import json
import time

import requests
import websocket

from odoo import Command
from odoo.tests import TransactionCase, get_db_name, tagged

from odoo.addons.bus.websocket import WebsocketConnectionHandler

from ..hass.rest import HARestClient
from ..models.ha_realtime_update import ENTITY_CHANGES
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


@tagged("post_install", "-at_install")
class TestLiveBusScopes(TransactionCase):
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
        cls.server = OdooServer(cls.dbname)
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
        url = self.server.url.replace("http://", "ws://")
        socket = websocket.create_connection(
            f"{url}/websocket?version={WebsocketConnectionHandler._VERSION}",
            cookie=f"session_id={response.cookies['session_id']}",
            timeout=LIVE_TIMEOUT_S,
        )
        self.addCleanup(socket.close)
        socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
        return socket

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
