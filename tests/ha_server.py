"""A real Home Assistant 2024.3.3 on 127.0.0.1 for tests (both test tiers; no odoo import).

    server = HomeAssistantServer().start()   # free port, temp config, onboarded
    server.url, server.token                  # http://127.0.0.1:PORT, long-lived token
    server.restart()                          # same port, config and token
    server.pause(); server.resume()           # SIGSTOP / SIGCONT: a frozen server
    server.stop()                             # also runs at interpreter exit

The config loads ``demo`` (about 100 entities, 3 areas, ~48 devices) plus the
integrations the addon talks to. HA runs with ``--skip-pip``: its integration
requirements must already be installed (see tests/standalone/requirements.txt).
Only onboarding's "user" step runs; the later steps add integrations that want the
internet. Which Python runs HA: ``$HA_PYTHON``, else this interpreter if it can import
``homeassistant``.
"""

import atexit
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

try:  # inside Odoo: odoo.addons.odoo_ha_addon.tests.ha_server
    from ..hass.onboarding import onboard
except ImportError:  # standalone pytest: the repository root is on sys.path
    from hass.onboarding import onboard

# The first start creates the database and storage; later ones take 2-3 s.
START_TIMEOUT_S = 90.0
# A graceful stop flushes HA's storage (users, tokens) to disk; kill only after this.
STOP_TIMEOUT_S = 30.0
READY_POLL_INTERVAL_S = 0.2
LOG_TAIL_LINES = 40
# Logged when a core integration fails (usually a missing requirement under --skip-pip):
# HA then serves only a recovery UI, on port 8123, and never gets ready.
RECOVERY_MODE_MARKER = "Activating recovery mode"

# One entity of each demo platform the tests use: present once that platform is set up.
DEMO_ENTITIES = (
    "light.bed_light",
    "switch.decorative_lights",
    "sensor.outside_temperature",
    "climate.hvac",
    "cover.kitchen_window",
    "script.good_night",
    "scene.evening",
)

USERNAME = "admin"
PASSWORD = "odoo-ha-addon-test"  # a throwaway local test server; never reachable from outside

CONFIGURATION_YAML = """\
homeassistant:
  name: Test Home
  latitude: 52.3731
  longitude: 4.8922
  elevation: 0
  unit_system: metric
  currency: EUR
  country: NL
  time_zone: UTC
http:
  server_host: 127.0.0.1
  server_port: {port}
demo:
api:
websocket_api:
# sensor.connected_clients: how many websocket clients HA has, to prove one connection each.
sensor:
  - platform: websocket_api
config:
history:
recorder:
  db_url: sqlite:///{config_dir}/home-assistant_v2.db
  commit_interval: 0
onboarding:
logger:
  default: warning
# Scripts and a scene for the service-call permission tests: each script turns on an
# input_boolean, so whether it ran shows in Home Assistant's states.
input_boolean:
  good_night_ran:
    name: Good night ran
  front_door_unlocked:
    name: Front door unlocked
  command_probe:
    name: Command probe
script:
  good_night:
    alias: Good night
    sequence:
      - service: input_boolean.turn_on
        target:
          entity_id: input_boolean.good_night_ran
  unlock_front_door:
    alias: Unlock front door
    sequence:
      - service: input_boolean.turn_on
        target:
          entity_id: input_boolean.front_door_unlocked
# Uses light.bed_light (what an entity's "Related" panel shows); its event never comes.
automation:
  - id: evening_lights
    alias: Evening lights
    trigger:
      - platform: event
        event_type: odoo_ha_addon_test_never_fired
    action:
      - service: light.turn_off
        target:
          entity_id: light.bed_light
scene:
  - name: Evening
    entities:
      light.bed_light: "on"
"""


class HomeAssistantError(RuntimeError):
    """Home Assistant could not be started; the message ends with the tail of its log."""


