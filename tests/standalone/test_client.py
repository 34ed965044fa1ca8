"""odoo_ha_client: the mirror, the HTTP envelope, the bus iterator and the command line.

No Odoo: the HTTP side is a fake ``requests`` session or an overridden ``login``/``call``,
the bus a scripted websocket server on 127.0.0.1.
"""

import asyncio
import contextlib
import io
import json
import re
import time

import pytest
import requests
from websockets.asyncio.server import serve

from odoo_ha_client import (
    ApiError,
    AuthenticationError,
    Change,
    ConnectionFailed,
    InstanceChanged,
    Mirror,
    OdooHaClient,
    Reloaded,
    SessionExpired,
)
from odoo_ha_client import __main__ as cli
from odoo_ha_client.client import _RecentIds

KITCHEN = {
    "id": 10,
    "entity_id": "light.kitchen",
    "name": "Kitchen",
    "domain": "light",
    "state": "on",
    "attributes": {"brightness": 180},
    "area_id": 3,
}
SENSOR = {
    "id": 11,
    "entity_id": "sensor.temp",
    "name": "Temperature",
    "domain": "sensor",
    "state": "21.5",
    "attributes": {},
}


def entities_data(*entities, instance_id=1):
    return {
        "instance": {"id": instance_id, "name": "Home" if instance_id == 1 else "Cottage"},
        "areas": [{"id": 3, "name": "Kitchen"}],
        "devices": [],
        "entities": [dict(entity) for entity in entities],
        "can_manage": False,
    }


def changes_message(changes, instance_id=1):
    return {
        "type": "odoo_ha_addon/entity_changes",
        "payload": {"instance_id": instance_id, "changes": changes},
    }


def loaded_mirror():
    mirror = Mirror()
    mirror.set_instances([{"id": 1, "name": "Home", "status": "connected"}])
    mirror.load(1, entities_data(KITCHEN, SENSOR))
    return mirror


# Mirror


def test_mirror_load_and_states():
    mirror = loaded_mirror()
    assert mirror.states(1) == {"light.kitchen": "on", "sensor.temp": "21.5"}
    assert mirror.areas[1] == [{"id": 3, "name": "Kitchen"}]
    # A server or a Home Assistant without floors and labels: empty lists.
    assert mirror.floors[1] == mirror.labels[1] == []
    assert mirror.instances[1]["status"] == "connected"
    assert mirror.states(2) == {}
    # Loading replaces: an entity absent from the new data is gone.
    mirror.load(1, entities_data(SENSOR))
    assert mirror.states(1) == {"sensor.temp": "21.5"}


def test_mirror_merges_a_change():
    mirror = loaded_mirror()
    events, reread = mirror.apply_message(
        changes_message({"light.kitchen": {"state": "off", "attributes": {}}})
    )
    assert reread == set()
    assert events == [Change(1, "light.kitchen", mirror.entities[1]["light.kitchen"])]
    kitchen = mirror.entities[1]["light.kitchen"]
    assert kitchen["state"] == "off"
    assert kitchen["attributes"] == {}
    # Fields the change does not name keep their value.
    assert kitchen["name"] == "Kitchen"
    assert kitchen["area_id"] == 3


def test_mirror_removes_an_entity_on_null():
    mirror = loaded_mirror()
    events, reread = mirror.apply_message(changes_message({"sensor.temp": None}))
    assert events == [Change(1, "sensor.temp", None)]
    assert reread == set()
    assert "sensor.temp" not in mirror.entities[1]
    # Removing an entity the mirror does not have changes nothing.
    assert mirror.apply_message(changes_message({"sensor.temp": None})) == ([], set())


def test_mirror_unknown_entity_needs_a_reread():
    mirror = loaded_mirror()
    reread = mirror.apply(
        changes_message({"switch.new": {"state": "on"}, "light.kitchen": {"state": "off"}})
    )
    assert reread == {1}
    assert "switch.new" not in mirror.entities[1]
    # The known entity of the same message is applied anyway.
    assert mirror.states(1)["light.kitchen"] == "off"
    # Changes for an instance whose entities were never loaded: read it.
    assert mirror.apply(changes_message({"light.kitchen": {"state": "on"}}, 2)) == {2}


def test_mirror_entities_reload_needs_a_reread():
    mirror = loaded_mirror()
    message = {"type": "odoo_ha_addon/entities_reload", "payload": {"instance_id": 1}}
    assert mirror.apply(message) == {1}
    assert mirror.states(1)["light.kitchen"] == "on"


