import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { queryAll } from "@odoo/hoot-dom";
import { animationFrame } from "@odoo/hoot-mock";
import { contains, getService, mountWithCleanup, onRpc } from "@web/../tests/web_test_helpers";

import { HaDashboard } from "@odoo_ha_addon/dashboard/dashboard";
import { labelColor } from "@odoo_ha_addon/dashboard/label_color";

describe.current.tags("desktop");
defineMailModels();

const INSTANCE = { id: 1, name: "Home", status: "connected", current: true };
// Listed out of order: the dashboard orders floors by level (none last), then name.
const FLOORS = [
    { id: 12, floor_id: "attic", name: "Attic", level: null, icon: null },
    { id: 11, floor_id: "first", name: "First floor", level: 1, icon: "mdi:home-floor-1" },
    { id: 10, floor_id: "ground", name: "Ground floor", level: 0, icon: null },
    { id: 13, floor_id: "cellar", name: "Cellar", level: -1, icon: null },
];
const AREAS = [
    { id: 1, area_id: "kitchen", name: "Kitchen", icon: null, floor_id: 10 },
    { id: 2, area_id: "living", name: "Living room", icon: null, floor_id: 10 },
    { id: 3, area_id: "bedroom", name: "Bedroom", icon: null, floor_id: 11 },
    { id: 4, area_id: "garage", name: "Garage", icon: null, floor_id: null },
    // A floor with no entity in its areas shows no group.
    { id: 5, area_id: "wine", name: "Wine store", icon: null, floor_id: 13 },
    { id: 6, area_id: "loft", name: "Loft", icon: null, floor_id: 12 },
];
const LABELS = [
    { id: 21, label_id: "night", name: "Night", color: "indigo", icon: null },
    { id: 22, label_id: "energy", name: "Energy", color: "#00ff00", icon: "mdi:leaf" },
    { id: 23, label_id: "unused", name: "Unused", color: null, icon: null },
];

let data;

function entity(n, areaId, labelIds = []) {
    return {
        id: n,
        entity_id: `light.l${n}`,
        name: `Light ${n}`,
        domain: "light",
        state: "on",
        attributes: {},
        unit_of_measurement: null,
        last_changed: null,
        last_updated: null,
        area_id: areaId,
        device_id: null,
        label_ids: labelIds,
        record_history: false,
        can_control: false,
    };
}

beforeEach(() => {
    data = {
        instance: INSTANCE,
        floors: FLOORS,
        areas: AREAS,
        devices: [],
        labels: LABELS,
        entities: [
            entity(1, 1, [21]),
            entity(2, 2, [22]),
            entity(3, 3, [21, 22]),
            entity(4, 4),
            entity(5, null, [22]),
            entity(6, 6),
        ],
        can_manage: false,
    };
    const routes = {
        instances: () => ({ current_instance_id: 1, instances: [INSTANCE] }),
        entities: () => structuredClone(data),
    };
    for (const [route, handler] of Object.entries(routes)) {
        onRpc(`/odoo_ha_addon/${route}`, () => ({
            success: true,
            data: handler(),
            error: null,
            error_type: null,
        }));
    }
});

async function mountDashboard() {
    await mountWithCleanup(HaDashboard, { props: { action: {}, actionId: 1 } });
    await animationFrame();
}

/** Each floor group as "Floor count: area count, ...". */
function floorGroups() {
    return queryAll(".o_ha_floor_group").map((group) => {
        const floor = group.querySelector(".o_ha_floor_name").textContent.trim();
        const areas = [...group.querySelectorAll(".o_ha_area_tab")].map((tab) =>
            tab.textContent.trim(),
        );
        return `${floor}: ${areas.join(", ")}`;
    });
}

function cards() {
    return queryAll(".o_ha_entity_card").map((card) => card.dataset.entityId);
}

test("area tabs are grouped by floor, by level then name, areas on no floor last", async () => {
    await mountDashboard();
    expect(floorGroups()).toEqual([
        "Ground floor 2: Kitchen 1, Living room 1",
        "First floor 1: Bedroom 1",
        "Attic 1: Loft 1",
        "No floor: Garage 1, No area 1",
    ]);
    expect(".o_ha_floors .o_ha_area_tab.active").toHaveText("All 6");
    // A floor's heading shows the entities of all its areas.
    await contains(".o_ha_floor_tab:contains(Ground floor)").click();
    expect(cards()).toEqual(["light.l1", "light.l2"]);
    await contains(".o_ha_area_tab:contains(Living room)").click();
    expect(cards()).toEqual(["light.l2"]);
    await contains(".o_ha_area_tab:contains(No area)").click();
    expect(cards()).toEqual(["light.l5"]);
});

