"""Headless Chromium driven over the DevTools protocol, for tests and benchmarks that watch
pages outside Odoo's own test browser (a second page beside a tour, a benchmark's page).

Debian's ``chromium``; ``websocket-client`` and ``requests``; no Odoo import.
"""

import contextlib
import json
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import websocket

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
COMMAND_TIMEOUT_S = 120.0


def _unlimited_address_space():
    # Odoo limits its own address space (limit_memory_hard); Chromium reserves far more
    # virtual memory than it uses and does not start under that limit.
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class Chromium:
    """Headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self):
        if not CHROMIUM:
            raise RuntimeError("No chromium on PATH: apt-get install chromium")
        self.profile = tempfile.mkdtemp(prefix="ha_dashboard_bench_")
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-allow-origins=*",
                "--remote-debugging-port=0",
                "--window-size=1600,1000",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(Path(self.profile, "chromium.log"), "wb"),  # noqa: SIM115 - closed with the process
            preexec_fn=_unlimited_address_space,  # noqa: PLW1509 - only resets a limit
        )
        port_file = Path(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline:
                log = Path(self.profile, "chromium.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Chromium did not open its DevTools port:\n{log}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        pages = requests.get(f"http://127.0.0.1:{port}/json", timeout=10).json()
        page = next(target for target in pages if target["type"] == "page")
        self.socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=COMMAND_TIMEOUT_S, suppress_origin=True
        )
        self._id = 0

    def send(self, method, **params):
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("exception", {}).get("description"))
        return result["result"].get("value")

    def open(self, url, session_id):
        """Load ``url`` with Odoo's ``session_id`` cookie set."""
        self.send("Network.enable")
        self.send("Network.setCookie", name="session_id", value=session_id, url=url)
        self.send("Page.navigate", url=url)

    def heap_mb(self):
        self.send("HeapProfiler.collectGarbage")
        return self.send("Runtime.getHeapUsage")["usedSize"] / 2**20

    def close(self):
        with contextlib.suppress(Exception):
            self.socket.close()
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)
