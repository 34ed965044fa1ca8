import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { advanceTime, animationFrame, runAllTimers } from "@odoo/hoot-mock";
import { Component, useState, xml } from "@odoo/owl";
import {
    getService,
    makeMockEnv,
    mockService,
    mountWithCleanup,
    onRpc,
} from "@web/../tests/web_test_helpers";

import { useService } from "@web/core/utils/hooks";

import { HaBusBridge, HA_NOTIFICATIONS } from "@odoo_ha_addon/services/ha_bus_bridge";
import {
    ACCESS_CHANGED,
    ACCESS_RELOAD_MS,
    HaApiError,
    OPTIMISTIC_CHECK_MS,
    SWITCH_DEBOUNCE_MS,
} from "@odoo_ha_addon/services/ha_data_service";

describe.current.tags("headless");
defineMailModels();

function makeEntity(entityId, values = {}) {
    const domain = entityId.split(".")[0];
    return {
        id: values.id || entityId.length,
        entity_id: entityId,
        name: entityId,
        domain,
        state: "off",
        attributes: {},
        unit_of_measurement: null,
        last_changed: "2024-03-01T10:00:00Z",
        last_updated: "2024-03-01T10:00:00Z",
        area_id: null,
        device_id: null,
        record_history: true,
        can_control: true,
        ...values,
    };
}

function makeInstance(id, name, values = {}) {
    return {
        id,
        name,
        url: `http://${name.toLowerCase()}.local:8123`,
        current: false,
        status: "connected",
        status_since: "2024-03-01 10:00:00",
        last_event_at: "2024-03-01 10:00:00",
        ha_version: "2024.3.3",
        entity_count: 2,
        last_error: false,
        ...values,
    };
}

let server;

beforeEach(() => {
    server = {
        current: 1,
        instances: {
            1: makeInstance(1, "Home"),
            2: makeInstance(2, "Cabin"),
        },
        entities: {
            1: [
                makeEntity("light.kitchen", { state: "on" }),
                makeEntity("sensor.outside", { state: "7.5", unit_of_measurement: "°C" }),
            ],
            2: [makeEntity("switch.sauna")],
        },
        errors: {},
    };
    const routes = {
        instances: () => ({
            current_instance_id: server.current,
            instances: Object.values(server.instances).map((instance) => ({
                ...instance,
                current: instance.id === server.current,
            })),
        }),
        entities: (params) => {
            const id = params.ha_instance_id || server.current;
            return {
                instance: { ...server.instances[id], current: true },
                areas: [],
                entities: server.entities[id].map((entity) => ({ ...entity })),
                can_manage: false,
            };
        },
        switch_instance: (params) => {
            server.current = params.ha_instance_id;
            return { ...server.instances[params.ha_instance_id], current: true };
        },
        call_service: (params) => ({ domain: params.domain, service: params.service }),
        entity_states: (params) => ({
            entities: params.entity_ids.map((entityId) => ({
                ...Object.values(server.entities)
                    .flat()
                    .find((entity) => entity.entity_id === entityId),
            })),
            unknown: [],
        }),
    };
    for (const [route, handler] of Object.entries(routes)) {
        onRpc(`/odoo_ha_addon/${route}`, async (request) => {
            const { params } = await request.json();
            expect.step(`${route}:${params.ha_instance_id ?? "-"}`);
            if (server.errors[route]) {
                const [error, errorType] = server.errors[route];
                return { success: false, data: null, error, error_type: errorType };
            }
            return { success: true, data: handler(params), error: null, error_type: null };
        });
    }
    mockService("notification", {
        add(message, options = {}) {
            expect.step(`notify:${options.type}:${message}`);
            return () => {};
        },
    });
});

test("load caches each instance and reads it again only when forced", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.loadInstances();
    expect(haData.state.currentInstanceId).toBe(1);
    expect(haData.state.instances.map((instance) => instance.name)).toEqual(["Home", "Cabin"]);
    expect.verifySteps(["instances:-"]);

    await haData.load();
    expect(haData.state.instance.id).toBe(1);
    expect(Object.keys(haData.state.entities)).toEqual(["light.kitchen", "sensor.outside"]);
    await haData.load(2);
    expect(Object.keys(haData.state.entities)).toEqual(["switch.sauna"]);
    expect.verifySteps(["entities:1", "entities:2"]);

    await haData.load(1);
    expect(haData.state.instance.name).toBe("Home");
    expect(haData.state.entities["light.kitchen"].state).toBe("on");
    expect.verifySteps([]);

    await haData.load(1, { force: true });
    expect.verifySteps(["entities:1"]);
});

