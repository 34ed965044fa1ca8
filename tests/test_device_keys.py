"""Outside apps: device-key login, what its session may reach, revocation, and idempotent
service calls, over real HTTP sessions against the real Home Assistant."""

import json
import uuid
from datetime import timedelta

from odoo import fields
from odoo.http import root
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.bus.tests.common import WebsocketCase
from odoo.addons.bus.websocket import CloseCode

from ..models.ha_device_key import DEVICE_KEY_SCOPE
from ..models.ha_realtime_update import scope_channel
from .api_common import API, LIGHT, ApiCase
from .common import HaTestCommon, SubscribeInBatches

# Toggled by the idempotency tests (tests/ha_server.py): a doubled command shows.
INPUT_BOOLEAN = "input_boolean.command_probe"


def _device_key(user, scope=DEVICE_KEY_SCOPE, name="Hall tablet"):
    expiry = fields.Datetime.now() + timedelta(hours=1)
    return user.env["res.users.apikeys"].with_user(user)._generate(scope, name, expiry)


class DeviceLogin:
    """Log the test case's HTTP session in with a device key (``url_open`` then uses it)."""

    def device_login(self, login, key, expect="ok", **extra):
        self.session = None
        self.opener.cookies.clear()
        response = self.url_open(
            f"{API}/device/login",
            data=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {"login": login, "key": key, **extra},
                }
            ),
            headers={"Content-Type": "application/json"},
        )
        envelope = response.json()["result"]
        if expect == "ok":
            self.assertTrue(envelope["success"], envelope)
            self.assertEqual(response.cookies.get("session_id"), envelope["data"]["session_id"])
            return envelope["data"]
        self.assertFalse(envelope["success"], envelope)
        self.assertEqual(envelope["error_type"], expect)
        # No session: the API refuses the cookie the answer may have set.
        self.assertIn("error", self.json_rpc(f"{API}/instances", {}).json())
        return envelope


