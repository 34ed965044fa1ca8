import { registry } from "@web/core/registry";

// A manager gives an entity group the ground floor (see tests/test_group_targets.py
// TestGroupFormInTheBrowser): the form then offers entities added later and lists the floor's
// entities among the group's members.
registry.category("web_tour.tours").add("odoo_ha_addon_group_targets", {
    steps: () => [
        {
            content: "Without areas, floors or labels, nothing asks about entities added later",
            trigger: ".o_form_view:not(:has(.o_field_widget[name=include_later]))",
        },
        {
            content: "Type the floor's name",
            trigger: ".o_field_widget[name=floor_ids] input",
            run: "edit Ground",
        },
        {
            content: "Pick the ground floor",
            trigger: ".o-autocomplete--dropdown-item:contains(Ground floor)",
            run: "click",
        },
        {
            content: "Include entities added later",
            trigger: ".o_field_widget[name=include_later] input:not(:checked)",
            run: "click",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_saved",
        },
        {
            content: "Open the group's members",
            trigger: ".o_notebook a:contains(All Members)",
            run: "click",
        },
        {
            content: "The floor's light and switch are members",
            trigger: ".o_field_widget[name=member_entity_ids] .o_data_row:contains(Hall switch)",
            run() {
                const rows = [
                    ...document.querySelectorAll(
                        ".o_field_widget[name=member_entity_ids] .o_data_row",
                    ),
                ].map((row) => row.textContent);
                if (rows.length !== 2 || !rows.some((text) => text.includes("Kitchen light"))) {
                    throw new Error(`members: ${rows.join(" | ")}`);
                }
            },
        },
    ],
});
