"""Fixtures of the JSON API tests: real HTTP sessions against the real Home Assistant of the
test run.

One committed instance ("Live") is connected by a connector supervisor of this process, so
the routes reach Home Assistant through the in-process path while the HTTP server works in
the test's transaction. Every other record (users, groups, instances that never connect)
lives in that transaction and disappears with it.
"""

import json
import time

from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import Registry
from odoo.tests import HttpCase, get_db_name, new_test_user

from odoo.addons.bus.models.bus import channel_with_db, json_dump

from .. import connector
from ..hass.rest import HARestClient
from ..models.ha_realtime_update import user_channel
from .common import _running_ha_server

API = "/odoo_ha_addon"
CONNECT_TIMEOUT_S = 20.0
LIGHT = "light.bed_light"
OTHER_LIGHT = "light.ceiling_lights"
SENSOR = "sensor.outside_temperature"


def _committed(dbname, function):
    with Registry(dbname).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"active_test": False})
        result = function(env)
        env.flush_all()
        # Committed on purpose: the connector only sees committed instances.
        cr.commit()
        return result


class ApiCase(HttpCase):
    """``member`` controls LIGHT ("Bedroom", with ``colleague``) and views OTHER_LIGHT and
    SENSOR; ``outsider`` is an HA user in no group; ``internal`` has no HA rights;
    ``manager``. "Attic" (first by sequence, the member's) and "Cabin" (not the member's)
    never connect."""

    @classmethod
    def setUpClass(cls):
        cls.ha = _running_ha_server()
        # Also stopped right away if this setup fails (then the cleanups below never register).
        cls.addClassCleanup(cls.ha.stop)
        dbname = get_db_name()
        values = {"name": "Live", "url": cls.ha.url, "token": cls.ha.token, "sequence": 10}
        cls.live_id = _committed(dbname, lambda env: env["ha.instance"].create(values).id)
        cls.addClassCleanup(
            _committed,
            dbname,
            lambda env: env["ha.instance"].browse(cls.live_id).exists().unlink(),
        )
        connector.ensure_supervisor(dbname, [cls.live_id])
        cls._wait_connected(dbname)
        # The test transaction starts now and sees the committed mirror of Home Assistant.
        super().setUpClass()
        # Cleanups run last-in first-out: the connection closes, then Home Assistant stops,
        # then Odoo's own check for child processes runs.
        cls.addClassCleanup(cls.ha.stop)
        cls.addClassCleanup(connector.stop_supervisor, dbname)
        cls.rest = HARestClient(cls.ha.url, cls.ha.token)
        cls.addClassCleanup(cls.rest.close)

        env = cls.env
        cls.live = env["ha.instance"].browse(cls.live_id)
        cls.manager = new_test_user(
            env, login="api_manager", groups="odoo_ha_addon.group_ha_manager"
        )
        cls.member = new_test_user(env, login="api_member", groups="odoo_ha_addon.group_ha_user")
        cls.colleague = new_test_user(
            env, login="api_colleague", groups="odoo_ha_addon.group_ha_user"
        )
        cls.outsider = new_test_user(
            env, login="api_outsider", groups="odoo_ha_addon.group_ha_user"
        )
        cls.internal = new_test_user(env, login="api_internal", groups="base.group_user")
        Entity = env["ha.entity"]
        cls.light = Entity.search([("instance_id", "=", cls.live_id), ("entity_id", "=", LIGHT)])
        cls.other_light = Entity.search(
            [("instance_id", "=", cls.live_id), ("entity_id", "=", OTHER_LIGHT)]
        )
        cls.sensor = Entity.search([("instance_id", "=", cls.live_id), ("entity_id", "=", SENSOR)])
        Group = env["ha.entity.group"]
        Group.create(
            {
                "name": "Bedroom",
                "instance_id": cls.live_id,
                "access_level": "control",
                "entity_ids": [Command.link(cls.light.id)],
                "user_ids": [Command.link(cls.member.id), Command.link(cls.colleague.id)],
            }
        )
        Group.create(
            {
                "name": "Watch only",
                "instance_id": cls.live_id,
                "access_level": "view",
                "entity_ids": [Command.link(cls.other_light.id), Command.link(cls.sensor.id)],
                "user_ids": [Command.link(cls.member.id)],
            }
        )
        # Instances that never connect: "Attic" comes first by sequence and the member may
        # use it; "Cabin" is outside the member's groups.
        Instance = env["ha.instance"]
        cls.attic = Instance.create(
            {"name": "Attic", "url": "http://127.0.0.1:9", "token": "attic-token", "sequence": 1}
        )
        cls.cabin = Instance.create(
            {"name": "Cabin", "url": "http://127.0.0.1:9", "token": "cabin-token", "sequence": 2}
        )
        attic_entity = Entity.create({"instance_id": cls.attic.id, "entity_id": "switch.fan"})
        Group.create(
            {
                "name": "Attic",
                "instance_id": cls.attic.id,
                "entity_ids": [Command.link(attic_entity.id)],
                "user_ids": [Command.link(cls.member.id)],
            }
        )
        Entity.create({"instance_id": cls.cabin.id, "entity_id": "switch.pump"})

    @classmethod
    def _wait_connected(cls, dbname):
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        status = None
        while time.monotonic() < deadline:
            status = _committed(dbname, lambda env: env["ha.instance"].browse(cls.live_id).status)
            if status == "connected":
                return
            time.sleep(0.05)
        raise AssertionError(f"instance never connected (last status {status!r})")

    # Helpers ------------------------------------------------------------------------------

    def json_rpc(self, path, params):
        """The HTTP response to a JSON-RPC call of ``path`` for the authenticated session."""
        return self.url_open(
            path,
            data=json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}),
            headers={"Content-Type": "application/json"},
        )

    def call(self, route, **params):
        """The envelope ``route`` answers for the authenticated session."""
        response = self.json_rpc(f"{API}/{route}", params)
        self.assertEqual(response.status_code, 200, response.text[:500])
        self.assertNotIn("Traceback", response.text)
        self.assertNotIn(self.ha.token, response.text)
        body = response.json()
        self.assertNotIn("error", body, f"JSON-RPC error instead of an envelope: {body}")
        envelope = body["result"]
        self.assertEqual(set(envelope), {"success", "data", "error", "error_type"})
        return envelope

    def ok(self, route, **params):
        envelope = self.call(route, **params)
        self.assertTrue(envelope["success"], envelope)
        return envelope["data"]

    def refused(self, route, error_type, **params):
        envelope = self.call(route, **params)
        self.assertFalse(envelope["success"], envelope)
        self.assertEqual(envelope["error_type"], error_type, envelope)
        self.assertTrue(envelope["error"])
        self.assertIsNone(envelope["data"])
        return envelope["error"]

    def login(self, user):
        self.authenticate(user.login, user.login)

    def bus_payloads(self, user, notification_type, after_id):
        channel = json_dump(channel_with_db(self.env.cr.dbname, user_channel(user)))
        self.env.cr.execute(
            "SELECT message FROM bus_bus WHERE id > %s AND channel = %s ORDER BY id",
            (after_id, channel),
        )
        messages = [json.loads(message) for (message,) in self.env.cr.fetchall()]
        return [m["payload"] for m in messages if m["type"] == notification_type]

    def last_bus_id(self):
        self.env.cr.execute("SELECT COALESCE(max(id), 0) FROM bus_bus")
        return self.env.cr.fetchone()[0]

    def wait_ha_state(self, entity_id, state):
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while (current := self.rest.get_state(entity_id)["state"]) != state:
            if time.monotonic() > deadline:
                self.fail(f"{entity_id} stayed {current!r} in Home Assistant, expected {state!r}")
            time.sleep(0.05)
