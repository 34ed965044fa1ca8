import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { mockTimeZone } from "@odoo/hoot-mock";
import { makeMockEnv } from "@web/../tests/web_test_helpers";

import {
    controlsFor,
    formatValue,
    isReadOnly,
    optimisticPatch,
    serviceCallFor,
} from "@odoo_ha_addon/controls/domain_controls";
import { makeEntity } from "@odoo_ha_addon/../tests/helpers/entities";

// The controls of each domain, from attributes as Home Assistant 2024.3's demo integration
// gives them: which inputs show, and which service call each makes.

describe.current.tags("headless");
defineMailModels();

/** [kind, action or field] of each control shown. */
function shown(entity, options) {
    return controlsFor(entity, options).map((control) => [
        control.kind,
        control.action || control.field,
    ]);
}

function expectCalls(cases) {
    for (const [entity, action, value, service, serviceData] of cases) {
        expect(serviceCallFor(entity, action, value)).toEqual(
            { domain: entity.domain, service, service_data: serviceData },
            { message: `${entity.entity_id} ${action} ${JSON.stringify(value)}` },
        );
    }
}

const ALARM = makeEntity("alarm_control_panel.security", "disarmed", {
    code_format: "number",
    code_arm_required: true,
    supported_features: 63,
});
const WATER_HEATER = makeEntity("water_heater.demo_water_heater", "eco", {
    min_temp: 43.3,
    max_temp: 60,
    temperature: 48.3,
    current_temperature: null,
    operation_list: ["eco", "electric", "gas", "off"],
    operation_mode: "eco",
    away_mode: "off",
    supported_features: 15,
});
const HYGROSTAT = makeEntity("humidifier.hygrostat", "on", {
    min_humidity: 30,
    max_humidity: 80,
    humidity: 50,
    available_modes: ["home", "eco"],
    mode: "home",
    supported_features: 1,
});
const VALVE = makeEntity("valve.garden", "open", { current_position: 40, supported_features: 15 });
const SIREN = makeEntity("siren.siren_with_all_features", "off", {
    available_tones: ["fire", "alarm"],
    supported_features: 31,
});
const SHORT_TEXT = makeEntity("text.text_with_1_to_5_characters", "Hello", {
    mode: "text",
    min: 1,
    max: 5,
    pattern: "[a-z]+",
});
const PASSWORD = makeEntity("text.password", "Hello world", { mode: "password", min: 0, max: 255 });
const MOWER = makeEntity("lawn_mower.mower", "docked", { supported_features: 7 });
const UPDATE = makeEntity("update.demo_add_on", "on", {
    installed_version: "1.0.0",
    latest_version: "1.0.1",
    in_progress: false,
    supported_features: 11,
});
const ECOBEE = makeEntity("climate.ecobee", "heat_cool", {
    hvac_modes: ["off", "cool", "heat_cool"],
    min_temp: 7,
    max_temp: 35,
    fan_modes: ["on_low", "auto_low"],
    preset_modes: ["home", "eco", "away"],
    swing_modes: ["auto", "off"],
    target_temp_low: 21,
    target_temp_high: 24,
    fan_mode: "auto_low",
    preset_mode: "home",
    swing_mode: "auto",
    supported_features: 442,
});
const WINDOW = makeEntity("cover.living_room_window", "open", {
    current_position: 70,
    current_tilt_position: 50,
    supported_features: 255,
});
const PERGOLA = makeEntity("cover.pergola_roof", "closed", {
    current_tilt_position: 60,
    supported_features: 240,
});
const EFFECT_LIGHT = makeEntity("light.bed_light", "off", {
    supported_color_modes: ["onoff"],
    effect_list: ["rainbow", "none"],
    effect: null,
    supported_features: 4,
});
// PAUSE | VOLUME_SET | VOLUME_MUTE | PREVIOUS_TRACK | NEXT_TRACK | SELECT_SOURCE
const TV = makeEntity("media_player.lounge_room", "playing", {
    source_list: ["dvd", "youtube"],
    source: "dvd",
    volume_level: 0.5,
    is_volume_muted: false,
    supported_features: 1 | 4 | 8 | 16 | 32 | 2048,
});
const FAN = makeEntity("fan.living_room_fan", "on", {
    preset_modes: ["auto", "smart"],
    preset_mode: null,
    direction: "forward",
    oscillating: false,
    percentage: 33,
    percentage_step: 33.3,
    supported_features: 15,
});
const VACUUM = makeEntity("vacuum.0_ground_floor", "cleaning", {
    fan_speed_list: ["min", "medium", "high", "max"],
    fan_speed: "medium",
    supported_features: 16380,
});
const LEVEL = makeEntity("number.volume", "42", { min: 0, max: 100, step: 1, mode: "slider" });
const INPUT_LEVEL = makeEntity("input_number.level", "5", { min: 0, max: 10, step: 0.5 });
const TODO = makeEntity("todo.shopping_list", "2");

