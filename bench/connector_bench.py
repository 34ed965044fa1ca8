"""Benchmark of the Home Assistant connector, end to end, against a real Home Assistant.

Not a test: it prints figures. Run it with Odoo's interpreter on a database where
``odoo_ha_addon`` is installed (see bench/README.md)::

    HA_PYTHON=... python3 bench/connector_bench.py --db bench_db -c /tmp/odoo-dev.conf

Set-up
    Starts a real Home Assistant 2024.3.3 (``tests/ha_server.py``, demo integration, run by
    ``$HA_PYTHON``), creates and commits an ``ha.instance`` for it, and hosts its connection in
    this process with ``ConnectorSupervisor(db, [instance_id])``, as an Odoo server process
    would. Everything is removed again at the end.

Load
    ``bench/ha_load.py`` (a separate process, Home Assistant's interpreter, aiohttp) POSTs
    ``/api/states/sensor.bench_<n>`` round-robin over ``--sensors`` sensors on an open-loop
    schedule of R requests/s for ``--duration`` seconds; every POST sets a new numeric state, so
    each one is a state change that Odoo must store as one ``ha.entity.history`` row (sensors
    record history by default) and as the entity's current state.

What is measured, and how
    HA ceiling
        Before Odoo connects: how many POSTs/s Home Assistant accepts from the load process at
        full speed, and how many ``state_changed`` events/s it delivers to a plain websocket
        subscriber (``subscribe_events``) in that process. This is what Home Assistant itself
        can emit on this machine, independent of Odoo.
    Ingest at increasing rates (``--rates``)
        HA accepted/s: POSTs answered 2xx per second. Odoo stored/s: history rows of the run
        divided by the time from the first POST to the commit of the last row. Drain: time from
        the last POST's answer to that commit (small = Odoo kept up). Missing: POSTs accepted by
        HA without a history row. Lost finals: bench sensors whose ``ha.entity.state`` differs
        from HA's final state once Odoo has settled (``GET /api/states``).
    Latency HA change -> committed Odoo row
        For every history row: the moment its transaction was visible to another session minus
        HA's own ``last_updated`` of that state (same machine, same clock). An observer process
        (so the connector's threads do not delay its wake-ups) LISTENs on Odoo's ``imbus``
        channel, which Odoo NOTIFYs right after the writer's transaction commits (it carries the
        instance's one bus row). Each flush is one transaction: its bus row and history rows
        share a ``xmin``, and the n-th notification for the instance channel belongs to the n-th
        such transaction, so every row gets the arrival time of its own commit's notification.
    ws_call round trip, idle
        ``ha.instance.ws_call('ping')`` through ``ha.ws.request.queue`` (the path of every Odoo
        process that does not host the connection; this process does not register the
        supervisor as its own, so the model takes that path), the same call on the hosting
        process's direct path, and a ``ping`` on a websocket connection of our own to Home
        Assistant (the ``hass`` client), interleaved in the same run.
    Bus rows with 1 user in 1 group and 10 users in 3 groups
        Users spread over entity groups that split the bench sensors between them; at 400
        changes/s, ``bus_bus`` rows written during the run per writer flush, on the instance's
        channel (managers), on the groups' channels and elsewhere. A flush writes one row per
        affected scope (at most 1 + the number of groups), whatever the number of users.
"""

import argparse
import asyncio
import collections
import contextlib
import importlib
import importlib.util
import json
import multiprocessing
import os
import resource
import select
import sys
import threading
import time
from pathlib import Path

import psutil
import psycopg2
import requests
from benchlib import percentiles, query, require_database, run_committed, run_ha_load

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.sql_db import connection_info_for
from odoo.tools import config

ADDON = "odoo_ha_addon"
ADDON_DIR = Path(__file__).resolve().parent.parent

SENSOR_PREFIX = "bench_"
CONNECT_TIMEOUT_S = 60.0
# After the last POST, how long Odoo may take to store everything before what is missing counts
# as lost.
SETTLE_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
# Odoo "kept up" with a rate when it committed the last change this soon after HA accepted it.
KEPT_UP_DRAIN_S = 1.0
CEILING_SECONDS = 4.0
BUS_RATE = 400
# (users, entity groups) of each bus measurement.
BUS_SCENARIOS = ((1, 1), (10, 3))
# Before each measurement, Home Assistant is considered done with the previous load when it
# used less CPU than this over a window.
IDLE_HA_CPU_PERCENT = 15.0
IDLE_WINDOW_S = 0.5
IDLE_TIMEOUT_S = 60.0


