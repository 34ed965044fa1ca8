import socket

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import HaServerCase


def closed_local_port():
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@tagged("post_install", "-at_install")
class TestTestConnection(HaServerCase):
    """The "Test connection" button against a real Home Assistant 2024.3.3."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, login="ha_conn_manager", groups="odoo_ha_addon.group_ha_manager"
        )
        cls.instance = (
            cls.env["ha.instance"]
            .with_user(cls.manager)
            .create({"name": "Test HA", "url": cls.ha.url, "token": cls.ha.token})
        )

    def test_success_reports_version_and_entity_count(self):
        action = self.instance.action_test_connection()
        self.assertEqual(action["tag"], "display_notification")
        params = action["params"]
        self.assertEqual(params["type"], "success")
        self.assertRegex(
            params["message"], r"^Connected to Home Assistant 2024\.3\.3: \d+ entities$"
        )
        entity_count = int(params["message"].split(": ")[1].split()[0])
        self.assertGreater(entity_count, 50, "the demo integration provides about 100 entities")
        self.assertEqual(self.instance.ha_version, "2024.3.3")

    def test_wrong_token_is_an_authentication_failure(self):
        self.instance.token = "not-" + self.ha.token[4:]
        with self.assertRaises(UserError) as caught:
            self.instance.action_test_connection()
        message = str(caught.exception)
        self.assertIn("authentication failed", message.lower())
        self.assertNotIn(self.instance.token, message)
        self.assertNotIn(self.ha.token, message)
        self.assertFalse(self.instance.ha_version)

    def test_unreachable_server_is_reported_as_such(self):
        url = f"http://127.0.0.1:{closed_local_port()}"
        # A new URL needs its token in the same save (else the stored one is forgotten).
        self.instance.write({"url": url, "token": self.ha.token})
        with self.assertRaises(UserError) as caught:
            self.instance.action_test_connection()
        self.assertEqual(str(caught.exception), f"Cannot reach {url}: connection refused")

    def test_not_a_home_assistant_server(self):
        # Home Assistant behind the wrong path: an HTTP server answers, but not with the
        # websocket API (as with a reverse proxy set up for another prefix).
        self.instance.write({"url": f"{self.ha.url}/not-home-assistant", "token": self.ha.token})
        with self.assertRaises(UserError) as caught:
            self.instance.action_test_connection()
        self.assertRegex(str(caught.exception), r"^Not a Home Assistant server: .*HTTP 404")

    @mute_logger("odoo.models")
    def test_only_managers_may_test(self):
        user = new_test_user(self.env, login="ha_conn_user", groups="odoo_ha_addon.group_ha_user")
        self.env["ha.entity.group"].create(
            {"name": "All", "instance_id": self.instance.id, "user_ids": [(4, user.id)]}
        )
        with self.assertRaises(AccessError):
            self.instance.with_user(user).action_test_connection()
