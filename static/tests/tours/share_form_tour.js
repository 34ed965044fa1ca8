import { registry } from "@web/core/registry";

// A manager opens a device share (see tests/test_shares.py TestShareFormInTheBrowser): the form
// says whether entities added later are included and lists the granted entities.
registry.category("web_tour.tours").add("odoo_ha_addon_share_form", {
    steps: () => [
        {
            content: "The box for entities added later is on the form, unticked",
            trigger: ".o_field_widget[name=include_later] input:not(:checked)",
        },
        {
            content: "The button that shares the current entities is there",
            trigger: "button[name=action_grant_current_entities]",
        },
        {
            content: "Open the granted entities",
            trigger: ".o_notebook a:contains(Granted Entities)",
            run: "click",
        },
        {
            content: "The device's light is granted; the entity added later is not",
            trigger: ".o_field_widget[name=granted_entity_ids] .o_data_row:contains(Kitchen light)",
            run() {
                const rows = document.querySelectorAll(
                    ".o_field_widget[name=granted_entity_ids] .o_data_row",
                );
                if (rows.length !== 1) {
                    throw new Error(`${rows.length} granted entities, expected 1`);
                }
            },
        },
    ],
});
