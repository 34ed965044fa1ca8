{
    "name": "Home Assistant",
    "version": "18.0.1.2.0",
    "category": "Productivity/Home Automation",
    "summary": "See and control Home Assistant entities from Odoo",
    "description": """
Connects Odoo to one or more Home Assistant servers: entities, areas and devices are
mirrored in Odoo, their state history is kept for charts, and access to entities is
granted per group of users.
""",
    "author": "odoo_ha_addon contributors",
    "website": "https://github.com/odoo-ha-addon/odoo_ha_addon",
    "license": "LGPL-3",
    "depends": ["base", "web", "mail", "bus", "portal"],
    "external_dependencies": {"python": ["websockets", "requests"]},
    "data": [
        "security/ha_security.xml",
        "security/ir.model.access.csv",
        "security/ha_record_rules.xml",
        "security/ha_machine_service_security.xml",
        "data/ha_cron.xml",
        "data/ha_automation_cron.xml",
        "data/ha_machine_service_cron.xml",
        "views/ha_instance_views.xml",
        "views/ha_entity_group_tag_views.xml",
        "views/ha_entity_group_views.xml",
        "views/ha_area_views.xml",
        "views/ha_device_views.xml",
        "views/ha_floor_views.xml",
        "views/ha_label_views.xml",
        "views/ha_category_views.xml",
        "views/ha_entity_views.xml",
        "views/ha_entity_history_views.xml",
        "views/ha_entity_history_rollup_views.xml",
        "views/ha_entity_share_views.xml",
        "views/ha_device_key_views.xml",
        "views/ha_machine_views.xml",
        "views/portal_templates.xml",
        "views/ha_entity_history_actions.xml",
        "views/ha_ws_request_queue_views.xml",
        "views/ha_dashboard_action.xml",
        "views/res_config_settings_views.xml",
        "views/ha_history_action.xml",
        "views/ha_automation_views.xml",
        "views/ha_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "odoo_ha_addon/static/src/**/*",
            ("remove", "odoo_ha_addon/static/src/portal/**/*"),
        ],
        # The portal page of shares: its component, with the controls and the API client.
        "web.assets_frontend": [
            "odoo_ha_addon/static/src/services/ha_data_service.js",
            "odoo_ha_addon/static/src/controls/**/*",
            "odoo_ha_addon/static/src/portal/**/*",
        ],
        "web.assets_tests": [
            "odoo_ha_addon/static/tests/tours/**/*",
        ],
        "web.assets_unit_tests": [
            "odoo_ha_addon/static/tests/helpers/**/*",
            "odoo_ha_addon/static/tests/**/*.test.js",
        ],
    },
    "pre_init_hook": "pre_init_hook",
    "uninstall_hook": "uninstall_hook",
    "application": True,
}
