"""A scripted Home Assistant: enough of HA's websocket API for the connector, on demand.

For what a real Home Assistant cannot produce when a test wants it: malformed or oversized
frames, odd state payloads, a snapshot of 10,000 entities, diffs as fast as a socket takes
them. It speaks the auth handshake (``auth_required``, ``auth``, ``auth_ok``/``auth_invalid``),
``supported_features``, ``ping``, ``get_config``, ``get_states``, the area, device, entity and
label registry lists (or, given a ``ScriptedRegistries``, every registry list of its release:
``scripted_registries.py``), ``subscribe_events``/``unsubscribe_events`` (events are sent by
``announce``), ``subscribe_entities`` (a snapshot of every entity, then diffs),
``call_service`` for ``turn_on``/``turn_off``/``toggle`` and ``history/history_during_period``
(empty, or with ``keeps_history`` the states ``set_state`` made).

In a test (the server runs on a thread of its own; every method is thread-safe)::

    server = ScriptedHA(make_sensors(1000)).start()
    ... ha.instance with url=server.url, token=server.token ...
    server.set_state("sensor.s_0", "42")      # one diff to every subscriber
    server.send_raw("{not json")              # any frame, byte for byte
    server.emit({"c": {...}})                 # any subscribe_entities event
    server.stop()

As a process (benchmarks: the server then shares no interpreter with Odoo)::

    python3 tests/scripted_ha.py --entities 1000
    -> prints "url <url> token <token>", then reads commands on stdin, one per line:
       "stream <count>"  <count> diffs round-robin over every entity, as fast as possible;
                         answers "streamed <count> <seconds>"
       "connections"     answers "connections <n>"
       "quit"

This module imports no Odoo: benchmarks load it by path.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import threading
import time
from datetime import datetime

from websockets.asyncio.server import serve

TOKEN = "scripted-ha-token"
HA_VERSION = "2024.3.3"
# Messages per frame when streaming: HA coalesces its messages into JSON arrays the same way.
STREAM_FRAME_MESSAGES = 100
# A paced stream sends one frame per tick.
STREAM_TICK_S = 0.01
SERVICE_STATES = {"turn_on": "on", "turn_off": "off"}


def make_sensors(count, prefix="sensor.s_", attributes=None):
    """``count`` compressed sensor states (the shape of a subscribe_entities snapshot)."""
    now = time.time()
    return {
        f"{prefix}{n}": {
            "s": str(n),
            "a": {"friendly_name": f"Sensor {n}", "unit_of_measurement": "W", **(attributes or {})},
            "c": f"ctx-{n}",
            "lc": now,
        }
        for n in range(count)
    }


def event_frame(subscription_id, event_type, data):
    """An event of ``subscribe_events`` as Home Assistant frames it (``Event.as_dict``, sent by
    components/websocket_api/messages.py)."""
    return {
        "id": subscription_id,
        "type": "event",
        "event": {
            "event_type": event_type,
            "data": data,
            "origin": "LOCAL",
            "time_fired": time.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00", time.gmtime()),
            "context": {"id": f"ctx-{event_type}", "parent_id": None, "user_id": None},
        },
    }


class ScriptedHA:
    def __init__(
        self,
        entities=None,
        *,
        token=TOKEN,
        areas=(),
        devices=(),
        registry=(),
        home=None,
        keeps_history=False,
    ):
        """``entities``: entity_id -> compressed state ({"s", "a", "c", "lc"}), kept here and
        changed by ``set_state``, ``call_service`` and ``stream``. ``areas``, ``devices``,
        ``registry``: what the registry list commands answer; or ``home``, a
        ``ScriptedRegistries`` whose release answers them all (and names the version).
        ``keeps_history``: ``history/history_during_period`` answers the states
        ``set_state`` made, like a recorder (otherwise nothing)."""
        self.entities = dict(entities or {})
        self.keeps_history = keeps_history
        # entity_id -> [(last_updated epoch, state, attributes)], by set_state
        self.history = {}
        self.token = token
        self.home = home
        self.ha_version = home.version if home is not None else HA_VERSION
        self.registries = {
            "config/area_registry/list": list(areas),
            "config/device_registry/list": list(devices),
            "config/entity_registry/list": list(registry),
            "config/label_registry/list": [],
        }
        # Event types whose subscription is refused as Home Assistant refuses a user who is
        # not an administrator.
        self.refused_event_types = set()
        self.subscribed_event_types = []
        self._event_subscriptions = {}  # websocket -> {subscription id: event type}
        self.port = None
        self.connections = 0
        self.auth_attempts = 0
        # The most authenticated connections ever open at once: the connector keeps one per
        # instance, whichever Odoo process or node hosts it.
        self.max_concurrent_authenticated = 0
        self.service_calls = []
        self._subscribers = {}  # websocket -> subscribe_entities id
        self._sockets = set()
        self._clock = 0.0
        self._context = itertools.count(1)
        self._loop = None
        self._server = None
        self._thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # Lifecycle (from any thread) ----------------------------------------------------------

    def start(self, port=0):
        started = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._open(port))
            started.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="scripted-ha", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop(self):
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            self._run(self._close(), timeout_s=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    # Controls (from any thread) -----------------------------------------------------------

    def set_state(self, entity_id, state, attributes=None):
        """Change (or add) an entity and send the diff to every subscriber."""
        return self._run(self._set_state(entity_id, state, attributes))

    def emit(self, event):
        """Send ``event`` as is to every subscribe_entities subscription."""
        return self._run(self._emit([event]))

    def send_raw(self, data):
        """Send one frame as is to every authenticated connection."""
        return self._run(self._send_all(data))

    def stream(self, count, timeout_s=600, *, rate=None, exclude=()):
        """``count`` state changes round-robin over every entity but ``exclude``, as fast as
        the sockets take them or ``rate`` per second; returns the seconds it took."""
        return self._run(self._stream(count, rate, exclude), timeout_s=timeout_s)

    def announce(self, event):
        """Send ``event`` ((event_type, data), as ``ScriptedRegistries`` changes return it)
        to every subscription of its type."""
        return self._run(self._announce(*event))

    def subscriber_count(self):
        return len(self._subscribers)

    def authenticated_count(self):
        """Authenticated connections open now."""
        return len(self._sockets)

    def _run(self, coroutine, timeout_s=60):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout_s)

    # Server side -------------------------------------------------------------------------

    async def _open(self, port):
        # No size limit on what it sends or receives: the client's limits are under test.
        self._server = await serve(
            self._handle, "127.0.0.1", port, max_size=None, ping_interval=None
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self):
        self._server.close()
        for websocket in list(self._sockets):
            websocket.transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    def _tick(self):
        """A timestamp after every one given before: each change gets its own last_updated."""
        self._clock = max(time.time(), self._clock + 0.00001)
        return self._clock

    async def _handle(self, websocket):
        self.connections += 1
        await websocket.send(json.dumps({"type": "auth_required", "ha_version": self.ha_version}))
        auth = json.loads(await websocket.recv())
        self.auth_attempts += 1
        if auth.get("type") != "auth" or auth.get("access_token") != self.token:
            await websocket.send(json.dumps({"type": "auth_invalid", "message": "Invalid token"}))
            await websocket.close()
            return
        await websocket.send(json.dumps({"type": "auth_ok", "ha_version": self.ha_version}))
        self._sockets.add(websocket)
        self.max_concurrent_authenticated = max(
            self.max_concurrent_authenticated, len(self._sockets)
        )
        try:
            async for frame in websocket:
                await self._answer(websocket, json.loads(frame))
        except Exception:  # noqa: BLE001 - a dropped client is what the tests provoke
            pass
        finally:
            self._sockets.discard(websocket)
            self._subscribers.pop(websocket, None)
            self._event_subscriptions.pop(websocket, None)

    async def _answer(self, websocket, message):
        kind, message_id = message.get("type"), message.get("id")

        async def result(value=None):
            await websocket.send(
                json.dumps({"id": message_id, "type": "result", "success": True, "result": value})
            )

        home_answers = self.home.commands() if self.home is not None else {}
        if kind == "ping":
            await websocket.send(json.dumps({"id": message_id, "type": "pong"}))
        elif kind == "subscribe_events":
            await self._subscribe_events(websocket, message, result)
        elif kind in ("supported_features", "unsubscribe_events"):
            await result()
        elif kind == "get_config":
            await result(
                {"version": self.ha_version, "location_name": "Scripted", "components": []}
            )
        elif kind in home_answers:
            await self._home_answer(websocket, message, home_answers[kind], result)
        elif self.home is None and kind in self.registries:
            await result(self.registries[kind])
        elif kind == "get_states":
            await result([self._full_state(eid, s) for eid, s in self.entities.items()])
        elif kind == "history/history_during_period":
            await result(self._history(message))
        elif kind == "subscribe_entities":
            await result()
            self._subscribers[websocket] = message_id
            snapshot = {"id": message_id, "type": "event", "event": {"a": self.entities}}
            await websocket.send(json.dumps(snapshot))
        elif kind == "call_service":
            await self._call_service(message, result, websocket)
        else:
            await self._error(websocket, message_id, "unknown_command", "Unknown command.")

    @staticmethod
    async def _error(websocket, message_id, code, text):
        error = {"code": code, "message": text}
        await websocket.send(
            json.dumps({"id": message_id, "type": "result", "success": False, "error": error})
        )

    async def _home_answer(self, websocket, message, answer, result):
        try:
            value = answer(message)
        except ValueError as error:
            await self._error(websocket, message["id"], *error.args[0])
            return
        await result(value)
        events, self.home.pending_events = self.home.pending_events, []
        for event in events:
            await self._announce(*event)

    async def _subscribe_events(self, websocket, message, result):
        event_type = message.get("event_type")
        if event_type in self.refused_event_types:
            # components/websocket_api/commands.py: handle_subscribe_events.
            await self._error(websocket, message["id"], "unauthorized", "Unauthorized")
            return
        self._event_subscriptions.setdefault(websocket, {})[message["id"]] = event_type
        self.subscribed_event_types.append(event_type)
        await result()

    async def _announce(self, event_type, data):
        for websocket, subscriptions in list(self._event_subscriptions.items()):
            for subscription_id, subscribed in list(subscriptions.items()):
                if subscribed in (event_type, None):
                    frame = event_frame(subscription_id, event_type, data)
                    with contextlib.suppress(Exception):
                        await websocket.send(json.dumps(frame))

    async def _call_service(self, message, result, websocket):
        domain, service = message.get("domain"), message.get("service")
        target = (message.get("target") or {}).get("entity_id") or []
        targets = [target] if isinstance(target, str) else list(target)
        self.service_calls.append((domain, service, targets))
        unknown = [eid for eid in targets if eid not in self.entities]
        if service not in (*SERVICE_STATES, "toggle") or unknown or not targets:
            error = {"code": "service_validation_error", "message": f"{domain}.{service} failed"}
            await websocket.send(
                json.dumps(
                    {"id": message["id"], "type": "result", "success": False, "error": error}
                )
            )
            return
        for entity_id in targets:
            current = self.entities[entity_id]["s"]
            new = SERVICE_STATES.get(service) or ("off" if current == "on" else "on")
            if new != current:
                await self._set_state(entity_id, new)
        await result({"context": {"id": f"svc-{next(self._context)}"}, "response": None})

    def _history(self, message):
        """The recorded states of the asked entities strictly inside (start_time, end_time),
        as Home Assistant answers with ``minimal_response`` (``lc`` left out when it equals
        ``lu``), with their attributes (``a``) unless ``no_attributes``; nothing unless
        ``keeps_history``."""
        if not self.keeps_history:
            return {}
        start = datetime.fromisoformat(message["start_time"]).timestamp()
        end = message.get("end_time")
        end = datetime.fromisoformat(end).timestamp() if end else float("inf")
        with_attributes = not message.get("no_attributes")
        answer = {}
        for entity_id in message.get("entity_ids") or ():
            points = [
                {"s": state, "lu": at, **({"a": dict(attributes)} if with_attributes else {})}
                for at, state, attributes in self.history.get(entity_id, ())
                if start < at < end
            ]
            if points:
                answer[entity_id] = points
        return answer

    async def _set_state(self, entity_id, state, attributes=None):
        old = self.entities.get(entity_id)
        now = self._tick()
        context = f"ctx-{next(self._context)}"
        if old is None:
            compressed = {"s": state, "a": dict(attributes or {}), "c": context, "lc": now}
            self.entities[entity_id] = compressed
            self._record(entity_id, now, compressed)
            await self._emit([{"a": {entity_id: compressed}}])
            return
        changed = {"s": state, "lc": now, "c": context}
        if attributes is not None:
            old["a"] = dict(attributes)
            changed["a"] = old["a"]
        old.update(s=state, lc=now, c=context)
        old.pop("lu", None)
        self._record(entity_id, now, old)
        await self._emit([{"c": {entity_id: {"+": changed}}}])

    def _record(self, entity_id, at, compressed):
        if self.keeps_history:
            self.history.setdefault(entity_id, []).append(
                (at, compressed["s"], dict(compressed.get("a") or {}))
            )

    async def _emit(self, events):
        for websocket, subscription in list(self._subscribers.items()):
            frame = [{"id": subscription, "type": "event", "event": e} for e in events]
            with contextlib.suppress(Exception):
                await websocket.send(json.dumps(frame if len(frame) > 1 else frame[0]))

    async def _send_all(self, data):
        for websocket in list(self._sockets):
            with contextlib.suppress(Exception):
                await websocket.send(data)

    async def _stream(self, count, rate=None, exclude=()):
        started = time.perf_counter()
        excluded = set(exclude)
        entity_ids = [entity_id for entity_id in self.entities if entity_id not in excluded]
        value = itertools.count(10**6)
        # Paced: frames of what one STREAM_TICK_S holds at ``rate``.
        per_frame = max(1, round(rate * STREAM_TICK_S)) if rate else STREAM_FRAME_MESSAGES
        for first in range(0, count, per_frame):
            if rate:
                delay = started + first / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            events = []
            for n in range(first, min(count, first + per_frame)):
                entity_id = entity_ids[n % len(entity_ids)]
                state, now, context = str(next(value)), self._tick(), f"ctx-{n}"
                self.entities[entity_id].update(s=state, lc=now, c=context)
                events.append({"c": {entity_id: {"+": {"s": state, "lc": now, "c": context}}}})
            await self._emit(events)
        return time.perf_counter() - started

    @staticmethod
    def _full_state(entity_id, compressed):
        return {"entity_id": entity_id, "state": compressed["s"], "attributes": compressed["a"]}


def _answer(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description="Run a scripted Home Assistant.")
    parser.add_argument("--entities", type=int, default=100, help="sensors in the snapshot")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ScriptedHA(make_sensors(args.entities)).start(args.port)
    _answer(f"url {server.url} token {server.token}")
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "stream":
            _answer(f"streamed {rest[0]} {server.stream(int(rest[0])):.6f}")
        elif command == "connections":
            _answer(f"connections {server.subscriber_count()}")
        elif command == "quit":
            break
    server.stop()


if __name__ == "__main__":
    main()
