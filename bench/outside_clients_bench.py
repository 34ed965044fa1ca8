"""Benchmark of many outside clients on one Odoo server: live entity changes over /websocket.

Not a test: it prints figures. Run it with Odoo's interpreter on a database where
``odoo_ha_addon`` is installed (see bench/README.md)::

    HA_PYTHON=... python3 bench/outside_clients_bench.py --db bench_db -c /tmp/odoo-dev.conf
    HA_PYTHON=... python3 bench/outside_clients_bench.py --db bench_db -c ... --workers 2 \
        --clients 500 --browsers 500       # production layout: prefork + gevent

Set-up
    A source of states: a real Home Assistant 2024.3.3 (``tests/ha_server.py``, run by
    ``$HA_PYTHON``, default) or the scripted Home Assistant (``tests/scripted_ha.py``, in a
    process of its own), holding ``--sensors`` sensors ``sensor.bench_<n>``. An ``ha.instance``
    for it is committed, with Home Assistant managers (one per ``CLIENTS_PER_USER`` clients)
    and one device key per client (``res.users.apikeys``, scope ``odoo_ha_addon``, valid for a
    day). A real Odoo server (``tests/odoo_server.py``) hosts the instance's connection and
    serves ``/websocket``: threaded (``--workers 0``, one process) or, with ``--workers N``,
    as production runs it: the prefork master (which hosts the connection), N HTTP workers
    (the logins) and the gevent process, which alone serves ``/websocket`` on its own port.
    ``--browsers`` adds browser sessions: Home Assistant managers logged in with a password
    (one session per ``CLIENTS_PER_USER`` sockets, like tabs), whose sockets join what Odoo
    gives a person (partner, groups, Discuss) plus the Home Assistant scopes. Everything is
    removed again at the end, also on failure.

Clients
    ``--clients`` clients in this process, on one asyncio loop: each logs in with its key
    (``POST /odoo_ha_addon/device/login``), opens ``/websocket?version=<bus_version>`` with the
    session cookie (``websockets``), subscribes with no channel (the server joins the session
    to its user's scopes: managers get the instance's) and records every
    ``odoo_ha_addon/entity_changes`` value of the bench sensors with its arrival time. During
    the storm a client only keeps each frame with its arrival time; frames are decoded once
    the sockets are quiet, so the clients' JSON parsing does not take CPU from the server.

Load
    ``--rate`` state changes per second for ``--seconds``, round-robin over the sensors, on an
    open-loop schedule: through Home Assistant's REST API by ``bench/ha_load.py`` (real), or
    ``ScriptedHA.set_state`` (scripted). Change ``i`` sets its sensor to ``first_value + i``
    and is sent at ``started + i / rate``, so every value carries its send time; the latency
    of a delivery is its arrival at the client minus that time (same machine, same clock).

What is measured
    Connecting: time until all clients are logged in and subscribed, and until each one has
    received a first change. Idle: CPU with every socket open and nothing changing. Storm:
    latency send -> client (and Home Assistant's ``last_updated`` -> client) over every
    delivery, changes delivered per client against those sent, values Odoo never published
    (the writer publishes the latest state of a sensor per flush), sockets closed, the CPU of
    the Odoo server's processes (threaded: one; prefork: master, HTTP workers, gevent), of
    this process (the clients), of PostgreSQL, Home Assistant and the load generator, each
    server process's RSS, threads and PostgreSQL connections, and the machine's load
    average.
"""

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import gc
import json
import math
import multiprocessing
import os
import re
import resource
import shutil
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import psycopg2
import requests
from benchlib import (
    load_by_path,
    log_in,
    percentiles,
    query,
    require_database,
    run_committed,
    run_ha_load,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from odoo import fields
from odoo.modules.registry import Registry
from odoo.sql_db import connection_info_for
from odoo.tools import config

ADDON = "odoo_ha_addon"
ADDON_DIR = Path(__file__).resolve().parent.parent
SENSOR_PREFIX = "bench_"
ENTITY_CHANGES = "odoo_ha_addon/entity_changes"
DEVICE_KEY_SCOPE = "odoo_ha_addon"
# Managers are created for this many clients each; a user may hold any number of keys.
CLIENTS_PER_USER = 50
KEY_LIFETIME = timedelta(days=1)
# Password of the browser users (made and deleted by the benchmark).
BROWSER_PASSWORD = "ha-outside-bench-browser"
MIRROR_TIMEOUT_S = 120.0
LOGIN_TIMEOUT_S = 60.0
OPEN_TIMEOUT_S = 60.0
# Clients that have not received a first change after this many warm-up rounds are reported.
WARMUP_ROUNDS = 5
WARMUP_RATE = 100
IDLE_SECONDS = 5.0
# After the last change is sent, how long the clients may take to receive what is coming.
DRAIN_TIMEOUT_S = 30.0
# The sockets are taken as quiet (everything sent has arrived) after this long without a frame.
QUIET_S = 2.0
POLL_INTERVAL_S = 0.05
# Server threads and PostgreSQL connections are sampled this often during the storm.
SAMPLE_INTERVAL_S = 0.5
WS_MAX_SIZE = 64 * 1024 * 1024
LOAD_CONCURRENCY = 16
LOG_LINE = re.compile(r"^\S+ \S+ \d+ (WARNING|ERROR|CRITICAL) \S+ (\S+): (.*)$")


def client_percentiles(values):
    """p50, p95, p99 and max: the figures this benchmark reports."""
    return percentiles(values, (0.5, 0.95, 0.99))


def epoch(iso_timestamp):
    return datetime.fromisoformat(iso_timestamp).timestamp()


# Sources of states --------------------------------------------------------------------------


class RealSource:
    """A real Home Assistant with ``sensors`` bench sensors, driven by ``bench/ha_load.py``."""

    label = "real Home Assistant 2024.3.3"

    def __init__(self, sensors):
        if not os.environ.get("HA_PYTHON"):
            sys.exit(
                "Set HA_PYTHON to a Python with homeassistant==2024.3.3 (see bench/README.md)."
            )
        # Named inside the addon's package: ha_server imports hass/ relatively.
        ha_server = load_by_path(
            f"odoo.addons.{ADDON}.tests.ha_server", ADDON_DIR / "tests" / "ha_server.py"
        )
        self.sensors = sensors
        self.ha = ha_server.HomeAssistantServer().start()
        self.url, self.token, self.pid = self.ha.url, self.ha.token, self.ha.pid
        # Creates the sensors.
        self.load(rate=0, count=sensors, first_value=0)

    def load(self, rate, count, first_value):
        job = {
            "url": self.url,
            "token": self.token,
            "sensors": self.sensors,
            "prefix": SENSOR_PREFIX,
            "rate": rate,
            "count": count,
            "first_value": first_value,
            "concurrency": LOAD_CONCURRENCY,
        }
        return run_ha_load(job)

    def close(self):
        self.ha.stop(remove_config=True)


def scripted_process(sensors, pipe):
    """Body of the scripted source's process: the server, and paced ``set_state`` calls on
    request (a dict of ``paced_states`` arguments; None ends it)."""
    scripted = load_by_path("ha_bench_scripted", ADDON_DIR / "tests" / "scripted_ha.py")
    server = scripted.ScriptedHA(
        scripted.make_sensors(sensors, prefix=f"sensor.{SENSOR_PREFIX}")
    ).start()
    pipe.send((server.url, server.token))
    try:
        while (job := pipe.recv()) is not None:
            pipe.send(paced_states(server, sensors, **job))
    finally:
        server.stop()


def paced_states(server, sensors, rate, count, first_value):
    """``ha_load.py``'s schedule and result fields, with ``ScriptedHA.set_state``."""
    result = {"ok": 0, "failed": 0, "max_behind_s": 0.0}
    start = time.monotonic()
    result["started"] = time.time()
    for index in range(count):
        if rate:
            behind = time.monotonic() - (start + index / rate)
            if behind < 0:
                time.sleep(-behind)
            else:
                result["max_behind_s"] = max(result["max_behind_s"], behind)
        server.set_state(f"sensor.{SENSOR_PREFIX}{index % sensors}", str(first_value + index))
        result["ok"] += 1
    result["finished"] = time.time()
    return result


class ScriptedSource:
    """The scripted Home Assistant in a process of its own (not on this process's GIL, which
    the clients need)."""

    label = "scripted Home Assistant"

    def __init__(self, sensors):
        context = multiprocessing.get_context("spawn")
        self._pipe, child_pipe = context.Pipe()
        self.process = context.Process(
            target=scripted_process, args=(sensors, child_pipe), daemon=True
        )
        self.process.start()
        if not self._pipe.poll(60):
            raise RuntimeError("the scripted Home Assistant did not start")
        self.url, self.token = self._pipe.recv()
        self.pid = self.process.pid

    def load(self, rate, count, first_value):
        self._pipe.send({"rate": rate, "count": count, "first_value": first_value})
        return self._pipe.recv()

    def close(self):
        if self.process.is_alive():
            with contextlib.suppress(OSError):
                self._pipe.send(None)
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()


# The Odoo server ----------------------------------------------------------------------------


def odoo_server_class(extra_args):
    """``tests/odoo_server.py``'s ``OdooServer``, its command extended with ``extra_args``.

    OdooServer takes no options of its own: the private copy of its module loaded here gets a
    command builder that appends them (they go before ``--config``, which Odoo accepts)."""
    module = load_by_path("ha_bench_odoo_server", ADDON_DIR / "tests" / "odoo_server.py")
    base_command = module._odoo_command
    module._odoo_command = lambda: [*base_command(), *extra_args]

    class BenchOdooServer(module.OdooServer):
        def warnings(self):
            """WARNING and worse lines of the server's log, as (level, logger, message)."""
            try:
                text = self._log_path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                return []
            return [match.groups() for match in map(LOG_LINE.match, text.splitlines()) if match]

        def remove_workdir(self, keep_log=None):
            if keep_log:
                with contextlib.suppress(OSError):
                    shutil.copyfile(self._log_path, keep_log)
            shutil.rmtree(self._workdir, ignore_errors=True)

    return BenchOdooServer


def server_roles(master):
    """The Odoo server's processes by role: ``server`` (threaded); ``master`` (which hosts the
    Home Assistant connection), ``workers`` (HTTP) and ``gevent`` (``/websocket``) for prefork.
    Workers are recycled: the processes alive at the moment."""
    roles = {"master": [master], "workers": [], "gevent": []}
    for child in master.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            roles["gevent" if "gevent" in child.cmdline() else "workers"].append(child)
    if not roles["workers"] and not roles["gevent"]:
        return {"server": [master]}
    return roles


class CpuMeter:
    """CPU time of each party (one core fully busy = 100 %), and of each Odoo server role."""

    PARTIES = ("odoo", "clients", "postgres", "ha", "load")

    def __init__(self, server_pid, source_pid):
        self.server = psutil.Process(server_pid)
        self.source = psutil.Process(source_pid)
        self.me = psutil.Process()

    @staticmethod
    def _tree_seconds(process):
        total = 0.0
        for member in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = member.cpu_times()
                total += times.user + times.system
        return total

    def _role_seconds(self):
        """role -> {pid: CPU seconds} of the server's processes alive now."""
        seconds = {}
        for role, processes in server_roles(self.server).items():
            for process in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = process.cpu_times()
                    seconds.setdefault(role, {})[process.pid] = times.user + times.system
        return seconds

    def sample(self):
        postgres = {}
        for process in psutil.process_iter(["name", "cpu_times"]):
            times = process.info["cpu_times"]
            if process.info["name"] == "postgres" and times is not None:
                postgres[process.pid] = times.user + times.system
        # Load generators this process waited for (ha_load.py).
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = self.me.cpu_times()
        return {
            "wall": time.monotonic(),
            "odoo": self._tree_seconds(self.server),
            "roles": self._role_seconds(),
            "clients": me.user + me.system,
            "postgres": postgres,
            "ha": self._tree_seconds(self.source),
            "load": children.ru_utime + children.ru_stime,
        }

    @staticmethod
    def _since(before, after):
        """CPU seconds of processes (pid -> seconds) alive at the end, each from the first
        sample or from its start."""
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def usage_since(self, before):
        after = self.sample()
        wall = after["wall"] - before["wall"]
        used = {party: after[party] - before[party] for party in ("odoo", "clients", "ha", "load")}
        # PostgreSQL backends come and go (other sessions too).
        used["postgres"] = self._since(before["postgres"], after["postgres"])
        usage = {party: 100 * used[party] / wall for party in self.PARTIES}
        usage["roles"] = {
            role: 100 * self._since(before["roles"].get(role, {}), pids) / wall
            for role, pids in after["roles"].items()
        }
        return usage


class ServerSampler:
    """Samples threads, RSS and PostgreSQL connections of each Odoo server process role on a
    thread of its own."""

    KEYS = ("threads", "rss_mb", "pg_connections")

    def __init__(self, server_pid):
        self.process = psutil.Process(server_pid)
        _name, params = connection_info_for("postgres")
        self.connection = psycopg2.connect(**params)
        self.connection.autocommit = True
        self.samples = []
        self._stop = threading.Event()
        self._thread = None

    def now(self):
        """role -> {threads, rss_mb, pg_connections}, and "total" over every role."""
        roles = server_roles(self.process)
        with self.connection.cursor() as cr:
            cr.execute(
                "SELECT application_name, count(*) FROM pg_stat_activity"
                " WHERE application_name LIKE 'odoo-%%' GROUP BY 1"
            )
            by_name = dict(cr.fetchall())
        sample = {}
        for role, processes in roles.items():
            figures = dict.fromkeys(self.KEYS, 0)
            for process in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    figures["threads"] += process.num_threads()
                    figures["rss_mb"] += process.memory_info().rss / 2**20
                figures["pg_connections"] += by_name.get(f"odoo-{process.pid}", 0)
            sample[role] = figures
        sample["total"] = {key: sum(sample[role][key] for role in roles) for key in self.KEYS}
        return sample

    def start(self):
        self.samples = []
        self._stop.clear()

        def run():
            while not self._stop.is_set():
                with contextlib.suppress(psutil.Error, psycopg2.Error):
                    self.samples.append(self.now())
                self._stop.wait(SAMPLE_INTERVAL_S)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self):
        """The peak of each figure of each role over the samples taken since ``start``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        roles = {role for sample in self.samples for role in sample}
        return {
            role: {
                key: max((s[role][key] for s in self.samples if role in s), default=None)
                for key in self.KEYS
            }
            for role in roles
        }

    def close(self):
        self.stop()
        self.connection.close()


# Clients ------------------------------------------------------------------------------------


class BenchClient:
    """One outside app: a device-key session and its bus websocket."""

    kind = "device key"

    def __init__(self, index, login, key):
        self.index = index
        self.login = login
        self.key = key
        self.websocket = None
        self.reader = None
        self.instance_id = None
        # Frames not decoded yet: (arrival epoch, text).
        self.frames = []
        self.last_frame_at = 0.0
        # value -> (arrival epoch, HA last_updated)
        self.received = {}
        self.connect_s = None
        self.error = None
        self.closed = None
        self.closing = False

    def log_in(self, server_url, dbname):
        response = requests.post(
            f"{server_url}/odoo_ha_addon/device/login",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "id": 1,
                "params": {"db": dbname, "login": self.login, "key": self.key},
            },
            timeout=LOGIN_TIMEOUT_S,
        )
        response.raise_for_status()
        answer = response.json()
        data = (answer.get("result") or {}).get("data")
        if not data:
            raise RuntimeError(f"login refused: {json.dumps(answer)[:300]}")
        return data

    async def open(self, server_url, ws_url, login, instance_id):
        self.instance_id = instance_id
        self.websocket = await connect(
            f"{ws_url}/websocket?version={login['bus_version']}",
            origin=server_url,
            additional_headers={"Cookie": f"session_id={login['session_id']}"},
            user_agent_header=None,
            open_timeout=OPEN_TIMEOUT_S,
            max_size=WS_MAX_SIZE,
        )
        await self.websocket.send(
            json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}})
        )
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.websocket:
                self.last_frame_at = time.time()
                self.frames.append((self.last_frame_at, raw))
        except ConnectionClosed:
            pass
        finally:
            if not self.closing:
                self.closed = (
                    self.websocket.close_code,
                    self.websocket.close_reason,
                    time.time(),
                )

    def decode(self):
        """Record the bench sensors' values of the frames received so far."""
        frames, self.frames = self.frames, []
        prefix = f"sensor.{SENSOR_PREFIX}"
        for arrived, raw in frames:
            for notification in json.loads(raw):
                message = notification.get("message") or {}
                payload = message.get("payload") or {}
                if (
                    message.get("type") != ENTITY_CHANGES
                    or payload.get("instance_id") != self.instance_id
                ):
                    continue
                for entity_id, change in payload["changes"].items():
                    if change and entity_id.startswith(prefix):
                        with contextlib.suppress(ValueError, TypeError):
                            self.received[int(change["state"])] = (
                                arrived,
                                change.get("last_updated"),
                                notification.get("id"),
                            )

    async def close(self):
        self.closing = True
        if self.websocket is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.websocket.close(), 5)
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


