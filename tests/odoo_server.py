"""A second, real Odoo server on the test database, for browser tests of live updates.

Inside an HttpCase every request shares the test's transaction, whose snapshot never sees
what other connections commit; the connector and the bus commit on connections of their
own, so live updates can only be watched in a server that runs outside the test
transaction. This one runs ``odoo`` with the test run's interpreter, addons path, database
options and data directory (hence the same session store: a session the test case
authenticates is valid there), without tests, and hosts Home Assistant connections like any
production server. It sees only committed data.
"""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

import odoo
from odoo.tools import config

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0
# What a live test waits at most for the server to show something.
WAIT_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 60


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _odoo_command():
    """How to start Odoo with the test run's interpreter. A script path comes first: the
    prefork server starts its gevent process as ``sys.executable sys.argv[0] gevent``, which
    works with a script and not with ``-m odoo``."""
    package = Path(odoo.__file__).resolve().parent
    for script in (package.parent / "odoo-bin", Path(sys.executable).parent / "odoo"):
        if script.is_file():
            return [sys.executable, str(script)]
    return [sys.executable, "-m", "odoo"]


class OdooServer:
    """``OdooServer(dbname).start()``; ``.url``; ``.ws_url``; ``.stop()``; ``.log_tail()``.

    ``workers=0`` runs Odoo threaded (one process serves HTTP and ``/websocket``); ``workers``
    > 0 runs it as production does: prefork HTTP workers and the gevent process, which alone
    serves ``/websocket`` on its own port (``ws_url``)."""

    def __init__(self, dbname, workers=0, db_port=None):
        """``db_port``: reach PostgreSQL there instead (e.g. a ``PgProxy`` in front of it)."""
        self.dbname = dbname
        self.workers = workers
        self.db_port = db_port
        self.http_port = _free_port()
        self.gevent_port = _free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        port = self.gevent_port if workers else self.http_port
        self.ws_url = f"ws://127.0.0.1:{port}"
        self._workdir = tempfile.mkdtemp(prefix="odoo_ha_server_")
        self._log_path = Path(self._workdir, "odoo.log")
        self.process = None

    def start(self):
        conf = Path(self._workdir, "odoo.conf")
        # An empty configuration keeps the user's ~/.odoorc out; everything else is explicit.
        conf.write_text("[options]\n", encoding="utf-8")
        command = [
            *_odoo_command(),
            "--config",
            str(conf),
            "--addons-path",
            config["addons_path"],
            "--data-dir",
            config["data_dir"],
            "--database",
            self.dbname,
            "--db-filter",
            f"^{self.dbname}$",
            "--no-database-list",
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.http_port),
            "--gevent-port",
            str(self.gevent_port),
            "--workers",
            str(self.workers),
            "--max-cron-threads",
            "0",
            "--logfile",
            str(self._log_path),
        ]
        options = {option: config.get(option) for option in ("db_host", "db_user", "db_password")}
        options["db_port"] = self.db_port or config.get("db_port")
        if self.db_port and not options["db_host"]:
            options["db_host"] = "127.0.0.1"  # the proxy listens on TCP only
        for option, value in options.items():
            if value:
                command += [f"--{option}", str(value)]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=self._workdir,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Odoo exited with status {self.process.returncode}:\n{self.log_tail()}"
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/web/health", timeout=2).ok and self._socket_ready():
                    # One static file first, alone: the server reads every manifest on its
                    # first static request, and Python 3.11's parser can fail ("AST
                    # constructor recursion depth mismatch") when a browser's parallel
                    # requests make several threads do it at once.
                    requests.get(f"{self.url}/web/static/img/favicon.ico", timeout=30)
                    return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"Odoo did not answer within {START_TIMEOUT_S:g} s:\n{self.log_tail()}")

    def _socket_ready(self):
        socket_http = self.ws_url.replace("ws://", "http://", 1)
        return requests.get(f"{socket_http}/websocket/health", timeout=2).ok

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()

    def wait_for(self, predicate, message, timeout_s=WAIT_TIMEOUT_S):
        """Poll ``predicate()`` until it is truthy; fail with ``message`` and the server's
        log tail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"{message}\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self):
        try:
            lines = self._log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-LOG_TAIL_LINES:])
