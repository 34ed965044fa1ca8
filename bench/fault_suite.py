"""Fault suite of the Home Assistant connector: real faults, real servers, measured recovery.

Not a test: it prints one line of figures per scenario (see bench/README.md). It takes several
minutes and runs everything it needs in private copies, removed again at the end:

* a PostgreSQL cluster of its own (``initdb`` in a temporary directory, a free port, trust
  authentication, superuser ``odoo``), so that restarting PostgreSQL hurts nobody else; the
  addon is installed into database ``faultdb`` there;
* a real Home Assistant 2024.3.3 (``tests/ha_server.py``, run by ``$HA_PYTHON``);
* two Odoo servers on that database, started with ``odoo-bin``: node A prefork
  (``--workers 2 --max-cron-threads 1``), node B threaded (``--workers 0``). Both are candidate
  hosts of the instance's connection; the advisory lock elects one.

Scenarios (``--scenarios 1,3`` runs a subset)
    1. Home Assistant stopped for ``--outage`` seconds, then started again.
    2. Home Assistant restarted during a burst of ``--rate`` state changes per second.
    3. The instance's token revoked in Home Assistant (``auth/delete_refresh_token``); later a
       manager sets a new token (created with ``auth/long_lived_access_token``).
    4. The private PostgreSQL restarted (``pg_ctl restart -m fast``) during a burst.
    5. The Odoo process holding the instance's advisory lock SIGKILLed during a burst.
    6. Home Assistant frozen (SIGSTOP) until the keepalive notices, then resumed (SIGCONT).

After each fault, the script waits until the instance is connected again and Odoo's mirror
equals Home Assistant, then measures what is left (columns explained by ``print_report``).

Faults across several Odoo nodes (node kill and join, PostgreSQL restart, one node cut off
PostgreSQL) with many instances are in ``node_faults.py``, which runs this script's
``PrivateCluster`` and ``OdooNode``.
"""

import argparse
import collections
import configparser
import contextlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg2
import requests

ADDON = "odoo_ha_addon"
ADDON_DIR = Path(__file__).resolve().parent.parent
LOAD_SCRIPT = ADDON_DIR / "bench" / "ha_load.py"
# hass/ never imports odoo: the script uses it as a top-level package for its own HA calls.
sys.path.insert(0, str(ADDON_DIR))

from hass.blocking import run_blocking  # noqa: E402
from hass.connection import HAConnection  # noqa: E402

DB = "faultdb"
DB_USER = "odoo"
SENSOR_PREFIX = "fault_"
INSTANCE_TOKEN_NAME = "fault-suite-instance-{}"

INSTALL_TIMEOUT_S = 900.0
NODE_START_TIMEOUT_S = 120.0
NODE_STOP_TIMEOUT_S = 20.0
RECOVERY_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.1
# The request-queue prober: one ws_call('ping') every PROBE_INTERVAL_S, each waiting at most
# PROBE_TIMEOUT_S (then its row must be closed, not left pending or running).
PROBE_INTERVAL_S = 0.25
PROBE_TIMEOUT_S = 2.0
# Scenario 3: how long the revoked token is left in place, watching for a reconnect storm.
AUTH_FAILED_WATCH_S = 15.0
# Scenario 6: after the keepalive noticed, HA stays frozen this long (the client's reconnect
# attempts then meet a server that accepts TCP connections but never answers).
FROZEN_EXTRA_S = 5.0
# Targets from the issue.
TARGET_RECONNECT_AFTER_HA_BACK_S = 5.0
TARGET_TAKEOVER_S = 10.0