def find_ha_python():
    python = os.environ.get("HA_PYTHON")
    if python:
        return python
    if importlib.util.find_spec("homeassistant") is not None:
        return sys.executable
    raise HomeAssistantError(
        "No Python with Home Assistant: set HA_PYTHON to an interpreter where "
        "`pip install homeassistant==2024.3.3` was done (see tests/standalone/requirements.txt)"
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HomeAssistantServer:
    def __init__(self, *, python=None, port=None, start_timeout_s=START_TIMEOUT_S):
        self.python = python or find_ha_python()
        self.port = port or free_port()
        self.start_timeout_s = start_timeout_s
        self.url = f"http://127.0.0.1:{self.port}"
        self.username = USERNAME
        self.password = PASSWORD
        self.token = None
        self.config_dir = None
        self.start_durations_s = []
        self._process = None
        self._paused = False
        atexit.register(self.stop, remove_config=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop(remove_config=True)

    def __repr__(self):
        return f"<HomeAssistantServer {self.url} {'running' if self.running else 'stopped'}>"

    @property
    def running(self):
        return self._process is not None and self._process.poll() is None

    @property
    def paused(self):
        return self._paused

    @property
    def pid(self):
        return self._process.pid if self._process else None

    # Lifecycle ----------------------------------------------------------------------------

    def start(self):
        """Start HA (onboarding it on the first start) and wait until it serves requests."""
        if self.running:
            return self
        if self.config_dir is None:
            self.config_dir = Path(tempfile.mkdtemp(prefix="odoo-ha-addon-ha-"))
            (self.config_dir / "configuration.yaml").write_text(
                CONFIGURATION_YAML.format(port=self.port, config_dir=self.config_dir)
            )
        started = time.monotonic()
        self._launch()
        self._wait_ready(started)
        if self.token is None:
            self.token = onboard(self.url, self.username, self.password, name="Test Owner")
        self._wait_running(started)
        self.start_durations_s.append(time.monotonic() - started)
        return self

    def stop(self, *, remove_config=False):
        """Stop HA gracefully (its storage is flushed); kill it if it does not stop in time."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            if self._paused:
                self._signal(process, signal.SIGCONT)
            self._paused = False
            self._signal(process, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._signal(process, signal.SIGKILL)
                process.wait()
        if process is not None and process.stdout:
            process.stdout.close()
        if remove_config and self.config_dir is not None:
            shutil.rmtree(self.config_dir, ignore_errors=True)
            self.config_dir = None
            self.token = None

    def restart(self):
        """Stop and start again: same port, configuration and token."""
        self.stop()
        return self.start()

    def pause(self):
        """Freeze the process (SIGSTOP): it keeps its sockets but answers nothing."""
        self._signal(self._process, signal.SIGSTOP)
        self._paused = True

    def resume(self):
        self._signal(self._process, signal.SIGCONT)
        self._paused = False

    # Internals ----------------------------------------------------------------------------

    def _launch(self):
        log = open(self.config_dir / "stdout.log", "ab")  # noqa: SIM115 (owned by the process)
        self._process = subprocess.Popen(
            [
                self.python,
                "-m",
                "homeassistant",
                "--config",
                str(self.config_dir),
                "--skip-pip",
                "--log-no-color",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own process group: a Ctrl-C in the test run does not reach HA half-way.
            start_new_session=True,
        )
        log.close()

    def _wait_ready(self, started):
        deadline = started + self.start_timeout_s
        while True:
            if self._process.poll() is not None:
                raise HomeAssistantError(
                    f"Home Assistant exited with code {self._process.returncode} while "
                    f"starting.\n{self.log_tail()}"
                )
            with contextlib.suppress(requests.RequestException):
                # Served without authentication once HA has started (http starts last).
                if requests.get(f"{self.url}/api/onboarding", timeout=2).status_code == 200:
                    return
            if self._in_recovery_mode():
                self.stop()
                raise HomeAssistantError(
                    "Home Assistant started in recovery mode (an integration failed to load; "
                    f"missing requirement?).\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise HomeAssistantError(
                    f"Home Assistant did not answer on {self.url} within "
                    f"{self.start_timeout_s:g} s.\n{self.log_tail()}"
                )
            time.sleep(READY_POLL_INTERVAL_S)

    def _wait_running(self, started):
        """HTTP answers before every integration is set up: wait until HA says it is running
        and the demo platforms the tests use have their entities (tests call light.turn_on
        at once)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        deadline = started + self.start_timeout_s
        while True:
            with contextlib.suppress(requests.RequestException, ValueError):
                config = requests.get(f"{self.url}/api/config", headers=headers, timeout=2)
                running = config.json().get("state") == "RUNNING"
                if running and all(
                    requests.get(
                        f"{self.url}/api/states/{entity_id}", headers=headers, timeout=2
                    ).status_code
                    == 200
                    for entity_id in DEMO_ENTITIES
                ):
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise HomeAssistantError(
                    f"Home Assistant on {self.url} never finished starting within "
                    f"{self.start_timeout_s:g} s.\n{self.log_tail()}"
                )
            time.sleep(READY_POLL_INTERVAL_S)

    def _in_recovery_mode(self):
        log = self.config_dir / "home-assistant.log"
        try:
            return RECOVERY_MODE_MARKER in log.read_text(errors="replace")
        except FileNotFoundError:
            # Not written yet, or being rotated: Home Assistant renames the log of its last
            # run to home-assistant.log.1 when it starts, between two of these polls.
            return False

    def log_tail(self, lines=LOG_TAIL_LINES):
        """The last lines of HA's output and log file, for error messages."""
        parts = []
        for name in ("stdout.log", "home-assistant.log"):
            path = self.config_dir and self.config_dir / name
            if not path:
                continue
            try:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
            except FileNotFoundError:
                continue
            parts.append(f"--- {name} ---\n" + "\n".join(tail))
        return "\n".join(parts) or "(no log)"

    @staticmethod
    def _signal(process, signum):
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