def test_mirror_instance_status_and_registry():
    mirror = loaded_mirror()
    status = {
        "instance_id": 1,
        "status": "disconnected",
        "status_since": "2024-03-10 12:00:00",
        "last_error": "timeout",
    }
    events, reread = mirror.apply_message(
        {"type": "odoo_ha_addon/instance_status", "payload": status}
    )
    assert (events, reread) == ([InstanceChanged(1)], set())
    assert mirror.instances[1]["status"] == "disconnected"
    assert mirror.instances[1]["last_error"] == "timeout"
    assert mirror.instances[1]["name"] == "Home"
    assert "instance_id" not in mirror.instances[1]

    registry = {"instance_id": 1, "areas": [{"id": 4, "name": "Hall"}], "devices": [{"id": 7}]}
    assert mirror.apply({"type": "odoo_ha_addon/registry_changed", "payload": registry}) == set()
    assert mirror.areas[1] == [{"id": 4, "name": "Hall"}]
    assert mirror.devices[1] == [{"id": 7}]
    # Floors and labels come with the rest; a list the message lacks stays as it was.
    registry = {
        "instance_id": 1,
        "floors": [{"id": 2, "floor_id": "ground", "name": "Ground", "level": 0, "icon": None}],
        "areas": [{"id": 4, "name": "Hall", "floor_id": 2}],
        "labels": [{"id": 9, "label_id": "night", "name": "Night", "color": "indigo"}],
    }
    events, reread = mirror.apply_message(
        {"type": "odoo_ha_addon/registry_changed", "payload": registry}
    )
    assert (events, reread) == ([InstanceChanged(1)], set())
    assert [floor["name"] for floor in mirror.floors[1]] == ["Ground"]
    assert mirror.areas[1] == [{"id": 4, "name": "Hall", "floor_id": 2}]
    assert [label["label_id"] for label in mirror.labels[1]] == ["night"]
    assert mirror.devices[1] == [{"id": 7}]
    # An entity's labels change as any other field.
    mirror.apply(changes_message({"light.kitchen": {"label_ids": [9]}}))
    assert mirror.entities[1]["light.kitchen"]["label_ids"] == [9]

    # An instance the mirror does not know: read it rather than invent a record.
    status["instance_id"] = 5
    assert mirror.apply({"type": "odoo_ha_addon/instance_status", "payload": status}) == {5}
    assert 5 not in mirror.instances


def test_mirror_ignores_other_messages():
    mirror = loaded_mirror()
    before = json.dumps([mirror.instances, mirror.entities, mirror.areas], sort_keys=True)
    for message in (
        {"type": "mail.message/new", "payload": {"instance_id": 1}},
        {"type": "odoo_ha_addon/access_changed", "payload": {}},
        {"type": "odoo_ha_addon/entity_changes", "payload": "garbage"},
        {"type": "odoo_ha_addon/entity_changes", "payload": {"changes": {}}},
        {},
    ):
        assert mirror.apply_message(message) == ([], set())
    assert json.dumps([mirror.instances, mirror.entities, mirror.areas], sort_keys=True) == before


def test_mirror_ignores_an_entity_still_unknown_after_a_read():
    mirror = loaded_mirror()
    archived = changes_message({"sensor.archived": {"state": "1"}})
    assert mirror.apply(archived) == {1}
    # The read leaves it out (archived in Odoo): its changes no longer ask for a read.
    mirror.load(1, entities_data(KITCHEN, SENSOR))
    assert mirror.apply_message(archived) == ([], set())
    assert mirror.apply_message(changes_message({"sensor.archived": None})) == ([], set())
    # Another instance's entity of the same id is not ignored.
    mirror.set_instances([{"id": 1}, {"id": 2}])
    mirror.load(2, entities_data(KITCHEN, instance_id=2))
    assert mirror.apply(changes_message({"sensor.archived": {"state": "1"}}, 2)) == {2}

    # entities_reload ends the ignoring; so does clear_ignored.
    reload_message = {"type": "odoo_ha_addon/entities_reload", "payload": {"instance_id": 1}}
    assert mirror.apply(reload_message) == {1}
    assert mirror.apply(archived) == {1}
    mirror.load(1, entities_data(KITCHEN, SENSOR))
    assert mirror.apply(archived) == set()
    mirror.clear_ignored()
    assert mirror.apply(archived) == {1}

    # An entity unknown at first but present after the read is followed normally.
    mirror.load(1, entities_data(KITCHEN, SENSOR, dict(SENSOR, entity_id="sensor.archived")))
    events, reread = mirror.apply_message(archived)
    assert (events[0].entity["state"], reread) == ("1", set())