ODOO_LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) (\d+) ([A-Z]+) (\S+) ([\w.]+): (.*)$"
)
HA_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) ([A-Z]+) ")
CONNECTED_LINE = re.compile(r"Home Assistant \S+: connected$")
HA_AUTH_FAILURE = "Login attempt or request with invalid authentication"
WARNING_LEVELS = ("WARNING", "ERROR", "CRITICAL")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def log_time(date_time, millis):
    """Epoch seconds of a log timestamp (Odoo and HA log local time)."""
    return time.mktime(time.strptime(date_time, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000


def to_micros(moment):
    """Integer microseconds since the epoch of a naive UTC or aware datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


# PostgreSQL ---------------------------------------------------------------------------------


class PrivateCluster:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (trust auth, superuser ``odoo``)."""

    def __init__(self, bindir, root):
        self.bindir = Path(bindir)
        self.root = Path(root) / "pg"
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.running = False

    def _run(self, tool, *args, timeout_s=120):
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if completed.returncode:
            raise RuntimeError(f"{tool} failed:\n{completed.stdout}\n{completed.stderr}")

    def _server_options(self):
        # fsync off: the cluster is thrown away; a fast (clean) shutdown does not need it.
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=200"
        )

    def create(self):
        self.root.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            DB_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.start()

    def start(self):
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", self._server_options(), "start")  # fmt: skip
        self.running = True

    def restart(self):
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-m", "fast", "-o", self._server_options(), "restart")  # fmt: skip

    def stop(self):
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")
            self.running = False

    def params(self, dbname=DB):
        return {"host": "127.0.0.1", "port": self.port, "user": DB_USER, "dbname": dbname}


class Db:
    """An autocommit session that reconnects after PostgreSQL went away (one per thread)."""

    def __init__(self, params):
        self.params = params
        self.connection = None

    def query(self, sql, params=()):
        for attempt in range(2):
            try:
                if self.connection is None or self.connection.closed:
                    self.connection = psycopg2.connect(connect_timeout=5, **self.params)
                    self.connection.autocommit = True
                with self.connection.cursor() as cr:
                    cr.execute(sql, params)
                    return cr.fetchall() if cr.description else None
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self.close()
                if attempt:
                    raise
        return None

    def close(self):
        if self.connection is not None:
            with contextlib.suppress(psycopg2.Error):
                self.connection.close()
        self.connection = None


# Odoo servers -------------------------------------------------------------------------------


class OdooNode:
    """One Odoo server process (``odoo-bin``) on the fault database; a new log file per start."""

    def __init__(self, name, workers, cron_threads, odoo_bin, conf, root):
        self.name = name
        self.workers = workers
        self.cron_threads = cron_threads
        self.odoo_bin = odoo_bin
        self.conf = conf
        self.root = Path(root)
        self.process = None
        self.logs = []
        self.http_port = None

    @property
    def kind(self):
        return f"prefork --workers {self.workers}" if self.workers else "threaded --workers 0"

    def start(self):
        self.http_port = free_port()
        log = self.root / f"odoo-{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(log)
        command = [
            sys.executable,
            str(self.odoo_bin),
            "-c",
            str(self.conf),
            "-d",
            DB,
            "--db-filter",
            f"^{DB}$",
            "--no-database-list",
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.http_port),
            "--gevent-port",
            str(free_port()),
            "--workers",
            str(self.workers),
            "--max-cron-threads",
            str(self.cron_threads),
            "--logfile",
            str(log),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        deadline = time.monotonic() + NODE_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo node {self.name} exited:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{self.http_port}/web/health", timeout=2).ok:
                    return self
            time.sleep(0.3)
        raise RuntimeError(f"Odoo node {self.name} did not start:\n{self.log_tail()}")

    def pids(self):
        if self.process is None or self.process.poll() is not None:
            return set()
        try:
            master = psutil.Process(self.process.pid)
            return {master.pid} | {child.pid for child in master.children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()

    def describe_pid(self, pid):
        if self.process is not None and pid == self.process.pid:
            return "prefork master" if self.workers else "threaded server"
        with contextlib.suppress(psutil.Error):
            return "worker " + " ".join(psutil.Process(pid).cmdline()[-1:])
        return "process"

    def stop(self):
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(NODE_STOP_TIMEOUT_S)
        # Whatever is left of the group (workers orphaned by a killed master, too).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)

    def log_tail(self, lines=40):
        if not self.logs or not self.logs[-1].exists():
            return "(no log)"
        return "\n".join(self.logs[-1].read_text(errors="replace").splitlines()[-lines:])


class LogWatch:
    """Lines appended to a set of log files since a mark."""

    def __init__(self, paths_function):
        self.paths_function = paths_function

    def mark(self):
        return {path: path.stat().st_size for path in self.paths_function() if path.exists()}

    def new_text(self, mark):
        texts = {}
        for path in self.paths_function():
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(mark.get(path, 0))
                texts[path] = handle.read().decode("utf-8", errors="replace")
        return texts

    def odoo_lines(self, mark):
        """[(epoch or None, level or None, logger, message, path)]; continuation lines (e.g.
        tracebacks) get the time of the line they continue."""
        lines = []
        for path, text in self.new_text(mark).items():
            last_time = None
            for line in text.splitlines():
                match = ODOO_LOG_LINE.match(line)
                if match:
                    last_time = log_time(match[1], match[2])
                    lines.append((last_time, match[4], match[6], match[7].strip(), path))
                else:
                    lines.append((last_time, None, None, line, path))
        return lines


# Home Assistant -----------------------------------------------------------------------------


def load_ha_server_module():
    # tests/ha_server.py imports hass.onboarding, as a top-level package when it is not loaded
    # inside Odoo; loading the file alone keeps tests/__init__ (every test module) out.
    spec = importlib.util.spec_from_file_location(
        "fault_suite_ha_server", ADDON_DIR / "tests" / "ha_server.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _ha_command(url, token, message, timeout_s):
    connection = await HAConnection.connect(
        url, token, ping_interval_s=None, coalesce_messages=False
    )
    try:
        return await connection.command(message, timeout_s=timeout_s)
    finally:
        await connection.close()


def ha_command(url, token, message, timeout_s=60):
    """One websocket command on a short-lived connection of the script's own."""
    return run_blocking(_ha_command, url, token, message, timeout_s)


class Load:
    """``bench/ha_load.py`` in the background: POSTs sensor states at a rate."""

    def __init__(self, ha, **job):
        self.process = subprocess.Popen(
            [os.environ["HA_PYTHON"], str(LOAD_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.process.stdin.write(
            json.dumps({"url": ha.url, "token": ha.token, "prefix": SENSOR_PREFIX, **job})
        )
        self.process.stdin.close()

    def wait(self, timeout_s=300):
        stdout = self.process.stdout.read()
        stderr = self.process.stderr.read()
        self.process.wait(timeout_s)
        if self.process.returncode:
            raise RuntimeError(f"ha_load.py failed:\n{stderr[-2000:]}")
        return json.loads(stdout)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# Background observers -----------------------------------------------------------------------


class StatusWatcher(threading.Thread):
    """Samples ``ha_instance.status`` every POLL_INTERVAL_S; keeps the transitions."""

    def __init__(self, params, instance_id):
        super().__init__(name="fault-status-watcher", daemon=True)
        self.db = Db(params)
        self.instance_id = instance_id
        self.transitions = []
        self.current = None
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.wait(POLL_INTERVAL_S):
            try:
                rows = self.db.query(
                    "SELECT status FROM ha_instance WHERE id = %s", (self.instance_id,)
                )
                status = rows[0][0] if rows else "(deleted)"
            except psycopg2.Error:
                status = "(database down)"
            if status != self.current:
                self.current = status
                self.transitions.append((time.time(), status))

    def since(self, moment):
        return [(at, status) for at, status in self.transitions if at >= moment]

    def first(self, moment, predicate):
        return next((at for at, status in self.since(moment) if predicate(status)), None)

    def stop(self):
        self._stopping.set()
        self.join(5)
        self.db.close()


class QueueProber(threading.Thread):
    """``ws_call('ping')`` through ha.ws.request.queue from this (non-hosting) process."""

    def __init__(self, dbname, instance_id, request_queue, errors):
        super().__init__(name="fault-queue-prober", daemon=True)
        self.dbname = dbname
        self.instance_id = instance_id
        self.request_queue = request_queue
        self.errors = errors
        self.counts = collections.Counter()
        self._stopping = threading.Event()

    def run(self):
        errors = self.errors
        while not self._stopping.wait(PROBE_INTERVAL_S):
            try:
                self.request_queue.call(
                    self.dbname, self.instance_id, "ping", {}, timeout_s=PROBE_TIMEOUT_S
                )
                outcome = "ok"
            except errors.NotConnected:
                outcome = "not_connected"
            except errors.RequestTimeout:
                outcome = "timeout"
            except psycopg2.Error:
                outcome = "db_error"
            except errors.HAError:
                outcome = "error"
            except Exception:  # noqa: BLE001 - counted and shown: any other failure is a finding
                outcome = "unexpected"
            self.counts[outcome] += 1

    def take(self):
        counts, self.counts = self.counts, collections.Counter()
        return dict(counts)

    def stop(self):
        self._stopping.set()
        self.join(PROBE_TIMEOUT_S + 5)


# The suite ----------------------------------------------------------------------------------


class FaultSuite:
    def __init__(self, args, root):
        self.args = args
        self.root = Path(root)
        self.cluster = None
        self.conf = self.root / "odoo.conf"
        self.ha = None
        self.nodes = []
        self.registry = None
        self.db = None
        self.instance_id = None
        self.instance_token_number = 0
        self.status = None
        self.prober = None
        self.next_value = 1
        self.baseline_clients = 0
        self.results = []
        self.load_start = os.getloadavg()
        self.odoo_logs = LogWatch(lambda: [log for node in self.nodes for log in node.logs])
        self.ha_log = LogWatch(lambda: [self.ha.config_dir / "home-assistant.log"])

    # Set-up and clean-up ---------------------------------------------------------------

    def set_up(self):
        args = self.args
        started = time.monotonic()
        self.cluster = PrivateCluster(args.pg_bindir, self.root)
        self.cluster.create()
        print(f"PostgreSQL cluster on port {self.cluster.port} in {self.cluster.root}")
        data_dir = self.root / "data"
        self.conf.write_text(
            "[options]\n"
            f"addons_path = {args.addons_path}\n"
            "db_host = 127.0.0.1\n"
            f"db_port = {self.cluster.port}\n"
            f"db_user = {DB_USER}\n"
            f"data_dir = {data_dir}\n"
            "without_demo = all\n"
        )
        install_log = self.root / "install.log"
        install = subprocess.Popen(
            [
                sys.executable,
                str(args.odoo_bin),
                "-c",
                str(self.conf),
                "-d",
                DB,
                "-i",
                ADDON,
                "--stop-after-init",
                "--without-demo=all",
                "--http-port",
                str(free_port()),
                "--gevent-port",
                str(free_port()),
                "--log-level=warn",
                "--logfile",
                str(install_log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        print(f"Installing {ADDON} into {DB} (about a minute) while Home Assistant starts ...")
        try:
            self.ha = load_ha_server_module().HomeAssistantServer().start()
            returncode = install.wait(INSTALL_TIMEOUT_S)
        finally:
            if install.poll() is None:
                os.killpg(install.pid, signal.SIGKILL)
                install.wait()
        if returncode:
            tail = install_log.read_text(errors="replace").splitlines()[-40:]
            raise RuntimeError(f"installing {ADDON} failed:\n" + "\n".join(tail))
        print(f"Home Assistant {self.ha.url} started; addon installed")

        from odoo.tools import config  # noqa: PLC0415 - odoo is configured for the cluster here

        config.parse_config(["-c", str(self.conf), "-d", DB, "--log-level=warn"])
        from odoo.modules.registry import Registry  # noqa: PLC0415

        self.registry = Registry(DB)
        self.request_queue = importlib.import_module(f"odoo.addons.{ADDON}.connector.request_queue")
        self.errors = importlib.import_module(f"odoo.addons.{ADDON}.hass.errors")
        self.db = Db(self.cluster.params())

        self.baseline_clients = self.connected_clients()
        self.post_states(args.sensors)
        self.nodes = [
            OdooNode("A", 2, 1, args.odoo_bin, self.conf, self.root),
            OdooNode("B", 0, 0, args.odoo_bin, self.conf, self.root),
        ]
        self.nodes[0].start()
        token = self.new_instance_token()
        self.instance_id = self.orm(
            lambda env: (
                env["ha.instance"]
                .create({"name": "Fault suite", "url": self.ha.url, "token": token})
                .id
            )
        )
        self.status = StatusWatcher(self.cluster.params(), self.instance_id)
        self.status.start()
        if self.wait_in_sync(time.time(), RECOVERY_TIMEOUT_S)[0] is None:
            raise RuntimeError("the instance never got in sync with Home Assistant")
        self.nodes[1].start()
        self.prober = QueueProber(DB, self.instance_id, self.request_queue, self.errors)
        self.prober.start()
        print(
            f"Nodes A ({self.nodes[0].kind}) and B ({self.nodes[1].kind}) running; instance"
            f" {self.instance_id} in sync; set-up took {time.monotonic() - started:.0f} s"
        )

    def clean_up(self):
        with contextlib.ExitStack() as stack:
            # Callbacks run in reverse: the cluster and the directory go last.
            if not self.args.keep:
                stack.callback(shutil.rmtree, self.root, ignore_errors=True)
            if self.cluster is not None:
                stack.callback(self.cluster.stop)
            stack.callback(self._close_odoo_connections)
            if self.ha is not None:
                stack.callback(self.ha.stop, remove_config=not self.args.keep)
            for node in self.nodes:
                stack.callback(node.stop)
            if self.status is not None:
                stack.callback(self.status.stop)
            if self.prober is not None:
                stack.callback(self.prober.stop)
            if self.db is not None:
                stack.callback(self.db.close)

    @staticmethod
    def _close_odoo_connections():
        if "odoo.sql_db" in sys.modules:
            sys.modules["odoo.sql_db"].close_all()

    # Helpers -------------------------------------------------------------------------------

    def orm(self, function):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"active_test": False})
            result = function(env)
            env.flush_all()
            cr.commit()
            return result

    def new_instance_token(self):
        self.instance_token_number += 1
        return ha_command(
            self.ha.url,
            self.ha.token,
            {
                "type": "auth/long_lived_access_token",
                "client_name": INSTANCE_TOKEN_NAME.format(self.instance_token_number),
                "lifespan": 30,
            },
        )

    def revoke_instance_token(self):
        name = INSTANCE_TOKEN_NAME.format(self.instance_token_number)
        tokens = ha_command(self.ha.url, self.ha.token, {"type": "auth/refresh_tokens"})
        token_id = next(token["id"] for token in tokens if token["client_name"] == name)
        ha_command(
            self.ha.url,
            self.ha.token,
            {"type": "auth/delete_refresh_token", "refresh_token_id": token_id},
        )

    def post_states(self, count):
        """``count`` sensor changes at full speed (synchronous)."""
        result = Load(
            self.ha,
            sensors=self.args.sensors,
            count=count,
            rate=0,
            concurrency=16,
            first_value=self.take_values(count),
        ).wait()
        if result["failed"]:
            raise RuntimeError(f"POSTing states failed: {result['first_errors']}")
        return result

    def start_load(self, duration_s):
        count = int(self.args.rate * duration_s)
        return Load(
            self.ha,
            sensors=self.args.sensors,
            rate=self.args.rate,
            duration_s=duration_s,
            concurrency=64,
            first_value=self.take_values(count),
        )

    def take_values(self, count):
        first, self.next_value = self.next_value, self.next_value + count + 1
        return first

    def ha_states(self):
        response = requests.get(
            f"{self.ha.url}/api/states",
            headers={"Authorization": f"Bearer {self.ha.token}"},
            timeout=10,
        )
        response.raise_for_status()
        return {state["entity_id"]: state for state in response.json()}

    def connected_clients(self):
        return int(self.ha_states()["sensor.connected_clients"]["state"])

    def mismatches(self):
        """Differences between HA's states and the instance's active ha.entity rows."""
        ha_states = self.ha_states()
        rows = {
            row[0]: row[1:]
            for row in self.db.query(
                "SELECT entity_id, state, attributes, name FROM ha_entity"
                " WHERE instance_id = %s AND active",
                (self.instance_id,),
            )
        }
        problems = [f"missing in Odoo: {eid}" for eid in sorted(ha_states.keys() - rows.keys())]
        problems += [f"not in HA: {eid}" for eid in sorted(rows.keys() - ha_states.keys())]
        for entity_id in sorted(ha_states.keys() & rows.keys()):
            state = ha_states[entity_id]
            name = state["attributes"].get("friendly_name") or entity_id
            if rows[entity_id] != (state["state"], state["attributes"], name):
                problems.append(f"{entity_id}: Odoo {rows[entity_id][0]!r}, HA {state['state']!r}")
        return problems

    def connected_line(self, mark, after):
        """(time, log path) of the first "connected" line logged at or after ``after``."""
        for at, _level, _logger, message, path in self.odoo_logs.odoo_lines(mark):
            if at is not None and at >= after - 0.05 and CONNECTED_LINE.search(message):
                return at, path
        return None, None

    def wait_in_sync(self, reconnected_after, timeout_s, mark=None):
        """Wait until a connection made after ``reconnected_after`` (a "connected" log line)
        is recorded, and Odoo's mirror equals HA. Returns (when, last mismatches)."""
        deadline = time.time() + timeout_s
        problems = ["not checked"]
        while time.time() < deadline:
            if self.status.current == "connected" and (
                mark is None or self.connected_line(mark, reconnected_after)[0] is not None
            ):
                with contextlib.suppress(requests.RequestException, psycopg2.Error):
                    problems = self.mismatches()
                    if not problems:
                        return time.time(), []
            time.sleep(POLL_INTERVAL_S)
        return None, problems

    def wait_clients(self, timeout_s=15.0):
        expected = self.baseline_clients + 1
        deadline = time.time() + timeout_s
        while True:
            with contextlib.suppress(requests.RequestException, KeyError, ValueError):
                clients = self.connected_clients()
                if clients == expected or time.time() > deadline:
                    return clients - self.baseline_clients
            if time.time() > deadline:
                return None
            time.sleep(0.25)

    def history_check(self, start, end):
        """(Odoo rows HA's recorder does not have, HA states Odoo has no row for) for the
        fault sensors in (start, end); and the duplicate (entity, last_updated) keys."""
        start_dt = datetime.fromtimestamp(start, UTC)
        end_dt = datetime.fromtimestamp(end, UTC)
        odoo_rows = self.db.query(
            "SELECT e.entity_id, h.last_updated FROM ha_entity_history h"
            " JOIN ha_entity e ON e.id = h.entity_id"
            " WHERE h.instance_id = %s AND e.entity_id LIKE %s"
            "   AND h.last_updated > %s AND h.last_updated < %s",
            (
                self.instance_id,
                f"sensor.{SENSOR_PREFIX}%",
                start_dt.replace(tzinfo=None),
                end_dt.replace(tzinfo=None),
            ),
        )
        odoo_keys = {(entity_id, to_micros(at)) for entity_id, at in odoo_rows}
        entity_ids = [f"sensor.{SENSOR_PREFIX}{n}" for n in range(self.args.sensors)]
        history = ha_command(
            self.ha.url,
            self.ha.token,
            {
                "type": "history/history_during_period",
                "start_time": start_dt.isoformat(),
                "end_time": end_dt.isoformat(),
                "entity_ids": entity_ids,
                "include_start_time_state": False,
                "significant_changes_only": False,
                "minimal_response": False,
                "no_attributes": True,
            },
        )
        ha_keys = {
            (entity_id, to_micros(datetime.fromtimestamp(point["lu"], UTC)))
            for entity_id, points in (history or {}).items()
            for point in points
        }
        duplicates = self.db.query(
            "SELECT count(*) FROM (SELECT 1 FROM ha_entity_history"
            " GROUP BY entity_id, last_updated HAVING count(*) > 1) AS d"
        )[0][0]
        return len(odoo_keys - ha_keys), len(ha_keys - odoo_keys), duplicates

    def stuck_requests(self, since):
        return self.db.query(
            "SELECT count(*) FROM ha_ws_request_queue"
            " WHERE state IN ('pending', 'running') AND requested_at >= %s"
            "   AND requested_at + make_interval(secs => COALESCE(timeout_s, 0))"
            "       < now() at time zone 'UTC'",
            (datetime.fromtimestamp(since, UTC).replace(tzinfo=None),),
        )[0][0]

    def flood(self, mark, start, end):
        """Odoo log lines (all nodes) in [start, end]: most lines of the addon's loggers or at
        WARNING and above (with their tracebacks) in one second; warnings; errors. Routine INFO
        lines of other loggers (cron jobs, HTTP requests) are left out of the rate."""
        per_second = collections.Counter()
        levels = collections.Counter()
        messages = collections.Counter()
        relevant = False
        for at, level, logger, message, _path in self.odoo_logs.odoo_lines(mark):
            if level is not None:
                relevant = level in WARNING_LEVELS or logger.startswith(f"odoo.addons.{ADDON}")
            if at is None or not start <= at <= end:
                continue
            if relevant:
                per_second[int(at)] += 1
            if level:
                levels[level] += 1
                if level in WARNING_LEVELS:
                    messages[re.sub(r"\d+", "N", message)[:90]] += 1
        return {
            "max_per_s": max(per_second.values(), default=0),
            "lines": sum(per_second.values()),
            "warnings": levels["WARNING"],
            "errors": levels["ERROR"] + levels["CRITICAL"],
            "top": messages.most_common(3),
        }

    # Scenarios -------------------------------------------------------------------------

    def run_scenarios(self):
        scenarios = {
            1: self.scenario_ha_down,
            2: self.scenario_ha_restart_burst,
            3: self.scenario_token_revoked,
            4: self.scenario_postgres_restart,
            5: self.scenario_kill_holder,
            6: self.scenario_ha_frozen,
        }
        for number in self.args.scenarios:
            print(f"\nScenario {number}: {scenarios[number].__doc__.strip().splitlines()[0]}")
            result = {"number": number, "notes": []}
            self.results.append(result)
            try:
                scenarios[number](result)
            except Exception as error:  # noqa: BLE001 - reported; the next scenario still runs
                result["failed"] = f"{type(error).__name__}: {error}"
                print(f"  FAILED: {result['failed']}")
                # Leave a clean state for the next scenario where possible.
                if self.ha.paused:
                    self.ha.resume()
                if not self.ha.running:
                    self.ha.start()
                self.wait_in_sync(time.time(), RECOVERY_TIMEOUT_S)

    def begin(self, result):
        self.wait_in_sync(time.time(), RECOVERY_TIMEOUT_S)
        result["started"] = time.time()
        self.prober.take()
        return self.odoo_logs.mark()

    def finish(self, result, mark, fault_start, fault_end, settle_from=None):
        """Measure recovery from ``fault_end`` and what the fault left behind."""
        settle_from = max(fault_end, settle_from or fault_end)
        synced_at, problems = self.wait_in_sync(fault_start, RECOVERY_TIMEOUT_S, mark)
        connected_at, path = self.connected_line(mark, fault_start)
        result["reconnect_s"] = connected_at - fault_end if connected_at else None
        result["reconnected_on"] = next(
            (node.name for node in self.nodes if path in node.logs), None
        )
        result["sync_s"] = synced_at - settle_from if synced_at else None
        result["mismatches"] = len(problems)
        if problems:
            result["notes"].append(
                f"still different after {RECOVERY_TIMEOUT_S:g} s: {problems[:5]}"
            )
        end = synced_at or time.time()
        result["clients"] = self.wait_clients()
        # Requests in flight at recovery must end (done or timed out) within their timeout.
        time.sleep(PROBE_TIMEOUT_S + 1)
        result["stuck"] = self.stuck_requests(result["started"])
        result["queue"] = self.prober.take()
        unusual = {
            outcome: count
            for outcome, count in result["queue"].items()
            if outcome not in ("ok", "not_connected", "timeout")
        }
        if unusual:
            result["notes"].append(f"queue calls that failed otherwise: {unusual}")
        extra, gap, duplicates = self.history_check(result["started"], time.time())
        result.update(history_extra=extra, history_gap=gap, duplicates=duplicates)
        result["flood"] = self.flood(mark, fault_start, end)
        self.print_result(result)

    def scenario_ha_down(self, result):
        """Home Assistant stopped for a while, then started again."""
        mark = self.begin(result)
        fault_start = time.time()
        self.ha.stop()
        stopped = time.time()
        time.sleep(max(0.0, self.args.outage - (time.time() - stopped)))
        seen = self.status.since(fault_start)
        self.ha.start()
        back = time.time()
        # Changes while Odoo is still away: the reconnect snapshot must bring them.
        self.post_states(self.args.sensors)
        result["notes"].append(
            f"HA down {back - stopped:.1f} s (stop took {stopped - fault_start:.1f} s);"
            f" statuses during the outage: {[status for _at, status in seen]}"
        )
        result["target"] = f"reconnect <= {TARGET_RECONNECT_AFTER_HA_BACK_S:g} s after HA is back"
        self.finish(result, mark, fault_start, back)

    def scenario_ha_restart_burst(self, result):
        """Home Assistant restarted during a burst of state changes."""
        mark = self.begin(result)
        load = self.start_load(self.args.burst)
        try:
            time.sleep(self.args.burst / 3)
            fault_start = time.time()
            self.ha.restart()
            back = time.time()
            outcome = load.wait()
        finally:
            load.kill()
        load_end = outcome["finished"]
        result["notes"].append(
            f"restart took {back - fault_start:.1f} s; POSTs ok {outcome['ok']}, failed"
            f" {outcome['failed']} (during the restart); sync s counted from the last POST"
        )
        self.finish(result, mark, fault_start, back, settle_from=load_end)

    def scenario_token_revoked(self, result):
        """The instance's token revoked in Home Assistant; later a manager sets a new one."""
        mark = self.begin(result)
        ha_mark = self.ha_log.mark()
        fault_start = time.time()
        self.revoke_instance_token()
        failed_at = None
        deadline = time.time() + 30
        while failed_at is None and time.time() < deadline:
            failed_at = self.status.first(fault_start, lambda status: status == "auth_failed")
            time.sleep(POLL_INTERVAL_S)
        self.post_states(self.args.sensors)
        time.sleep(AUTH_FAILED_WATCH_S)
        ha_text = "".join(self.ha_log.new_text(ha_mark).values())
        ha_failures = ha_text.count(HA_AUTH_FAILURE)
        rejected = sum(
            1
            for _at, _level, _logger, message, _path in self.odoo_logs.odoo_lines(mark)
            if "not retrying until the token is changed" in message
        )
        still = self.status.current
        token = self.new_instance_token()
        fault_end = time.time()
        self.orm(lambda env: env["ha.instance"].browse(self.instance_id).write({"token": token}))
        result["notes"].append(
            "auth_failed "
            + (f"{failed_at - fault_start:.1f} s after the revocation" if failed_at else "NEVER")
            + f"; in {fault_end - fault_start:.0f} s with the revoked token: HA logged"
            f" {ha_failures} failed login(s), Odoo {rejected} rejection(s); status before the"
            f" new token: {still}"
        )
        result["target"] = "1 failed login, no reconnect storm"
        self.finish(result, mark, fault_end, fault_end)

    def scenario_postgres_restart(self, result):
        """PostgreSQL (the private cluster) restarted during a burst of state changes."""
        mark = self.begin(result)
        load = self.start_load(self.args.burst)
        try:
            time.sleep(self.args.burst / 3)
            fault_start = time.time()
            self.cluster.restart()
            back = time.time()
            self._close_odoo_connections()
            outcome = load.wait()
        finally:
            load.kill()
        result["notes"].append(
            f"pg_ctl restart -m fast took {back - fault_start:.1f} s; POSTs ok {outcome['ok']};"
            " sync s counted from the last POST"
        )
        self.finish(result, mark, fault_start, back, settle_from=outcome["finished"])

    def lock_holders(self):
        """[(Odoo process pid, PostgreSQL backend pid)] holding the instance's advisory lock."""
        rows = self.db.query(
            """
            SELECT a.application_name, a.pid FROM pg_locks l
              JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s
               AND l.objid = %s AND l.objsubid = 2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """,
            (0x6841, self.instance_id),
        )
        return [(int(name.removeprefix("odoo-")), backend) for name, backend in rows]

    def find_holder(self):
        holders = self.lock_holders()
        if len(holders) != 1:
            raise RuntimeError(f"expected one lock holder, found {holders}")
        pid, backend = holders[0]
        node = next((node for node in self.nodes if pid in node.pids()), None)
        if node is None:
            raise RuntimeError(f"lock held by odoo-{pid} (backend {backend}): no node")
        return pid, backend, node

    def socket_holders(self, pids):
        """{pid: (TCP connections to PostgreSQL, to Home Assistant)} of ``pids``, from /proc: a
        socket a forked child inherited counts for the parent and the child."""
        remote_ports = established_tcp_remote_ports()
        holders = {}
        for pid in sorted(pids):
            pg = ha = 0
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                        match = re.fullmatch(r"socket:\[(\d+)\]", target)
                        port = remote_ports.get(int(match[1])) if match else None
                        pg += port == self.cluster.port
                        ha += port == self.ha.port
            if pg or ha:
                holders[pid] = (pg, ha)
        return holders

    def lock_session_holders(self, backend, pids):
        """Which of ``pids`` have the client socket of PostgreSQL backend ``backend`` open."""
        rows = self.db.query("SELECT client_port FROM pg_stat_activity WHERE pid = %s", (backend,))
        if not rows:
            return []
        client_port = rows[0][0]
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == client_port:
                        inodes.add(f"socket:[{fields[9]}]")
        holders = []
        for pid in sorted(pids):
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                            holders.append(pid)
        return holders

    def scenario_kill_holder(self, result):
        """The Odoo process holding the instance's connection SIGKILLed during a burst."""
        _pid, _backend, holder = self.find_holder()
        if not holder.workers:
            # The prefork master is the case with forked children: make node A the host.
            holder.stop()
            self.wait_in_sync(time.time(), RECOVERY_TIMEOUT_S)
            holder.start()
            result["notes"].append(f"node {holder.name} restarted first so that node A hosts")
        mark = self.begin(result)
        load = self.start_load(self.args.burst)
        try:
            time.sleep(self.args.burst / 3)
            pid, backend, node = self.find_holder()
            what = node.describe_pid(pid)
            if node.workers and pid == node.process.pid:
                # Prefork workers are recycled all the time (limit_request, limit_memory_*): one
                # more worker (SIGTTIN) is a child forked while the connection is open.
                os.kill(pid, signal.SIGTTIN)
                time.sleep(2)
                what += " (after SIGTTIN: one more HTTP worker forked)"
            sockets = self.socket_holders(node.pids())
            lock_socket = self.lock_session_holders(backend, node.pids())
            fault_start = time.time()
            os.kill(pid, signal.SIGKILL)
            released = fds_gone = None
            while released is None and time.time() < fault_start + RECOVERY_TIMEOUT_S:
                if fds_gone is None and not self.socket_holders([pid]):
                    fds_gone = time.time() - fault_start
                if backend not in {b for _pid, b in self.lock_holders()}:
                    released = time.time() - fault_start
                time.sleep(POLL_INTERVAL_S)
            outcome = load.wait()
        finally:
            load.kill()
        result["target"] = f"takeover <= {TARGET_TAKEOVER_S:g} s, 1 HA client"
        result["notes"].append(
            f"killed pid {pid}, {what} of node {node.name} ({node.kind}); its lock session"
            f" ended {fmt(released)} s later; reconnect s = kill -> the new host's"
            " 'connected'; sync s from the last POST"
        )
        result["notes"].append(
            f"TCP connections (to PostgreSQL, to HA) of node {node.name}'s processes before the"
            f" kill: {sockets}; the lock session's socket was open in {lock_socket}; the killed"
            f" process's sockets were gone {fmt(fds_gone)} s after the kill"
        )
        try:
            self.finish(result, mark, fault_start, fault_start, settle_from=outcome["finished"])
        finally:
            sockets_after = self.socket_holders(node.pids())
            # Remove what is left of the node (orphaned workers) and start a fresh one.
            node.stop()
            node.start()
        result["notes"].append(
            f"new host: node {result['reconnected_on']}; left of node {node.name} after"
            f" recovery: {sockets_after}; node {node.name} started again"
        )

    def scenario_ha_frozen(self, result):
        """Home Assistant frozen (SIGSTOP, a silently dead peer), then resumed (SIGCONT)."""
        from hass.const import PING_INTERVAL_S, PING_TIMEOUT_S  # noqa: PLC0415

        bound = PING_INTERVAL_S + PING_TIMEOUT_S
        mark = self.begin(result)
        fault_start = time.time()
        self.ha.pause()
        try:
            left_at = None
            deadline = fault_start + bound + 15
            while left_at is None and time.time() < deadline:
                left_at = self.status.first(fault_start, lambda status: status != "connected")
                time.sleep(POLL_INTERVAL_S)
            time.sleep(FROZEN_EXTRA_S)
        finally:
            self.ha.resume()
        back = time.time()
        no_pong = next(
            (
                at
                for at, _level, _logger, message, _path in self.odoo_logs.odoo_lines(mark)
                if at and "No pong" in message
            ),
            None,
        )
        result["target"] = (
            f"leaves connected <= {bound:g} s (ping {PING_INTERVAL_S:g}+{PING_TIMEOUT_S:g})"
        )
        result["notes"].append(
            "status left connected "
            + (f"{left_at - fault_start:.1f} s after SIGSTOP" if left_at else "NEVER")
            + (f" ('No pong' logged at +{no_pong - fault_start:.1f} s)" if no_pong else "")
            + f"; frozen {back - fault_start:.1f} s in all;"
            f" statuses: {[status for _at, status in self.status.since(fault_start)]}"
        )
        self.finish(result, mark, fault_start, back)

    # Report -------------------------------------------------------------------------------

    COLUMNS = (
        ("reconnect", 9),
        ("sync s", 6),
        ("mism", 4),
        ("dup", 3),
        ("h.extra", 7),
        ("h.gap", 5),
        ("stuck", 5),
        ("clients", 7),
        ("log/s", 5),
        ("warn", 4),
        ("err", 4),
        ("queue ok/nc/to/err", 18),
    )

    def row(self, result):
        if "failed" in result and "flood" not in result:
            return f"{result['number']:>2}  FAILED: {result['failed']}"
        flood = result["flood"]
        queue = result["queue"]
        other = sum(
            count
            for outcome, count in queue.items()
            if outcome not in ("ok", "not_connected", "timeout")
        )
        values = (
            fmt(result["reconnect_s"]),
            fmt(result["sync_s"]),
            result["mismatches"],
            result["duplicates"],
            result["history_extra"],
            result["history_gap"],
            result["stuck"],
            "-" if result["clients"] is None else result["clients"],
            flood["max_per_s"],
            flood["warnings"],
            flood["errors"],
            f"{queue.get('ok', 0)}/{queue.get('not_connected', 0)}/"
            f"{queue.get('timeout', 0)}/{other}",
        )
        cells = "  ".join(
            f"{value!s:>{width}}"
            for value, (_name, width) in zip(values, self.COLUMNS, strict=True)
        )
        return f"{result['number']:>2}  {cells}"

    def print_result(self, result):
        print("  " + "  ".join(f"{name:>{width}}" for name, width in self.COLUMNS))
        print("  " + self.row(result)[4:])
        for note in result["notes"]:
            print(f"  - {note}")

    def print_report(self):
        start, end = (
            " ".join(f"{v:.2f}" for v in load) for load in (self.load_start, os.getloadavg())
        )
        print()
        print(
            f"Fault suite  cpus={os.cpu_count()}  load average at start {start}, at end {end}"
            f"  rate={self.args.rate}/s  sensors={self.args.sensors}  outage={self.args.outage:g}s"
        )
        print("nodes: A prefork --workers 2 --max-cron-threads 1, B threaded --workers 0;"
              " private PostgreSQL; HA 2024.3.3 demo")  # fmt: skip
        print()
        print(" #  " + "  ".join(f"{name:>{width}}" for name, width in self.COLUMNS))
        for result in self.results:
            print(self.row(result))
        print()
        for result in self.results:
            title = SCENARIO_TITLES[result["number"]]
            print(
                f" {result['number']}. {title}"
                + (f"  [target: {result['target']}]" if result.get("target") else "")
            )
            for note in result["notes"]:
                print(f"    - {note}")
            if result.get("failed"):
                print(f"    - FAILED: {result['failed']}")
            top = result.get("flood", {}).get("top")
            if top:
                print("    - most frequent warnings: " + "; ".join(f"{n}x {m}" for m, n in top))
        for line in LEGEND:
            print(line)


SCENARIO_TITLES = {
    1: "Home Assistant stopped, then started",
    2: "Home Assistant restarted during a burst",
    3: "token revoked in Home Assistant, then replaced by a manager",
    4: "PostgreSQL restarted during a burst",
    5: "SIGKILL of the Odoo process holding the connection, during a burst",
    6: "Home Assistant frozen (SIGSTOP) then resumed",
}

LEGEND = (
    "",
    "reconnect: seconds from the end of the fault (HA answering again, PostgreSQL back, new token",
    "  saved, SIGKILL sent, SIGCONT sent) to the first 'Home Assistant ...: connected' log line.",
    "sync s: from the end of the fault (or of the burst) until status is connected and every",
    "  active ha.entity equals HA's state (state, attributes, name). mism: differences left then.",
    "dup: (entity, last_updated) keys stored twice in ha.entity.history (whole table).",
    "h.extra / h.gap: fault sensors' history rows in the scenario's window that HA's recorder does",
    "  not have / states HA recorded that Odoo has no row for when sync is reached (the gap",
    "  fill after a reconnection may still be running).",
    "stuck: ha.ws.request.queue rows of the scenario still pending/running past their timeout.",
    "clients: HA's sensor.connected_clients minus its value before Odoo connected (target 1).",
    "log/s, warn, err: Odoo log lines (all nodes) from the fault to recovery: most lines in one",
    "  second (the addon's loggers, and anything at WARNING or above, with tracebacks), WARNING",
    "  lines, ERROR/CRITICAL lines.",
    f"queue: ws_call('ping') every {PROBE_INTERVAL_S:g} s through the request queue from this",
    "  process: answered / 'not connected' / timed out / other errors (incl. database errors).",
)


def established_tcp_remote_ports():
    """{socket inode: remote port} of this machine's established TCP connections."""
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01":  # ESTABLISHED
                    ports[int(fields[9])] = int(fields[2].rsplit(":", 1)[1], 16)
    return ports


def fmt(value):
    return "-" if value is None else f"{value:.2f}"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "-c",
        "--config",
        help="an Odoo configuration file to take addons_path from (nothing else is used)",
    )
    parser.add_argument("--addons-path", help="Odoo addons path with odoo_ha_addon in it")
    parser.add_argument(
        "--scenarios",
        default="1,2,3,4,5,6",
        type=lambda text: [int(n) for n in text.split(",")],
        help="scenarios to run, in this order (default: %(default)s)",
    )
    parser.add_argument("--outage", type=float, default=30.0, help="scenario 1: HA down (s)")
    parser.add_argument("--rate", type=int, default=200, help="state changes/s during bursts")
    parser.add_argument("--burst", type=float, default=15.0, help="seconds of each burst")
    parser.add_argument("--sensors", type=int, default=50, help="sensors the changes go to")
    parser.add_argument(
        "--pg-bindir",
        default=max(
            (str(path) for path in Path("/usr/lib/postgresql").glob("*/bin")),
            default="/usr/lib/postgresql/15/bin",
        ),
        help="PostgreSQL server binaries (initdb, pg_ctl); default: %(default)s",
    )
    parser.add_argument("--odoo-bin", help="odoo-bin to run the servers with (default: Odoo's)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (logs) at the end"
    )
    args = parser.parse_args()
    if not os.environ.get("HA_PYTHON"):
        sys.exit("Set HA_PYTHON to a Python with homeassistant==2024.3.3 (see tests/standalone).")
    if not args.addons_path:
        if not args.config:
            sys.exit("Give --addons-path, or -c with an Odoo configuration that has addons_path.")
        parser_ = configparser.ConfigParser()
        parser_.read(args.config)
        args.addons_path = parser_.get("options", "addons_path", fallback=None)
        if not args.addons_path:
            sys.exit(f"{args.config} has no addons_path")
    args.odoo_bin = args.odoo_bin or default_odoo_bin()
    return args


def default_odoo_bin():
    """The odoo-bin script of the Odoo this interpreter imports."""
    import odoo  # noqa: PLC0415

    return Path(odoo.__file__).resolve().parent.parent / "odoo-bin"


def main():
    args = parse_args()
    # A plain kill (or `timeout`) must still run the clean-up in the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    root = tempfile.mkdtemp(prefix="odoo_ha_fault_")
    os.chmod(root, 0o755)  # the cluster directory inside belongs to the postgres user
    suite = FaultSuite(args, root)
    print(f"Working directory {root}")
    try:
        suite.set_up()
        suite.run_scenarios()
    finally:
        suite.clean_up()
    suite.print_report()
    if args.keep:
        print(f"\nLogs kept in {root}")


if __name__ == "__main__":
    main()
