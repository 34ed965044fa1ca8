import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

const card = (entityId, state) =>
    `.o_ha_entity_card[data-entity-id='${entityId}']` + (state ? `[data-state='${state}']` : "");

// Run against a real Home Assistant whose demo lights light.bed_light and
// light.ceiling_lights are on (see tests/test_dashboard.py TestLiveDashboard).
registry.category("web_tour.tours").add("odoo_ha_addon_live_dashboard", {
    steps: () => [
        {
            content: "The instance is connected",
            trigger: ".o_ha_status[data-status=connected]",
        },
        {
            content: "The bed light is on",
            trigger: card("light.bed_light", "on"),
        },
        {
            content: "Toggle the bed light from its card",
            trigger: `${card("light.bed_light")} [data-action=toggle] input`,
            run: "click",
        },
        {
            content: "The card shows it off",
            trigger: card("light.bed_light", "off"),
        },
        {
            content: "Turn the ceiling lights off behind the dashboard's back",
            trigger: card("light.ceiling_lights", "on"),
            async run() {
                await rpc("/odoo_ha_addon/call_service", {
                    domain: "light",
                    service: "turn_off",
                    entity_id: "light.ceiling_lights",
                });
            },
        },
        {
            content: "The change reaches the card through the bus",
            trigger: card("light.ceiling_lights", "off"),
        },
        {
            content: "Filter the cards by name",
            trigger: ".o_ha_search",
            run: "edit ceiling",
        },
        {
            content: "Only the matching card is left",
            trigger: `.o_ha_entity_cards:has(${card("light.ceiling_lights")}):not(:has(${card("light.bed_light")}))`,
        },
    ],
});
