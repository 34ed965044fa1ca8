import { _t } from "@web/core/l10n/translation";

import {
    button,
    listSelect,
    onOffActions,
    onOffControl,
    onOffPatch,
    onOffService,
    turnOnAction,
} from "../control_builders";
import {
    HA_BRIGHTNESS_MAX,
    attr,
    brightnessPercent,
    hexToRgb,
    listAttr,
    numberOr,
    rgbToHex,
    supports,
    supportsBrightness,
    supportsColor,
    supportsColorTemp,
} from "../entity_attributes";

/** Lights, switches, scenes, scripts, automations, buttons, remotes, sirens, updates. */

const DEFAULT_MIN_KELVIN = 2000;
const DEFAULT_MAX_KELVIN = 6500;
// Home Assistant's EntityFeature bits.
const LIGHT_EFFECT = 4;
const SIREN_TONES = 4;
const UPDATE_INSTALL = 1;

function minKelvin(entity) {
    return numberOr(attr(entity, "min_color_temp_kelvin"), DEFAULT_MIN_KELVIN);
}

function updateInProgress(entity) {
    const progress = attr(entity, "in_progress");
    return progress === true || typeof progress === "number";
}

/** A siren's tones: a list of names, or an object of id -> name. */
function toneOptions(entity) {
    const tones = attr(entity, "available_tones");
    if (Array.isArray(tones)) {
        return tones.map((tone) => [tone, String(tone)]);
    }
    return Object.entries(tones || {}).map(([id, name]) => [id, String(name)]);
}

export const light = {
    actions: {
        ...onOffActions,
        brightness: {
            service: (entity, value) => (value > 0 ? "turn_on" : "turn_off"),
            data: (entity, value) => (value > 0 ? { brightness_pct: value } : {}),
            patch: (entity, value) => ({
                state: value > 0 ? "on" : "off",
                attributes: { brightness: Math.round((value * HA_BRIGHTNESS_MAX) / 100) },
            }),
        },
        color_temp: {
            service: "turn_on",
            data: (entity, kelvin) => ({ color_temp_kelvin: kelvin }),
            patch: (entity, kelvin) => ({
                state: "on",
                attributes: { color_temp_kelvin: kelvin, color_mode: "color_temp" },
            }),
        },
        color: {
            service: "turn_on",
            data: (entity, hex) => ({ rgb_color: hexToRgb(hex) }),
            patch: (entity, hex) => ({
                state: "on",
                attributes: { rgb_color: hexToRgb(hex), color_mode: "rgb" },
            }),
        },
        effect: {
            service: "turn_on",
            data: (entity, effect) => ({ effect }),
            patch: (entity, effect) => ({ state: "on", attributes: { effect } }),
        },
    },
    controls: [
        onOffControl,
        {
            kind: "range",
            action: "brightness",
            label: _t("Brightness"),
            when: supportsBrightness,
            value: brightnessPercent,
            min: 0,
            max: 100,
            step: 1,
            unit: "%",
        },
        {
            kind: "range",
            action: "color_temp",
            label: _t("Color temperature"),
            when: supportsColorTemp,
            value: (entity) => numberOr(attr(entity, "color_temp_kelvin"), minKelvin(entity)),
            min: minKelvin,
            max: (entity) => numberOr(attr(entity, "max_color_temp_kelvin"), DEFAULT_MAX_KELVIN),
            step: 50,
            unit: "K",
        },
        {
            kind: "color",
            action: "color",
            label: _t("Color"),
            when: supportsColor,
            value: (entity) => rgbToHex(attr(entity, "rgb_color")),
        },
        listSelect("effect", "effect_list", "effect", _t("Effect"), {
            when: (entity) =>
                supports(entity, LIGHT_EFFECT) && listAttr(entity, "effect_list").length > 0,
        }),
    ],
};

export const scene = {
    actions: { activate: turnOnAction(_t("Scene activated")) },
    controls: [button("activate", _t("Activate"), "fa-magic", { primary: true })],
};

export const script = {
    actions: {
        run: turnOnAction(_t("Script started")),
        stop: { service: "turn_off", patch: () => ({ state: "off" }) },
    },
    controls: [
        button("run", _t("Run"), "fa-play", { primary: true }),
        // A script's state is "on" while it runs.
        button("stop", _t("Stop"), "fa-stop", {
            primary: true,
            when: (entity) => entity.state === "on",
        }),
    ],
};

export const automation = {
    actions: {
        toggle: { service: onOffService, patch: onOffPatch },
        trigger: { service: "trigger", success: _t("Automation triggered") },
    },
    controls: [
        { ...onOffControl, label: _t("Enabled") },
        button("trigger", _t("Trigger"), "fa-bolt"),
    ],
};

export const pressButton = {
    actions: { press: { service: "press", success: _t("Button pressed") } },
    controls: [button("press", _t("Press"), "fa-hand-pointer-o", { primary: true })],
};

export const siren = {
    actions: {
        ...onOffActions,
        tone: {
            service: "turn_on",
            data: (entity, tone) => ({ tone }),
            patch: () => ({ state: "on" }),
        },
    },
    controls: [
        onOffControl,
        {
            kind: "select",
            action: "tone",
            label: _t("Sound a tone"),
            when: (entity) => supports(entity, SIREN_TONES) && toneOptions(entity).length > 0,
            value: () => null,
            options: toneOptions,
            placeholder: _t("Sound a tone"),
        },
    ],
};

export const update = {
    actions: {
        install: {
            service: "install",
            patch: () => ({ attributes: { in_progress: true } }),
        },
    },
    controls: [
        button("install", _t("Install"), "fa-download", {
            primary: true,
            when: (entity) => entity.state === "on" && supports(entity, UPDATE_INSTALL),
            disabled: updateInProgress,
        }),
    ],
};
