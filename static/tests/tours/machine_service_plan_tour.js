import { registry } from "@web/core/registry";

// Service plans on the machine form (see tests/test_machine_service_plans.py
// TestServicePlanInTheBrowser, which sets up the machine "Lathe" with 12 working hours since
// 1 March 2026 and checks what was saved).

function expectText(selector, expected) {
    const element = document.querySelector(selector);
    const text = element ? element.textContent.trim() : null;
    if (text !== expected) {
        throw new Error(`${selector}: "${text}", expected "${expected}"`);
    }
}

function expectNone(selector, what) {
    if (document.querySelector(selector)) {
        throw new Error(`${what} (${selector})`);
    }
}

const PLANS = ".o_field_widget[name=service_plan_ids]";
const ROW = `${PLANS} .o_data_row`;
const DUES = ".modal .o_field_widget[name=due_ids]";

function openServicePlans(machine) {
    return [
        {
            content: `Open the machine ${machine}`,
            trigger: `.o_kanban_record:contains(${machine})`,
            run: "click",
        },
        {
            content: "Go to its service plans",
            trigger:
                ".o_form_view .o_notebook a.nav-link[name=service_plans]:contains(Service plans)",
            run: "click",
        },
    ];
}

// A manager ("ha_test_manager") adds a plan every 10 working hours to the machine "Lathe",
// counting from 1 March, and checks it at once: the 10 h threshold is scheduled.
registry.category("web_tour.tours").add("odoo_ha_addon_machine_service_plan", {
    steps: () => [
        ...openServicePlans("Lathe"),
        {
            content: "The machine has no plan yet",
            trigger: `${PLANS} .o_field_x2many_list_row_add a`,
            run() {
                expectNone(ROW, "the machine already has a plan");
            },
        },
        {
            content: "Add a plan",
            trigger: `${PLANS} .o_field_x2many_list_row_add a`,
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Oil change",
        },
        {
            content: "Every 10 working hours",
            trigger: ".modal .o_field_widget[name=every_working_hours] input",
            run: "edit 10",
        },
        {
            content: "Counting from the first of March",
            trigger: ".modal .o_field_widget[name=start_at] input",
            run: "edit 03/01/2026 00:00:00 && press Enter",
        },
        {
            content: "The form shows the usage since then, before the plan is saved",
            trigger: ".modal .o_field_widget[name=next_service]:contains(now 12 h)",
            run() {
                expectText(".modal .o_field_widget[name=usage_hours]", "12.00");
                expectText(
                    ".modal .o_field_widget[name=next_service]",
                    "Next service at 10 h, now 12 h",
                );
                expectNone(
                    ".modal .o_field_widget[name=machine_id]",
                    "the machine is asked for in its own form",
                );
            },
        },
        {
            content: "Say what to do",
            trigger: ".modal .o_field_widget[name=summary] input",
            run: "edit Change the oil",
        },
        {
            content: "A to-do for the manager, due in a week",
            trigger: ".modal .o_field_widget[name=activity_type_id] input:value(To-Do)",
            run() {
                const user = document.querySelector(".modal .o_field_widget[name=user_id] input");
                if (!user || !user.value.startsWith("ha_test_manager")) {
                    throw new Error(`assigned to "${user && user.value}", not the manager`);
                }
                const days = document.querySelector(".modal .o_field_widget[name=due_days] input");
                if (!days || days.value !== "7") {
                    throw new Error(`due in "${days && days.value}" days, not 7`);
                }
            },
        },
        {
            content: "Keep the plan",
            trigger: ".modal .o_form_button_save:contains(Save & Close)",
            run: "click",
        },
        {
            content: "The plan is listed with its interval and progress",
            trigger: `body:not(:has(.modal)) ${ROW}:contains(Oil change)`,
            run() {
                expectText(`${ROW} td[name=every_working_hours]`, "10.00");
                expectText(`${ROW} td[name=every_sessions]`, "");
                expectText(`${ROW} td[name=next_service]`, "Next service at 10 h, now 12 h");
            },
        },
        {
            content: "Save the machine",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_status_indicator_buttons.invisible:not(:visible)",
        },
        {
            content: "The saved plan is listed the same",
            trigger: `${ROW} td[name=next_service]:contains(now 12 h)`,
            run() {
                expectText(`${ROW} td[name=name]`, "Oil change");
                expectText(`${ROW} td[name=every_working_hours]`, "10.00");
                expectText(`${ROW} td[name=every_sessions]`, "");
                expectText(`${ROW} td[name=next_service]`, "Next service at 10 h, now 12 h");
            },
        },
        {
            content: "Open the plan",
            trigger: `${ROW} td[name=name]`,
            run: "click",
        },
        {
            content: "Its form shows its machine and the progress since the start",
            trigger: ".modal .o_field_widget[name=machine_id]:contains(Lathe)",
            run() {
                expectText(".modal .o_field_widget[name=usage_hours]", "12.00");
                expectText(
                    ".modal .o_field_widget[name=next_service]",
                    "Next service at 10 h, now 12 h",
                );
                expectNone(DUES, "a service history before any check");
            },
        },
        {
            content: "Check it now",
            trigger: ".modal button[name=action_check_now]:contains(Check now)",
            run: "click",
        },
        {
            content: "The 10 h threshold is in its history, and the next one is at 20 h",
            trigger: `${DUES} .o_data_row`,
            run() {
                expectText(`${DUES} td[name=kind]`, "Working hours");
                expectText(`${DUES} td[name=threshold]`, "10.00");
                expectText(`${DUES} td[name=usage]`, "12.00");
                expectText(`${DUES} td[name=activity_state]`, "Planned");
                expectText(
                    ".modal .o_field_widget[name=next_service]",
                    "Next service at 20 h, now 12 h",
                );
            },
        },
        {
            content: "Close the plan",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The list shows the next threshold",
            trigger: `body:not(:has(.modal)) ${ROW} td[name=next_service]:contains(at 20 h)`,
            run() {
                expectText(`${ROW} td[name=next_service]`, "Next service at 20 h, now 12 h");
            },
        },
    ],
});

