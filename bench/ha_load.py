"""Load generator for Home Assistant's REST API; run by ``connector_bench.py`` with ``$HA_PYTHON``.

Reads one JSON job on stdin, prints one JSON result on stdout. It runs under Home Assistant's
own interpreter because that one has ``aiohttp``: an asyncio HTTP client keeps the generator's
CPU cost low, which matters on a small machine where Home Assistant, Odoo and PostgreSQL share
the cores with it. It never imports Odoo.

Job fields:

``url``, ``token``
    Home Assistant base URL and access token (on stdin, never on a command line).
``sensors``, ``prefix``
    POSTs go round-robin to ``sensor.<prefix><n>`` for ``n < sensors``.
``rate``, ``duration_s``, ``count``
    POSTs are started on an open-loop schedule of ``rate`` per second (0: as fast as
    ``concurrency`` allows) for ``duration_s`` seconds, or ``count`` POSTs if given. Request
    ``i`` sets its sensor's state to ``first_value + i``, so every POST is a real state change.
``first_value``, ``concurrency``
``subscribe``
    Also count the ``state_changed`` events of those sensors that a plain websocket subscriber
    (``subscribe_events``) receives, and how long after ``last_updated`` each arrives.

Result fields: ``ok``, ``failed``, ``first_errors``, ``started``/``finished`` (epoch seconds of
the first send and the last response), ``post_ms`` percentiles, ``max_behind_s`` (how far
sending fell behind the schedule) and, with ``subscribe``, ``events``, ``last_event`` and
``event_delay_ms``.
"""

import asyncio
import itertools
import json
import sys
import time
from datetime import datetime

import aiohttp

# Events still missing this long after the last response are not coming.
EVENT_DRAIN_TIMEOUT_S = 10.0
MAX_ERRORS_KEPT = 5


def percentiles(values):
    if not values:
        return None
    ordered = sorted(values)

    def pick(fraction):
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)

    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": round(ordered[-1], 2)}


def epoch(iso_timestamp):
    return datetime.fromisoformat(iso_timestamp).timestamp()


class Subscriber:
    """A plain websocket client of Home Assistant counting the bench sensors' state changes."""

    def __init__(self, session, url, token, entity_prefix):
        self.session = session
        self.url = url.rstrip("/") + "/api/websocket"
        self.token = token
        self.entity_prefix = entity_prefix
        self.events = 0
        self.last_event = None
        self.delays_ms = []
        self._task = None
        self._subscribed = asyncio.Event()

    async def start(self):
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._subscribed.wait(), 10)

    async def wait_for(self, expected, timeout_s):
        deadline = time.monotonic() + timeout_s
        while self.events < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    async def stop(self):
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self):
        async with self.session.ws_connect(self.url, max_msg_size=0) as websocket:
            await websocket.receive_json()
            await websocket.send_json({"type": "auth", "access_token": self.token})
            if (await websocket.receive_json())["type"] != "auth_ok":
                raise RuntimeError("websocket authentication failed")
            await websocket.send_json(
                {"id": 1, "type": "subscribe_events", "event_type": "state_changed"}
            )
            await websocket.receive_json()
            self._subscribed.set()
            async for message in websocket:
                received = time.time()
                event = json.loads(message.data).get("event") or {}
                new_state = (event.get("data") or {}).get("new_state") or {}
                if not new_state.get("entity_id", "").startswith(self.entity_prefix):
                    continue
                self.events += 1
                self.last_event = received
                self.delays_ms.append((received - epoch(new_state["last_updated"])) * 1000)


async def run_job(job):
    sensors = [f"sensor.{job['prefix']}{n}" for n in range(job["sensors"])]
    rate = job["rate"]
    count = job.get("count") or (round(rate * job["duration_s"]) if rate else None)
    headers = {"Authorization": f"Bearer {job['token']}"}
    connector = aiohttp.TCPConnector(limit=job["concurrency"])
    result = {"ok": 0, "failed": 0, "first_errors": [], "max_behind_s": 0.0}
    post_ms = []
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        subscriber = None
        if job.get("subscribe"):
            subscriber = Subscriber(session, job["url"], job["token"], f"sensor.{job['prefix']}")
            await subscriber.start()
        indexes = itertools.count()
        base = job["url"].rstrip("/") + "/api/states/"
        start = time.monotonic()
        deadline = start + job.get("duration_s", float("inf"))

        async def worker():
            for index in indexes:
                if (count is not None and index >= count) or time.monotonic() > deadline:
                    return
                if rate:
                    behind = time.monotonic() - (start + index / rate)
                    if behind < 0:
                        await asyncio.sleep(-behind)
                    else:
                        result["max_behind_s"] = max(result["max_behind_s"], behind)
                entity_id = sensors[index % len(sensors)]
                body = {
                    "state": str(job["first_value"] + index),
                    "attributes": {
                        "unit_of_measurement": "W",
                        "state_class": "measurement",
                        "friendly_name": f"Bench {entity_id}",
                    },
                }
                sent = time.monotonic()
                try:
                    async with session.post(base + entity_id, json=body) as response:
                        await response.read()
                        response.raise_for_status()
                    result["ok"] += 1
                except aiohttp.ClientError as error:
                    result["failed"] += 1
                    if len(result["first_errors"]) < MAX_ERRORS_KEPT:
                        result["first_errors"].append(f"{type(error).__name__}: {error}")
                post_ms.append((time.monotonic() - sent) * 1000)

        result["started"] = time.time()
        await asyncio.gather(*(worker() for _ in range(job["concurrency"])))
        result["finished"] = time.time()
        result["post_ms"] = percentiles(post_ms)
        result["max_behind_s"] = round(result["max_behind_s"], 3)
        if subscriber is not None:
            await subscriber.wait_for(result["ok"], EVENT_DRAIN_TIMEOUT_S)
            await subscriber.stop()
            result["events"] = subscriber.events
            result["last_event"] = subscriber.last_event
            result["event_delay_ms"] = percentiles(subscriber.delays_ms)
    return result


def main():
    job = json.load(sys.stdin)
    print(json.dumps(asyncio.run(run_job(job))))


if __name__ == "__main__":
    main()
