import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { queryAll } from "@odoo/hoot-dom";
import { animationFrame } from "@odoo/hoot-mock";
import { onRendered } from "@odoo/owl";
import {
    contains,
    getService,
    mountWithCleanup,
    onRpc,
    patchWithCleanup,
} from "@web/../tests/web_test_helpers";

import { HaDashboard, PAGE_SIZE } from "@odoo_ha_addon/dashboard/dashboard";
import { HaEntityCard } from "@odoo_ha_addon/entity_card/entity_card";

describe.current.tags("desktop");
defineMailModels();

let entities;

function sensor(n, values = {}) {
    const id = String(n).padStart(5, "0");
    return {
        id: n,
        entity_id: `sensor.probe_${id}`,
        name: `Probe ${id}`,
        domain: "sensor",
        state: String(n),
        attributes: {},
        unit_of_measurement: null,
        last_changed: null,
        last_updated: null,
        area_id: n % 2 ? 1 : null,
        device_id: null,
        record_history: false,
        can_control: false,
        ...values,
    };
}

beforeEach(() => {
    entities = Array.from({ length: 1000 }, (_, n) => sensor(n + 1));
    const instance = { id: 1, name: "Home", status: "connected", current: true };
    const routes = {
        instances: () => ({ current_instance_id: 1, instances: [instance] }),
        entities: () => ({
            instance,
            areas: [{ id: 1, area_id: "kitchen", name: "Kitchen", icon: null }],
            entities: entities.map((entity) => ({ ...entity })),
            can_manage: false,
        }),
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
    const renders = [];
    patchWithCleanup(HaEntityCard.prototype, {
        setup() {
            super.setup();
            onRendered(() => renders.push(this.props.entityId));
        },
    });
    patchWithCleanup(HaDashboard.prototype, {
        setup() {
            super.setup();
            onRendered(() => renders.push("dashboard"));
        },
    });
    await mountWithCleanup(HaDashboard, { props: { action: {}, actionId: 1 } });
    await animationFrame();
    renders.length = 0;
    return renders;
}

function changed(entityId, state) {
    return { state, last_updated: "2024-03-01T12:00:00+00:00" };
}

test("1,000 entities render one page of cards, the first ones by name", async () => {
    await mountDashboard();
    expect(".o_ha_entity_card").toHaveCount(PAGE_SIZE);
    expect(queryAll(".o_ha_entity_card")[0].dataset.entityId).toBe("sensor.probe_00001");
    expect(".o_ha_more").toHaveCount(1);
    expect(".o_ha_summary").toHaveText(/1000 entities/);
    // Search filters the whole instance, not the page.
    await contains(".o_ha_search").edit("probe_00999");
    expect(".o_ha_entity_card").toHaveCount(1);
    expect(".o_ha_more").toHaveCount(0);
});

test("a batch of changes re-renders the changed cards only", async () => {
    const renders = await mountDashboard();
    getService("ha_data").applyEntityChanges({
        instance_id: 1,
        changes: {
            "sensor.probe_00002": changed("sensor.probe_00002", "-2"),
            "sensor.probe_00003": changed("sensor.probe_00003", "-3"),
            // Changed, but not on the page: no render at all.
            "sensor.probe_00900": changed("sensor.probe_00900", "-900"),
        },
    });
    await animationFrame();
    expect(renders.sort()).toEqual(["sensor.probe_00002", "sensor.probe_00003"]);
    expect("[data-entity-id='sensor.probe_00002'] .o_ha_entity_value").toHaveText("-2");
});

test("the list follows removals, renames and area moves, not states alone", async () => {
    const renders = await mountDashboard();
    const haData = getService("ha_data");
    haData.applyEntityChanges({ instance_id: 1, changes: { "sensor.probe_00001": null } });
    await animationFrame();
    expect(queryAll(".o_ha_entity_card")[0].dataset.entityId).toBe("sensor.probe_00002");
    expect(".o_ha_summary").toHaveText(/999 entities/);

    haData.applyEntityChanges({
        instance_id: 1,
        changes: {
            "sensor.probe_00002": {
                state: "2",
                attributes: { friendly_name: "Zeta probe" },
                area_id: 1,
            },
        },
    });
    await animationFrame();
    expect(queryAll(".o_ha_entity_card")[0].dataset.entityId).toBe("sensor.probe_00003");
    expect(queryAll(".o_ha_area_tab .badge").map((badge) => badge.textContent)).toEqual([
        "999",
        "500",
        "499",
    ]);

    renders.length = 0;
    haData.applyEntityChanges({
        instance_id: 1,
        changes: { "sensor.probe_00003": changed("sensor.probe_00003", "on") },
    });
    await animationFrame();
    expect(renders).toEqual(["sensor.probe_00003"]);
});

test("the status badge follows instance_status notifications", async () => {
    await mountDashboard();
    expect(".o_ha_status").toHaveAttribute("data-status", "connected");
    const haData = getService("ha_data");
    for (const status of ["disconnected", "connecting", "unreachable", "connected"]) {
        haData.applyInstanceStatus({ instance_id: 1, status, last_error: "Frozen" });
        await animationFrame();
        expect(".o_ha_status").toHaveAttribute("data-status", status);
    }
});

test("areas renamed in Home Assistant and entities moved show at once", async () => {
    await mountDashboard();
    const haData = getService("ha_data");
    // What the entity kanban listens to, to read its columns again.
    haData.subscribe("registry_changed", (instanceId, { areas }) =>
        expect.step(`areas:${instanceId}:${areas.length}`),
    );
    haData.applyRegistry({
        instance_id: 1,
        areas: [
            { id: 1, area_id: "kitchen", name: "Cookhouse", icon: null },
            { id: 2, area_id: "garage", name: "Garage", icon: null },
        ],
        devices: [],
    });
    haData.applyEntityChanges({
        instance_id: 1,
        changes: { "sensor.probe_00001": { area_id: 2, device_id: null } },
    });
    await animationFrame();
    expect.verifySteps(["areas:1:2"]);
    expect(queryAll(".o_ha_area_tab").map((tab) => tab.textContent.trim())).toEqual([
        "All 1000",
        "Cookhouse 499",
        "Garage 1",
        "No area 500",
    ]);
    await contains(".o_ha_area_tab:contains(Garage)").click();
    expect(".o_ha_entity_card").toHaveCount(1);
    expect(".o_ha_entity_card").toHaveAttribute("data-entity-id", "sensor.probe_00001");
});

test("grouped by device: a heading per device, entities without a device last", async () => {
    entities = [
        sensor(1, { device_id: 7 }),
        sensor(2),
        sensor(3, { device_id: 8 }),
        sensor(4, { device_id: 7 }),
    ];
    onRpc("/odoo_ha_addon/entities", () => ({
        success: true,
        data: {
            instance: { id: 1, name: "Home", status: "connected", current: true },
            areas: [],
            devices: [
                { id: 7, name: "Zigbee plug", area_id: null },
                { id: 8, name: "Attic sensor", area_id: null },
            ],
            entities: entities.map((entity) => ({ ...entity })),
            can_manage: false,
        },
        error: null,
        error_type: null,
    }));
    await mountDashboard();
    await contains(".o_ha_by_device").click();
    const order = queryAll(".o_ha_device_heading, .o_ha_entity_card").map((el) =>
        el.classList.contains("o_ha_device_heading") ? el.textContent.trim() : el.dataset.entityId,
    );
    expect(order).toEqual([
        "Attic sensor",
        "sensor.probe_00003",
        "Zigbee plug",
        "sensor.probe_00001",
        "sensor.probe_00004",
        "No device",
        "sensor.probe_00002",
    ]);
    // A device renamed in Home Assistant is renamed here.
    getService("ha_data").applyRegistry({
        instance_id: 1,
        areas: [],
        devices: [
            { id: 7, name: "Attic plug", area_id: null },
            { id: 8, name: "Attic sensor", area_id: null },
        ],
    });
    await animationFrame();
    expect(queryAll(".o_ha_device_heading").map((el) => el.textContent.trim())).toEqual([
        "Attic plug",
        "Attic sensor",
        "No device",
    ]);
});