def test_mirror_set_instances_drops_the_instances_gone():
    mirror = loaded_mirror()
    assert mirror.set_instances([{"id": 2, "name": "Cottage"}]) == {1}
    assert set(mirror.instances) == {2}
    assert 1 not in mirror.entities
    assert 1 not in mirror.areas


# HTTP


class FakeHttp:
    """A requests.Session whose post() answers from a script and records the calls."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.posts = []

    def post(self, url, json, headers, timeout, allow_redirects):
        self.posts.append({"url": url, "body": json, "headers": headers})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self):
        pass


def response(status=200, body=None, cookies=None):
    answer = requests.Response()
    answer.status_code = status
    answer._content = json.dumps(body).encode()
    for name, value in (cookies or {}).items():
        answer.cookies.set(name, value)
    return answer


def envelope(data=None, error=None, error_type=None):
    result = {"success": error is None, "data": data, "error": error, "error_type": error_type}
    return response(body={"jsonrpc": "2.0", "id": 1, "result": result})


LOGIN_DATA = {
    "uid": 7,
    "name": "Kitchen tablet",
    "session_id": "sid-1",
    "bus_version": "18.0-1",
    "server_version": "18.0",
}


def http_client(*answers):
    client = OdooHaClient("http://odoo.test:8069/", "db", "tablet", "secret", session=FakeHttp())
    client._http.answers = list(answers)
    client.http_retry_delay_s = 0.0
    return client


def test_login_sends_the_key_and_keeps_the_session(run):
    client = http_client(envelope(LOGIN_DATA), envelope({"instances": []}))
    run(client.login())
    login_post = client._http.posts[0]
    assert login_post["url"] == "http://odoo.test:8069/odoo_ha_addon/device/login"
    assert login_post["body"]["params"] == {"db": "db", "login": "tablet", "key": "secret"}
    assert login_post["body"]["jsonrpc"] == "2.0"
    assert (client.session_id, client.uid, client.bus_version) == ("sid-1", 7, "18.0-1")

    assert run(client.instances()) == {"instances": []}
    assert client._http.posts[1]["headers"]["Cookie"] == "session_id=sid-1"


def test_login_refused_raises_authentication_error_once(run):
    client = http_client(envelope(error="Wrong login or key", error_type="access_denied"))
    with pytest.raises(AuthenticationError, match="Wrong login or key"):
        run(client.login())
    assert len(client._http.posts) == 1
    assert client.session_id is None


def test_call_service_retries_with_the_same_request_id(run):
    answer = {
        "domain": "light",
        "service": "turn_off",
        "entity_ids": ["light.kitchen"],
        "result": [],
        "repeated": True,
    }
    client = http_client(
        envelope(LOGIN_DATA),
        requests.ConnectionError("connection reset"),
        requests.Timeout("read timed out"),
        envelope(answer),
    )
    assert run(client.call_service(1, "light", "turn_off", "light.kitchen")) == answer
    calls = [post["body"]["params"] for post in client._http.posts[1:]]
    assert len(calls) == 3
    request_ids = {params["request_id"] for params in calls}
    assert len(request_ids) == 1
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", request_ids.pop())
    assert calls[0]["entity_id"] == "light.kitchen"
    assert calls[0]["service_data"] == {}
    assert calls[0]["ha_instance_id"] == 1

    # Each logical call has its own id.
    client._http.answers = [envelope(answer)]
    run(client.call_service(1, "light", "turn_off", "light.kitchen"))
    assert client._http.posts[-1]["body"]["params"]["request_id"] != calls[0]["request_id"]


def test_network_failures_exhaust_into_connection_failed(run):
    client = http_client(envelope(LOGIN_DATA), *[requests.ConnectionError("down")] * 3)
    with pytest.raises(ConnectionFailed):
        run(client.instances())
    assert len(client._http.posts) == 4


def test_a_write_without_request_id_is_not_repeated(run):
    client = http_client(envelope(LOGIN_DATA), requests.Timeout("read timed out"))
    with pytest.raises(ConnectionFailed):
        run(client.call("switch_instance", ha_instance_id=2))
    assert len(client._http.posts) == 2


@pytest.mark.parametrize(
    "answer",
    [
        response(
            body={
                "jsonrpc": "2.0",
                "id": 1,
                "error": {
                    "code": 100,
                    "message": "Odoo Session Expired",
                    "data": {"name": "odoo.http.SessionExpiredException", "message": "expired"},
                },
            }
        ),
        response(status=403, body={}),
        response(status=303, body={}),
    ],
    ids=["jsonrpc-error", "http-403", "redirect"],
)
def test_session_expired_is_raised_and_not_retried(run, answer):
    client = http_client(envelope(LOGIN_DATA), answer)
    with pytest.raises(SessionExpired):
        run(client.instances())
    assert len(client._http.posts) == 2


def test_error_envelope_raises_api_error(run):
    client = http_client(envelope(LOGIN_DATA), envelope(error="No such instance", error_type="x"))
    with pytest.raises(ApiError) as raised:
        run(client.entities(99))
    assert raised.value.error_type == "x"
    assert raised.value.message == "No such instance"
    assert client._http.posts[1]["body"]["params"] == {"ha_instance_id": 99}


def test_websocket_url_follows_the_base_url():
    client = OdooHaClient("https://odoo.example.com/erp/", "db", "tablet", "k")
    client.bus_version = "18.0-3"
    assert client.websocket_url() == "wss://odoo.example.com/erp/websocket?version=18.0-3"
    client = OdooHaClient("http://10.0.0.2:8069", "db", "tablet", "k")
    client.bus_version = "v"
    assert client.websocket_url() == "ws://10.0.0.2:8069/websocket?version=v"


# Bus


class BusConnection:
    def __init__(self, websocket):
        self.websocket = websocket
        self.path = websocket.request.path
        self.headers = websocket.request.headers
        self.messages = asyncio.Queue()

    async def next_message(self, timeout_s=2.0):
        async with asyncio.timeout(timeout_s):
            return json.loads(await self.messages.get())

    async def send(self, *notifications):
        await self.websocket.send(json.dumps(list(notifications)))


class Bus:
    """Odoo's bus websocket, scripted by the test: it records each connection and the
    messages the client sends; the test sends notifications and closes connections."""

    def __init__(self):
        self.connections = []
        self._new_connection = asyncio.Event()

    async def __aenter__(self):
        self._server = await serve(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info):
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, websocket):
        connection = BusConnection(websocket)
        self.connections.append(connection)
        self._new_connection.set()
        with contextlib.suppress(Exception):
            async for message in websocket:
                connection.messages.put_nowait(message)

    async def connection(self, number, timeout_s=2.0):
        """The number-th connection (1-based), once the client has opened it."""
        async with asyncio.timeout(timeout_s):
            while len(self.connections) < number:
                self._new_connection.clear()
                await self._new_connection.wait()
        return self.connections[number - 1]


def note(notification_id, kind, payload):
    return {"id": notification_id, "message": {"type": f"odoo_ha_addon/{kind}", "payload": payload}}


def change_note(notification_id, entity_id, change, instance_id=1):
    payload = {"instance_id": instance_id, "changes": {entity_id: change}}
    return note(notification_id, "entity_changes", payload)


class ScriptedClient(OdooHaClient):
    """The client with its HTTP side replaced: login and call answer from its attributes.

    ``channels_version`` is sent by ``instances`` unless None; ``failures`` maps a route to
    the exception its calls raise.
    """

    def __init__(self, port):
        super().__init__(f"http://127.0.0.1:{port}", "db", "tablet", "secret")
        self.bus_versions = ["v1", "v2", "v3"]
        self.logins = 0
        self.calls = []
        self.instance_list = [{"id": 1, "name": "Home", "status": "connected"}]
        self.entity_lists = {1: [KITCHEN, SENSOR], 2: [dict(KITCHEN, state="off")]}
        self.channels_version = None
        self.failures = {}
        self.backoff_initial_s = 0.01
        self.backoff_max_s = 0.02

    async def login(self):
        self.logins += 1
        self.session_id = f"sid-{self.logins}"
        self.bus_version = self.bus_versions[self.logins - 1]
        return {"session_id": self.session_id, "bus_version": self.bus_version}

    async def call(self, route, **params):
        self.calls.append(route)
        if route in self.failures:
            raise self.failures[route]
        if route == "instances":
            data = {"current_instance_id": 1, "instances": self.instance_list}
            if self.channels_version is not None:
                data["channels_version"] = self.channels_version
            return data
        instance_id = params["ha_instance_id"]
        return entities_data(*self.entity_lists[instance_id], instance_id=instance_id)


async def next_event(stream, timeout_s=2.0):
    async with asyncio.timeout(timeout_s):
        return await anext(stream)


def pending_event(stream):
    """The stream's next event, awaited in the background.

    The client reads the bus only while the stream is iterated: start this before making
    the bus or the client do what the event should follow from.
    """
    return asyncio.ensure_future(next_event(stream))


def subscribe(last):
    return {"event_name": "subscribe", "data": {"channels": [], "last": last}}


async def resubscribed(bus, number, last):
    """The number-th bus connection, once the client has subscribed on it from id last."""
    connection = await bus.connection(number)
    assert await connection.next_message() == subscribe(last)
    return connection


@contextlib.asynccontextmanager
async def following_bus(**settings):
    """A ScriptedClient following a scripted bus, past its first connection and read.

    ``settings`` are client attributes set before it connects (``catch_up_window_s``, ...).
    Yields (bus, client, stream, first connection) once the client has subscribed on the
    first connection from id 0 and read instance 1; closes the client at the end.
    """
    async with Bus() as bus:
        client = ScriptedClient(bus.port)
        for name, value in settings.items():
            assert hasattr(client, name), name
            setattr(client, name, value)
        stream = client.changes()
        assert await next_event(stream) == Reloaded(1)
        first = await resubscribed(bus, 1, 0)
        try:
            yield bus, client, stream, first
        finally:
            await client.close()


def test_bus_reconnects_and_catches_up_from_the_last_id(run):
    async def scenario():
        async with following_bus() as (bus, client, stream, first):
            # First connection: subscribe from 0, then read everything.
            assert first.path == "/websocket?version=v1"
            assert first.headers["Origin"] == f"http://127.0.0.1:{bus.port}"
            assert first.headers["Cookie"] == "session_id=sid-1"
            assert client.calls == ["instances", "entities"]

            await first.send(change_note(5, "light.kitchen", {"state": "off"}))
            await first.send(change_note(7, "sensor.temp", {"state": "22.0"}))
            event = await next_event(stream)
            assert (event.entity_id, event.entity["state"]) == ("light.kitchen", "off")
            event = await next_event(stream)
            assert (event.entity_id, event.entity["state"]) == ("sensor.temp", "22.0")

            # The network drops the connection: no close frame.
            waiting = pending_event(stream)
            first.websocket.transport.abort()
            second = await resubscribed(bus, 2, 7)
            # The replay repeats 7, which the client has applied already.
            await second.send(
                change_note(7, "sensor.temp", {"state": "22.0"}),
                change_note(8, "light.kitchen", {"state": "on"}),
            )
            event = await waiting
            assert (event.entity_id, event.entity["state"]) == ("light.kitchen", "on")
            assert client.mirror.states(1) == {"light.kitchen": "on", "sensor.temp": "22.0"}
            # Back within the catch-up window: the bus replay is trusted, and only instances
            # is read, to check the session.
            assert client.calls == ["instances", "entities", "instances"]
            assert client.logins == 1

            # Disconnected longer than the window: re-read after subscribing.
            client.catch_up_window_s = 0.0
            client.entity_lists[1] = [dict(KITCHEN, state="unavailable")]
            waiting = pending_event(stream)
            client.drop_connection()
            await resubscribed(bus, 3, 8)
            assert await waiting == Reloaded(1)
            assert client.mirror.states(1) == {"light.kitchen": "unavailable"}
            # The instances read that checks the session serves the re-read too.
            assert client.calls == ["instances", "entities", "instances", "instances", "entities"]

            await client.close()
            with pytest.raises(StopAsyncIteration):
                await next_event(stream)

    run(scenario())


def test_bus_session_expired_ends_the_iterator(run):
    async def scenario():
        async with following_bus() as (bus, client, stream, first):
            await first.websocket.close(4001, "SESSION_EXPIRED")
            with pytest.raises(SessionExpired):
                await next_event(stream)
            await asyncio.sleep(0.1)
            assert len(bus.connections) == 1
            assert client.logins == 1

    run(scenario())


def test_recent_ids_forget_the_oldest():
    recent = _RecentIds(3)
    assert [recent.add(item) for item in (5, 3, 5, 9)] == [True, True, False, True]
    assert recent.add(12)
    # 5 was the oldest: forgotten, so it counts as new again.
    assert len(recent) == 3
    assert 5 not in recent
    assert recent.add(5)
    assert not recent.add(12)


def test_bus_applies_a_lower_id_that_comes_late(run):
    async def scenario():
        async with following_bus() as (bus, client, stream, first):
            # Transaction 6 committed after transaction 8: Odoo delivers 8 first.
            await first.send(change_note(8, "light.kitchen", {"state": "off"}))
            await first.send(change_note(6, "sensor.temp", {"state": "19.0"}))
            assert (await next_event(stream)).entity["state"] == "off"
            assert (await next_event(stream)).entity["state"] == "19.0"
            assert client.last_notification_id == 8

            # A repeat of either is dropped, whatever its place.
            await first.send(
                change_note(6, "sensor.temp", {"state": "0"}),
                change_note(8, "light.kitchen", {"state": "0"}),
                change_note(9, "light.kitchen", {"state": "on"}),
            )
            assert (await next_event(stream)).entity["state"] == "on"
            assert client.mirror.states(1) == {"light.kitchen": "on", "sensor.temp": "19.0"}

            # The next subscribe starts from the highest id.
            waiting = pending_event(stream)
            client.drop_connection()
            second = await resubscribed(bus, 2, 9)
            await second.send(change_note(7, "sensor.temp", {"state": "20.0"}))
            assert (await waiting).entity["state"] == "20.0"
            assert client.last_notification_id == 9

    run(scenario())


def test_bus_reconnection_checks_the_session_over_http(run):
    async def scenario():
        async with following_bus() as (bus, client, stream, _first):
            # The device key was revoked during a network cut: Odoo accepts the new socket
            # as an anonymous one, which would stay silent for ever.
            client.failures["instances"] = SessionExpired("Session expired")
            waiting = pending_event(stream)
            client.drop_connection()
            await resubscribed(bus, 2, 0)
            with pytest.raises(SessionExpired):
                await waiting
            assert client.calls == ["instances", "entities", "instances"]
            await asyncio.sleep(0.1)
            assert len(bus.connections) == 2

    run(scenario())


def test_bus_reconnection_that_cannot_check_retries_then_rereads(run):
    async def scenario():
        async with following_bus(catch_up_window_s=0.3) as (bus, client, stream, _first):
            # The check fails on the next connections: their time does not count as caught
            # up, so once the window is over the mirror is read again.
            client.failures["instances"] = ConnectionFailed("instances: HTTP 502")
            waiting = pending_event(stream)
            client.drop_connection()
            await bus.connection(2)
            await asyncio.sleep(0.4)
            del client.failures["instances"]
            assert await waiting == Reloaded(1)
            assert client.calls[-2:] == ["instances", "entities"]

    run(scenario())


def test_bus_rereads_after_a_reconnection_when_access_moved(run):
    async def scenario():
        async with following_bus(channels_version="a") as (bus, client, stream, first):

            async def reconnect(number, last):
                """Drop the connection; the event that follows the next one's subscribe."""
                waiting = pending_event(stream)
                client.drop_connection()
                return await resubscribed(bus, number, last), waiting

            # Same channels, same instances: the bus replay is enough.
            second, waiting = await reconnect(2, 0)
            await second.send(change_note(1, "light.kitchen", {"state": "off"}))
            assert (await waiting).entity["state"] == "off"
            assert client.calls == ["instances", "entities", "instances"]

            # The user joined an entity group while away: the access_changed went to a
            # channel the old session did not join. Everything is read again.
            client.channels_version = "b"
            client.entity_lists[1] = [KITCHEN, SENSOR, dict(SENSOR, entity_id="sensor.shared")]
            _, waiting = await reconnect(3, 1)
            assert await waiting == Reloaded(1)
            assert "sensor.shared" in client.mirror.entities[1]
            assert client.calls[3:] == ["instances", "entities"]

            # Same version but another instance list: read everything too.
            client.instance_list = [*client.instance_list, {"id": 2, "name": "Cottage"}]
            _, waiting = await reconnect(4, 1)
            assert [await waiting, await next_event(stream)] == [Reloaded(1), Reloaded(2)]
            assert client.calls[5:] == ["instances", "entities", "entities"]

            # An older server sends no version: only the instance ids are compared.
            client.channels_version = None
            fifth, waiting = await reconnect(5, 1)
            await fifth.send(change_note(2, "sensor.temp", {"state": "18.0"}))
            assert (await waiting).entity["state"] == "18.0"
            assert client.calls[8:] == ["instances"]
            assert first.websocket.state.name == "CLOSED"

    run(scenario())