test("entity changes patch the cache of their instance; null removes an entity", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(2);
    await haData.load(1);
    expect.verifySteps(["entities:2", "entities:1"]);

    haData.applyEntityChanges({
        instance_id: 1,
        changes: {
            "light.kitchen": {
                id: 15,
                state: "off",
                attributes: { friendly_name: "Kitchen ceiling" },
                last_changed: "2024-03-01T11:00:00+00:00",
                last_updated: "2024-03-01T11:00:00+00:00",
            },
            "sensor.outside": null,
        },
    });
    haData.applyEntityChanges({
        instance_id: 2,
        changes: { "switch.sauna": { state: "on", attributes: {} } },
    });
    const kitchen = haData.state.entities["light.kitchen"];
    expect(kitchen.state).toBe("off");
    expect(kitchen.name).toBe("Kitchen ceiling");
    expect(kitchen.last_updated).toBe("2024-03-01T11:00:00+00:00");
    expect(kitchen.can_control).toBe(true);
    expect("sensor.outside" in haData.state.entities).toBe(false);

    await haData.load(2);
    expect(haData.state.entities["switch.sauna"].state).toBe("on");
    expect.verifySteps([]);
});

test("entity_changes subscribers get every batch of every instance until they unsubscribe", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(1);
    expect.verifySteps(["entities:1"]);
    const callback = (instanceId, changes) => {
        expect.step(`${instanceId}:${JSON.stringify(changes)}`);
    };
    const unsubscribe = haData.subscribe("entity_changes", callback);
    haData.applyEntityChanges({ instance_id: 1, changes: { "sensor.outside": { state: "8" } } });
    haData.applyEntityChanges({ instance_id: 7, changes: { "sensor.gone": null } });
    expect.verifySteps(['1:{"sensor.outside":{"state":"8"}}', '7:{"sensor.gone":null}']);

    unsubscribe();
    haData.applyEntityChanges({ instance_id: 1, changes: { "sensor.outside": { state: "9" } } });
    expect.verifySteps([]);
    expect(haData.state.entities["sensor.outside"].state).toBe("9");
});

test("instance_status subscribers get every status change until they unsubscribe", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.loadInstances();
    expect.verifySteps(["instances:-"]);
    const callback = (payload) => expect.step(`${payload.instance_id}:${payload.status}`);
    const unsubscribe = haData.subscribe("instance_status", callback);
    haData.applyInstanceStatus({ instance_id: 2, status: "unreachable", last_error: "refused" });
    expect.verifySteps(["2:unreachable"]);
    expect(haData.state.instances.find((i) => i.id === 2).status).toBe("unreachable");

    unsubscribe();
    haData.applyInstanceStatus({ instance_id: 2, status: "connected" });
    expect.verifySteps([]);
});

test("registry_changed and machine_states subscribers follow their own events only", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    const unsubscribes = [
        haData.subscribe("registry_changed", (instanceId, { areas, devices }) =>
            expect.step(`registry:${instanceId}:${areas.length}:${devices.length}`),
        ),
        haData.subscribe("machine_states", (payload) =>
            expect.step(`machines:${payload.instance_id}:${Object.keys(payload.machines)}`),
        ),
    ];
    haData.applyRegistry({ instance_id: 3, areas: [{ id: 1, name: "Attic" }], devices: [] });
    haData.applyMachineStates({ instance_id: 3, machines: { 5: { phase: "running" } } });
    expect.verifySteps(["registry:3:1:0", "machines:3:5"]);

    unsubscribes.forEach((unsubscribe) => unsubscribe());
    haData.applyRegistry({ instance_id: 3, areas: [], devices: [] });
    haData.applyMachineStates({ instance_id: 3, machines: { 5: { phase: "idle" } } });
    expect.verifySteps([]);
});

test("subscribing to an event ha_data does not know is an error", async () => {
    await makeMockEnv();
    expect(() => getService("ha_data").subscribe("entity_change", () => {})).toThrow(
        /cannot subscribe to "entity_change"/,
    );
});

