import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { click, edit, queryOne } from "@odoo/hoot-dom";
import { animationFrame, Deferred } from "@odoo/hoot-mock";
import { Component, useState, xml } from "@odoo/owl";
import {
    getService,
    makeMockEnv,
    mockService,
    mountWithCleanup,
    onRpc,
} from "@web/../tests/web_test_helpers";
import { useService } from "@web/core/utils/hooks";

import {
    DOMAIN_CONTROLS,
    EntityControl,
    clampToStep,
    controlFor,
    controlsFor,
    formatValue,
    isReadOnly,
    optimisticPatch,
    serviceCallFor,
} from "@odoo_ha_addon/controls/domain_controls";
import { makeEntity } from "@odoo_ha_addon/../tests/helpers/entities";

describe.current.tags("headless");
defineMailModels();

const COLOR_LIGHT = makeEntity("light.living", "on", {
    supported_color_modes: ["color_temp", "hs"],
    color_mode: "hs",
    brightness: 128,
    color_temp_kelvin: null,
    min_color_temp_kelvin: 2500,
    max_color_temp_kelvin: 6000,
    hs_color: [30, 50],
    rgb_color: [255, 191, 127],
});
const ONOFF_LIGHT = makeEntity("light.porch", "off", { supported_color_modes: ["onoff"] });
const THERMOSTAT = makeEntity("climate.hall", "heat", {
    hvac_modes: ["off", "heat", "auto"],
    temperature: 21,
    current_temperature: 19.5,
    min_temp: 7,
    max_temp: 35,
    target_temp_step: 0.5,
});
const BLINDS = makeEntity("cover.blinds", "open", { current_position: 70 });
const FAN = makeEntity("fan.ceiling", "on", {
    percentage: 33,
    percentage_step: 33.33,
    oscillating: false,
});
const SPEAKER = makeEntity("media_player.kitchen", "playing", { volume_level: 0.4 });
const NUMBER = makeEntity("input_number.level", "5", {
    min: 0,
    max: 10,
    step: 0.5,
    mode: "slider",
});
const SELECT = makeEntity("input_select.mode", "Eco", { options: ["Eco", "Comfort"] });

