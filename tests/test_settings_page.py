"""Settings → Home Assistant (the instances with their live status, Test connection, Restart,
the default instance) and the System info page of an instance, against the real Home
Assistant of the test run (fixtures: tests/api_common.py)."""

import json
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.sql_db import db_connect
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .. import connector
from ..controllers import main
from .api_common import CONNECT_TIMEOUT_S, ApiCase

CLIENT_LOGGER = "odoo.addons.odoo_ha_addon.hass.client"
SETTINGS_URL = "/odoo/action-odoo_ha_addon.res_config_settings_action"
# The web client's way to call a button method (what the instances panel does).
CALL_KW = "/web/dataset/call_kw/ha.instance/{method}"

# In the admin's browser: the settings page lists the instances with their live status, tests
# a connection, then opens the System info page of the live instance.
SETTINGS_PAGE_JS = """
(async () => {
    const waitFor = async (what, selector, check = () => true) => {
        const deadline = Date.now() + 30000;
        for (;;) {
            const element = document.querySelector(selector);
            if (element && check(element)) {
                return element;
            }
            if (Date.now() > deadline) {
                throw new Error(`The page never showed ${what} (${selector})`);
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    };
    const row = (id) => `.o_ha_instance_row[data-instance-id='${id}']`;
    const ids = %(ids)s;
    await waitFor("the live instance connected",
        `${row(ids.live)} .o_ha_instance_status[data-status='connected']`);
    await waitFor("the probe disconnected",
        `${row(ids.probe)} .o_ha_instance_status[data-status='disconnected']`);
    await waitFor("the default instance marked", `${row(ids.attic)} .o_ha_default_instance`);
    if (document.querySelectorAll(".o_ha_default_instance").length !== 1) {
        throw new Error("More than one instance is marked as the default");
    }
    const testConnection = async (id) => {
        (await waitFor("Test connection", `${row(id)} .o_ha_test_connection`)).click();
        const answer = await waitFor("the test's answer", ".o_notification");
        if (!answer.textContent.includes("Connected to Home Assistant %(version)s")) {
            throw new Error(`Test connection of ${id} answered: ${answer.textContent}`);
        }
        answer.querySelector(".o_notification_close").click();
        await waitFor("the version found", `${row(id)} .o_ha_version`,
            (el) => el.textContent.includes("%(version)s"));
        while (document.querySelector(".o_notification")) {
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    };
    // The probe's first test writes the version; the live instance's connector writes its
    // row all along, and a test of it must not conflict with that.
    await testConnection(ids.probe);
    await testConnection(ids.live);
    (await waitFor("Restart", `${row(ids.probe)} .o_ha_restart`)).click();
    await waitFor("the restart's answer", ".o_notification",
        (el) => el.textContent.includes("is being restarted"));

    (await waitFor("System info", `${row(ids.live)} .o_ha_open_system_info`)).click();
    const page = ".o_action.o_ha_system_info";
    await waitFor("the version", `${page} .o_ha_version`,
        (el) => el.textContent.includes("%(version)s"));
    await waitFor("the URL", `${page} .o_ha_url`, (el) => el.textContent.trim() === ids.url);
    await waitFor("the internal URL", `${page} .o_ha_internal_url`, (el) => el.textContent.trim());
    // Home Assistant Core: no Supervisor, and its hardware integration knows no board here.
    await waitFor("hardware not supported", `${page} .o_ha_section_hardware .o_ha_not_supported`,
        (el) => el.textContent.includes("Not supported: this Home Assistant has no Supervisor"));
    await waitFor("the loopback adapter", `${page} .o_ha_section_network .o_ha_network_row`,
        (el) => el.textContent.includes("lo"));
    await waitFor("where the network figures come from",
        `${page} .o_ha_section_network .o_ha_source[data-source='core']`);
    if (document.querySelector(`${page} .o_ha_section_error`)) {
        throw new Error("The System info page shows an error");
    }
    console.log("test successful");
})()
"""


