import { _t } from "@web/core/l10n/translation";

import {
    attributeAction,
    fieldAction,
    listSelect,
    onOffActions,
    onOffControl,
} from "../control_builders";
import { attr, hasAttr, listAttr, numberOr, supports } from "../entity_attributes";
import { labelOf } from "../entity_values";

/** Climate, water heaters, humidifiers and fans. */

// Home Assistant's EntityFeature bits.
const CLIMATE_TARGET_RANGE = 2;
const FAN_DIRECTION = 4;
const WATER_HEATER_AWAY_MODE = 4;
const HUMIDIFIER_MODES = 1;
const FAN_DIRECTIONS = ["forward", "reverse"];

const isNumber = (value) => typeof value === "number";

function temperatureInput(action, label, valueOf, extra = {}) {
    return {
        kind: "number",
        action,
        label,
        value: valueOf,
        min: (entity) => numberOr(attr(entity, "min_temp"), 7),
        max: (entity) => numberOr(attr(entity, "max_temp"), 35),
        step: (entity) => numberOr(attr(entity, "target_temp_step"), 0.5),
        ...extra,
    };
}

/**
 * The single target temperature of climates and water heaters, the entity's primary control.
 * Without min_temp/max_temp, Home Assistant's defaults of the domain bound it.
 */
function targetTemperature(defaultMin, defaultMax) {
    return temperatureInput(
        "set_temperature",
        _t("Target temperature"),
        (e) => attr(e, "temperature"),
        {
            primary: true,
            when: (entity) => isNumber(attr(entity, "temperature")),
            min: (entity) => numberOr(attr(entity, "min_temp"), defaultMin),
            max: (entity) => numberOr(attr(entity, "max_temp"), defaultMax),
        },
    );
}

/** Both ends of a target range: Home Assistant wants them together. */
function rangeAction(end) {
    return {
        service: "set_temperature",
        data: (entity, value) => ({
            target_temp_low: end === "low" ? value : attr(entity, "target_temp_low"),
            target_temp_high: end === "high" ? value : attr(entity, "target_temp_high"),
        }),
        patch: (entity, value) => ({ attributes: { [`target_temp_${end}`]: value } }),
    };
}

function hasTargetRange(entity) {
    return (
        supports(entity, CLIMATE_TARGET_RANGE) &&
        isNumber(attr(entity, "target_temp_low")) &&
        isNumber(attr(entity, "target_temp_high"))
    );
}

export const climate = {
    actions: {
        set_temperature: attributeAction("set_temperature", "temperature"),
        set_target_low: rangeAction("low"),
        set_target_high: rangeAction("high"),
        set_hvac_mode: {
            service: "set_hvac_mode",
            data: (entity, mode) => ({ hvac_mode: mode }),
            patch: (entity, mode) => ({ state: mode }),
        },
        set_fan_mode: attributeAction("set_fan_mode", "fan_mode"),
        set_swing_mode: attributeAction("set_swing_mode", "swing_mode"),
        set_preset_mode: attributeAction("set_preset_mode", "preset_mode"),
    },
    controls: [
        targetTemperature(7, 35),
        temperatureInput("set_target_low", _t("Low"), (e) => attr(e, "target_temp_low"), {
            when: hasTargetRange,
        }),
        temperatureInput("set_target_high", _t("High"), (e) => attr(e, "target_temp_high"), {
            when: hasTargetRange,
        }),
        {
            kind: "select",
            action: "set_hvac_mode",
            label: _t("Mode"),
            when: (entity) => listAttr(entity, "hvac_modes").length > 0,
            value: (entity) => entity.state,
            options: (entity) => attr(entity, "hvac_modes").map((mode) => [mode, labelOf(mode)]),
        },
        listSelect("set_preset_mode", "preset_modes", "preset_mode", _t("Preset")),
        listSelect("set_fan_mode", "fan_modes", "fan_mode", _t("Fan")),
        listSelect("set_swing_mode", "swing_modes", "swing_mode", _t("Swing")),
    ],
};

