import { registry } from "@web/core/registry";

const light = (state) =>
    ".o_ha_shared_entity[data-entity-id='light.bed_light']" +
    (state ? `[data-state='${state}']` : "");

// A portal user's /my/ha page, served with a real Home Assistant whose light.bed_light is on
// and shared with that user to control (see tests/test_dashboard.py TestLiveDashboard).
registry.category("web_tour.tours").add("odoo_ha_addon_portal_share", {
    steps: () => [
        {
            content: "The shared light is listed, on",
            trigger: light("on"),
            run() {
                // Gone after a reload: the last step checks that the page was never reloaded.
                window.__haPortalPage = true;
            },
        },
        {
            content: "Toggle the light from the portal",
            trigger: `${light()} [data-action=toggle] input`,
            run: "click",
        },
        {
            content: "Home Assistant's new state reaches the page through the bus",
            trigger: light("off"),
            run() {
                console.log("odoo_ha_addon: portal toggled");
            },
        },
        {
            content: "The share expires: the light leaves the open page",
            trigger: ".o_ha_shared_entities:not(:has(.o_ha_shared_entity))",
            timeout: 30000,
            run() {
                if (!window.__haPortalPage) {
                    throw new Error("the page was reloaded");
                }
            },
        },
    ],
});