def test_bus_outdated_version_logs_in_again(run):
    async def scenario():
        async with following_bus() as (bus, client, stream, first):
            await first.send(change_note(3, "light.kitchen", {"state": "off"}))
            assert (await next_event(stream)).entity["state"] == "off"

            waiting = pending_event(stream)
            await first.websocket.close(1000, "OUTDATED_VERSION")
            second = await bus.connection(2)
            assert client.logins == 2
            assert second.path == "/websocket?version=v2"
            assert second.headers["Cookie"] == "session_id=sid-2"
            assert await second.next_message() == subscribe(3)
            await second.send(change_note(4, "light.kitchen", {"state": "on"}))
            assert (await waiting).entity["state"] == "on"

    run(scenario())


def test_bus_try_later_reconnects_without_login(run):
    async def scenario():
        async with following_bus() as (bus, client, stream, first):
            waiting = pending_event(stream)
            started = time.monotonic()
            await first.websocket.close(1013, "TRY_LATER")
            second = await bus.connection(2)
            assert time.monotonic() - started < 1.0
            assert await second.next_message() == subscribe(0)
            assert client.logins == 1
            await second.send(change_note(1, "sensor.temp", None))
            assert await waiting == Change(1, "sensor.temp", None)

    run(scenario())


def test_bus_rereads_on_unknown_entity_and_access_change(run):
    async def scenario():
        async with following_bus(access_reread_delay_s=0.05) as (_bus, client, stream, first):
            # An entity new in Home Assistant: the instance's entities are read again.
            client.entity_lists[1] = [KITCHEN, SENSOR, dict(SENSOR, entity_id="sensor.new")]
            await first.send(change_note(2, "sensor.new", {"state": "1"}))
            assert await next_event(stream) == Reloaded(1)
            assert client.mirror.states(1)["sensor.new"] == "21.5"
            assert client.calls == ["instances", "entities", "entities"]

            # The user may now read a second instance.
            client.instance_list = [*client.instance_list, {"id": 2, "name": "Cottage"}]
            await first.send(note(6, "access_changed", {}))
            # The client reads the bus while it is iterated.
            waiting = pending_event(stream)
            assert await first.next_message() == subscribe(6)
            assert [await waiting, await next_event(stream)] == [Reloaded(1), Reloaded(2)]
            assert client.mirror.states(2) == {"light.kitchen": "off"}
            assert client.calls[3:] == ["instances", "entities", "entities"]

    run(scenario())