test("components re-render on entity changes through useState", async () => {
    class Probe extends Component {
        static template = xml`<span class="probe" t-esc="data.entities['light.kitchen']?.state"/>`;
        static props = {};
        setup() {
            this.data = useState(useService("ha_data").state);
        }
    }
    await makeMockEnv();
    await getService("ha_data").load(1);
    await mountWithCleanup(Probe);
    expect(".probe").toHaveText("on");
    getService("ha_data").applyEntityChanges({
        instance_id: 1,
        changes: { "light.kitchen": { state: "off" } },
    });
    await animationFrame();
    expect(".probe").toHaveText("off");
    expect.verifySteps(["entities:1"]);
});

test("an entities_reload reads the shown instance again, and drops the cache of others", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(2);
    await haData.load(1);
    expect.verifySteps(["entities:2", "entities:1"]);

    server.entities[1][0].state = "off";
    await haData.applyReload({ instance_id: 1 });
    expect.verifySteps(["entities:1"]);
    expect(haData.state.entities["light.kitchen"].state).toBe("off");

    haData.applyReload({ instance_id: 2 });
    expect.verifySteps([]);
    await haData.load(2);
    expect.verifySteps(["entities:2"]);
});

test("changes that arrive while the instance loads are replayed on its answer", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    const loading = haData.load(1);
    haData.applyEntityChanges({
        instance_id: 1,
        changes: {
            "light.kitchen": { state: "off", last_updated: "2024-03-01T12:00:00+00:00" },
        },
    });
    await loading;
    expect(haData.state.entities["light.kitchen"].state).toBe("off");
    expect.verifySteps(["entities:1"]);
});

test("a burst of instance_switched notifications makes one reload, of the last instance", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.loadInstances();
    await haData.load();
    expect.verifySteps(["instances:-", "entities:1"]);

    haData.applyInstanceSwitched({ instance_id: 2, name: "Cabin" });
    await advanceTime(100);
    haData.applyInstanceSwitched({ instance_id: 1, name: "Home" });
    await advanceTime(100);
    haData.applyInstanceSwitched({ instance_id: 2, name: "Cabin" });
    await advanceTime(SWITCH_DEBOUNCE_MS - 10);
    expect.verifySteps([]);
    expect(haData.state.instance.id).toBe(1);

    await advanceTime(20);
    await animationFrame();
    expect.verifySteps(["entities:2"]);
    expect(haData.state.currentInstanceId).toBe(2);
    expect(haData.state.instance.id).toBe(2);
    expect(haData.state.instances.find((instance) => instance.current).id).toBe(2);

    // Back to an instance already loaded: from the cache, no request.
    haData.applyInstanceSwitched({ instance_id: 1, name: "Home" });
    await runAllTimers();
    expect.verifySteps([]);
    expect(haData.state.instance.id).toBe(1);
});

test("a tab that shows nothing only records the switch", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    haData.applyInstanceSwitched({ instance_id: 2, name: "Cabin" });
    await runAllTimers();
    expect(haData.state.currentInstanceId).toBe(2);
    expect.verifySteps([]);
});

test("switchInstance switches on the server, then shows the instance", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.loadInstances();
    await haData.load();
    expect(await haData.switchInstance(2)).toBe(true);
    expect.verifySteps(["instances:-", "entities:1", "switch_instance:2", "entities:2"]);
    expect(haData.state.currentInstanceId).toBe(2);
    expect(Object.keys(haData.state.entities)).toEqual(["switch.sauna"]);
    // The notification of this very switch comes back to this tab: nothing to do.
    haData.applyInstanceSwitched({ instance_id: 2, name: "Cabin" });
    await runAllTimers();
    expect.verifySteps([]);
});

test("api errors are thrown as HaApiError, without notification", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    server.errors.entities = ["No access", "access_denied"];
    let error;
    try {
        await haData.api("entities", { ha_instance_id: 1 });
    } catch (caught) {
        error = caught;
    }
    expect(error).toBeInstanceOf(HaApiError);
    expect(error.message).toBe("No access");
    expect(error.type).toBe("access_denied");
    expect.verifySteps(["entities:1"]);
});