describe("the control table", () => {
    // formatValue and the control displays format numbers with the user's localization.
    beforeEach(() => makeMockEnv());

    test("service calls of every domain's actions", () => {
        const cases = [
            [COLOR_LIGHT, "toggle", undefined, "toggle", {}],
            [COLOR_LIGHT, "toggle", false, "turn_off", {}],
            [COLOR_LIGHT, "brightness", 40, "turn_on", { brightness_pct: 40 }],
            [COLOR_LIGHT, "brightness", 0, "turn_off", {}],
            [COLOR_LIGHT, "color_temp", 3000, "turn_on", { color_temp_kelvin: 3000 }],
            [COLOR_LIGHT, "color", "#ff8000", "turn_on", { rgb_color: [255, 128, 0] }],
            [makeEntity("switch.pump", "off"), "toggle", true, "turn_on", {}],
            [makeEntity("input_boolean.guest", "on"), "toggle", false, "turn_off", {}],
            [THERMOSTAT, "set_temperature", 22.5, "set_temperature", { temperature: 22.5 }],
            [THERMOSTAT, "set_hvac_mode", "auto", "set_hvac_mode", { hvac_mode: "auto" }],
            [BLINDS, "open", undefined, "open_cover", {}],
            [BLINDS, "close", undefined, "close_cover", {}],
            [BLINDS, "stop", undefined, "stop_cover", {}],
            [BLINDS, "position", 30, "set_cover_position", { position: 30 }],
            [FAN, "toggle", false, "turn_off", {}],
            [FAN, "percentage", 66, "set_percentage", { percentage: 66 }],
            [FAN, "oscillate", true, "oscillate", { oscillating: true }],
            [makeEntity("lock.door", "unlocked"), "lock", undefined, "lock", {}],
            [makeEntity("lock.door", "locked"), "unlock", undefined, "unlock", {}],
            [SPEAKER, "play_pause", undefined, "media_play_pause", {}],
            [SPEAKER, "volume", 25, "volume_set", { volume_level: 0.25 }],
            [makeEntity("scene.evening", "2024-03-01"), "activate", undefined, "turn_on", {}],
            [makeEntity("script.bedtime", "off"), "run", undefined, "turn_on", {}],
            [makeEntity("automation.lights", "on"), "toggle", false, "turn_off", {}],
            [makeEntity("automation.lights", "on"), "trigger", undefined, "trigger", {}],
            [makeEntity("button.restart", "unknown"), "press", undefined, "press", {}],
            [makeEntity("input_button.bell", "unknown"), "press", undefined, "press", {}],
            [makeEntity("number.volume", "3"), "set_value", 4, "set_value", { value: 4 }],
            [NUMBER, "set_value", 7.5, "set_value", { value: 7.5 }],
            [
                makeEntity("select.speed", "low"),
                "select_option",
                "high",
                "select_option",
                { option: "high" },
            ],
            [SELECT, "select_option", "Comfort", "select_option", { option: "Comfort" }],
            [makeEntity("vacuum.robot", "docked"), "start", undefined, "start", {}],
            [
                makeEntity("vacuum.robot", "cleaning"),
                "return_to_base",
                undefined,
                "return_to_base",
                {},
            ],
        ];
        for (const [entity, action, value, service, serviceData] of cases) {
            expect(serviceCallFor(entity, action, value)).toEqual(
                { domain: entity.domain, service, service_data: serviceData },
                { message: `${entity.entity_id} ${action}` },
            );
        }
        expect(() => serviceCallFor(BLINDS, "toggle")).toThrow();
    });

    test("every control names an action of its domain, or a field a button of it sends", () => {
        for (const [domain, entry] of Object.entries(DOMAIN_CONTROLS)) {
            const sent = new Set((entry.controls || []).map((control) => control.sends));
            for (const control of entry.controls || []) {
                const named = control.field
                    ? sent.has(control.field)
                    : control.action in entry.actions;
                expect(named).toBe(true, {
                    message: `${domain}: ${control.action || control.field}`,
                });
            }
        }
    });

    test("sensors, binary sensors and unknown domains are read only", () => {
        const readOnly = [
            makeEntity("sensor.outside", "7.5", {}, { unit_of_measurement: "°C" }),
            makeEntity("binary_sensor.door", "on", { device_class: "door" }),
            makeEntity("weather.home", "sunny"),
            makeEntity("sun.sun", "above_horizon"),
        ];
        for (const entity of readOnly) {
            expect(isReadOnly(entity)).toBe(true);
            expect(controlsFor(entity)).toEqual([]);
            expect(controlFor(entity).controls).toEqual([]);
        }
        expect(isReadOnly(COLOR_LIGHT)).toBe(false);
    });

    test("no control without can_control", () => {
        expect(controlsFor({ ...COLOR_LIGHT, can_control: false })).toEqual([]);
        expect(controlsFor(COLOR_LIGHT).length).toBe(4);
    });

    test("light inputs follow supported_color_modes", () => {
        expect(controlsFor(ONOFF_LIGHT).map((c) => c.action)).toEqual(["toggle"]);
        const controls = controlsFor(COLOR_LIGHT);
        expect(controls.map((c) => [c.kind, c.action])).toEqual([
            ["switch", "toggle"],
            ["range", "brightness"],
            ["range", "color_temp"],
            ["color", "color"],
        ]);
        const [toggle, brightness, colorTemp, color] = controls;
        expect(toggle.value).toBe(true);
        expect(brightness.value).toBe(50);
        expect(colorTemp).toMatchObject({ min: 2500, max: 6000, value: 2500 });
        expect(color.value).toBe("#ffbf7f");
        const brightnessOnly = makeEntity("light.desk", "on", {
            supported_color_modes: ["brightness"],
            brightness: 255,
        });
        expect(controlsFor(brightnessOnly).map((c) => c.action)).toEqual(["toggle", "brightness"]);
        expect(controlsFor(COLOR_LIGHT, { compact: true }).map((c) => c.action)).toEqual([
            "toggle",
        ]);
    });

    test("climate, cover, fan, media player, number and select inputs", () => {
        expect(controlsFor(THERMOSTAT)).toMatchObject([
            { kind: "number", action: "set_temperature", value: 21, min: 7, max: 35, step: 0.5 },
            {
                kind: "select",
                action: "set_hvac_mode",
                value: "heat",
                options: [
                    ["off", "Off"],
                    ["heat", "Heat"],
                    ["auto", "Auto"],
                ],
            },
        ]);
        expect(controlsFor(BLINDS).map((c) => c.action)).toEqual([
            "open",
            "stop",
            "close",
            "position",
        ]);
        expect(controlsFor(makeEntity("cover.garage", "closed")).map((c) => c.action)).toEqual([
            "open",
            "stop",
            "close",
        ]);
        expect(controlsFor(FAN).map((c) => c.action)).toEqual([
            "toggle",
            "percentage",
            "oscillate",
        ]);
        expect(controlsFor(makeEntity("fan.basic", "off")).map((c) => c.action)).toEqual([
            "toggle",
        ]);
        expect(controlsFor(SPEAKER)).toMatchObject([
            { action: "play_pause", icon: "fa-pause" },
            { action: "volume", value: 40 },
        ]);
        expect(controlsFor(NUMBER)).toMatchObject([
            { kind: "button", action: "decrement" },
            { kind: "range", value: 5, min: 0, max: 10, step: 0.5 },
            { kind: "button", action: "increment" },
        ]);
        expect(
            controlsFor({ ...NUMBER, attributes: { ...NUMBER.attributes, mode: "box" } })[1],
        ).toMatchObject({ kind: "number" });
        expect(controlsFor(SELECT)).toMatchObject([
            {
                kind: "select",
                value: "Eco",
                options: [
                    ["Eco", "Eco"],
                    ["Comfort", "Comfort"],
                ],
            },
        ]);
        const lock = controlsFor(makeEntity("lock.door", "locked"));
        expect(lock.map((c) => [c.action, c.disabled])).toEqual([
            ["lock", true],
            ["unlock", false],
        ]);
    });

    test("controls of an unavailable entity are disabled", () => {
        const controls = controlsFor({ ...COLOR_LIGHT, state: "unavailable" });
        expect(controls.every((control) => control.disabled)).toBe(true);
    });

    test("optimistic patches", () => {
        expect(optimisticPatch(COLOR_LIGHT, "toggle")).toEqual({ state: "off" });
        expect(optimisticPatch(ONOFF_LIGHT, "toggle", true)).toEqual({ state: "on" });
        expect(optimisticPatch(COLOR_LIGHT, "brightness", 100)).toEqual({
            state: "on",
            attributes: { brightness: 255 },
        });
        expect(optimisticPatch(BLINDS, "close")).toEqual({ state: "closing" });
        expect(optimisticPatch(BLINDS, "stop")).toBe(null);
        expect(optimisticPatch(THERMOSTAT, "set_temperature", 22)).toEqual({
            attributes: { temperature: 22 },
        });
        expect(optimisticPatch(SPEAKER, "play_pause")).toEqual({ state: "paused" });
        expect(optimisticPatch(SELECT, "select_option", "Comfort")).toEqual({ state: "Comfort" });
        expect(optimisticPatch(makeEntity("scene.evening", "x"), "activate")).toBe(null);
    });

    test("values are shown with their unit", () => {
        expect(
            formatValue(makeEntity("sensor.outside", "7.5", {}, { unit_of_measurement: "°C" })),
        ).toBe("7.5 °C");
        expect(
            formatValue(makeEntity("sensor.power", "1234.5678", { unit_of_measurement: "W" })),
        ).toBe("1,234.57 W");
        expect(formatValue(makeEntity("sensor.weather", "sunny"))).toBe("sunny");
        expect(formatValue(makeEntity("binary_sensor.door", "on", { device_class: "door" }))).toBe(
            "Open",
        );
        expect(formatValue(makeEntity("binary_sensor.thing", "off"))).toBe("Off");
        expect(formatValue(makeEntity("sensor.outside", "unavailable"))).toBe("Unavailable");
        expect(formatValue(COLOR_LIGHT)).toBe("On · 50 %");
        expect(formatValue(BLINDS)).toBe("Open · 70 %");
        expect(formatValue(THERMOSTAT)).toBe("Heat · 19.5° · target 21°");
        expect(formatValue(NUMBER)).toBe("5");
        expect(
            formatValue(
                makeEntity("sensor.boot", "2024-03-01T10:00:00+00:00", {
                    device_class: "timestamp",
                }),
            ),
        ).toMatch(/2024/);
    });

    test("numbers typed in are brought within min, max and step", () => {
        const limits = { min: 7, max: 35, step: 0.5 };
        expect(clampToStep("21.3", limits)).toBe(21.5);
        expect(clampToStep(50, limits)).toBe(35);
        expect(clampToStep(-3, limits)).toBe(7);
        expect(clampToStep("abc", limits)).toBe(null);
        expect(clampToStep(0.3, { min: 0, max: 1, step: 0.1 })).toBe(0.3);
    });
});

