import { registry } from "@web/core/registry";

const LIGHT = "light.ceiling_lights";

// A manager renames a light and moves it to the kitchen from the dashboard: its card opens
// the entity's form. Run against a real Home Assistant, with a second page on the dashboard
// watched by the test (tests/test_dashboard.py TestLiveDashboard).
registry.category("web_tour.tours").add("odoo_ha_addon_registry_edit", {
    steps: () => [
        {
            content: "Open the light from its card",
            trigger: `.o_ha_entity_card[data-entity-id='${LIGHT}'] .o_ha_entity_name`,
            run: "click",
        },
        {
            content: "Rename it",
            trigger: ".o_field_widget[name=name] input",
            run: "edit Reading lamp",
        },
        {
            content: "Choose the kitchen as its area",
            trigger: ".o_field_widget[name=area_id] input",
            run: "edit Kitch",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains(Kitchen)",
            run: "click",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run() {
                // Leave the area's input first: focused, its autocomplete may open again
                // while the form saves and reloads.
                document.activeElement?.blur();
                console.log(`odoo_ha_addon: saved at ${Date.now()}`);
                document.querySelector(".o_form_button_save").click();
            },
        },
        {
            content: "Saved: the record shows Home Assistant's answer",
            trigger: ".o_breadcrumb:contains(Reading lamp)",
        },
        {
            // The breadcrumb follows the name as it is typed; the save is over when the form
            // has nothing left to save.
            content: "Nothing left to save",
            trigger: ".o_form_view .o_form_status_indicator_buttons.invisible:not(:visible)",
        },
    ],
});
