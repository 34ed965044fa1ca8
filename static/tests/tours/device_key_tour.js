import { registry } from "@web/core/registry";

// Connecting an outside app as a Home Assistant user ("key_member", password = login), in the
// real web client: the key is shown once, in a dialog, and the device is listed after it
// (see tests/test_device_key_security.py TestDeviceKeyInTheBrowser).
registry.category("web_tour.tours").add("odoo_ha_addon_device_key", {
    steps: () => [
        {
            content: "Open the form that connects an outside app",
            trigger: "button:contains(Connect an outside app)",
            run: "click",
        },
        {
            content: "Name the device",
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Hall tablet",
        },
        {
            content: "Make the key",
            trigger: ".modal button[name=action_make_key]",
            run: "click",
        },
        {
            content: "Odoo asks for the password first",
            trigger: ".modal .o_field_widget[name=password] input",
            run: "edit key_member",
        },
        {
            content: "Confirm it",
            trigger: ".modal button[name=run_check]",
            run: "click",
        },
        {
            content: "The key is shown, once",
            trigger: ".modal .o_field_widget[name=key]",
            run() {
                // Not logged: a key never goes to a log, not even a test's.
                if (!/\b[0-9a-f]{40}\b/.test(this.anchor.textContent)) {
                    throw new Error("the dialog shows no key");
                }
            },
        },
        {
            content: "Close the dialog",
            trigger: ".modal button:contains(Done)",
            run: "click",
        },
        {
            content: "The device is listed in Outside Apps",
            trigger: ".o_list_view .o_data_row td:contains(Hall tablet)",
        },
    ],
});
