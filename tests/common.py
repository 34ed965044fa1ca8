"""Shared fixtures of the Odoo-tier tests: users, two instances with their groups, and one
real Home Assistant server for the whole test run."""

import threading
from unittest.mock import patch

from odoo import Command
from odoo.tests import TransactionCase, new_test_user

_ha_server = None
_ha_server_error = None
_ha_server_lock = threading.Lock()


def _running_ha_server():
    """The Home Assistant server of this test run, (re)started if it is not running.

    One server (one config directory, one onboarding, one token) serves every test class of
    the run. A failure to start it fails the tests that need it, with HA's own explanation,
    instead of skipping them: a skipped check would hide that the connection was never tested.
    """
    global _ha_server, _ha_server_error  # noqa: PLW0603 - one server per test process
    with _ha_server_lock:
        if _ha_server_error is None:
            try:
                if _ha_server is None:
                    from . import ha_server

                    # Stopped, and its config directory removed, at interpreter exit.
                    _ha_server = ha_server.HomeAssistantServer()
                _ha_server.start()
            except Exception as exc:  # noqa: BLE001 - reported in every test that needs HA
                _ha_server_error = (
                    f"Cannot start Home Assistant for the tests ({type(exc).__name__}: {exc})\n"
                    "Set HA_PYTHON to a Python that has homeassistant==2024.3.3 installed, "
                    "e.g. the standalone tier's virtualenv."
                )
        if _ha_server_error is not None:
            raise AssertionError(_ha_server_error)
        return _ha_server