def test_bus_ignores_an_entity_the_server_leaves_out(run):
    async def scenario():
        async with following_bus(access_reread_delay_s=0.05) as (bus, client, stream, first):

            async def archived_change(notification_id):
                """Send a change of an entity archived in Odoo with one of a known entity.

                Sent on the latest connection. Returns the events up to the next message's:
                a read of the instance caused by the archived entity shows as a Reloaded
                after the known entity's Change.
                """
                latest = bus.connections[-1]
                await latest.send(
                    change_note(notification_id, "sensor.archived", {"state": "1"}),
                    change_note(notification_id + 1, "sensor.temp", {"state": "20.0"}),
                )
                events = [await next_event(stream)]
                await latest.send(change_note(notification_id + 2, "light.kitchen", {"x": 1}))
                while (event := await next_event(stream)) != Change(
                    1, "light.kitchen", client.mirror.entities[1]["light.kitchen"]
                ):
                    events.append(event)
                return [type(event).__name__ for event in events]

            # The first change reads the instance, which tells the entity is left out.
            assert await archived_change(1) == ["Change", "Reloaded"]
            assert client.calls == ["instances", "entities", "entities"]
            # Its later changes are ignored instead of reading the instance each time.
            assert await archived_change(4) == ["Change"]
            assert await archived_change(7) == ["Change"]
            assert client.calls == ["instances", "entities", "entities"]

            # entities_reload ends the ignoring: the next change reads the instance again.
            await first.send(note(10, "entities_reload", {"instance_id": 1}))
            assert await next_event(stream) == Reloaded(1)
            assert await archived_change(11) == ["Change", "Reloaded"]
            assert await archived_change(14) == ["Change"]
            assert client.calls[3:] == ["entities", "entities"]

            # So does access_changed, with the full read that follows it.
            await first.send(note(17, "access_changed", {}))
            waiting = pending_event(stream)
            assert await first.next_message() == subscribe(17)
            assert await waiting == Reloaded(1)
            assert client.calls[5:] == ["instances", "entities"]
            assert await archived_change(18) == ["Change", "Reloaded"]
            assert await archived_change(21) == ["Change"]

            # And a full read after a long disconnection.
            client.catch_up_window_s = 0.0
            waiting = pending_event(stream)
            client.drop_connection()
            await bus.connection(2)
            assert await waiting == Reloaded(1)
            assert await archived_change(24) == ["Change", "Reloaded"]
            assert await archived_change(27) == ["Change"]
            assert client.calls[7:] == ["entities", "instances", "entities", "entities"]

    run(scenario())