describe("controls of the domains", () => {
    beforeEach(() => makeMockEnv());

    test("alarm panel: a code input when it has a code format, one button per arm mode", () => {
        expect(shown(ALARM)).toEqual([
            ["secret", "code"],
            ["button", "disarmed"],
            ["button", "armed_home"],
            ["button", "armed_away"],
            ["button", "armed_night"],
            ["button", "armed_vacation"],
            ["button", "armed_custom_bypass"],
        ]);
        const [code, disarm, armHome] = controlsFor(ALARM);
        expect(code).toMatchObject({ numeric: true });
        expect(disarm).toMatchObject({ disabled: true, sends: "code" });
        expect(armHome).toMatchObject({ disabled: false, sends: "code" });
        // ARM_HOME | ARM_AWAY, no code.
        const simple = makeEntity("alarm_control_panel.simple", "armed_away", {
            code_format: null,
            supported_features: 3,
        });
        expect(shown(simple)).toEqual([
            ["button", "disarmed"],
            ["button", "armed_home"],
            ["button", "armed_away"],
        ]);
        expectCalls([
            [ALARM, "armed_home", "1234", "alarm_arm_home", { code: "1234" }],
            [ALARM, "armed_away", "1234", "alarm_arm_away", { code: "1234" }],
            [ALARM, "armed_night", "1234", "alarm_arm_night", { code: "1234" }],
            [ALARM, "armed_vacation", "1234", "alarm_arm_vacation", { code: "1234" }],
            [ALARM, "armed_custom_bypass", "1", "alarm_arm_custom_bypass", { code: "1" }],
            [ALARM, "disarmed", "1234", "alarm_disarm", { code: "1234" }],
            [simple, "disarmed", undefined, "alarm_disarm", {}],
        ]);
        expect(optimisticPatch(ALARM, "armed_home", "1234")).toEqual({ state: "arming" });
        expect(formatValue(ALARM)).toBe("Disarmed");
        expect(formatValue({ ...ALARM, state: "armed_custom_bypass" })).toBe("Armed custom bypass");
    });

    test("water heater: temperature within its limits, operation mode, away mode", () => {
        expect(controlsFor(WATER_HEATER)).toMatchObject([
            { kind: "number", action: "set_temperature", value: 48.3, min: 43.3, max: 60 },
            {
                kind: "select",
                action: "set_operation_mode",
                value: "eco",
                options: [
                    ["eco", "Eco"],
                    ["electric", "Electric"],
                    ["gas", "Gas"],
                    ["off", "Off"],
                ],
            },
            { kind: "switch", action: "away_mode", value: false },
        ]);
        expectCalls([
            [WATER_HEATER, "set_temperature", 50, "set_temperature", { temperature: 50 }],
            [
                WATER_HEATER,
                "set_operation_mode",
                "gas",
                "set_operation_mode",
                {
                    operation_mode: "gas",
                },
            ],
            [WATER_HEATER, "away_mode", true, "set_away_mode", { away_mode: true }],
        ]);
        expect(formatValue(WATER_HEATER)).toBe("Eco · target 48.3°");
    });

    test("humidifier: on/off, target humidity within min/max, mode from available_modes", () => {
        expect(controlsFor(HYGROSTAT)).toMatchObject([
            { kind: "switch", action: "toggle", value: true },
            { kind: "range", action: "set_humidity", value: 50, min: 30, max: 80 },
            { kind: "select", action: "set_mode", value: "home" },
        ]);
        const plain = makeEntity("humidifier.humidifier", "on", {
            min_humidity: 0,
            max_humidity: 100,
            humidity: 68,
            current_humidity: 45,
            supported_features: 0,
        });
        expect(shown(plain)).toEqual([
            ["switch", "toggle"],
            ["range", "set_humidity"],
        ]);
        expectCalls([
            [HYGROSTAT, "toggle", false, "turn_off", {}],
            [HYGROSTAT, "toggle", undefined, "toggle", {}],
            [HYGROSTAT, "set_humidity", 45, "set_humidity", { humidity: 45 }],
            [HYGROSTAT, "set_mode", "eco", "set_mode", { mode: "eco" }],
        ]);
        expect(formatValue(plain)).toBe("On · 45 % · target 68 %");
    });

    test("valve: open, stop, close and position as it supports them", () => {
        expect(shown(VALVE)).toEqual([
            ["button", "open"],
            ["button", "stop"],
            ["button", "close"],
            ["range", "position"],
        ]);
        expect(controlsFor(VALVE)[0].disabled).toBe(true);
        expect(shown(makeEntity("valve.tap", "closed", { supported_features: 3 }))).toEqual([
            ["button", "open"],
            ["button", "close"],
        ]);
        expectCalls([
            [VALVE, "open", undefined, "open_valve", {}],
            [VALVE, "close", undefined, "close_valve", {}],
            [VALVE, "stop", undefined, "stop_valve", {}],
            [VALVE, "position", 25, "set_valve_position", { position: 25 }],
        ]);
        expect(formatValue(VALVE)).toBe("Open · 40 %");
    });

    test("siren: on/off, and a tone when it has some", () => {
        expect(controlsFor(SIREN)).toMatchObject([
            { kind: "switch", action: "toggle" },
            {
                kind: "select",
                action: "tone",
                placeholder: "Sound a tone",
                options: [
                    ["fire", "fire"],
                    ["alarm", "alarm"],
                ],
            },
        ]);
        expect(shown(makeEntity("siren.siren", "on", { supported_features: 3 }))).toEqual([
            ["switch", "toggle"],
        ]);
        const named = makeEntity("siren.named", "off", {
            available_tones: { 1: "Fire", 2: "Bell" },
            supported_features: 31,
        });
        expect(controlsFor(named)[1].options).toEqual([
            ["1", "Fire"],
            ["2", "Bell"],
        ]);
        expectCalls([
            [SIREN, "toggle", true, "turn_on", {}],
            [SIREN, "toggle", false, "turn_off", {}],
            [SIREN, "toggle", undefined, "toggle", {}],
            [SIREN, "tone", "fire", "turn_on", { tone: "fire" }],
        ]);
    });

    test("text and input_text: a text input within their length, masked for passwords", () => {
        expect(controlsFor(SHORT_TEXT)).toMatchObject([
            {
                kind: "text",
                action: "set_value",
                value: "Hello",
                min: 1,
                max: 5,
                pattern: "[a-z]+",
                password: false,
            },
        ]);
        expect(controlsFor(PASSWORD)).toMatchObject([{ kind: "text", value: "", password: true }]);
        expect(formatValue(PASSWORD)).toBe("••••••");
        expect(formatValue(SHORT_TEXT)).toBe("Hello");
        const note = makeEntity("input_text.note", "Milk", { mode: "text", min: 0, max: 100 });
        expect(controlsFor(note)).toMatchObject([{ kind: "text", max: 100 }]);
        expectCalls([
            [SHORT_TEXT, "set_value", "abc", "set_value", { value: "abc" }],
            [note, "set_value", "Bread", "set_value", { value: "Bread" }],
        ]);
    });

    test("date, time and datetime: their inputs, their values in the user's zone", () => {
        mockTimeZone(+2);
        const date = makeEntity("date.date", "2020-01-01");
        const time = makeEntity("time.time", "12:00:00");
        const datetime = makeEntity("datetime.date_and_time", "2020-01-01T12:00:00+00:00");
        expect(controlsFor(date)).toMatchObject([{ kind: "date", value: "2020-01-01" }]);
        expect(controlsFor(time)).toMatchObject([{ kind: "time", value: "12:00:00" }]);
        expect(controlsFor(datetime)).toMatchObject([
            { kind: "datetime", value: "2020-01-01T14:00" },
        ]);
        expect(formatValue(date)).toBe("01/01/2020");
        expect(formatValue(time)).toBe("12:00");
        expect(formatValue({ ...time, state: "07:05:30" })).toBe("07:05:30");
        expect(formatValue(datetime)).toBe("01/01/2020 14:00");
        expectCalls([
            [date, "set_value", "2024-05-06", "set_value", { date: "2024-05-06" }],
            [time, "set_value", "08:30", "set_value", { time: "08:30:00" }],
            [time, "set_value", "08:30:15", "set_value", { time: "08:30:15" }],
            [
                datetime,
                "set_value",
                "2024-05-06T08:30",
                "set_value",
                { datetime: "2024-05-06T08:30:00+02:00" },
            ],
        ]);
    });

    test("input_datetime: the input of what it holds, its wall-clock value unconverted", () => {
        mockTimeZone(-5);
        const both = makeEntity("input_datetime.wake", "2024-05-06 08:30:00", {
            has_date: true,
            has_time: true,
        });
        const dateOnly = makeEntity("input_datetime.day", "2024-05-06", {
            has_date: true,
            has_time: false,
        });
        const timeOnly = makeEntity("input_datetime.alarm", "07:00:00", {
            has_date: false,
            has_time: true,
        });
        expect(controlsFor(both)).toMatchObject([
            { kind: "datetime", action: "set_datetime", value: "2024-05-06T08:30" },
        ]);
        expect(controlsFor(dateOnly)).toMatchObject([{ kind: "date", action: "set_date" }]);
        expect(controlsFor(timeOnly)).toMatchObject([{ kind: "time", action: "set_time" }]);
        expect(formatValue(both)).toBe("05/06/2024 08:30");
        expect(formatValue(dateOnly)).toBe("05/06/2024");
        expect(formatValue(timeOnly)).toBe("07:00");
        expectCalls([
            [
                both,
                "set_datetime",
                "2024-05-07T09:15",
                "set_datetime",
                {
                    datetime: "2024-05-07 09:15:00",
                },
            ],
            [dateOnly, "set_date", "2024-05-07", "set_datetime", { date: "2024-05-07" }],
            [timeOnly, "set_time", "06:45", "set_datetime", { time: "06:45:00" }],
        ]);
    });

    test("remote: on/off only", () => {
        const remote = makeEntity("remote.tv", "on", { supported_features: 4 });
        expect(shown(remote)).toEqual([["switch", "toggle"]]);
        expectCalls([
            [remote, "toggle", false, "turn_off", {}],
            [remote, "toggle", true, "turn_on", {}],
        ]);
    });

    test("lawn mower: mow, pause, dock", () => {
        expect(controlsFor(MOWER)).toMatchObject([
            { action: "start_mowing", disabled: false },
            { action: "pause", disabled: true },
            { action: "dock", disabled: true },
        ]);
        expect(shown(makeEntity("lawn_mower.basic", "docked", { supported_features: 1 }))).toEqual([
            ["button", "start_mowing"],
        ]);
        expectCalls([
            [MOWER, "start_mowing", undefined, "start_mowing", {}],
            [MOWER, "pause", undefined, "pause", {}],
            [MOWER, "dock", undefined, "dock", {}],
        ]);
        expect(formatValue({ ...MOWER, state: "mowing" })).toBe("Mowing");
    });

    test("update: install when one is available, versions shown", () => {
        expect(shown(UPDATE)).toEqual([["button", "install"]]);
        expect(shown({ ...UPDATE, state: "off" })).toEqual([]);
        expect(
            shown({ ...UPDATE, attributes: { ...UPDATE.attributes, supported_features: 0 } }),
        ).toEqual([]);
        expect(
            controlsFor({ ...UPDATE, attributes: { ...UPDATE.attributes, in_progress: 40 } })[0]
                .disabled,
        ).toBe(true);
        expectCalls([[UPDATE, "install", undefined, "install", {}]]);
        expect(formatValue(UPDATE)).toBe("Update available: 1.0.0 → 1.0.1");
        expect(
            formatValue({
                ...UPDATE,
                state: "off",
                attributes: { ...UPDATE.attributes, latest_version: "1.0.0" },
            }),
        ).toBe("Up to date: 1.0.0");
        expect(
            formatValue({ ...UPDATE, attributes: { ...UPDATE.attributes, in_progress: 40 } }),
        ).toBe("Installing 1.0.1: 40 %");
    });

    test("person, device tracker and event: values only, in the user's words", () => {
        const person = makeEntity("person.anne", "home");
        const tracker = makeEntity("device_tracker.phone", "not_home", { source_type: "gps" });
        const atWork = makeEntity("device_tracker.car", "Work");
        const event = makeEntity("event.doorbell", "2024-05-06T08:30:00.000+00:00", {
            event_types: ["pressed"],
            event_type: "double_press",
        });
        for (const entity of [person, tracker, atWork, event]) {
            expect(isReadOnly(entity)).toBe(true);
            expect(controlsFor(entity)).toEqual([]);
        }
        expect(formatValue(person)).toBe("Home");
        expect(formatValue(tracker)).toBe("Away");
        expect(formatValue(atWork)).toBe("Work");
        // The test time zone is UTC+1.
        expect(formatValue(event)).toBe("double press · 05/06/2024 09:30:00");
        expect(formatValue({ ...event, state: "unknown" })).toBe("No event yet");
        expect(formatValue({ ...event, state: "unavailable" })).toBe("Unavailable");
    });

    test("climate: preset, fan and swing modes, and a target range when it has one", () => {
        expect(shown(ECOBEE)).toEqual([
            ["number", "set_target_low"],
            ["number", "set_target_high"],
            ["select", "set_hvac_mode"],
            ["select", "set_preset_mode"],
            ["select", "set_fan_mode"],
            ["select", "set_swing_mode"],
        ]);
        expect(controlsFor(ECOBEE)).toMatchObject([
            { value: 21, min: 7, max: 35 },
            { value: 24 },
            { value: "heat_cool" },
            {
                value: "home",
                options: [
                    ["home", "Home"],
                    ["eco", "Eco"],
                    ["away", "Away"],
                ],
            },
            {
                value: "auto_low",
                options: [
                    ["on_low", "on low"],
                    ["auto_low", "auto low"],
                ],
            },
            { value: "auto" },
        ]);
        expectCalls([
            [ECOBEE, "set_fan_mode", "on_low", "set_fan_mode", { fan_mode: "on_low" }],
            [ECOBEE, "set_swing_mode", "off", "set_swing_mode", { swing_mode: "off" }],
            [ECOBEE, "set_preset_mode", "eco", "set_preset_mode", { preset_mode: "eco" }],
            [
                ECOBEE,
                "set_target_low",
                20,
                "set_temperature",
                {
                    target_temp_low: 20,
                    target_temp_high: 24,
                },
            ],
            [
                ECOBEE,
                "set_target_high",
                25.5,
                "set_temperature",
                {
                    target_temp_low: 21,
                    target_temp_high: 25.5,
                },
            ],
        ]);
        expect(optimisticPatch(ECOBEE, "set_fan_mode", "on_low")).toEqual({
            attributes: { fan_mode: "on_low" },
        });
    });

    test("cover tilt: open, close and position of the tilt as the cover supports them", () => {
        expect(shown(WINDOW)).toEqual([
            ["button", "open"],
            ["button", "stop"],
            ["button", "close"],
            ["range", "position"],
            ["button", "open_tilt"],
            ["button", "close_tilt"],
            ["range", "tilt_position"],
        ]);
        expect(shown(PERGOLA)).toEqual([
            ["button", "open_tilt"],
            ["button", "close_tilt"],
            ["range", "tilt_position"],
        ]);
        expectCalls([
            [PERGOLA, "open_tilt", undefined, "open_cover_tilt", {}],
            [PERGOLA, "close_tilt", undefined, "close_cover_tilt", {}],
            [PERGOLA, "tilt_position", 80, "set_cover_tilt_position", { tilt_position: 80 }],
        ]);
    });

    test("light effect, media player tracks, mute and source", () => {
        expect(controlsFor(EFFECT_LIGHT)).toMatchObject([
            { kind: "switch", action: "toggle" },
            { kind: "select", action: "effect", placeholder: "Effect" },
        ]);
        expect(shown(TV)).toEqual([
            ["button", "previous"],
            ["button", "play_pause"],
            ["button", "next"],
            ["range", "volume"],
            ["switch", "mute"],
            ["select", "select_source"],
        ]);
        // PAUSE | VOLUME_SET only.
        const basic = { ...TV, attributes: { ...TV.attributes, supported_features: 5 } };
        expect(shown(basic)).toEqual([
            ["button", "play_pause"],
            ["range", "volume"],
        ]);
        expectCalls([
            [EFFECT_LIGHT, "effect", "rainbow", "turn_on", { effect: "rainbow" }],
            [TV, "next", undefined, "media_next_track", {}],
            [TV, "previous", undefined, "media_previous_track", {}],
            [TV, "mute", true, "volume_mute", { is_volume_muted: true }],
            [TV, "select_source", "youtube", "select_source", { source: "youtube" }],
        ]);
    });

    test("fan direction and preset, vacuum stop, pause, locate and fan speed", () => {
        expect(shown(FAN)).toEqual([
            ["switch", "toggle"],
            ["range", "percentage"],
            ["switch", "oscillate"],
            ["select", "set_direction"],
            ["select", "set_preset_mode"],
        ]);
        expect(controlsFor(FAN)[3].options).toEqual([
            ["forward", "Forward"],
            ["reverse", "Reverse"],
        ]);
        expect(shown(VACUUM)).toEqual([
            ["button", "start"],
            ["button", "pause"],
            ["button", "stop"],
            ["button", "return_to_base"],
            ["button", "locate"],
            ["select", "set_fan_speed"],
        ]);
        // TURN_ON | TURN_OFF only: none of the vacuum services.
        expect(
            shown(makeEntity("vacuum.3_third_floor", "docked", { supported_features: 3 })),
        ).toEqual([]);
        expectCalls([
            [FAN, "set_direction", "reverse", "set_direction", { direction: "reverse" }],
            [FAN, "set_preset_mode", "smart", "set_preset_mode", { preset_mode: "smart" }],
            [VACUUM, "stop", undefined, "stop", {}],
            [VACUUM, "pause", undefined, "pause", {}],
            [VACUUM, "locate", undefined, "locate", {}],
            [VACUUM, "set_fan_speed", "max", "set_fan_speed", { fan_speed: "max" }],
        ]);
    });

    test("script: stop while it runs", () => {
        const running = makeEntity("script.good_night", "on");
        expect(shown(running)).toEqual([
            ["button", "run"],
            ["button", "stop"],
        ]);
        expect(shown({ ...running, state: "off" })).toEqual([["button", "run"]]);
        expectCalls([[running, "stop", undefined, "turn_off", {}]]);
    });

    test("number and input_number: a step down and up, within their limits", () => {
        expectCalls([
            [LEVEL, "increment", undefined, "set_value", { value: 43 }],
            [LEVEL, "decrement", undefined, "set_value", { value: 41 }],
            [{ ...LEVEL, state: "100" }, "increment", undefined, "set_value", { value: 100 }],
            [INPUT_LEVEL, "increment", undefined, "increment", {}],
            [INPUT_LEVEL, "decrement", undefined, "decrement", {}],
        ]);
        expect(optimisticPatch(INPUT_LEVEL, "increment")).toEqual({ state: "5.5" });
        const atMax = controlsFor({ ...LEVEL, state: "100" });
        expect(atMax.map((control) => [control.action, control.disabled])).toEqual([
            ["decrement", false],
            ["set_value", false],
            ["increment", true],
        ]);
    });

    test("to-do list: add, complete and reopen items", () => {
        expect(isReadOnly(TODO)).toBe(false);
        expectCalls([
            [TODO, "add_item", "Milk", "add_item", { item: "Milk" }],
            [TODO, "complete_item", "uid-1", "update_item", { item: "uid-1", status: "completed" }],
            [
                TODO,
                "reopen_item",
                "uid-1",
                "update_item",
                { item: "uid-1", status: "needs_action" },
            ],
        ]);
        expect(formatValue(TODO)).toBe("2 to do");
    });

    test("camera, calendar and weather show values, no control", () => {
        const weather = makeEntity("weather.demo_weather_south", "sunny", {
            temperature: 21.6,
            temperature_unit: "°C",
            supported_features: 1,
        });
        const calendar = makeEntity("calendar.calendar_1", "off", { message: "Future Event" });
        const camera = makeEntity("camera.demo_camera", "streaming");
        for (const entity of [weather, calendar, camera]) {
            expect(isReadOnly(entity)).toBe(true);
            expect(controlsFor(entity)).toEqual([]);
        }
        expect(formatValue(weather)).toBe("Sunny · 21.6 °C");
        expect(formatValue({ ...weather, state: "clear-night" })).toBe("Clear night · 21.6 °C");
        expect(formatValue(calendar)).toBe("Next: Future Event");
        expect(formatValue({ ...calendar, state: "on" })).toBe("Now: Future Event");
        expect(formatValue(camera)).toBe("Streaming");
    });

    test("people who may only view see values, never these controls", () => {
        for (const entity of [ALARM, WATER_HEATER, HYGROSTAT, VALVE, SIREN, SHORT_TEXT, UPDATE]) {
            expect(controlsFor({ ...entity, can_control: false })).toEqual([]);
        }
    });
});
