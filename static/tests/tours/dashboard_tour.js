import { registry } from "@web/core/registry";

// Run as an HA user who belongs to a group of the "Home" instance only, which is not
// connected (see tests/test_dashboard.py TestWebClient): the dashboard shows that instance,
// says it is not connected and why, and shows only the entities shared with the user.
registry.category("web_tour.tours").add("odoo_ha_addon_dashboard", {
    steps: () => [
        {
            content: "The user's instance is shown with its connection status",
            trigger: ".o_ha_dashboard_header:contains(Home) .o_ha_status[data-status=disconnected]",
        },
        {
            content: "The dashboard says the instance is not connected",
            trigger: ".o_ha_not_connected",
        },
        {
            content: "An instance the user has no group in is not offered",
            trigger: ".o_ha_dashboard:not(:has(.o_ha_instance_select))",
        },
        {
            content: "The entity of the user's group is shown",
            trigger: ".o_ha_entity_card[data-entity-id='light.kitchen']:contains(Kitchen light)",
        },
        {
            content: "Entities outside the user's groups are not",
            trigger: ".o_ha_entity_cards:not(:has([data-entity-id='sensor.outside_temperature']))",
        },
        {
            content: "Search for something the user does not have",
            trigger: ".o_ha_search",
            run: "edit temperature",
        },
        {
            content: "Nothing matches, and the dashboard says so",
            trigger: ".o_ha_no_match",
        },
        {
            content: "Clear the search",
            trigger: ".o_ha_search",
            run: "clear",
        },
        {
            content: "Open the entity",
            trigger: ".o_ha_entity_card[data-entity-id='light.kitchen'] .o_ha_entity_name",
            run: "click",
        },
        {
            content: "Its form shows the live control and the attributes",
            trigger: ".o_form_view .o_ha_entity_control_field [data-action=toggle] input",
        },
        {
            content: "The attributes page opens",
            trigger: ".o_form_view .o_notebook a:contains(Attributes)",
            run: "click",
        },
        {
            content: "The attributes are shown as JSON",
            trigger: ".o_form_view .o_field_widget[name=attributes_text]:contains({)",
        },
    ],
});