export const water_heater = {
    actions: {
        set_temperature: attributeAction("set_temperature", "temperature"),
        set_operation_mode: {
            service: "set_operation_mode",
            data: (entity, mode) => ({ operation_mode: mode }),
            patch: (entity, mode) => ({ state: mode, attributes: { operation_mode: mode } }),
        },
        away_mode: fieldAction("set_away_mode", "away_mode", (entity, on) => ({
            attributes: { away_mode: on ? "on" : "off" },
        })),
    },
    controls: [
        targetTemperature(30, 70),
        listSelect("set_operation_mode", "operation_list", "operation_mode", _t("Mode"), {
            value: (entity) => attr(entity, "operation_mode") ?? entity.state,
        }),
        {
            kind: "switch",
            action: "away_mode",
            label: _t("Away"),
            when: (entity) =>
                supports(entity, WATER_HEATER_AWAY_MODE) && hasAttr(entity, "away_mode"),
            value: (entity) => attr(entity, "away_mode") === "on",
        },
    ],
};

export const humidifier = {
    actions: {
        ...onOffActions,
        set_humidity: attributeAction("set_humidity", "humidity"),
        set_mode: attributeAction("set_mode", "mode"),
    },
    controls: [
        onOffControl,
        {
            kind: "range",
            action: "set_humidity",
            label: _t("Target humidity"),
            when: (entity) => isNumber(attr(entity, "humidity")),
            value: (entity) => attr(entity, "humidity"),
            min: (entity) => numberOr(attr(entity, "min_humidity"), 0),
            max: (entity) => numberOr(attr(entity, "max_humidity"), 100),
            step: 1,
            unit: "%",
        },
        listSelect("set_mode", "available_modes", "mode", _t("Mode"), {
            when: (entity) =>
                supports(entity, HUMIDIFIER_MODES) &&
                listAttr(entity, "available_modes").length > 0,
        }),
    ],
};

export const fan = {
    actions: {
        ...onOffActions,
        percentage: {
            service: "set_percentage",
            data: (entity, percentage) => ({ percentage }),
            patch: (entity, percentage) => ({
                state: percentage > 0 ? "on" : "off",
                attributes: { percentage },
            }),
        },
        oscillate: {
            service: "oscillate",
            data: (entity, oscillating) => ({ oscillating: Boolean(oscillating) }),
            patch: (entity, oscillating) => ({
                attributes: { oscillating: Boolean(oscillating) },
            }),
        },
        set_direction: attributeAction("set_direction", "direction"),
        set_preset_mode: {
            service: "set_preset_mode",
            data: (entity, preset_mode) => ({ preset_mode }),
            patch: (entity, preset_mode) => ({ state: "on", attributes: { preset_mode } }),
        },
    },
    controls: [
        onOffControl,
        {
            kind: "range",
            action: "percentage",
            label: _t("Speed"),
            when: (entity) => "percentage" in (entity.attributes || {}),
            value: (entity) => numberOr(attr(entity, "percentage"), 0),
            min: 0,
            max: 100,
            step: (entity) => numberOr(attr(entity, "percentage_step"), 1),
            unit: "%",
        },
        {
            kind: "switch",
            action: "oscillate",
            label: _t("Oscillate"),
            when: (entity) => "oscillating" in (entity.attributes || {}),
            value: (entity) => Boolean(attr(entity, "oscillating")),
        },
        {
            kind: "select",
            action: "set_direction",
            label: _t("Direction"),
            // Home Assistant gives the attribute only to fans that have a direction.
            when: (entity) => supports(entity, FAN_DIRECTION) && hasAttr(entity, "direction"),
            value: (entity) => attr(entity, "direction"),
            options: () => FAN_DIRECTIONS.map((direction) => [direction, labelOf(direction)]),
        },
        listSelect("set_preset_mode", "preset_modes", "preset_mode", _t("Preset")),
    ],
};