test("load errors land in state.error; a later load clears it", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    server.errors.entities = ["Instance archived", "instance_inactive"];
    expect(await haData.load(1)).toBe(false);
    expect(haData.state.error).toEqual({ message: "Instance archived", type: "instance_inactive" });
    expect(haData.state.loading).toBe(false);
    delete server.errors.entities;
    expect(await haData.load(1)).toBe(true);
    expect(haData.state.error).toBe(null);
    expect.verifySteps(["entities:1", "entities:1"]);
});

test("a refused service call is notified and thrown", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(1);
    server.errors.call_service = ["Home Assistant is not connected", "not_connected"];
    await expect(haData.callService("light", "toggle", "light.kitchen")).rejects.toThrow(
        "Home Assistant is not connected",
    );
    expect.verifySteps([
        "entities:1",
        "call_service:1",
        "notify:danger:Home Assistant is not connected",
    ]);
});

test("a failed switch is notified and changes nothing", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.loadInstances();
    await haData.load();
    server.errors.switch_instance = ["No access to instance 2", "access_denied"];
    expect(await haData.switchInstance(2)).toBe(false);
    expect(haData.state.currentInstanceId).toBe(1);
    expect(haData.state.instance.id).toBe(1);
    expect.verifySteps([
        "instances:-",
        "entities:1",
        "switch_instance:2",
        "notify:danger:No access to instance 2",
    ]);
});

test("callService sends the call to the shown instance and notifies a success message", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(2);
    await haData.callService(
        "switch",
        "turn_on",
        ["switch.sauna"],
        {},
        {
            successMessage: "Done",
        },
    );
    expect.verifySteps(["entities:2", "call_service:2", "notify:success:Done"]);
});

test("optimistic patches show at once and roll back; a real change wins", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(1);
    const kitchen = haData.state.entities["light.kitchen"];
    kitchen.attributes = { brightness: 255, supported_color_modes: ["brightness"] };

    expect(haData.setOptimistic("light.kitchen", { attributes: { brightness: 128 } })).toBe(true);
    expect(kitchen.attributes).toEqual({ brightness: 128, supported_color_modes: ["brightness"] });
    expect(haData.setOptimistic("light.kitchen", { state: "off" })).toBe(true);
    haData.rollback("light.kitchen");
    expect(kitchen.state).toBe("on");
    expect(kitchen.attributes.brightness).toBe(255);

    haData.setOptimistic("light.kitchen", { state: "off" });
    haData.applyEntityChanges({ instance_id: 1, changes: { "light.kitchen": { state: "on" } } });
    haData.rollback("light.kitchen");
    expect(kitchen.state).toBe("on");

    expect(haData.setOptimistic("light.unknown", { state: "on" })).toBe(false);
    expect.verifySteps(["entities:1"]);
});

test("an accepted call whose change never comes is checked against the server", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(1);
    haData.setOptimistic("light.kitchen", { state: "off" });
    await haData.callService("light", "turn_off", "light.kitchen");
    expect(haData.state.entities["light.kitchen"].state).toBe("off");
    await advanceTime(OPTIMISTIC_CHECK_MS + 10);
    await animationFrame();
    expect(haData.state.entities["light.kitchen"].state).toBe("on");
    expect.verifySteps(["entities:1", "call_service:1", "entity_states:1"]);
});

test("an entity the cache does not hold makes one reload after a delay", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(1);
    expect.verifySteps(["entities:1"]);
    server.entities[1].push(makeEntity("light.new", { state: "on" }));
    haData.applyEntityChanges({ instance_id: 1, changes: { "light.new": { state: "on" } } });
    haData.applyEntityChanges({ instance_id: 1, changes: { "light.new": { state: "off" } } });
    await runAllTimers();
    await animationFrame();
    expect.verifySteps(["entities:1"]);
    expect(haData.state.entities["light.new"].state).toBe("on");
    // Entities the user may not read stay out, and do not cause reload after reload.
    haData.applyEntityChanges({ instance_id: 1, changes: { "lock.secret": { state: "locked" } } });
    await runAllTimers();
    await animationFrame();
    haData.applyEntityChanges({
        instance_id: 1,
        changes: { "lock.secret": { state: "unlocked" } },
    });
    await runAllTimers();
    await animationFrame();
    expect.verifySteps(["entities:1"]);
    expect("lock.secret" in haData.state.entities).toBe(false);
});