describe("EntityControl", () => {
    let callResult;

    beforeEach(() => {
        callResult = null;
        onRpc("/odoo_ha_addon/entities", () => ({
            success: true,
            data: {
                instance: { id: 1, name: "Home", status: "connected", current: true },
                areas: [],
                entities: [
                    makeEntity("light.kitchen", "on", {
                        supported_color_modes: ["brightness"],
                        brightness: 255,
                    }),
                    makeEntity("sensor.outside", "7.5", {}, { unit_of_measurement: "°C" }),
                    makeEntity("switch.locked", "off", {}, { can_control: false }),
                ],
                can_manage: false,
            },
        }));
        onRpc("/odoo_ha_addon/call_service", async (request) => {
            const { params } = await request.json();
            expect.step(
                `${params.domain}.${params.service} ${params.entity_id} ${JSON.stringify(
                    params.service_data,
                )} @${params.ha_instance_id ?? "-"}`,
            );
            return callResult ? await callResult : { success: true, data: {} };
        });
        mockService("notification", {
            add(message, options = {}) {
                expect.step(`notify:${options.type}:${message}`);
                return () => {};
            },
        });
    });

    async function mountEntity(entityId, props = {}) {
        class Parent extends Component {
            static template = xml`<EntityControl entity="data.entities[props.entityId]" t-props="props.extra"/>`;
            static components = { EntityControl };
            static props = ["entityId", "extra"];
            setup() {
                this.data = useState(useService("ha_data").state);
            }
        }
        await makeMockEnv();
        await getService("ha_data").load(1);
        await mountWithCleanup(Parent, { props: { entityId, extra: props } });
    }

    test("shows the value always and controls only when the user may control", async () => {
        await mountEntity("switch.locked");
        expect(".o_ha_entity_value").toHaveText("Off");
        expect(".o_ha_entity_controls").toHaveCount(0);
        expect("input, button, select").toHaveCount(0);
    });

    test("read-only domains show their value with unit and no control", async () => {
        await mountEntity("sensor.outside");
        expect(".o_ha_entity_value").toHaveText("7.5 °C");
        expect(".o_ha_entity_controls").toHaveCount(0);
    });

    test("a light shows its switch and brightness; compact keeps the switch", async () => {
        await mountEntity("light.kitchen");
        expect(".o_ha_entity_value").toHaveText("On · 100 %");
        expect("[data-action=toggle] input").toBeChecked();
        expect("[data-action=brightness] input[type=range]").toHaveValue(100);
    });

    test("compact rendering keeps the primary controls only", async () => {
        await mountEntity("light.kitchen", { compact: true });
        expect("[data-action=toggle] input").toHaveCount(1);
        expect("[data-action=brightness]").toHaveCount(0);
    });

    test("an action shows at once and calls the service", async () => {
        await mountEntity("light.kitchen");
        await click("[data-action=toggle] input");
        await animationFrame();
        expect.verifySteps(["light.turn_off light.kitchen {} @1"]);
        expect("[data-action=toggle] input").not.toBeChecked();
        expect(".o_ha_entity_value").toHaveText("Off");
        expect(getService("ha_data").state.entities["light.kitchen"].state).toBe("off");
    });

    test("a refused call rolls the optimistic state back and shows a danger toast", async () => {
        await mountEntity("light.kitchen");
        callResult = new Deferred();
        await click("[data-action=toggle] input");
        await animationFrame();
        expect.verifySteps(["light.turn_off light.kitchen {} @1"]);
        expect(".o_ha_entity_value").toHaveText("Off");

        callResult.resolve({
            success: false,
            data: null,
            error: "You may not call light.turn_off on these entities.",
            error_type: "access_denied",
        });
        await animationFrame();
        await animationFrame();
        expect.verifySteps(["notify:danger:You may not call light.turn_off on these entities."]);
        expect(".o_ha_entity_value").toHaveText("On · 100 %");
        expect("[data-action=toggle] input").toBeChecked();
        expect(getService("ha_data").state.entities["light.kitchen"].state).toBe("on");
    });

    test("the brightness slider sends a percentage", async () => {
        await mountEntity("light.kitchen");
        const slider = queryOne("[data-action=brightness] input");
        slider.value = "40";
        slider.dispatchEvent(new Event("change", { bubbles: true }));
        await animationFrame();
        expect.verifySteps(['light.turn_on light.kitchen {"brightness_pct":40} @1']);
        expect(".o_ha_entity_value").toHaveText("On · 40 %");
    });

    test("an entity ha_data does not hold is patched locally", async () => {
        class Parent extends Component {
            static template = xml`<EntityControl entity="entity" instanceId="1"/>`;
            static components = { EntityControl };
            static props = {};
            setup() {
                this.entity = makeEntity("switch.outside_cache", "off");
            }
        }
        await makeMockEnv();
        await mountWithCleanup(Parent);
        await click("[data-action=toggle] input");
        await animationFrame();
        expect.verifySteps(["switch.turn_on switch.outside_cache {} @1"]);
        expect(".o_ha_entity_value").toHaveText("On");
        expect("[data-action=toggle] input").toBeChecked();
    });

    test("the same entity id of another instance is not mixed up with the one shown", async () => {
        class Parent extends Component {
            static template = xml`<EntityControl entity="entity" instanceId="2"/>`;
            static components = { EntityControl };
            static props = {};
            setup() {
                this.entity = makeEntity("light.kitchen", "off", {}, { id: 99 });
            }
        }
        await makeMockEnv();
        await getService("ha_data").load(1);
        await mountWithCleanup(Parent);
        await click("[data-action=toggle] input");
        await animationFrame();
        expect.verifySteps(["light.turn_on light.kitchen {} @2"]);
        expect(".o_ha_entity_value").toHaveText("On");
        expect(getService("ha_data").state.entities["light.kitchen"].state).toBe("on");
        expect(getService("ha_data").state.entities["light.kitchen"].id).toBe(1);
    });

    test("a number typed in is clamped to the entity's range", async () => {
        class Parent extends Component {
            static template = xml`<EntityControl entity="entity" instanceId="1"/>`;
            static components = { EntityControl };
            static props = {};
            setup() {
                this.entity = makeEntity("climate.hall", "heat", {
                    hvac_modes: ["off", "heat"],
                    temperature: 21,
                    min_temp: 7,
                    max_temp: 30,
                    target_temp_step: 0.5,
                });
            }
        }
        await makeMockEnv();
        await mountWithCleanup(Parent);
        await click("[data-action=set_temperature] input");
        await edit("42", { confirm: "enter" });
        await animationFrame();
        expect.verifySteps(['climate.set_temperature climate.hall {"temperature":30} @1']);
    });
});