@tagged("post_install", "-at_install")
class TestDeviceKeys(DeviceLogin, ApiCase):
    def test_a_device_key_opens_the_api_and_nothing_else_of_odoo(self):
        key = _device_key(self.member)
        data = self.device_login("api_member", key)
        self.assertEqual(data["uid"], self.member.id)
        self.assertTrue(data["bus_version"])
        self.assertEqual(
            {e["entity_id"] for e in self.ok("entities", ha_instance_id=self.live_id)["entities"]},
            {LIGHT, "light.ceiling_lights", "sensor.outside_temperature"},
        )
        # The rest of Odoo refuses the session, whatever the user may do there.
        with mute_logger("odoo.http"):
            response = self.json_rpc(
                "/web/dataset/call_kw/res.partner/search_read",
                {"model": "res.partner", "method": "search_read", "args": [], "kwargs": {}},
            )
        self.assertNotIn("result", response.json())
        with mute_logger("odoo.http"):
            page = self.url_open("/odoo", allow_redirects=False)
        self.assertEqual(page.status_code, 403)

    @mute_logger("odoo.addons.base.models.res_users")
    def test_only_a_valid_device_key_of_that_user_logs_in(self):
        key = _device_key(self.member)
        self.device_login(
            "api_member", key[:-1] + ("0" if key[-1] != "0" else "1"), "access_denied"
        )
        self.device_login("api_colleague", key, "access_denied")
        self.device_login("api_member", "api_member", "access_denied")  # the password
        self.device_login("api_member", _device_key(self.member, scope=None), "access_denied")
        self.device_login("api_member", _device_key(self.member, scope="rpc"), "access_denied")
        self.device_login("api_member", None, "invalid_input")
        self.device_login("api_member", key, "invalid_input", db="another_database")

    def test_revoking_the_key_ends_its_sessions(self):
        key = _device_key(self.member)
        first = self.device_login("api_member", key)
        self.ok("instances")
        other_key = _device_key(self.member, name="Phone")
        self.device_login("api_member", other_key)
        self.env["res.users.apikeys"].search([("name", "=", "Hall tablet")])._remove()
        # The phone's session lives on; the tablet's is gone from the session store.
        self.ok("instances")
        self.assertFalse(root.session_store.get(first["session_id"]))
        self.opener.cookies.clear()
        self.opener.cookies.set("session_id", first["session_id"])
        response = self.json_rpc(f"{API}/instances", {})
        self.assertEqual(
            response.json()["error"]["data"]["name"], "odoo.http.SessionExpiredException"
        )
        self.device_login("api_member", key, "access_denied")

    def test_a_repeated_request_id_runs_once(self):
        self.rest.call_service("input_boolean", "turn_off", {"entity_id": INPUT_BOOLEAN})
        self.addCleanup(
            self.rest.call_service, "input_boolean", "turn_off", {"entity_id": INPUT_BOOLEAN}
        )
        self.login(self.manager)
        request_id = str(uuid.uuid4())
        params = {
            "ha_instance_id": self.live_id,
            "domain": "input_boolean",
            "service": "toggle",
            "entity_id": INPUT_BOOLEAN,
            "request_id": request_id,
        }
        first = self.ok("call_service", **params)
        self.wait_ha_state(INPUT_BOOLEAN, "on")
        again = self.ok("call_service", **params)
        self.assertFalse(first["repeated"])
        self.assertTrue(again["repeated"])
        self.assertEqual({**again, "repeated": False}, first)
        self.assertEqual(self.rest.get_state(INPUT_BOOLEAN)["state"], "on", "toggled once")
        # The id is the user's own: another user's same id is another command; a new id runs.
        self.ok("call_service", **{**params, "request_id": str(uuid.uuid4())})
        self.wait_ha_state(INPUT_BOOLEAN, "off")
        self.refused("call_service", "invalid_input", **{**params, "request_id": "a b"})
        self.refused("call_service", "invalid_input", **{**params, "request_id": "x" * 65})

    def test_an_abandoned_request_id_is_taken_over(self):
        # The first request's process died after claiming the id, before answering.
        self.rest.call_service("input_boolean", "turn_off", {"entity_id": INPUT_BOOLEAN})
        self.addCleanup(
            self.rest.call_service, "input_boolean", "turn_off", {"entity_id": INPUT_BOOLEAN}
        )
        self.env.cr.execute(
            "INSERT INTO ha_service_request (user_id, request_id, created, answered)"
            " VALUES (%s, 'abandoned', now() at time zone 'utc' - interval '2 minutes', false)",
            (self.manager.id,),
        )
        self.login(self.manager)
        data = self.ok(
            "call_service",
            ha_instance_id=self.live_id,
            domain="input_boolean",
            service="turn_on",
            entity_id=INPUT_BOOLEAN,
            request_id="abandoned",
        )
        self.assertFalse(data["repeated"])
        self.wait_ha_state(INPUT_BOOLEAN, "on")

    def test_a_repeat_of_a_refused_call_is_refused_again(self):
        self.login(self.member)
        params = {
            "ha_instance_id": self.live_id,
            "domain": "light",
            "service": "turn_off",
            "entity_id": "light.ceiling_lights",
            "request_id": "r-1",
        }
        self.refused("call_service", "access_denied", **params)
        self.refused("call_service", "access_denied", **params)


@tagged("post_install", "-at_install")
class TestDeviceKeySocket(DeviceLogin, SubscribeInBatches, WebsocketCase, HaTestCommon):
    def test_revoking_the_key_closes_the_open_socket(self):
        key = _device_key(self.user_member)
        data = self.device_login("ha_test_member", key)
        websocket = self.websocket_connect(cookie=f"session_id={data['session_id']};")
        self.subscribe(websocket, [], self.env["bus.bus"]._bus_last_id())
        self.env["res.users.apikeys"].search([("name", "=", "Hall tablet")])._remove()
        self.env["ha.realtime.update"]._notify_entity_changes(
            self.instance, {"light.kitchen": {"state": "off"}}
        )
        self.trigger_notification_dispatching([scope_channel(self.group_kitchen)])
        self.assert_close_with_code(websocket, CloseCode.SESSION_EXPIRED)
