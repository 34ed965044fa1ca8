import { registry } from "@web/core/registry";

// Run as a manager, with numeric history for "Outside temperature" and on/off history for
// "Kitchen light" (see tests/test_history_action.py).
registry.category("web_tour.tours").add("odoo_ha_addon_history", {
    steps: () => [
        {
            content: "Nothing is charted before an entity is chosen",
            trigger: ".o_ha_history .o_ha_history_no_entity",
        },
        {
            content: "Choose a numeric entity",
            trigger: ".o_ha_entity_picker .o_select_menu_toggler",
            run: "click",
        },
        {
            trigger: ".o_select_menu_item:contains(Outside temperature)",
            run: "click",
        },
        {
            content: "Its values are charted, in °C",
            trigger: ".o_ha_history .o_ha_numeric_chart[data-unit='°C'] canvas",
            run() {
                const chart = Chart.getChart(this.anchor);
                const average = chart.data.datasets.find((dataset) => dataset.role === "avg");
                if (average?.label !== "Outside temperature" || !average.data.length) {
                    throw new Error("The average line of Outside temperature is missing");
                }
            },
        },
        {
            content: "Add an on/off entity",
            trigger: ".o_ha_entity_picker .o_select_menu_toggler",
            run: "click",
        },
        {
            trigger: ".o_select_menu_item:contains(Kitchen light)",
            run: "click",
        },
        {
            content: "It is shown as a timeline of its states",
            trigger:
                ".o_ha_timeline_row[data-entity-id='light.kitchen'] .o_ha_timeline_segment[data-state=on]",
        },
        {
            content: "The numeric chart is still there",
            trigger: ".o_ha_numeric_chart[data-unit='°C'] canvas",
        },
        {
            content: "Show the last week",
            trigger: ".o_ha_preset[data-preset='7d']",
            run: "click",
        },
        {
            trigger: ".o_ha_preset[data-preset='7d'].active",
        },
        {
            content: "The list of recorded states stays one click away",
            trigger: ".o_ha_recorded_states",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row",
        },
        {
            content: "Back to the charts",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(History)",
            run: "click",
        },
        {
            content: "The entities and the range chosen are kept",
            trigger:
                ".o_ha_history:has(.o_ha_preset[data-preset='7d'].active) .o_ha_timeline_row[data-entity-id='light.kitchen']",
        },
    ],
});