class BrowserClient(BenchClient):
    """A browser's socket: a password session of a Home Assistant manager, shared by the
    ``CLIENTS_PER_USER`` sockets of that user (tabs, or browsers with the same session)."""

    kind = "browser"

    def __init__(self, index, login, password, sessions):
        super().__init__(index, login, None)
        self.password = password
        # login -> session id, filled by the first socket of each user.
        self.sessions = sessions

    def log_in(self, server_url, dbname):
        if self.login not in self.sessions:
            http = log_in(server_url, dbname, self.login, self.password, LOGIN_TIMEOUT_S)
            self.sessions[self.login] = http.cookies["session_id"]
        # Imported here: odoo.addons has the addons path only once Odoo's options are parsed.
        from odoo.addons.bus.websocket import WebsocketConnectionHandler  # noqa: PLC0415

        return {
            "session_id": self.sessions[self.login],
            "bus_version": WebsocketConnectionHandler._VERSION,
        }


# The benchmark ------------------------------------------------------------------------------


class OutsideClientsBench:
    def __init__(self, dbname, args, server_args):
        self.dbname = dbname
        self.args = args
        self.server_args = server_args
        self.registry = Registry(dbname)
        self.source = None
        self.server = None
        self.sampler = None
        self.instance_id = None
        self.user_ids = []
        self.key_ids = []
        self.clients = []
        self.next_value = 1
        self.cpu = None
        self.results = {"load_average_at_start": os.getloadavg()}

    def run(self):
        try:
            self.set_up()
            asyncio.run(self.measure())
        except BaseException:
            if self.server is not None:
                print(f"Odoo server log (tail):\n{self.server.log_tail()}", file=sys.stderr)
            raise
        finally:
            self.clean_up()
        self.print_report()

    # Set-up and clean-up -----------------------------------------------------------------

    def set_up(self):
        source_class = ScriptedSource if self.args.source == "scripted" else RealSource
        print(f"Starting the {source_class.label} with {self.args.sensors} sensors ...", flush=True)
        self.source = source_class(self.args.sensors)
        keys, browser_logins = run_committed(self.registry, self.create_records)
        self.clients = [BenchClient(index, login, key) for index, (login, key) in enumerate(keys)]
        sessions = {}
        self.clients += [
            BrowserClient(len(keys) + index, login, BROWSER_PASSWORD, sessions)
            for index, login in enumerate(browser_logins)
        ]
        print(
            f"Instance {self.instance_id}, {len(self.user_ids)} manager(s),"
            f" {len(keys)} device keys committed; starting the Odoo server"
            f" ({self.layout()}) ...",
            flush=True,
        )
        self.server = odoo_server_class(self.server_args)(
            self.dbname, workers=self.args.workers
        ).start()
        self.wait_mirrored()
        self.sampler = ServerSampler(self.server.process.pid)
        self.results["server_before"] = self.sampler.now()

    def create_records(self, env):
        instance = env["ha.instance"].create(
            {
                "name": "Outside clients benchmark",
                "url": self.source.url,
                "token": self.source.token,
            }
        )
        self.instance_id = instance.id
        user_count = max(1, math.ceil(self.args.clients / CLIENTS_PER_USER))
        users = env["res.users"].create(
            [
                {
                    "name": f"Outside clients bench {n}",
                    "login": f"ha_outside_bench_{instance.id}_{n}",
                    "groups_id": [(6, 0, [env.ref(f"{ADDON}.group_ha_manager").id])],
                }
                for n in range(user_count)
            ]
        )
        browser_user_count = math.ceil(self.args.browsers / CLIENTS_PER_USER)
        browser_users = env["res.users"].create(
            [
                {
                    "name": f"Outside clients bench browser {n}",
                    "login": f"ha_outside_bench_{instance.id}_browser_{n}",
                    "password": BROWSER_PASSWORD,
                    "groups_id": [(6, 0, [env.ref(f"{ADDON}.group_ha_manager").id])],
                }
                for n in range(browser_user_count)
            ]
        )
        self.user_ids = users.ids + browser_users.ids
        browser_logins = [
            browser_users[index % browser_user_count].login for index in range(self.args.browsers)
        ]
        expiration = fields.Datetime.now() + KEY_LIFETIME
        keys = []
        for index in range(self.args.clients):
            user = users[index % user_count]
            key = (
                env["res.users.apikeys"]
                .with_user(user)
                ._generate(DEVICE_KEY_SCOPE, f"Outside clients bench {index}", expiration)
            )
            keys.append((user.login, key))
        env.cr.execute("SELECT id FROM res_users_apikeys WHERE user_id = ANY(%s)", (self.user_ids,))
        self.key_ids = [row[0] for row in env.cr.fetchall()]
        return keys, browser_logins

    def layout(self):
        if self.args.workers:
            return f"prefork, --workers {self.args.workers}, /websocket on the gevent port"
        return "threaded, --workers 0"

    def wait_mirrored(self):
        deadline = time.monotonic() + MIRROR_TIMEOUT_S
        while True:
            status, mirrored = query(
                self.registry,
                "SELECT status, (SELECT count(*) FROM ha_entity WHERE instance_id = i.id"
                "                AND entity_id LIKE %s AND active)"
                "  FROM ha_instance i WHERE id = %s",
                (f"sensor.{SENSOR_PREFIX}%", self.instance_id),
            )[0]
            if status == "connected" and mirrored >= self.args.sensors:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server did not mirror the sensors (status {status!r}, {mirrored} of"
                    f" {self.args.sensors})\n{self.server.log_tail()}"
                )
            time.sleep(0.2)

    def clean_up(self):
        with contextlib.ExitStack() as stack:
            # Run in reverse order of registration: the source goes last, whatever fails.
            if self.source is not None:
                stack.callback(self.source.close)
            if self.instance_id is not None:
                stack.callback(self.delete_records, "ha.instance", [self.instance_id])
            if self.user_ids:
                stack.callback(self.delete_records, "res.users", self.user_ids)
            # Keys first: their unlink ends the sessions opened with them.
            if self.key_ids:
                stack.callback(self.delete_records, "res.users.apikeys", self.key_ids)
            if self.server is not None:
                stack.callback(self.server.remove_workdir, self.args.keep_log)
                stack.callback(self.server.stop)
            if self.sampler is not None:
                stack.callback(self.sampler.close)

    def delete_records(self, model, ids):
        run_committed(self.registry, lambda env: env[model].browse(ids).exists().unlink())

    # Measurements --------------------------------------------------------------------------

    async def measure(self):
        self.cpu = CpuMeter(self.server.process.pid, self.source.pid)
        try:
            await self.connect_clients()
            await self.warm_up()
            await self.measure_idle()
            await self.measure_storm()
        finally:
            await asyncio.gather(*(client.close() for client in self.clients))

    async def load(self, rate, count):
        first_value = self.next_value
        self.next_value += count + 1
        result = await asyncio.to_thread(self.source.load, rate, count, first_value)
        result["first_value"] = first_value
        result["count"] = count
        result["rate"] = rate
        return result

    async def connect_clients(self):
        concurrency = self.args.connect_concurrency
        print(f"Connecting {len(self.clients)} clients ({concurrency} at a time) ...", flush=True)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=concurrency)
        gate = asyncio.Semaphore(concurrency)
        loop = asyncio.get_running_loop()

        async def connect_one(client):
            async with gate:
                started = time.monotonic()
                try:
                    login = await loop.run_in_executor(
                        pool, client.log_in, self.server.url, self.dbname
                    )
                    await client.open(self.server.url, self.server.ws_url, login, self.instance_id)
                    client.connect_s = time.monotonic() - started
                except Exception as error:  # noqa: BLE001 - reported per client
                    client.error = f"{type(error).__name__}: {error}"[:300]

        started = time.monotonic()
        # One password login per browser user first, as a browser keeps its session for its
        # tabs (and password hashing would otherwise run once per socket, concurrently).
        first_of_user = {}
        for client in self.clients:
            if isinstance(client, BrowserClient):
                first_of_user.setdefault(client.login, client)
        try:
            await asyncio.gather(*(connect_one(client) for client in first_of_user.values()))
            await asyncio.gather(
                *(connect_one(c) for c in self.clients if c not in first_of_user.values())
            )
        finally:
            pool.shutdown(wait=False)
        self.results["connect"] = {
            "seconds": time.monotonic() - started,
            "connected": sum(client.connect_s is not None for client in self.clients),
            "per_client_s": percentiles(
                [c.connect_s for c in self.clients if c.connect_s is not None], (0.5, 0.99)
            ),
            "errors": collections.Counter(c.error for c in self.clients if c.error),
            "connected_at": time.monotonic(),
        }

    async def warm_up(self):
        """Send rounds of one change per sensor until every open client has received one:
        the subscription of each socket then works."""
        connected = [client for client in self.clients if client.connect_s is not None]
        waited_from = self.results["connect"]["connected_at"]
        for _round in range(WARMUP_ROUNDS):
            await self.load(WARMUP_RATE, self.args.sensors)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                for client in connected:
                    client.decode()
                if all(client.received or client.closed for client in connected):
                    break
                await asyncio.sleep(POLL_INTERVAL_S)
            if all(client.received or client.closed for client in connected):
                break
        self.results["warm_up"] = {
            "seconds": time.monotonic() - waited_from,
            "receiving": sum(bool(client.received) for client in connected),
        }
        self.results["server_connected"] = self.sampler.now()

    async def measure_idle(self):
        print(f"Idle for {IDLE_SECONDS:g} s with every socket open ...", flush=True)
        await asyncio.sleep(1.0)
        before = self.cpu.sample()
        await asyncio.sleep(IDLE_SECONDS)
        self.results["idle_cpu"] = self.cpu.usage_since(before)

    async def measure_storm(self):
        rate, seconds = self.args.rate, self.args.seconds
        count = round(rate * seconds)
        print(
            f"Storm: {rate} changes/s for {seconds:g} s over {self.args.sensors} sensors ...",
            flush=True,
        )
        log_lines_before = len(self.server.warnings())
        bus_last_id = self.bus_last_id()
        # The clients' own collector would stop this process for up to a third of a second
        # at a time (1,000 sockets' objects): that is this process's latency, not the
        # server's. Their objects are kept out of it during the storm and its drain.
        gc.collect()
        gc.freeze()
        gc.disable()
        self.sampler.start()
        before = self.cpu.sample()
        try:
            load = await self.load(rate, count)
            cpu = self.cpu.usage_since(before)
            load_average = os.getloadavg()
            drain_s = await self.drain(load)
        finally:
            gc.enable()
            gc.unfreeze()
        server_peak = self.sampler.stop()
        self.results["storm"] = {
            "load": load,
            "cpu": cpu,
            "load_average": load_average,
            "drain_s": drain_s,
            "server_peak": server_peak,
            "server_after": self.sampler.now(),
            "log": self.server.warnings()[log_lines_before:],
            "bus_rows": self.bus_last_id() - bus_last_id,
            **self.deliveries(load, self.bus_rows_written(bus_last_id)),
        }

    def bus_rows_written(self, after_id):
        """{bus row id: when its transaction started (epoch s)}: the state writer's flush."""
        return dict(
            query(
                self.registry,
                "SELECT id, extract(epoch FROM create_date) FROM bus_bus WHERE id > %s",
                (after_id,),
            )
        )

    def bus_last_id(self):
        return query(self.registry, "SELECT coalesce(max(id), 0) FROM bus_bus")[0][0]

    async def drain(self, load):
        """Seconds from the last answer to the moment every open client had every sensor's
        final value (None when that did not happen within DRAIN_TIMEOUT_S).

        Frames are decoded only once the sockets have been quiet for QUIET_S (or at
        DRAIN_TIMEOUT_S), so that decoding takes no CPU from the server while it still sends;
        arrival times were recorded as frames came."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            last = max((client.last_frame_at for client in self.clients), default=0.0)
            if time.time() - max(last, load["finished"]) >= QUIET_S:
                break
            await asyncio.sleep(POLL_INTERVAL_S)
        for client in self.clients:
            client.decode()
        first, count, sensors = load["first_value"], load["count"], self.args.sensors
        finals = range(first + max(0, count - sensors), first + count)
        open_clients = [c for c in self.clients if c.connect_s is not None and not c.closed]
        self.results["final_values_missing"] = sum(
            v not in c.received for c in open_clients for v in finals
        )
        if self.results["final_values_missing"]:
            return None
        arrivals = [c.received[v][0] for c in open_clients for v in finals]
        return max(arrivals, default=load["finished"]) - load["finished"]

    def deliveries(self, load, written):
        first, count, rate = load["first_value"], load["count"], load["rate"]
        storm_values = range(first, first + count)
        connected = [client for client in self.clients if client.connect_s is not None]
        published = set()
        for client in connected:
            published.update(v for v in client.received if v in storm_values)
        per_client = []
        latencies_ms = []
        ha_latencies_ms = []
        slowest_p99 = 0.0
        ha_times = {}
        by_kind = collections.defaultdict(list)
        # Each delivery split where the state writer's flush began (its bus row's create_date):
        # Home Assistant and the connector before it, the flush, PostgreSQL's notification,
        # the dispatch and the client after it.
        to_flush_ms, from_flush_ms = [], []
        for client in connected:
            delivered = 0
            client_latencies = []
            for value, (arrived, last_updated, notification_id) in client.received.items():
                if value not in storm_values:
                    continue
                delivered += 1
                sent = load["started"] + (value - first) / rate
                client_latencies.append((arrived - sent) * 1000)
                flushed = written.get(notification_id)
                if flushed is not None:
                    to_flush_ms.append((float(flushed) - sent) * 1000)
                    from_flush_ms.append((arrived - float(flushed)) * 1000)
                if last_updated:
                    if last_updated not in ha_times:
                        ha_times[last_updated] = epoch(last_updated)
                    ha_latencies_ms.append((arrived - ha_times[last_updated]) * 1000)
            per_client.append(delivered)
            latencies_ms += client_latencies
            by_kind[client.kind] += client_latencies
            if client_latencies:
                slowest_p99 = max(slowest_p99, client_percentiles(client_latencies)["p99"])

        def phase(closed_at):
            if closed_at < load["started"]:
                return "before the storm"
            return "during the storm" if closed_at <= load["finished"] else "after it"

        closed = collections.Counter(
            f"{client.closed[0]} {client.closed[1]}".strip() + f" ({phase(client.closed[2])})"
            for client in connected
            if client.closed
        )
        return {
            "clients": len(connected),
            "published": len(published),
            "delivered": sorted(per_client),
            "complete_clients": sum(n == len(published) for n in per_client),
            "lost_to_clients": sum(len(published) - n for n in per_client),
            "latency_ms": client_percentiles(latencies_ms),
            "latency_by_kind_ms": {
                kind: client_percentiles(values) for kind, values in sorted(by_kind.items())
            },
            "ha_latency_ms": client_percentiles(ha_latencies_ms),
            "to_flush_ms": client_percentiles(to_flush_ms),
            "from_flush_ms": client_percentiles(from_flush_ms),
            "slowest_client_p99_ms": slowest_p99,
            "deliveries": len(latencies_ms),
            "closed": closed,
        }

    # Report -------------------------------------------------------------------------------

    def print_connecting(self):
        r = self.results
        connect = r.get("connect")
        if connect:
            per_client = connect["per_client_s"]
            print()
            print(
                f"Connecting: {connect['connected']}/{len(self.clients)} logged in, socket open"
                f" and subscribed in {connect['seconds']:.2f} s"
                f" ({self.args.connect_concurrency} at a time; per client p50"
                f" {fmt(per_client['p50'], 2)} s, p99 {fmt(per_client['p99'], 2)} s,"
                f" max {fmt(per_client['max'], 2)} s)"
            )
            for error, times in connect["errors"].most_common(5):
                print(f"  ! {times} x {error}")
        warm_up = r.get("warm_up")
        if warm_up:
            print(
                f"  {warm_up['receiving']}/{connect['connected']} received a first change"
                f" {warm_up['seconds']:.2f} s after the last one connected (warm-up rounds of"
                f" one change per sensor)"
            )
            before, after = r["server_before"], r["server_connected"]
            for role in after:
                was = before.get(role) or dict.fromkeys(ServerSampler.KEYS, 0)
                now = after[role]
                per_client_kb = (
                    (now["rss_mb"] - was["rss_mb"]) * 1024 / max(connect["connected"], 1)
                )
                print(
                    f"  Odoo {role}: threads {was['threads']} -> {now['threads']}, RSS"
                    f" {was['rss_mb']:.0f} -> {now['rss_mb']:.0f} MB ({per_client_kb:.1f}"
                    f" KB per client), PostgreSQL connections {was['pg_connections']} ->"
                    f" {now['pg_connections']}"
                )
        idle = r.get("idle_cpu")
        if idle:
            print(
                f"Idle, every socket open, {IDLE_SECONDS:g} s: CPU % {cpu_line(idle)} ("
                + ", ".join(f"{role} {cpu:.0f}" for role, cpu in idle["roles"].items())
                + ")"
            )

    def print_report(self):
        r = self.results
        start, end = (
            " ".join(f"{value:.2f}" for value in load)
            for load in (r["load_average_at_start"], os.getloadavg())
        )
        print()
        print(
            f"Outside clients benchmark  db={self.dbname}  cpus={os.cpu_count()}"
            f"  load average at start {start}, at end {end}"
        )
        print(
            f"{self.args.clients} device-key clients + {self.args.browsers} browser sockets"
            f" ({len(self.user_ids)} managers), {self.source.label}, {self.args.sensors} sensors;"
            f" Odoo server {self.layout()}"
            + "".join(f" {arg}" for arg in self.server_args)
            + ("" if "--db_maxconn" in " ".join(self.server_args) else ", --db_maxconn 64")
        )
        self.print_connecting()
        storm = r.get("storm")
        if not storm:
            return
        load = storm["load"]
        expected = load["count"]
        wall = load["finished"] - load["started"]
        print()
        print(
            f"Storm: {load['rate']} changes/s for {self.args.seconds:g} s ="
            f" {expected} changes per client"
        )
        print(
            f"  source accepted {load['ok']}/{expected} ({load['ok'] / wall:.1f}/s,"
            f" {load['failed']} failed); sending fell behind schedule by"
            f" {load['max_behind_s']:.3f} s at most"
        )
        delivered = storm["delivered"]
        print(
            f"  published by Odoo: {storm['published']} of {expected} values"
            + (
                " (the others were replaced by a later value of the same sensor before the"
                " writer's next flush)"
                if storm["published"] < expected
                else ""
            )
        )
        print(
            f"  delivered per client: min {delivered[0] if delivered else 0}, median"
            f" {delivered[len(delivered) // 2] if delivered else 0}, max"
            f" {delivered[-1] if delivered else 0} of {expected} sent; missing per client"
            f" (median) {expected - (delivered[len(delivered) // 2] if delivered else 0)};"
            f" {storm['complete_clients']}/{storm['clients']} clients got every published value;"
            f" lost between Odoo and clients: {storm['lost_to_clients']}"
        )
        closed = ", ".join(f"{n} x {reason}" for reason, n in storm["closed"].items()) or "none"
        print(f"  sockets closed by the server or the network: {closed}")
        print(
            f"  bus notifications during the storm and its drain: {storm['bus_rows']}"
            f" ({storm['bus_rows'] / max(wall, 1e-9):.1f}/s): each wakes every socket"
        )
        drain = storm["drain_s"]
        print(
            "  every open client had every sensor's final value "
            + (
                f"{drain:.2f} s after the last answer"
                if drain is not None
                else f"NOT: {r.get('final_values_missing')} final values missing"
            )
        )
        latency, ha_latency = storm["latency_ms"], storm["ha_latency_ms"]
        print(
            f"  latency send -> client (ms), {storm['deliveries']} deliveries:"
            f" p50 {fmt(latency['p50'])}  p95 {fmt(latency['p95'])}  p99 {fmt(latency['p99'])}"
            f"  max {fmt(latency['max'])}; slowest client's p99"
            f" {storm['slowest_client_p99_ms']:.0f}"
        )
        print(
            f"  latency HA last_updated -> client (ms):"
            f" p50 {fmt(ha_latency['p50'])}  p95 {fmt(ha_latency['p95'])}"
            f"  p99 {fmt(ha_latency['p99'])}  max {fmt(ha_latency['max'])}"
        )
        for kind, by_kind in storm["latency_by_kind_ms"].items():
            print(
                f"    {kind} sockets: p50 {fmt(by_kind['p50'])}  p95 {fmt(by_kind['p95'])}"
                f"  p99 {fmt(by_kind['p99'])}  max {fmt(by_kind['max'])}"
            )
        for label, key in (
            ("send -> start of the writer's flush", "to_flush_ms"),
            ("start of the flush -> client", "from_flush_ms"),
        ):
            stage = storm[key]
            print(
                f"    {label} (ms): p50 {fmt(stage['p50'])}  p95 {fmt(stage['p95'])}"
                f"  p99 {fmt(stage['p99'])}  max {fmt(stage['max'])}"
            )
        print(
            f"  CPU % during the storm: {cpu_line(storm['cpu'])}; load average at its end"
            f" {' '.join(f'{v:.2f}' for v in storm['load_average'])}"
        )
        print(
            "  CPU % by Odoo server role: "
            + ", ".join(f"{role} {cpu:.0f}" for role, cpu in storm["cpu"]["roles"].items())
        )
        peak, after = storm["server_peak"], storm["server_after"]
        for role in after:
            top = peak.get(role) or dict.fromkeys(ServerSampler.KEYS)
            print(
                f"  Odoo {role} peak: {top['threads']} threads, RSS {fmt(top['rss_mb'])} MB,"
                f" {top['pg_connections']} PostgreSQL connections; RSS after"
                f" {after[role]['rss_mb']:.0f} MB"
            )
        warnings = collections.Counter(
            f"{level} {logger}: {message[:100]}" for level, logger, message in storm["log"]
        )
        print(f"  server log during the storm: {sum(warnings.values())} WARNING/ERROR lines")
        for line, times in warnings.most_common(5):
            print(f"    {times} x {line}")
        print()
        for line in (
            "send: the moment the change was due on the open-loop schedule (its value gives it);",
            "HA last_updated: when Home Assistant applied it. CPU %: 100 = one core; Odoo =",
            "the server process and its children, clients = this process, PostgreSQL = every",
            "postgres process (other databases' sessions too), load = the load generator.",
        ):
            print(f"  {line}")


def fmt(value, digits=0):
    return f"{value:.{digits}f}" if value is not None else "-"


def cpu_line(cpu):
    return ", ".join(
        f"{label} {cpu[party]:.0f}"
        for party, label in (
            ("odoo", "Odoo server"),
            ("clients", "clients"),
            ("postgres", "PostgreSQL"),
            ("ha", "HA"),
            ("load", "load generator"),
        )
    )


# Command line -------------------------------------------------------------------------------


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        epilog="Other options (e.g. -c odoo.conf, --addons-path, --db_host) go to Odoo.",
    )
    parser.add_argument("--db", required=True, help="database with odoo_ha_addon installed")
    parser.add_argument("--clients", type=int, default=200, help="concurrent outside clients")
    parser.add_argument(
        "--browsers",
        type=int,
        default=0,
        help="browser sockets in addition (password sessions of managers, one per"
        f" {CLIENTS_PER_USER} sockets)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="0: threaded server; N > 0: prefork with N HTTP workers and the gevent process"
        " serving /websocket (default: %(default)s)",
    )
    parser.add_argument("--rate", type=int, default=100, help="state changes per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the storm")
    parser.add_argument("--sensors", type=int, default=50, help="bench sensors in HA")
    parser.add_argument(
        "--source",
        choices=("real", "scripted"),
        default="real",
        help="real Home Assistant or the scripted one (default: %(default)s)",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=10,
        help="clients logging in and opening their socket at the same time (default:"
        " %(default)s; a login holds up to two of the server's --db_maxconn connections)",
    )
    parser.add_argument("--keep-log", metavar="FILE", help="copy the Odoo server's log to FILE")
    parser.add_argument(
        "--server-args",
        default="",
        help='extra options of the Odoo server process, e.g. "--db_maxconn 128"',
    )
    return parser.parse_known_args()


def main():
    args, odoo_args = parse_args()
    config.parse_config(["--log-level=warn", *odoo_args, "-d", args.db])
    require_database(args.db, odoo_args)
    OutsideClientsBench(args.db, args, args.server_args.split()).run()


if __name__ == "__main__":
    main()