# Odoo-side helpers --------------------------------------------------------------------------


def addon_module(name):
    """``odoo.addons.odoo_ha_addon.<name>``, importable once the configuration is parsed."""
    return importlib.import_module(f"odoo.addons.{ADDON}.{name}")


# Observer process ---------------------------------------------------------------------------


class CommitClock:
    """Times the commit of every history row of one instance; lives in the observer process.

    Odoo NOTIFYs ``imbus`` on the ``postgres`` database right after a transaction that wrote bus
    rows commits, with the list of their channels as payload. The writer's flushes commit one
    after the other, each with one bus row on the instance channel, and notifications arrive in
    commit order: the n-th notification for the channel times the n-th transaction (``xmin``)
    seen on it, and with it every history row that transaction inserted.
    """

    def __init__(self, db_params, postgres_params, dbname, instance_id):
        self.instance_id = instance_id
        self.listener = psycopg2.connect(**postgres_params)
        self.listener.autocommit = True
        self.data = psycopg2.connect(**db_params)
        self.data.autocommit = True
        with self.listener.cursor() as cr:
            cr.execute("LISTEN imbus")
        with self.data.cursor() as cr:
            # The channel of all the instance's entities (the managers' scope): every flush
            # writes one row on it.
            cr.execute("SELECT bus_generation FROM ha_instance WHERE id = %s", (instance_id,))
            generation = cr.fetchone()[0]
            self.channel = [dbname, "ha.instance", instance_id, f"ha_all/{generation}"]
            self.channel_json = json.dumps(self.channel, separators=(",", ":"))
            cr.execute("SELECT COALESCE(max(id), 0) FROM bus_bus")
            self.last_bus_id = cr.fetchone()[0]
            cr.execute("SELECT COALESCE(max(id), 0) FROM ha_entity_history")
            self.last_history_id = cr.fetchone()[0]
        self.arrivals = collections.deque()
        self.transactions = collections.deque()
        self.commit_times = {}
        self.waiting_rows = []
        self.samples = []

    def on_notifications(self):
        arrived = time.time()
        self.listener.poll()
        for notification in self.listener.notifies:
            with contextlib.suppress(ValueError):
                if self.channel in json.loads(notification.payload):
                    self.arrivals.append(arrived)
        self.listener.notifies.clear()
        self._read_new_rows()
        while self.arrivals and self.transactions:
            self.commit_times[self.transactions.popleft()] = self.arrivals.popleft()
        waiting, self.waiting_rows = self.waiting_rows, []
        for history_id, xid, entity_id, last_updated in waiting:
            if xid in self.commit_times:
                seen = self.commit_times[xid]
                self.samples.append((history_id, entity_id, float(last_updated), seen))
            else:
                self.waiting_rows.append((history_id, xid, entity_id, last_updated))

    def _read_new_rows(self):
        with self.data.cursor() as cr:
            cr.execute(
                "SELECT id, xmin::text FROM bus_bus WHERE id > %s AND channel = %s ORDER BY id",
                (self.last_bus_id, self.channel_json),
            )
            for bus_id, xid in cr.fetchall():
                self.last_bus_id = bus_id
                if xid not in self.commit_times and xid not in self.transactions:
                    self.transactions.append(xid)
            cr.execute(
                "SELECT id, xmin::text, entity_id, extract(epoch FROM last_updated)"
                "  FROM ha_entity_history WHERE id > %s AND instance_id = %s ORDER BY id",
                (self.last_history_id, self.instance_id),
            )
            rows = cr.fetchall()
        if rows:
            self.last_history_id = rows[-1][0]
            self.waiting_rows.extend(rows)

    def take_samples(self):
        """[(history id, ha.entity id, HA last_updated, commit seen)], epoch seconds."""
        samples, self.samples = self.samples, []
        return samples

    def close(self):
        self.listener.close()
        self.data.close()