@tagged("post_install", "-at_install")
class TestSettingsPage(ApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")
        cls.system_admin = new_test_user(
            cls.env, login="settings_system_admin", groups="base.group_system"
        )
        # Not committed, so no connector hosts it: Test connection reaches Home Assistant
        # directly, and nothing waits on the rows the test writes.
        cls.probe = cls.env["ha.instance"].create(
            {"name": "Probe", "url": cls.ha.url, "token": cls.ha.token, "sequence": 20}
        )

    def call_button(self, method, instance):
        """The JSON-RPC answer to ``method`` of ``instance``, called as the panel calls it."""
        response = self.json_rpc(
            CALL_KW.format(method=method),
            {"model": "ha.instance", "method": method, "args": [[instance.id]], "kwargs": {}},
        )
        self.assertEqual(response.status_code, 200, response.text[:500])
        self.assertNotIn(self.ha.token, response.text)
        return response.json()

    def assert_refused(self, answer):
        self.assertIn("error", answer, answer)
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessError")

    # The settings page -------------------------------------------------------------------

    def test_settings_view_has_the_instances_for_managers_only(self):
        Settings = self.env["res.config.settings"]
        arch = Settings.with_user(self.admin).get_views([(False, "form")])["views"]["form"]
        self.assertIn('name="ha_instance_settings"', arch["arch"])
        self.assertIn('name="ha_default_instance_id"', arch["arch"])
        self.assertIn('name="ha_history_retention_days"', arch["arch"])
        # A system administrator who is no Home Assistant manager: no Home Assistant app.
        views = Settings.with_user(self.system_admin).get_views([(False, "form")])
        self.assertNotIn('name="odoo_ha_addon"', views["views"]["form"]["arch"])
        self.assertNotIn("ha_default_instance_id", views["models"]["res.config.settings"])

    def test_settings_page_shows_live_instances_and_their_actions(self):
        ids = {
            "live": self.live_id,
            "attic": self.attic.id,
            "probe": self.probe.id,
            "url": self.ha.url,
        }
        self.browser_js(
            SETTINGS_URL,
            SETTINGS_PAGE_JS % {"ids": json.dumps(ids), "version": "2024.3.3"},
            "odoo.isReady === true",
            login="admin",
            timeout=90,
        )

    # Test connection and Restart -----------------------------------------------------------

    def test_test_connection_and_restart_are_for_managers(self):
        self.login(self.manager)
        answer = self.call_button("action_test_connection", self.probe)["result"]
        self.assertEqual(answer["params"]["type"], "success")
        self.assertRegex(answer["params"]["message"], r"^Connected to Home Assistant 2024\.3\.3")
        self.assertEqual(self.probe.ha_version, "2024.3.3")
        answer = self.call_button("action_restart_connection", self.probe)["result"]
        self.assertIn("is being restarted", answer["params"]["message"])

        # The member may read the live instance (an entity group grants it), not act on it.
        self.login(self.member)
        with mute_logger("odoo.http"):
            for method in ("action_test_connection", "action_restart_connection"):
                with self.subTest(method=method):
                    self.assert_refused(self.call_button(method, self.live))

    @mute_logger(CLIENT_LOGGER)  # "disconnected (reconnect requested)"
    def test_restart_reconnects_the_live_instance(self):
        dbname = self.env.cr.dbname
        hosted = connector.hosted_connector(dbname, self.live_id)
        attempts = hosted.client.connect_attempts
        # A transaction of its own, committed as a button click is: the hosting process hears
        # of the restart only then (the registry's cursors are the test's own in an HttpCase).
        with db_connect(dbname).cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["ha.instance"].with_user(self.admin.id).browse(
                self.live_id
            ).action_restart_connection()
            cr.commit()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while hosted.client.connect_attempts == attempts:
            self.assertLess(time.monotonic(), deadline, "the restart never reconnected")
            time.sleep(0.05)
        while not hosted.client.connected or self.committed_status() != "connected":
            self.assertLess(time.monotonic(), deadline, "the instance never connected again")
            time.sleep(0.05)

    def committed_status(self):
        with db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("SELECT status FROM ha_instance WHERE id = %s", (self.live_id,))
            return cr.fetchone()[0]

    # The default instance ------------------------------------------------------------------

    def test_default_instance_is_the_first_by_sequence_and_can_be_chosen(self):
        Settings = self.env["res.config.settings"].with_user(self.admin)
        self.assertEqual(Settings.create({}).ha_default_instance_id, self.attic)

        Settings.create({"ha_default_instance_id": self.live_id}).execute()
        live = self.env["ha.instance"].browse(self.live_id)
        self.assertLess(live.sequence, self.attic.sequence)
        self.assertEqual(Settings.create({}).ha_default_instance_id, live)
        # Step 3 of the instance resolver: users who chose nothing now work on it.
        self.login(self.manager)
        self.assertEqual(self.ok("instances")["current_instance_id"], self.live_id)

        bare = self.env["ha.instance"].create({"name": "Bare", "url": "http://127.0.0.1:9"})
        with self.assertRaises(UserError):
            Settings.create({"ha_default_instance_id": bare.id}).execute()

    def test_administrators_who_are_not_managers_save_settings_without_the_choice(self):
        before = {i.id: i.sequence for i in self.env["ha.instance"].search([])}
        settings = self.env["res.config.settings"].with_user(self.system_admin).create({})
        settings.ha_history_retention_days = 7
        settings.execute()
        self.assertEqual({i.id: i.sequence for i in self.env["ha.instance"].search([])}, before)
        self.assertEqual(
            self.env["ir.config_parameter"].get_param("odoo_ha_addon.history_retention_days"),
            "7",
        )

    # System info ---------------------------------------------------------------------------

    def test_system_info_of_the_test_home_assistant(self):
        self.login(self.manager)
        action = self.call_button("action_system_info", self.live)["result"]
        self.assertEqual(action["tag"], "odoo_ha_addon.system_info")
        self.assertEqual(action["context"], {"active_id": self.live_id})
        # What the page reads, with the page's parameters.
        params = {"ha_instance_id": self.live_id}
        self.assertEqual(self.ok("websocket_status", **params)["ha_version"], "2024.3.3")
        urls = self.ok("ha_urls", **params)
        config = self.rest.get_config()
        self.assertEqual(urls["url"], self.ha.url)
        self.assertEqual(urls["internal_url"], config.get("internal_url"))
        self.assertEqual(urls["external_url"], config.get("external_url"))
        # A Home Assistant Core has no Supervisor: its core integrations answer, or nothing.
        for route in ("hardware_info", "network_info"):
            with self.subTest(route=route):
                self.assertEqual(self.ok(route, **params)["source"], "core")
        missing = {
            "hardware_info": ("/hardware/info", "hardware/not_installed"),
            "network_info": ("/network/info", "network/not_installed"),
        }
        with patch.dict(main.SERVER_INFO_SOURCES, missing):
            for route in ("hardware_info", "network_info"):
                with self.subTest(route=route):
                    self.refused(route, "not_supported", **params)

    def test_system_info_is_refused_to_non_managers(self):
        self.login(self.member)
        with mute_logger("odoo.http"):
            self.assert_refused(self.call_button("action_system_info", self.live))
        for route in ("ha_urls", "hardware_info", "network_info"):
            with self.subTest(route=route):
                self.refused(route, "access_denied", ha_instance_id=self.live_id)
        # Users without Home Assistant rights get none of it from the routes either.
        self.login(self.internal)
        for route in ("ha_urls", "hardware_info", "network_info", "websocket_status"):
            with self.subTest(route=route):
                self.refused(route, "instance_not_found", ha_instance_id=self.live_id)