# Command line


@pytest.fixture
def no_key_env(monkeypatch):
    monkeypatch.delenv(cli.KEY_ENV, raising=False)


CONNECTION_ARGS = ["--url", "http://odoo:8069", "--db", "db", "--login", "tablet"]


def test_cli_missing_key_is_a_usage_error(no_key_env, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(["watch", *CONNECTION_ARGS])
    assert exited.value.code == 2
    assert "ODOO_HA_KEY" in capsys.readouterr().err


def test_cli_key_from_the_environment(no_key_env):
    args = cli.parse_args(["watch", *CONNECTION_ARGS], environ={"ODOO_HA_KEY": "k"})
    assert (args.command, args.url, args.key) == ("watch", "http://odoo:8069", "k")


def test_cli_call_arguments(no_key_env):
    args = cli.parse_args(
        [
            *["call", *CONNECTION_ARGS, "--key", "k", "--instance", "3"],
            *["light.turn_off", "light.kitchen", "--data", '{"transition": 2}'],
        ]
    )
    assert (args.instance, args.domain, args.service) == (3, "light", "turn_off")
    assert args.entity_id == ["light.kitchen"]
    assert args.data == {"transition": 2}


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["call", *CONNECTION_ARGS, "--key", "k", "light.turn_off"],
        ["call", *CONNECTION_ARGS, "--key", "k", "turn_off", "light.kitchen"],
        ["call", *CONNECTION_ARGS, "--key", "k", "light.turn_off", "light.x", "--data", "[1]"],
        ["call", *CONNECTION_ARGS, "--key", "k", "--instance", "one", "light.on", "light.x"],
    ],
    ids=["no-command", "no-entity", "no-domain", "data-not-object", "instance-not-int"],
)
def test_cli_usage_errors_exit_2(no_key_env, argv):
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(argv)
    assert exited.value.code == 2