test("floors follow the registry live, and a home without floors shows plain tabs", async () => {
    await mountDashboard();
    const haData = getService("ha_data");
    // The bedroom moves to the attic, the first floor is renamed.
    haData.applyRegistry({
        instance_id: 1,
        floors: FLOORS.map((f) => (f.id === 11 ? { ...f, name: "Upstairs" } : f)),
        areas: AREAS.map((a) => (a.id === 3 ? { ...a, floor_id: 12 } : a)),
        devices: [],
        labels: LABELS,
    });
    await animationFrame();
    expect(floorGroups()).toEqual([
        "Ground floor 2: Kitchen 1, Living room 1",
        "Attic 2: Bedroom 1, Loft 1",
        "No floor: Garage 1, No area 1",
    ]);
    // Every floor removed: the tabs are those of a home without floors.
    haData.applyRegistry({
        instance_id: 1,
        floors: [],
        areas: AREAS.map((a) => ({ ...a, floor_id: null })),
        devices: [],
        labels: LABELS,
    });
    await animationFrame();
    expect(".o_ha_floors").toHaveCount(0);
    expect(".o_ha_floor_group").toHaveCount(0);
    expect(queryAll(".nav-tabs .o_ha_area_tab").map((tab) => tab.textContent.trim())).toEqual([
        "All 6",
        "Kitchen 1",
        "Living room 1",
        "Bedroom 1",
        "Garage 1",
        "Loft 1",
        "No area 1",
    ]);
});

test("an instance whose server has no floors or labels looks as before", async () => {
    data.floors = [];
    data.labels = [];
    // What the route gave before floors and labels: no floor on areas, no labels on entities.
    data.areas = AREAS.map((area) => ({ ...area }));
    data.areas.forEach((area) => delete area.floor_id);
    data.entities.forEach((item) => delete item.label_ids);
    await mountDashboard();
    expect(".o_ha_floors").toHaveCount(0);
    expect(".o_ha_label_filter").toHaveCount(0);
    expect(".nav-tabs .o_ha_area_tab").toHaveCount(7);
    expect(cards()).toHaveLength(6);
});

test("the label filter shows the entities carrying any chosen label", async () => {
    await mountDashboard();
    // Labels no entity carries are not offered.
    expect(queryAll(".o_ha_label").map((el) => el.textContent.trim())).toEqual([
        "Energy 3",
        "Night 2",
    ]);
    expect(".o_ha_label[data-label-id='22'] .o_ha_label_dot").toHaveStyle({
        backgroundColor: "rgb(0, 255, 0)",
    });
    await contains(".o_ha_label:contains(Night)").click();
    expect(".o_ha_label:contains(Night)").toHaveAttribute("aria-pressed", "true");
    expect(cards()).toEqual(["light.l1", "light.l3"]);
    await contains(".o_ha_label:contains(Energy)").click();
    expect(cards()).toEqual(["light.l1", "light.l2", "light.l3", "light.l5"]);
    // With an area: both filters apply.
    await contains(".o_ha_area_tab:contains(Kitchen)").click();
    expect(cards()).toEqual(["light.l1"]);
    await contains(".o_ha_area_tab:contains(All)").click();
    await contains(".o_ha_label:contains(Night)").click();
    expect(cards()).toEqual(["light.l2", "light.l3", "light.l5"]);
    // A label put on an entity in Home Assistant: the filtered list follows.
    getService("ha_data").applyEntityChanges({
        instance_id: 1,
        changes: { "light.l4": { label_ids: [22] } },
    });
    await animationFrame();
    expect(cards()).toEqual(["light.l2", "light.l3", "light.l4", "light.l5"]);
    expect(".o_ha_label:contains(Energy)").toHaveText("Energy 4");
    // Nothing matches: clearing the filters clears the labels too.
    await contains(".o_ha_search").edit("Light 1");
    expect(".o_ha_no_match").toHaveCount(1);
    await contains(".o_ha_no_match a").click();
    expect(cards()).toHaveLength(6);
    expect(".o_ha_label.active").toHaveCount(0);
});

test("label colours: Home Assistant's names and hex colours, nothing else", () => {
    expect(labelColor("indigo")).toBe("#3f51b5");
    expect(labelColor("#112233")).toBe("#112233");
    expect(labelColor("red; background: url(x)")).toBe(null);
    expect(labelColor("constructor")).toBe(null);
    expect(labelColor(null)).toBe(null);
});
