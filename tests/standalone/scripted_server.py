"""A websocket server that speaks HA's auth handshake, then follows a test's script.

Only for faults a real Home Assistant cannot produce on demand (malformed or oversized
frames, a peer that drops mid-command, coalesced arrays). Everything else is tested
against the real server.

    async def script(session):
        message = await session.receive()          # next client message (dict)
        await session.send({"id": message["id"], "type": "result", "success": True})
        await session.send_raw("{not json")        # anything, byte for byte

    async with ScriptedServer(script) as server:
        client = HAClient(server.url, server.token)

``ScriptedSession.serve()`` answers the commands a client sends while setting up
(supported_features, subscribe_entities with a small snapshot, ping, get_states), and
hands every other command to ``on_command(session, message)``.
"""

import asyncio
import contextlib
import json
from http import HTTPStatus

from websockets.asyncio.server import serve

TOKEN = "scripted-token"
HA_VERSION = "2024.3.3"

SNAPSHOT = {
    "light.kitchen": {
        "s": "on",
        "a": {"brightness": 180, "friendly_name": "Kitchen"},
        "c": "01HSCRIPTEDCONTEXT0000000000",
        "lc": 1710000000.123456,
    }
}


class ScriptedSession:
    def __init__(self, server, websocket):
        self.server = server
        self.websocket = websocket
        self.received = []

    async def receive(self):
        message = json.loads(await self.websocket.recv())
        self.received.append(message)
        return message

    async def send(self, message):
        await self.websocket.send(json.dumps(message))

    async def send_raw(self, data):
        await self.websocket.send(data)

    async def result(self, message, result=None):
        await self.send({"id": message["id"], "type": "result", "success": True, "result": result})

    def drop(self):
        """Cut the TCP connection without a close frame (a crash or a network failure)."""
        self.websocket.transport.abort()

    async def serve(self, on_command=None, *, script_types=()):
        """Answer setup commands; give the others to ``on_command``. Returns on disconnect.

        Types listed in ``script_types`` go to ``on_command`` even if ``serve`` knows them.
        """
        with contextlib.suppress(Exception):
            while True:
                message = await self.receive()
                kind = message.get("type")
                if kind in script_types:
                    await on_command(self, message)
                elif kind == "ping":
                    await self.send({"id": message["id"], "type": "pong"})
                elif kind == "supported_features":
                    await self.result(message)
                elif kind == "subscribe_entities":
                    await self.result(message)
                    await self.send(
                        {"id": message["id"], "type": "event", "event": {"a": SNAPSHOT}}
                    )
                elif kind == "get_states":
                    await self.result(message, [])
                elif on_command is not None:
                    await on_command(self, message)
                else:
                    await self.result(message)


async def serve_default(session):
    await session.serve()


class ScriptedServer:
    def __init__(self, script=serve_default, *, port=0, token=TOKEN, ha_version=HA_VERSION):
        self.script = script
        self.token = token
        self.ha_version = ha_version
        self.port = port
        self.connections = 0
        self.auth_attempts = 0
        self.sessions = []
        self._server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc_info):
        await self.stop()

    async def start(self):
        # No size limit and no ping here: the client's limits and keepalive are under test.
        self._server = await serve(
            self._handle, "127.0.0.1", self.port, max_size=None, ping_interval=None
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self):
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def wait_for_connections(self, count, timeout_s=5.0):
        async with asyncio.timeout(timeout_s):
            while self.connections < count:
                await asyncio.sleep(0.01)

    async def _handle(self, websocket):
        self.connections += 1
        await websocket.send(json.dumps({"type": "auth_required", "ha_version": self.ha_version}))
        auth = json.loads(await websocket.recv())
        self.auth_attempts += 1
        if auth.get("type") != "auth" or auth.get("access_token") != self.token:
            await websocket.send(
                json.dumps({"type": "auth_invalid", "message": "Invalid access token or password"})
            )
            await websocket.close()
            return
        await websocket.send(json.dumps({"type": "auth_ok", "ha_version": self.ha_version}))
        session = ScriptedSession(self, websocket)
        self.sessions.append(session)
        await self.script(session)


class RedirectingServer:
    """Answers every websocket upgrade with an HTTP redirect (a moved or hostile proxy).

    ``requests`` counts the upgrade requests it answered.
    """

    def __init__(self, location, *, status=HTTPStatus.FOUND):
        self.location = location
        self.status = status
        self.requests = 0
        self.port = 0
        self._server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self):
        self._server = await serve(
            self._never_upgraded, "127.0.0.1", 0, process_request=self._redirect
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info):
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    def _redirect(self, connection, request):
        self.requests += 1
        response = connection.respond(self.status, "Moved\n")
        response.headers["Location"] = self.location
        return response

    async def _never_upgraded(self, websocket):
        raise AssertionError("a redirecting server never upgrades a connection")