def observe(db_params, postgres_params, dbname, instance_id, pipe):
    """Observer process: answers "collect" on ``pipe`` with the samples since the last one."""
    clock = CommitClock(db_params, postgres_params, dbname, instance_id)
    pipe.send("ready")
    try:
        while True:
            readable, _w, _x = select.select([clock.listener, pipe], [], [], 1.0)
            if clock.listener in readable:
                clock.on_notifications()
            if pipe in readable:
                if pipe.recv() == "stop":
                    return
                pipe.send(clock.take_samples())
    finally:
        clock.close()


class Observer:
    def __init__(self, dbname, instance_id):
        _name, db_params = connection_info_for(dbname)
        _name, postgres_params = connection_info_for("postgres")
        context = multiprocessing.get_context("spawn")
        self._pipe, child_pipe = context.Pipe()
        self.process = context.Process(
            target=observe,
            args=(db_params, postgres_params, dbname, instance_id, child_pipe),
            daemon=True,
        )
        self.process.start()
        if not self._pipe.poll(30) or self._pipe.recv() != "ready":
            raise RuntimeError("the observer process did not start")

    def collect(self):
        self._pipe.send("collect")
        return self._pipe.recv()

    def stop(self):
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self._pipe.send("stop")
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()


# Home Assistant side ------------------------------------------------------------------------


def start_home_assistant():
    if not os.environ.get("HA_PYTHON"):
        sys.exit("Set HA_PYTHON to a Python with homeassistant==2024.3.3 (see tests/standalone).")
    # Only this module of tests/: importing the package would import every test module.
    name = f"odoo.addons.{ADDON}.tests.ha_server"
    spec = importlib.util.spec_from_file_location(name, ADDON_DIR / "tests" / "ha_server.py")
    ha_server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ha_server)
    return ha_server.HomeAssistantServer().start()


def run_load(ha, **job):
    """Run ``bench/ha_load.py`` with ``job`` and return its JSON result."""
    return run_ha_load({"url": ha.url, "token": ha.token, "prefix": SENSOR_PREFIX, **job})


def ha_bench_states(ha):
    response = requests.get(
        f"{ha.url}/api/states", headers={"Authorization": f"Bearer {ha.token}"}, timeout=30
    )
    response.raise_for_status()
    return {
        state["entity_id"]: state["state"]
        for state in response.json()
        if state["entity_id"].startswith(f"sensor.{SENSOR_PREFIX}")
    }


