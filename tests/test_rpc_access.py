import json

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import HaTestCommon


@tagged("post_install", "-at_install")
class TestRpcTokenAccess(HttpCase, HaTestCommon):
    """What a browser session of a non-manager gets over JSON-RPC never holds the token."""

    def _call_kw(self, model, method, args, kwargs=None):
        """The raw JSON-RPC answer of /web/dataset/call_kw, as the web client receives it."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        # AccessErrors are expected here; Odoo logs them as warnings.
        with mute_logger("odoo.http"):
            response = self.url_open(
                f"/web/dataset/call_kw/{model}/{method}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
        self.assertEqual(response.status_code, 200)
        self.assertNotIn(self.TOKEN, response.text)
        return response.json()

    def test_member_cannot_read_token_over_rpc(self):
        self.authenticate("ha_test_member", "ha_test_member")
        answer = self._call_kw("ha.instance", "read", [[self.instance.id], ["name", "token"]])
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessError")

        answer = self._call_kw(
            "ha.instance", "search_read", [], {"domain": [], "fields": ["token"]}
        )
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessError")

        answer = self._call_kw(
            "ha.instance", "export_data", [[self.instance.id], ["name", "token"]]
        )
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessError")

        # What the web client itself asks for: every readable field, never the token.
        answer = self._call_kw("ha.instance", "search_read", [], {"domain": []})
        self.assertEqual([row["name"] for row in answer["result"]], ["Home"])
        self.assertNotIn("token", answer["result"][0])
        answer = self._call_kw(
            "ha.instance",
            "web_read",
            [[self.instance.id]],
            {"specification": {"name": {}, "url": {}}},
        )
        self.assertEqual(answer["result"][0]["name"], "Home")

    def test_outsider_cannot_read_entities_over_rpc(self):
        self.authenticate("ha_test_outsider", "ha_test_outsider")
        answer = self._call_kw("ha.entity", "search_read", [], {"domain": [], "fields": ["state"]})
        self.assertEqual(answer["result"], [])
        answer = self._call_kw("ha.entity", "read", [[self.light_kitchen.id], ["state"]])
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessError")

    def test_manager_reads_token_over_rpc(self):
        self.authenticate("ha_test_manager", "ha_test_manager")
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "model": "ha.instance",
                "method": "read",
                "args": [[self.instance.id], ["token"]],
                "kwargs": {},
            },
        }
        response = self.url_open(
            "/web/dataset/call_kw/ha.instance/read",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.json()["result"][0]["token"], self.TOKEN)