test("instance status and fallback notifications update the instance shown", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.loadInstances();
    await haData.load();
    haData.applyInstanceStatus({
        instance_id: 1,
        status: "unreachable",
        status_since: "2024-03-01 12:00:00",
        last_event_at: "2024-03-01 11:59:00",
        ha_version: "2024.3.3",
        entity_count: 2,
        last_error: "Connection refused",
    });
    expect(haData.state.instance.status).toBe("unreachable");
    expect(haData.state.instance.last_error).toBe("Connection refused");
    expect(haData.state.instances[0].status).toBe("unreachable");
    expect(haData.state.instances[0].current).toBe(true);

    await haData.applyFallback({ previous_instance_id: 1, instance_id: 2 });
    expect(haData.state.currentInstanceId).toBe(2);
    expect(haData.state.instance.id).toBe(2);
    expect.verifySteps([
        "instances:-",
        "entities:1",
        "notify:warning:The Home Assistant instance you used is no longer available.",
        "entities:2",
    ]);
});

test("access_changed drops what the user may no longer read, once subscribed again", async () => {
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.loadInstances();
    await haData.load(2);
    await haData.load(1);
    expect.verifySteps(["instances:-", "entities:2", "entities:1"]);

    // The user left the group of light.kitchen and of instance 2.
    server.entities[1] = server.entities[1].filter((e) => e.entity_id !== "light.kitchen");
    delete server.instances[2];
    haData.applyAccessChanged();
    haData.applyAccessChanged();
    await advanceTime(ACCESS_RELOAD_MS - 10);
    expect.verifySteps([]);
    await advanceTime(20);
    await animationFrame();
    expect.verifySteps(["instances:-", "entities:1"]);
    expect(Object.keys(haData.state.entities)).toEqual(["sensor.outside"]);
    expect(haData.state.instances.map((instance) => instance.id)).toEqual([1]);
    expect(haData.cache.has(2)).toBe(false);

    // Out of every group of instance 1 too: its entities leave the screen.
    server.errors.entities = [
        "No Home Assistant instance is available to you.",
        "instance_not_found",
    ];
    haData.applyAccessChanged();
    await advanceTime(ACCESS_RELOAD_MS);
    await animationFrame();
    expect.verifySteps(["instances:-", "entities:1"]);
    expect(haData.state.entities).toEqual({});
    expect(haData.state.instance).toBe(null);
    expect(haData.state.error.type).toBe("instance_not_found");
});

test("HaBusBridge subscribes the notification types and forwards them to ha_data", async () => {
    const subscribed = {};
    mockService("bus_service", {
        subscribe(type, callback) {
            subscribed[type] = callback;
        },
        unsubscribe(type) {
            delete subscribed[type];
        },
        forceUpdateChannels() {
            expect.step("forceUpdateChannels");
        },
        start() {},
    });
    await makeMockEnv();
    const haData = getService("ha_data");
    await haData.load(1);
    class Parent extends Component {
        static template = xml`<HaBusBridge t-if="show.bridge"/>`;
        static components = { HaBusBridge };
        static props = {};
        setup() {
            this.show = useState({ bridge: true });
        }
    }
    const parent = await mountWithCleanup(Parent);
    const ours = () => Object.keys(subscribed).filter((type) => type.startsWith("odoo_ha_addon/"));
    expect(ours().sort()).toEqual([...Object.keys(HA_NOTIFICATIONS), ACCESS_CHANGED].sort());
    expect.verifySteps(["entities:1"]);

    subscribed["odoo_ha_addon/entity_changes"]({
        instance_id: 1,
        changes: { "light.kitchen": { state: "off" } },
    });
    expect(haData.state.entities["light.kitchen"].state).toBe("off");
    subscribed["odoo_ha_addon/instance_status"]({ instance_id: 1, status: "connecting" });
    expect(haData.state.instance.status).toBe("connecting");
    subscribed["odoo_ha_addon/entities_reload"]({ instance_id: 1 });
    await animationFrame();
    expect.verifySteps(["entities:1"]);
    subscribed[ACCESS_CHANGED]({});
    expect.verifySteps(["forceUpdateChannels"]);
    await advanceTime(ACCESS_RELOAD_MS);
    await animationFrame();
    expect.verifySteps(["instances:-", "entities:1"]);

    parent.show.bridge = false;
    await animationFrame();
    expect(ours()).toEqual([]);
});