def test_cli_refused_key_exits_1_with_one_line(no_key_env, monkeypatch, capsys):
    async def refuse(self):
        raise AuthenticationError("Wrong login or device key")

    monkeypatch.setattr(OdooHaClient, "login", refuse)
    code = cli.main(["call", *CONNECTION_ARGS, "--key", "k", "light.turn_off", "light.kitchen"])
    assert code == 1
    err = capsys.readouterr().err
    assert err == "odoo_ha_client: AuthenticationError: Wrong login or device key\n"


def test_cli_watch_prints_one_line_per_change(run, monkeypatch):
    class Client:
        closed = False

        def __init__(self):
            self.mirror = loaded_mirror()

        async def changes(self):
            yield Reloaded(1)
            yield Change(1, "light.kitchen", dict(KITCHEN, state="off"))
            yield Change(1, "sensor.temp", None)

        async def close(self):
            self.closed = True

    client = Client()
    monkeypatch.setattr(cli, "_client", lambda args: client)
    out, err = io.StringIO(), io.StringIO()
    assert run(cli.watch(None, out=out, err=err)) == 0
    # Each line: <time> <instance name> <entity_id> <state>
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == ["Home light.kitchen off", "Home sensor.temp (removed)"]
    assert "2 entities read" in err.getvalue()
    assert client.closed
