from unittest.mock import patch

import odoo.cli
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from .. import connector, hooks


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):
    def test_module_installed_as_application(self):
        module = self.env["ir.module.module"].search([("name", "=", "odoo_ha_addon")])
        self.assertEqual(module.state, "installed")
        self.assertTrue(module.application)

    def test_manager_implies_user_and_admin_is_manager(self):
        user_group = self.env.ref("odoo_ha_addon.group_ha_user")
        manager_group = self.env.ref("odoo_ha_addon.group_ha_manager")
        self.assertIn(user_group, manager_group.implied_ids)
        self.assertEqual(user_group.full_name, "Home Assistant / User")
        admin = self.env.ref("base.user_admin")
        self.assertTrue(admin.has_group("odoo_ha_addon.group_ha_manager"))
        self.assertTrue(admin.has_group("odoo_ha_addon.group_ha_user"))

    def test_menus_lead_to_their_actions(self):
        root = self.env.ref("odoo_ha_addon.ha_root_menu")
        self.assertEqual(root.name, "Home Assistant")
        self.assertTrue(root.web_icon)
        expected = {
            "odoo_ha_addon.ha_dashboard_menu": "odoo_ha_addon.ha_dashboard_action",
            "odoo_ha_addon.ha_entity_menu": "odoo_ha_addon.ha_entity_action",
            "odoo_ha_addon.ha_history_menu": "odoo_ha_addon.ha_history_action",
            "odoo_ha_addon.ha_entity_history_menu": "odoo_ha_addon.ha_entity_history_action",
            "odoo_ha_addon.ha_instance_menu": "odoo_ha_addon.ha_instance_action",
            "odoo_ha_addon.ha_entity_group_menu": "odoo_ha_addon.ha_entity_group_action",
            "odoo_ha_addon.ha_entity_group_tag_menu": "odoo_ha_addon.ha_entity_group_tag_action",
            "odoo_ha_addon.ha_settings_menu": "odoo_ha_addon.res_config_settings_action",
        }
        for menu_xmlid, action_xmlid in expected.items():
            self.assertEqual(self.env.ref(menu_xmlid).action, self.env.ref(action_xmlid))

    def test_instance_menu_is_for_managers_only(self):
        instance_menu = self.env.ref("odoo_ha_addon.ha_instance_menu")
        self.assertEqual(instance_menu.groups_id, self.env.ref("odoo_ha_addon.group_ha_manager"))

    def test_settings_defaults_and_storage(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.ha_history_retention_days, 30)
        self.assertEqual(settings.ha_history_backfill_days, 1)
        settings.ha_history_retention_days = 90
        settings.ha_history_backfill_days = 3
        settings.execute()
        parameters = self.env["ir.config_parameter"].sudo()
        self.assertEqual(parameters.get_param("odoo_ha_addon.history_retention_days"), "90")
        self.assertEqual(parameters.get_param("odoo_ha_addon.history_backfill_days"), "3")

    def test_pre_init_hook_names_missing_and_outdated_packages(self):
        versions = {"websockets": "12.0", "requests": None}

        def fake_version(name):
            if versions.get(name) is None:
                raise hooks.importlib.metadata.PackageNotFoundError(name)
            return versions[name]

        with (
            patch.object(hooks.importlib.metadata, "version", side_effect=fake_version),
            self.assertRaises(UserError) as caught,
        ):
            hooks.pre_init_hook(self.env)
        message = str(caught.exception)
        self.assertIn("websockets 12.0 is too old, websockets>=13.1 is required", message)
        self.assertIn("requests is not installed", message)
        self.assertIn("pip install 'websockets>=13.1' 'requests'", message)

    def test_pre_init_hook_accepts_installed_packages(self):
        # The running Odoo has what the addon needs, or it could not have been installed.
        hooks.pre_init_hook(self.env)
        with patch.object(hooks.importlib.metadata, "version", return_value="13.1"):
            hooks.pre_init_hook(self.env)

    def test_uninstall_hook_removes_settings(self):
        parameters = self.env["ir.config_parameter"].sudo()
        parameters.set_param("odoo_ha_addon.history_retention_days", "12")
        parameters.set_param("odooXhaXaddon.unrelated", "kept")
        hooks.uninstall_hook(self.env)
        self.assertFalse(parameters.get_param("odoo_ha_addon.history_retention_days"))
        self.assertEqual(parameters.get_param("odooXhaXaddon.unrelated"), "kept")

    def test_connectors_start_in_server_processes_only(self):
        """Where the registry loads, a connector may start: in a server, never in ``odoo
        shell`` or another command (it would take the instance's connection over from the
        server for as long as the command runs), nor during --stop-after-init runs."""
        running = object()
        with (
            patch("odoo.service.server.server", running),
            patch.dict(connector.config.options, {"stop_after_init": False}),
        ):
            for command, allowed in (("server", True), ("start", True), ("shell", False)):
                with (
                    self.subTest(command=command),
                    patch.object(odoo.cli, "COMMAND", command, create=True),
                ):
                    self.assertEqual(connector.autostart_allowed(), allowed)
            with patch.dict(connector.config.options, {"stop_after_init": True}):
                self.assertFalse(connector.autostart_allowed())
