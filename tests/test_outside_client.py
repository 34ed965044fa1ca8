"""The reference outside client (odoo_ha_client) against a real Odoo server process and the
real Home Assistant: live changes, a network cut, revocation, idempotent commands and the
bus version check, as an app on a tablet meets them."""

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta

import requests
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed

from odoo import Command, fields
from odoo.tests import TransactionCase, get_db_name, tagged
from odoo.tools import mute_logger

from odoo.addons.bus.websocket import WebsocketConnectionHandler

from ..hass.rest import HARestClient
from ..models.ha_device_key import DEVICE_KEY_SCOPE
from ..odoo_ha_client import Change, OdooHaClient, SessionExpired
from ..odoo_ha_client import client as client_module
from .common import _running_ha_server
from .odoo_server import OdooServer
from .test_dashboard import _committed

LIVE_TIMEOUT_S = 30.0
PROBES = [f"sensor.client_probe_{n}" for n in range(20)]
CUT_S = 30.0
CHANGES_DURING_CUT = 100
COMMAND_PROBE = "input_boolean.command_probe"
LOGIN = "ha_client_tablet"
# What the tablet's user may read: nothing else of the demo home reaches the client.
GRANTED = [*PROBES, COMMAND_PROBE]


class CuttableProxy:
    """A TCP proxy in front of the Odoo server whose ``cut()`` drops every connection and
    refuses new ones for a while, as a flaky network or a restarting proxy does."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.cut_until = 0.0
        self.writers = set()
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer):
        if time.monotonic() < self.cut_until:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(source, sink):
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def cut(self, seconds):
        self.cut_until = time.monotonic() + seconds
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def stop(self):
        self.cut(0)
        self.server.close()
        await self.server.wait_closed()


@tagged("post_install", "-at_install")
class TestOutsideClient(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ha = _running_ha_server()
        cls.addClassCleanup(cls.ha.stop)
        cls.rest = HARestClient(cls.ha.url, cls.ha.token)
        cls.addClassCleanup(cls.rest.close)
        for entity_id in PROBES:
            cls.rest.post(f"/api/states/{entity_id}", {"state": "0"})
        cls.rest.call_service("input_boolean", "turn_off", {"entity_id": COMMAND_PROBE})
        cls.dbname = get_db_name()
        cls.ids = _committed(cls.dbname, cls._create_instance_and_user)
        cls.addClassCleanup(_committed, cls.dbname, cls._delete_committed)
        cls.server = OdooServer(cls.dbname)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls.server.wait_for(
            lambda: _committed(
                cls.dbname,
                lambda env: (
                    env["ha.entity"].search_count(
                        [("instance_id", "=", cls.ids["instance"]), ("entity_id", "in", GRANTED)]
                    )
                    == len(GRANTED)
                ),
            ),
            "the live server never mirrored the probes",
            LIVE_TIMEOUT_S,
        )
        _committed(cls.dbname, cls._grant_probes)

    @classmethod
    def _grant_probes(cls, env):
        """The tablet's user is a Home Assistant user granted the probes only (control)."""
        env["ha.entity.group"].create(
            {
                "name": "Tablet",
                "instance_id": cls.ids["instance"],
                "access_level": "control",
                "user_ids": [Command.link(cls.ids["user"])],
                "entity_ids": [
                    Command.set(
                        env["ha.entity"]
                        .search(
                            [
                                ("instance_id", "=", cls.ids["instance"]),
                                ("entity_id", "in", GRANTED),
                            ]
                        )
                        .ids
                    )
                ],
            }
        )

    @classmethod
    def _create_instance_and_user(cls, env):
        instance = env["ha.instance"].create(
            {"name": "Client home", "url": cls.ha.url, "token": cls.ha.token}
        )
        user = env["res.users"].create(
            {
                "name": "Tablet",
                "login": LOGIN,
                "groups_id": [Command.set([env.ref("odoo_ha_addon.group_ha_user").id])],
            }
        )
        return {"instance": instance.id, "user": user.id}

    @classmethod
    def _delete_committed(cls, env):
        env["ha.instance"].browse(cls.ids["instance"]).exists().unlink()
        env["res.users"].browse(cls.ids["user"]).exists().unlink()

    def _new_key(self, name):
        expiry = fields.Datetime.now() + timedelta(hours=1)
        return _committed(
            self.dbname,
            lambda env: (
                env["res.users.apikeys"]
                .with_user(self.ids["user"])
                ._generate(DEVICE_KEY_SCOPE, name, expiry)
            ),
        )

    def _revoke(self, name):
        _committed(
            self.dbname,
            lambda env: env["res.users.apikeys"].search([("name", "=", name)])._remove(),
        )

    def _client(self, base_url, key):
        client = OdooHaClient(base_url, self.dbname, LOGIN, key)
        # Short delays: the test waits for reconnections, not for production backoff.
        client.backoff_initial_s = 0.2
        client.backoff_max_s = 1.0
        return client

    async def _set_states(self, states):
        for entity_id, state in states.items():
            await asyncio.to_thread(self.rest.post, f"/api/states/{entity_id}", {"state": state})

    async def _wait(self, predicate, message, timeout_s=LIVE_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                self.fail(message)
            await asyncio.sleep(0.02)

    def _probe_states(self, client):
        states = client.mirror.states(self.ids["instance"])
        return {entity_id: states.get(entity_id) for entity_id in PROBES}

    # The client says, as it should, that it lost the connection and retries.
    @mute_logger(client_module.__name__)
    def test_the_client_follows_home_assistant_through_a_network_cut(self):
        async def scenario():
            proxy = CuttableProxy(self.server.http_port)
            await proxy.start()
            client = self._client(f"http://127.0.0.1:{proxy.port}", self._new_key("Tablet"))
            seen = {}

            async def follow():
                async for event in client.changes():
                    if isinstance(event, Change) and event.entity:
                        seen[event.entity_id, event.entity["state"]] = time.monotonic()

            task = asyncio.create_task(follow())
            try:
                await self._wait(
                    lambda: self._probe_states(client)[PROBES[0]] is not None,
                    "the client never read the instance",
                )
                self.assertEqual(set(client.mirror.states(self.ids["instance"])), set(GRANTED))
                # A change in Home Assistant reaches the client within a second.
                tag = str(int(time.time() * 1000))
                sent = time.monotonic()
                await self._set_states({PROBES[0]: tag})
                await self._wait(lambda: (PROBES[0], tag) in seen, "the change never came")
                latency = seen[PROBES[0], tag] - sent
                self.assertLess(latency, 1.0, f"the change took {latency:.3f} s")

                # Cut off for 30 s while 100 changes happen; then equal to Home Assistant.
                proxy.cut(CUT_S)
                cut_at = time.monotonic()
                for n in range(CHANGES_DURING_CUT):
                    await self._set_states({PROBES[n % len(PROBES)]: f"cut-{n}"})
                    await asyncio.sleep((CUT_S - 5) / CHANGES_DURING_CUT)
                await asyncio.sleep(max(0.0, CUT_S - (time.monotonic() - cut_at)))
                expected = {
                    e: (await asyncio.to_thread(self.rest.get_state, e))["state"] for e in PROBES
                }
                self.assertEqual(set(expected.values()), {f"cut-{n}" for n in range(80, 100)})
                await self._wait(
                    lambda: self._probe_states(client) == expected,
                    f"after the cut the client shows {self._probe_states(client)}",
                )
            finally:
                await client.close()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await proxy.stop()

        asyncio.run(scenario())

    def test_a_revoked_key_stops_the_socket_and_the_requests(self):
        async def scenario():
            client = self._client(self.server.url, self._new_key("Phone"))
            outcome = {}

            async def follow():
                try:
                    async for _event in client.changes():
                        pass
                except SessionExpired as error:
                    outcome["ended"] = error

            task = asyncio.create_task(follow())
            try:
                await self._wait(
                    lambda: self._probe_states(client)[PROBES[1]] is not None,
                    "the client never read the instance",
                )
                # On this thread: the registry of the test run is not to be opened from another.
                self._revoke("Phone")
                # The socket is closed at its next notification.
                await self._set_states({PROBES[1]: "after-revocation"})
                await self._wait(lambda: "ended" in outcome, "the socket outlived its key")
                with self.assertRaises(SessionExpired):
                    await client.instances()
            finally:
                await client.close()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        asyncio.run(scenario())

    def test_a_repeated_request_id_runs_once(self):
        async def scenario():
            client = self._client(self.server.url, self._new_key("Script"))
            await client.login()
            request_id = str(uuid.uuid4())
            call = (self.ids["instance"], "input_boolean", "toggle", COMMAND_PROBE)
            # A retry racing the first request, then a late one: one toggle in all.
            first, racing = await asyncio.gather(
                client.call_service(*call, request_id=request_id),
                client.call_service(*call, request_id=request_id),
            )
            late = await client.call_service(*call, request_id=request_id)
            self.assertEqual(
                sorted([first["repeated"], racing["repeated"], late["repeated"]]),
                [False, True, True],
            )
            await asyncio.sleep(0.5)
            state = (await asyncio.to_thread(self.rest.get_state, COMMAND_PROBE))["state"]
            self.assertEqual(state, "on", "toggled once")
            await client.call_service(*call)
            await asyncio.sleep(0.5)
            state = (await asyncio.to_thread(self.rest.get_state, COMMAND_PROBE))["state"]
            self.assertEqual(state, "off", "a new command runs")

        asyncio.run(scenario())

    def test_a_wrong_bus_version_is_closed_as_documented(self):
        key = self._new_key("Old app")
        login = requests.post(
            f"{self.server.url}/odoo_ha_addon/device/login",
            json={"params": {"db": self.dbname, "login": LOGIN, "key": key}},
            timeout=30,
        ).json()["result"]["data"]
        self.assertEqual(login["bus_version"], WebsocketConnectionHandler._VERSION)

        async def open_socket(version, user_agent):
            url = self.server.url.replace("http://", "ws://")
            async with websocket_connect(
                f"{url}/websocket?version={version}",
                origin=self.server.url,
                additional_headers={"Cookie": f"session_id={login['session_id']}"},
                user_agent_header=user_agent,
            ) as websocket:
                # Notifications of the last minute may come first: read until closed or quiet.
                try:
                    await websocket.send(
                        '{"event_name": "subscribe", "data": {"channels": [], "last": 0}}'
                    )
                    while True:
                        await asyncio.wait_for(websocket.recv(), 2)
                except ConnectionClosed as closed:
                    return closed.rcvd.code, closed.rcvd.reason
                except TimeoutError:
                    return "open", None

        # A browser's worker of another version is told to stop (it reloads the page).
        browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
        self.assertEqual(asyncio.run(open_socket("17.0-1", browser)), (1000, "OUTDATED_VERSION"))
        self.assertEqual(asyncio.run(open_socket(login["bus_version"], browser))[0], "open")
        # Other clients are not checked (Odoo's rule, for devices): an app's version is its own.
        self.assertEqual(asyncio.run(open_socket("17.0-1", "HallTablet/2.1"))[0], "open")
