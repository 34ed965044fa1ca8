import { registry } from "@web/core/registry";

// Run as an HA user who belongs to a group of the "Home" instance only (see
// tests/test_dashboard.py): the dashboard lists what that user may see, and leads to
// the entities of an instance.
registry.category("web_tour.tours").add("odoo_ha_addon_dashboard", {
    steps: () => [
        {
            content: "The instance the user belongs to is listed with its status",
            trigger: ".o_ha_instance_card:contains(Home) .o_ha_instance_status:contains(Disconnected)",
        },
        {
            content: "An instance the user has no group in is not",
            trigger: ".o_ha_dashboard:not(:has(.o_ha_instance_name:contains(Cabin)))",
        },
        {
            content: "Open the entities of the instance",
            trigger: ".o_ha_instance_card:contains(Home) .card-footer button",
            run: "click",
        },
        {
            content: "The entities of the user's group are shown",
            trigger: ".o_kanban_record:contains(Kitchen light)",
        },
        {
            content: "Entities outside the user's groups are not",
            trigger: ".o_kanban_view:not(:has(.o_kanban_record:contains(Outside temperature)))",
        },
    ],
});