// The manager makes the machine "Press" with a plan every 5 sessions before saving it: the plan
// does not ask for its machine.
registry.category("web_tour.tours").add("odoo_ha_addon_machine_service_plan_new_machine", {
    steps: () => [
        {
            content: "Make a machine",
            trigger: ".o-kanban-button-new",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Press",
        },
        {
            content: "Metered by the press's sensor",
            trigger: ".o_form_view .o_field_widget[name=sensor_id] input",
            run: "edit Press power",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains(Press power)",
            run: "click",
        },
        {
            content: "Go to its service plans",
            trigger: ".o_form_view .o_notebook a.nav-link[name=service_plans]",
            run: "click",
        },
        {
            content: "Add a plan",
            trigger: `${PLANS} .o_field_x2many_list_row_add a`,
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Grease the ram",
        },
        {
            content: "Every 5 sessions",
            trigger: ".modal .o_field_widget[name=every_sessions] input",
            run: "edit 5 && press Enter",
        },
        {
            content: "No machine is asked for",
            trigger: ".modal .o_field_widget[name=next_service]:contains(5 sessions)",
            run() {
                expectNone(".modal .o_field_widget[name=machine_id]", "the machine is asked for");
                expectNone(
                    ".modal .o_field_widget[name=usage_hours]",
                    "working hours shown for a plan by sessions",
                );
            },
        },
        {
            content: "Keep the plan",
            trigger: ".modal .o_form_button_save:contains(Save & Close)",
            run: "click",
        },
        {
            content: "The plan is listed",
            trigger: `body:not(:has(.modal)) ${ROW}:contains(Grease the ram)`,
            run() {
                expectText(`${ROW} td[name=every_working_hours]`, "");
                expectText(`${ROW} td[name=every_sessions]`, "5");
                expectText(`${ROW} td[name=next_service]`, "Next service at 5 sessions, now 0");
            },
        },
        {
            content: "Save the machine",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_view .o_form_status_indicator_buttons.invisible:not(:visible)",
            run() {
                expectNone(".o_notification.border-danger", "an error was shown");
            },
        },
    ],
});

// A Home Assistant user ("ha_test_member") in a group of the machine's sensor reads the plan of
// the machine "Lathe" and its history, and can change nothing.
registry.category("web_tour.tours").add("odoo_ha_addon_machine_service_plan_read_only", {
    steps: () => [
        ...openServicePlans("Lathe"),
        {
            content: "The plan is listed with its progress, and no plan can be added or removed",
            trigger: `${ROW}:contains(Oil change)`,
            run() {
                expectText(`${ROW} td[name=every_working_hours]`, "10.00");
                expectText(`${ROW} td[name=next_service]`, "Next service at 20 h, now 12 h");
                expectNone(`${PLANS} .o_field_x2many_list_row_add`, "a plan can be added");
                expectNone(`${PLANS} .o_list_record_remove`, "a plan can be removed");
                expectNone(".o_form_view .o_form_button_save", "the machine can be saved");
            },
        },
        {
            content: "Open the plan",
            trigger: `${ROW} td[name=name]`,
            run: "click",
        },
        {
            content: "It is read-only, with its history and without the check",
            trigger: `${DUES} .o_data_row`,
            run() {
                expectText(`${DUES} td[name=threshold]`, "10.00");
                expectText(
                    ".modal .o_field_widget[name=next_service]",
                    "Next service at 20 h, now 12 h",
                );
                expectNone(".modal .o_field_widget input", "a field can be filled");
                expectNone(".modal button[name=action_check_now]", "the plan can be checked");
                expectNone(".modal .o_form_button_save", "the plan can be saved");
            },
        },
        {
            content: "Close it",
            trigger: ".modal .o_form_button_cancel:contains(Close)",
            run: "click",
        },
        {
            content: "Closed",
            trigger: `body:not(:has(.modal)) ${ROW}:contains(Oil change)`,
        },
    ],
});
