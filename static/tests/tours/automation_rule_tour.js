import { registry } from "@web/core/registry";

// A manager ("ha_test_manager") makes a rule from Configuration > Rules: the trigger's fields
// follow the kind of trigger, the action's fields follow the kind of action (see
// tests/test_automation_ui.py TestRuleInTheBrowser, which checks what was saved).
registry.category("web_tour.tours").add("odoo_ha_addon_automation_rule", {
    steps: () => [
        {
            content: "Open Configuration",
            trigger: "button[data-menu-xmlid='odoo_ha_addon.ha_configuration_menu']",
            run: "click",
        },
        {
            content: "Open Rules",
            trigger: ".dropdown-item[data-menu-xmlid='odoo_ha_addon.ha_automation_rule_menu']",
            run: "click",
        },
        {
            // The instances' list has a New button too: wait for the rules' list.
            content: "The rules' list is open",
            trigger: ".o_breadcrumb .active:contains(Rules)",
        },
        {
            content: "Make a new rule",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".o_field_widget[name=name] input",
            run: "edit Kitchen light on",
        },
        {
            content: "The instance is the default one",
            trigger: ".o_field_widget[name=instance_id] input:value(Home)",
        },
        {
            content: "Watch the kitchen light",
            trigger: ".o_field_widget[name=entity_ids] input",
            run: "edit Kitchen",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains(Kitchen light)",
            run: "click",
        },
        {
            content: "The light is a tag of the rule",
            trigger: ".o_field_widget[name=entity_ids] .o_tag:contains(Kitchen light)",
        },
        {
            content: "A number trigger",
            trigger: ".o_field_widget[name=trigger] select",
            run: "selectByLabel Number above",
        },
        {
            content: "asks for a threshold, not a state",
            trigger: ".o_field_widget[name=threshold] input",
            run() {
                if (document.querySelector(".o_field_widget[name=trigger_state]")) {
                    throw new Error("the state is asked for a number trigger");
                }
            },
        },
        {
            content: "A state trigger",
            trigger: ".o_field_widget[name=trigger] select",
            run: "selectByLabel State becomes",
        },
        {
            content: "asks for the state, not a threshold",
            trigger: ".o_field_widget[name=trigger_state] input",
            run() {
                if (document.querySelector(".o_field_widget[name=threshold]")) {
                    throw new Error("the threshold is asked for a state trigger");
                }
                if (document.querySelector(".o_field_widget[name=attribute]")) {
                    throw new Error("the attribute is asked for a state trigger");
                }
            },
        },
        {
            content: "The light becomes on",
            trigger: ".o_field_widget[name=trigger_state] input",
            run: "edit on",
        },
        {
            content: "From half past seven",
            trigger: ".o_field_widget[name=time_from] input",
            run: "edit 07:30",
        },
        {
            content: "until ten in the evening",
            trigger: ".o_field_widget[name=time_to] input",
            run: "edit 22:00",
        },
        {
            content: "Not on Sundays",
            trigger: ".o_field_widget[name=weekday_sun] input:checked",
            run: "click",
        },
        {
            content: "Add an action",
            trigger: ".o_field_widget[name=action_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            content: "A service call asks for the service",
            trigger: ".modal .o_field_widget[name=kind] select",
            run: "selectByLabel Call a Home Assistant service",
        },
        {
            trigger: ".modal .o_field_widget[name=service_name] input",
            run() {
                if (document.querySelector(".modal .o_field_widget[name=activity_summary]")) {
                    throw new Error("the activity's summary is asked for a service call");
                }
            },
        },
        {
            content: "An activity instead",
            trigger: ".modal .o_field_widget[name=kind] select",
            run: "selectByLabel Schedule an activity",
        },
        {
            content: "Of type To-Do",
            trigger: ".modal .o_field_widget[name=activity_type_id] input",
            run: "edit To-Do",
        },
        {
            trigger: ".modal .o-autocomplete--dropdown-item:contains(To-Do)",
            run: "click",
        },
        {
            content: "Say what to do",
            trigger: ".modal .o_field_widget[name=activity_summary] input",
            run: "edit Check the kitchen light",
        },
        {
            content: "Due in two days",
            trigger: ".modal .o_field_widget[name=activity_deadline_days] input",
            run: "edit 2",
        },
        {
            content: "No service is asked for an activity",
            trigger: ".modal .o_field_widget[name=activity_summary] input",
            run() {
                if (document.querySelector(".modal .o_field_widget[name=service_name]")) {
                    throw new Error("the service is asked for an activity");
                }
            },
        },
        {
            content: "Keep the action",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The action is listed",
            trigger:
                ".o_field_widget[name=action_ids] .o_data_row:contains(Check the kitchen light)",
        },
        {
            content: "Save the rule",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_status_indicator_buttons.invisible:not(:visible)",
        },
        {
            content: "The rule has no history yet",
            trigger: "button[name=action_view_firings] .o_stat_value:contains(0)",
        },
    ],
});

// The same manager reads the history of the rule from its smart button: a done firing and a
// failed one with its error, opened from the list.
registry.category("web_tour.tours").add("odoo_ha_addon_automation_rule_history", {
    steps: () => [
        {
            content: "The rule has fired twice",
            trigger: "button[name=action_view_firings] .o_stat_value:contains(2)",
        },
        {
            content: "Open its history",
            trigger: "button[name=action_view_firings]",
            run: "click",
        },
        {
            content: "The done firing is listed",
            trigger: ".o_list_view .o_data_row:not(.text-danger):contains(Done)",
        },
        {
            content: "The failed one stands out, with its error",
            trigger:
                ".o_list_view .o_data_row.text-danger:contains(Failed):contains(No activity type To-Do)",
            run() {
                const rows = document.querySelectorAll(".o_list_view .o_data_row");
                if (rows.length !== 2) {
                    throw new Error(`${rows.length} firings listed, expected 2`);
                }
            },
        },
        {
            content: "Open the failed firing",
            trigger: ".o_list_view .o_data_row.text-danger td[name=fired_at]",
            run: "click",
        },
        {
            content: "Its form shows the error and the state that fired it",
            trigger: ".o_form_view .o_field_widget[name=error]:contains(No activity type To-Do)",
            run() {
                const state = document.querySelector(".o_field_widget[name=event_state]");
                if (!state || state.textContent.trim() !== "on") {
                    throw new Error("the form does not show the state that fired the rule");
                }
            },
        },
    ],
});