class CpuMeter:
    """CPU time used by each party of the benchmark (one core fully busy = 100 %)."""

    PARTIES = ("ha", "odoo", "postgres", "load")

    def __init__(self, ha_pid):
        self.ha = psutil.Process(ha_pid)
        self.odoo = psutil.Process()

    def sample(self):
        postgres = {}
        for process in psutil.process_iter(["name", "cpu_times"]):
            times = process.info["cpu_times"]
            if process.info["name"] == "postgres" and times is not None:
                postgres[process.pid] = times.user + times.system
        # Children that ended: the load generators this process waited for.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "wall": time.monotonic(),
            "ha": sum(self.ha.cpu_times()[:2]),
            "odoo": sum(self.odoo.cpu_times()[:2]),
            "postgres": postgres,
            "load": children.ru_utime + children.ru_stime,
        }

    def wait_ha_idle(self, timeout_s=IDLE_TIMEOUT_S):
        """Wait until Home Assistant is done with earlier load (its recorder writes every
        state change to SQLite on a thread of its own, behind the event loop)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            before = self.sample()
            time.sleep(IDLE_WINDOW_S)
            if self.usage_since(before)["ha"] < IDLE_HA_CPU_PERCENT:
                return

    def usage_since(self, before):
        after = self.sample()
        wall = after["wall"] - before["wall"]
        used = {party: after[party] - before[party] for party in ("ha", "odoo", "load")}
        # PostgreSQL backends come and go (other sessions too): count the processes alive at
        # the end, each from the first sample or from its start.
        used["postgres"] = sum(
            cpu - before["postgres"].get(pid, 0.0) for pid, cpu in after["postgres"].items()
        )
        return {party: 100 * used[party] / wall for party in self.PARTIES}


class DirectHA:
    """A websocket connection of our own to Home Assistant, on a private event loop thread."""

    def __init__(self, url, token):
        connection_module = addon_module("hass.connection")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.connection = self.run(connection_module.HAConnection.connect(url, token))

    def run(self, coroutine, timeout_s=30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    def ping(self):
        self.run(self.connection.ping())

    def close(self):
        with contextlib.suppress(Exception):
            self.run(self.connection.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class RollUpJob:
    """The history statistics' cron job (``_cron_roll_up``), called every ``interval_s`` on a
    thread of its own while the benchmark runs, each call in a committed transaction as the
    cron does it: the roll-up's reads and mark deletions then overlap the writer's flushes."""

    def __init__(self, registry, interval_s):
        self.registry = registry
        self.interval_s = interval_s
        self.calls = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-roll-up", daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval_s):
            started = time.perf_counter()
            with self.registry.cursor() as cr:
                written = api.Environment(cr, SUPERUSER_ID, {})[
                    "ha.entity.history.rollup"
                ]._cron_roll_up()
                cr.commit()
            self.calls.append(((time.perf_counter() - started) * 1000, written))

    def stop(self):
        self._stop.set()
        self._thread.join(60)


# The benchmark ------------------------------------------------------------------------------


class ConnectorBench:
    def __init__(self, dbname, args):
        self.dbname = dbname
        self.args = args
        self.registry = Registry(dbname)
        self.ha = None
        self.instance_id = None
        self.supervisor = None
        self.observer = None
        self.roll_up_job = None
        self.users = None
        self.bench_entity_ids = set()
        self.next_value = 1
        self.results = {"load_average_at_start": os.getloadavg()}
        self.cpu = None

    # Set-up and clean-up -----------------------------------------------------------------

    def run(self):
        try:
            self.ha = start_home_assistant()
            self.cpu = CpuMeter(self.ha.pid)
            print(f"Home Assistant {self.ha.url} started; creating {self.args.sensors} sensors")
            self.load(rate=400, count=self.args.sensors)
            self.measure_ha_ceiling()
            self.connect_odoo()
            self.measure_ws_call()
            for rate in self.args.rates:
                self.results.setdefault("ingest", []).append(self.measure_ingest(rate))
            for users, groups in BUS_SCENARIOS:
                self.results.setdefault("bus", []).append(self.measure_bus_rows(users, groups))
        finally:
            self.clean_up()
        self.print_report()
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(self.results, indent=2))

    def load(self, **job):
        job.setdefault("sensors", self.args.sensors)
        job.setdefault("duration_s", self.args.duration)
        job.setdefault("concurrency", self.args.concurrency)
        job["first_value"] = self.next_value
        result = run_load(self.ha, **job)
        self.next_value += result["ok"] + result["failed"] + 1
        return result

    def connect_odoo(self):
        supervisor_module = addon_module("connector.supervisor")
        self.instance_id = run_committed(
            self.registry,
            lambda env: (
                env["ha.instance"]
                .create({"name": "Connector benchmark", "url": self.ha.url, "token": self.ha.token})
                .id
            ),
        )
        # Listening before the first transaction on the instance channel, so that every
        # notification the observer gets belongs to a transaction it will see.
        self.observer = Observer(self.dbname, self.instance_id)
        self.supervisor = supervisor_module.ConnectorSupervisor(self.dbname, [self.instance_id])
        self.supervisor.start()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            status = query(
                self.registry, "SELECT status FROM ha_instance WHERE id = %s", (self.instance_id,)
            )[0][0]
            rows = query(
                self.registry,
                "SELECT id, record_history FROM ha_entity"
                " WHERE instance_id = %s AND entity_id LIKE %s",
                (self.instance_id, f"sensor.{SENSOR_PREFIX}%"),
            )
            if status == "connected" and len(rows) >= self.args.sensors:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the connector did not connect (status {status!r})")
            time.sleep(POLL_INTERVAL_S)
        self.bench_entity_ids = {row[0] for row in rows}
        if not all(records_history for _id, records_history in rows):
            raise RuntimeError(
                "The bench sensors do not record history on this instance (sensor is not among"
                " the domains that record history by default): nothing to measure."
            )
        print(f"Instance {self.instance_id} connected; {len(rows)} bench sensors in Odoo")
        if self.args.machines:
            self.create_machines(sorted(self.bench_entity_ids)[: self.args.machines])
        if self.args.roll_up_every:
            self.roll_up_job = RollUpJob(self.registry, self.args.roll_up_every)

    def create_machines(self, sensor_ids):
        """Monitored machines on bench sensors: every change of theirs (rising values, always
        above the working threshold) is a reading their state machines process."""
        run_committed(
            self.registry,
            lambda env: env["ha.machine"].create(
                [
                    {"name": f"Bench machine {index}", "sensor_id": sensor_id}
                    for index, sensor_id in enumerate(sensor_ids)
                ]
            ),
        )
        print(f"{len(sensor_ids)} monitored machines on bench sensors")

    def clean_up(self):
        with contextlib.ExitStack() as stack:
            # Run in reverse order of registration: the server goes last, whatever fails.
            if self.ha is not None:
                stack.callback(self.ha.stop, remove_config=True)
            if self.users:
                stack.callback(self.delete_records, "res.users", self.users)
            if self.instance_id is not None:
                stack.callback(self.delete_records, "ha.instance", [self.instance_id])
            if self.supervisor is not None:
                stack.callback(self.supervisor.stop)
            if self.roll_up_job is not None:
                stack.callback(self.roll_up_job.stop)
            if self.observer is not None:
                stack.callback(self.observer.stop)

    def delete_records(self, model, ids):
        run_committed(self.registry, lambda env: env[model].browse(ids).exists().unlink())

    # Measurements --------------------------------------------------------------------------

    def measure_ha_ceiling(self):
        print("Measuring what Home Assistant accepts and emits without Odoo ...")
        self.cpu.wait_ha_idle()
        cpu_before = self.cpu.sample()
        result = self.load(rate=0, duration_s=CEILING_SECONDS, subscribe=True)
        self.results["ceiling"] = {
            "cpu": self.cpu.usage_since(cpu_before),
            "accepted_per_s": result["ok"] / (result["finished"] - result["started"]),
            "events_per_s": result["events"] / (result["last_event"] - result["started"]),
            "events": result["events"],
            "ok": result["ok"],
            "failed": result["failed"],
            "event_delay_ms": result["event_delay_ms"],
        }

    def measure_ws_call(self):
        print(f"Measuring ws_call round trips ({self.args.pings} of each, interleaved) ...")
        self.cpu.wait_ha_idle()
        connector_module = addon_module("connector")
        if connector_module.hosted_connector(self.dbname, self.instance_id) is not None:
            raise RuntimeError("the model would take the direct path; the queue is not measured")
        hosted = self.supervisor.connectors[self.instance_id]
        direct = DirectHA(self.ha.url, self.ha.token)
        timings = {"direct": [], "queue": [], "hosted": []}
        try:
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                instance = env["ha.instance"].browse(self.instance_id)
                instance.ws_call("ping")
                calls = {
                    "direct": direct.ping,
                    "queue": lambda: instance.ws_call("ping", timeout=5),
                    "hosted": lambda: instance._ws_call_direct(hosted, "ping", {}, 5),
                }
                for _round in range(self.args.pings):
                    for name, call in calls.items():
                        started = time.perf_counter()
                        call()
                        timings[name].append((time.perf_counter() - started) * 1000)
        finally:
            direct.close()
        self.results["ws_call"] = {name: percentiles(values) for name, values in timings.items()}

    def measure_ingest(self, rate):
        print(f"Driving {rate} changes/s for {self.args.duration:g} s ...")
        self.observer.collect()
        first_history_id = self.last_history_id()
        self.cpu.wait_ha_idle()
        flushes_before = self.writer().flush_count
        readings_before = self.machine_readings()
        cpu_before = self.cpu.sample()
        load = self.load(rate=rate)
        cpu = self.cpu.usage_since(cpu_before)
        stored, final_mismatches = self.settle(first_history_id, load["ok"])
        readings = self.machine_readings() - readings_before
        samples = self.timed_samples(first_history_id, stored)
        flushes = self.writer().flush_count - flushes_before
        last_commit = max((sample[3] for sample in samples), default=load["finished"])
        return {
            "rate": rate,
            "sent": load["ok"] + load["failed"],
            "ok": load["ok"],
            "failed": load["failed"],
            "accepted_per_s": load["ok"] / (load["finished"] - load["started"]),
            "max_behind_s": load["max_behind_s"],
            "stored": stored,
            "stored_per_s": stored / (last_commit - load["started"]),
            "drain_s": last_commit - load["finished"],
            "lost_finals": final_mismatches,
            "latency_ms": percentiles(
                [(seen - changed) * 1000 for _h, _e, changed, seen in samples]
            ),
            "timed_rows": len(samples),
            "flushes": flushes,
            "machine_readings": readings,
            "post_ms": load["post_ms"],
            "cpu": cpu,
        }

    def machine_readings(self):
        return query(
            self.registry,
            "SELECT count(*) FROM ha_machine_reading r JOIN ha_machine m ON m.id = r.machine_id"
            " WHERE m.instance_id = %s",
            (self.instance_id,),
        )[0][0]

    def timed_samples(self, first_history_id, stored):
        """The observer's samples of this run's bench rows; Odoo's NOTIFY follows the commit
        (and so the ``settle`` that saw the rows) by a moment, so wait for all of them."""
        samples = []
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while len(samples) < stored and time.monotonic() < deadline:
            samples += [
                sample
                for sample in self.observer.collect()
                if sample[0] > first_history_id and sample[1] in self.bench_entity_ids
            ]
            time.sleep(POLL_INTERVAL_S)
        return samples

    def measure_bus_rows(self, user_count, group_count):
        self.ensure_users(user_count, group_count)
        print(
            f"Counting bus rows at {BUS_RATE} changes/s with {user_count} user(s)"
            f" in {group_count} group(s) ..."
        )
        self.cpu.wait_ha_idle()
        last_bus_id = query(self.registry, "SELECT COALESCE(max(id), 0) FROM bus_bus")[0][0]
        flushes_before = self.writer().flush_count
        first_history_id = self.last_history_id()
        load = self.load(rate=BUS_RATE)
        self.settle(first_history_id, load["ok"])
        flushes = self.writer().flush_count - flushes_before
        rows = query(
            self.registry,
            "SELECT CASE WHEN channel LIKE %s THEN 'instance'"
            "            WHEN channel LIKE %s THEN 'groups' ELSE 'other' END, count(*)"
            "  FROM bus_bus WHERE id > %s GROUP BY 1",
            (
                f'%"ha.instance",{self.instance_id},"ha_all/%',
                '%"ha.entity.group",%',
                last_bus_id,
            ),
        )
        counts = dict(rows)
        return {
            "users": user_count,
            "groups": group_count,
            "changes": load["ok"],
            "flushes": flushes,
            "instance_rows": counts.get("instance", 0),
            "group_rows": counts.get("groups", 0),
            "other_rows": counts.get("other", 0),
        }

    # Helpers ------------------------------------------------------------------------------

    def writer(self):
        return self.supervisor.connectors[self.instance_id].writer

    def last_history_id(self):
        return query(self.registry, "SELECT COALESCE(max(id), 0) FROM ha_entity_history")[0][0]

    def settle(self, first_history_id, expected_rows):
        """Wait until Odoo stored ``expected_rows`` new bench history rows and holds HA's final
        states; return (rows stored, sensors whose final state differs)."""
        final_states = ha_bench_states(self.ha)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            stored = query(
                self.registry,
                "SELECT count(*) FROM ha_entity_history WHERE id > %s AND entity_id = ANY(%s)",
                (first_history_id, list(self.bench_entity_ids)),
            )[0][0]
            odoo_states = dict(
                query(
                    self.registry,
                    "SELECT entity_id, state FROM ha_entity"
                    " WHERE instance_id = %s AND entity_id LIKE %s",
                    (self.instance_id, f"sensor.{SENSOR_PREFIX}%"),
                )
            )
            mismatches = sum(
                1
                for entity_id, state in final_states.items()
                if odoo_states.get(entity_id) != state
            )
            if (stored >= expected_rows and not mismatches) or time.monotonic() > deadline:
                return stored, mismatches
            time.sleep(POLL_INTERVAL_S)

    def ensure_users(self, user_count, group_count):
        """``user_count`` HA users, the n-th in the (n mod ``group_count``)-th of
        ``group_count`` entity groups that split the bench sensors round-robin."""

        def create(env):
            group = env.ref(f"{ADDON}.group_ha_user")
            existing = env["res.users"].browse(self.users or [])
            new_users = env["res.users"].create(
                [
                    {
                        "name": f"Bench user {n}",
                        "login": f"ha_bench_user_{self.instance_id}_{n}",
                        "groups_id": [(6, 0, [group.id])],
                    }
                    for n in range(len(existing), user_count)
                ]
            )
            users = (existing | new_users)[:user_count]
            Group = env["ha.entity.group"]
            Group.search([("instance_id", "=", self.instance_id)]).unlink()
            sensors = sorted(self.bench_entity_ids)
            Group.create(
                [
                    {
                        "name": f"Benchmark {k}",
                        "instance_id": self.instance_id,
                        "entity_ids": [(6, 0, sensors[k::group_count])],
                        "user_ids": [(6, 0, users[k::group_count].ids)],
                    }
                    for k in range(group_count)
                ]
            )
            return (existing | new_users).ids

        self.users = run_committed(self.registry, create)

    # Report -------------------------------------------------------------------------------

    def print_report(self):
        start, end = (
            " ".join(f"{value:.2f}" for value in load)
            for load in (self.results["load_average_at_start"], os.getloadavg())
        )
        print()
        print(
            f"Connector benchmark  db={self.dbname}  cpus={os.cpu_count()}"
            f"  load average at start {start}, at end {end}"
        )
        print(f"sensors={self.args.sensors}  duration={self.args.duration:g}s per rate")
        ceiling = self.results.get("ceiling")
        if ceiling:
            delay = ceiling["event_delay_ms"] or {}
            print()
            print("Home Assistant alone (no Odoo connected), POSTs at full speed:")
            print(
                f"  accepted {ceiling['accepted_per_s']:7.0f} POST/s   "
                f"emitted {ceiling['events_per_s']:7.0f} events/s to a websocket subscriber "
                f"({ceiling['events']}/{ceiling['ok']} events, "
                f"delay p50 {delay.get('p50')} ms p99 {delay.get('p99')} ms)"
            )
            print(
                "  CPU % HA/Odoo/PG/load: "
                + "/".join(f"{ceiling['cpu'][party]:.0f}" for party in CpuMeter.PARTIES)
            )
        ingest = self.results.get("ingest")
        if ingest:
            print()
            print("Ingest, HA REST POST -> committed ha.entity + ha.entity.history rows:")
            header = (
                f"  {'target/s':>8} {'HA ok/s':>8} {'Odoo/s':>8} {'drain s':>7} "
                f"{'missing':>7} {'lost fin':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
                f"{'max ms':>7} {'flushes':>7} {'chg/fl':>6} {'kept up':>7}   "
                "CPU % HA/Odoo/PG/load"
            )
            print(header)
            for run in ingest:
                latency = run["latency_ms"]
                kept_up = (
                    run["stored"] == run["ok"]
                    and not run["lost_finals"]
                    and run["drain_s"] <= KEPT_UP_DRAIN_S
                    and run["accepted_per_s"] >= 0.95 * run["rate"]
                )
                print(
                    f"  {run['rate']:>8} {run['accepted_per_s']:>8.0f} {run['stored_per_s']:>8.0f} "
                    f"{run['drain_s']:>7.2f} {run['ok'] - run['stored']:>7} "
                    f"{run['lost_finals']:>8} {fmt(latency['p50'])} {fmt(latency['p90'])} "
                    f"{fmt(latency['p99'])} {fmt(latency['max'])} {run['flushes']:>7} "
                    f"{run['stored'] / max(run['flushes'], 1):>6.1f} "
                    f"{'yes' if kept_up else 'NO':>7}   "
                    + "/".join(f"{run['cpu'][party]:.0f}" for party in CpuMeter.PARTIES)
                )
                if run["timed_rows"] != run["stored"]:
                    print(f"  ! latency covers {run['timed_rows']} of {run['stored']} rows")
                if self.args.machines:
                    print(
                        f"  {'':>8} machine readings stored: {run['machine_readings']}"
                        f" ({self.args.machines} machines)"
                    )
            for line in (
                "HA ok/s: POSTs answered 2xx per second. Odoo/s: history rows committed per",
                "second, first POST to last commit. drain: last answer to last commit.",
                "missing: changes HA accepted that have no history row. lost fin: sensors whose",
                "final state Odoo does not hold once settled. Latency: HA's last_updated of each",
                "change -> its transaction's commit seen by another session. chg/fl: changes",
                "per writer flush. kept up: nothing missing or lost, drain <= "
                f"{KEPT_UP_DRAIN_S:g} s,",
                "HA accepted >= 95 % of the target. CPU % while POSTing (100 = one core): Home",
                "Assistant, this process (the connector), PostgreSQL, the load generator.",
            ):
                print(f"  {line}")
        if self.roll_up_job is not None:
            durations = [duration for duration, _written in self.roll_up_job.calls]
            spread = percentiles(durations)
            print()
            print(
                f"History roll-up job every {self.args.roll_up_every:g} s during the runs:"
                f" {len(durations)} calls,"
                f" {sum(written for _d, written in self.roll_up_job.calls)} 5-minute rows written,"
                f" call p50 {fmt(spread['p50']).strip()} ms max {fmt(spread['max']).strip()} ms"
            )
        ws_call = self.results.get("ws_call")
        if ws_call:
            print()
            print(f"ws_call('ping') round trip, idle, {self.args.pings} calls each (ms):")
            labels = {
                "direct": "direct HA websocket (hass client)",
                "queue": "ha.instance.ws_call via request queue",
                "hosted": "ha.instance.ws_call, hosting process",
            }
            for name, label in labels.items():
                values = ws_call[name]
                print(
                    f"  {label:<40} p50 {values['p50']:6.2f}  p90 {values['p90']:6.2f}  "
                    f"p99 {values['p99']:6.2f}  max {values['max']:6.2f}"
                )
            print(
                "  queue overhead over direct HA call: p50 "
                f"{ws_call['queue']['p50'] - ws_call['direct']['p50']:+.2f} ms"
            )
        bus = self.results.get("bus")
        if bus:
            print()
            print(
                f"Bus rows at {BUS_RATE} changes/s (scope channels: the instance's + each group's):"
            )
            for run in bus:
                total = run["instance_rows"] + run["group_rows"] + run["other_rows"]
                flushes = max(run["flushes"], 1)
                print(
                    f"  {run['users']:>2} user(s) in {run['groups']} group(s): {run['changes']}"
                    f" changes, {run['flushes']} flushes; rows: {run['instance_rows']} instance +"
                    f" {run['group_rows']} groups + {run['other_rows']} elsewhere ="
                    f" {total / flushes:.2f} rows/flush (scopes: {1 + run['groups']}),"
                    f" {total / max(run['changes'], 1):.3f} rows/change"
                )


def fmt(value):
    return f"{value:>7.0f}" if value is not None else f"{'-':>7}"


# Command line -------------------------------------------------------------------------------


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        epilog="Other options (e.g. -c odoo.conf, --addons-path, --db_host) go to Odoo.",
    )
    parser.add_argument("--db", required=True, help="database with odoo_ha_addon installed")
    parser.add_argument(
        "--rates",
        default="100,200,400,800,1600",
        type=lambda text: [int(rate) for rate in text.split(",")],
        help="state changes per second to drive, in turn (default: %(default)s)",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per rate")
    parser.add_argument("--sensors", type=int, default=200, help="bench sensors in HA")
    parser.add_argument("--concurrency", type=int, default=64, help="POSTs in flight at most")
    parser.add_argument("--pings", type=int, default=200, help="ws_call round trips measured")
    parser.add_argument(
        "--machines",
        type=int,
        default=0,
        help="monitor this many bench sensors as machines (usage sessions) during ingest",
    )
    parser.add_argument(
        "--roll-up-every",
        type=float,
        default=0,
        metavar="SECONDS",
        help="run the history statistics' cron job (_cron_roll_up) this often during the runs"
        " (default: never; the cron runs every 5 minutes)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    return parser.parse_known_args()


def main():
    args, odoo_args = parse_args()
    config.parse_config(["--log-level=warn", *odoo_args, "-d", args.db])
    require_database(args.db, odoo_args)
    ConnectorBench(args.db, args).run()


if __name__ == "__main__":
    main()