class HaServerCase(TransactionCase):
    """A test class that talks to the run's real Home Assistant (``cls.ha``: url, token).

    Odoo terminates, with a warning, any child process still running when a test class ends,
    so the server process is stopped after each class that used it and started again (same
    port, configuration and token, in about two seconds) by the next one.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ha = _running_ha_server()
        # Registered after Odoo's own child-process check, so it runs before it.
        cls.addClassCleanup(cls.ha.stop)


class HaTestCommon(TransactionCase):
    """Two instances; ``user_member`` belongs to a group of ``instance`` that holds
    ``light_kitchen`` only; ``user_outsider`` is an HA user in no group; ``manager``."""

    TOKEN = "test-token-that-must-never-leak"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="ha_test_manager", groups="odoo_ha_addon.group_ha_manager"
        )
        cls.user_member = new_test_user(
            cls.env,
            login="ha_test_member",
            groups="odoo_ha_addon.group_ha_user,base.group_allow_export",
        )
        cls.user_outsider = new_test_user(
            cls.env,
            login="ha_test_outsider",
            groups="odoo_ha_addon.group_ha_user,base.group_allow_export",
        )
        Instance = cls.env["ha.instance"]
        cls.instance = Instance.create(
            {"name": "Home", "url": "http://127.0.0.1:8123", "token": cls.TOKEN}
        )
        cls.other_instance = Instance.create(
            {"name": "Cabin", "url": "http://127.0.0.1:8124", "token": "other-token"}
        )
        cls.area_kitchen = cls.env["ha.area"].create(
            {"instance_id": cls.instance.id, "area_id": "kitchen", "name": "Kitchen"}
        )
        cls.device_bulb = cls.env["ha.device"].create(
            {"instance_id": cls.instance.id, "device_id": "dev-bulb-1", "name": "Bulb"}
        )
        Entity = cls.env["ha.entity"]
        cls.light_kitchen = Entity.create(
            {
                "instance_id": cls.instance.id,
                "entity_id": "light.kitchen",
                "name": "Kitchen light",
                "state": "on",
                "area_id": cls.area_kitchen.id,
                "device_id": cls.device_bulb.id,
            }
        )
        cls.sensor_outside = Entity.create(
            {
                "instance_id": cls.instance.id,
                "entity_id": "sensor.outside_temperature",
                "name": "Outside temperature",
                "state": "12.5",
                "unit_of_measurement": "°C",
            }
        )
        cls.cabin_switch = Entity.create(
            {"instance_id": cls.other_instance.id, "entity_id": "switch.pump", "state": "off"}
        )
        cls.group_kitchen = cls.env["ha.entity.group"].create(
            {
                "name": "Kitchen",
                "instance_id": cls.instance.id,
                "entity_ids": [Command.link(cls.light_kitchen.id)],
                "user_ids": [Command.link(cls.user_member.id)],
                "access_level": "control",
            }
        )


class ServedToTheEnd:
    """For a WebsocketCase: a closed socket is waited for until the server is done with it.

    When a connection ends, the server still runs ``ir.websocket._on_websocket_closed`` (Discuss
    marks the user's presence) on a cursor of its own. In a test that cursor wraps the test's
    transaction, which the test thread uses without the lock the server's requests take: a query
    of the test at that moment reads the server's result set ("no results to fetch"). Odoo's
    ``wait_remaining_websocket_connections`` waits for every socket of the test, open ones too
    (5 s each); this waits for one, known by the client's port, as the server sees it.
    """

    def setUp(self):
        from odoo.addons.bus.websocket import WebsocketConnectionHandler

        super().setUp()
        self._served = {}
        serve = WebsocketConnectionHandler._serve_forever

        def serve_forever(websocket, db, httprequest, version):
            port = int(httprequest.environ["REMOTE_PORT"])
            try:
                return serve(websocket, db, httprequest, version)
            finally:
                self._served.setdefault(port, threading.Event()).set()

        self.startPatcher(
            patch.object(WebsocketConnectionHandler, "_serve_forever", wraps=serve_forever)
        )

    def websocket_connect(self, *args, **kwargs):
        websocket = super().websocket_connect(*args, **kwargs)
        websocket.client_port = websocket.sock.getsockname()[1]
        return websocket

    def wait_until_served(self, websocket):
        """Return once the server has finished with the closed ``websocket``."""
        done = self._served.setdefault(websocket.client_port, threading.Event())
        self.assertTrue(done.wait(5), "the server ended the connection")

    def close_socket(self, websocket):
        """Close ``websocket`` and wait until the server is done with it."""
        websocket.close()
        self.wait_until_served(websocket)

    def assert_close_with_code(self, websocket, expected_code, expected_reason=None):
        super().assert_close_with_code(websocket, expected_code, expected_reason)
        self.wait_until_served(websocket)


class SubscribeInBatches(ServedToTheEnd):
    """For a WebsocketCase: ``subscribe`` waits for the dispatch the subscription starts.
    Odoo's waits for the socket's own ``_dispatch_bus_notifications``; sockets of this
    addon's databases are served by the batch dispatcher (bus_batch.py) instead, so this
    waits for the batch that served the subscribed socket."""

    def subscribe(self, websocket, channels=None, last=None, wait_for_dispatch=True):
        from odoo.addons.bus.websocket import Websocket

        from .. import bus_batch

        if not wait_for_dispatch:
            return super().subscribe(websocket, channels, last, wait_for_dispatch=False)
        subscribed = []
        served = threading.Event()
        odoo_subscribe = Websocket.subscribe
        batch_dispatch = bus_batch.BatchDispatcher._dispatch

        def recording_subscribe(server_socket, *args, **kwargs):
            subscribed.append(server_socket)
            return odoo_subscribe(server_socket, *args, **kwargs)

        def recording_dispatch(dispatcher, sockets):
            batch_dispatch(dispatcher, sockets)
            if subscribed and subscribed[0] in sockets:
                served.set()

        with (
            patch.object(Websocket, "subscribe", recording_subscribe),
            patch.object(bus_batch.BatchDispatcher, "_dispatch", recording_dispatch),
        ):
            super().subscribe(websocket, channels, last, wait_for_dispatch=False)
            self.assertTrue(served.wait(5), "the subscription's dispatch ran")
        return None
