import { Component, onWillUpdateProps, useState } from "@odoo/owl";
import { formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { formatFloat } from "@web/core/utils/numbers";

/**
 * The one table of Home Assistant entity controls, by domain, shared by every place that
 * renders an entity (dashboard cards, kanban cards, field widgets).
 *
 * A domain entry has
 * - ``actions``: name -> {service, data?, patch?, success?}. ``service`` and ``data`` (the
 *   service_data) may be functions of (entity, value); ``patch(entity, value)`` is the
 *   optimistic {state?, attributes?} shown until Home Assistant answers; ``success`` is a
 *   notification for actions whose effect does not show in the entity's state.
 * - ``controls``: the inputs, in display order: {kind, action, label?, icon?, primary?,
 *   when?, value?, min?, max?, step?, unit?, options?, disabled?}; every property but kind
 *   and action may be a function of the entity. Kinds: switch, button, range, number,
 *   select, color. ``primary`` controls are the ones a compact rendering keeps.
 * - ``readOnly: true`` for domains that only show a value.
 * Domains not in the table are read only.
 */

const UNAVAILABLE_STATES = ["unavailable", "unknown"];
const LIGHT_BRIGHTNESS_MODES = [
    "brightness",
    "color_temp",
    "hs",
    "xy",
    "rgb",
    "rgbw",
    "rgbww",
    "white",
];
const LIGHT_COLOR_MODES = ["hs", "xy", "rgb", "rgbw", "rgbww"];
const DEFAULT_MIN_KELVIN = 2000;
const DEFAULT_MAX_KELVIN = 6500;
const HA_BRIGHTNESS_MAX = 255;

const STATE_LABELS = {
    on: _t("On"),
    off: _t("Off"),
    unavailable: _t("Unavailable"),
    unknown: _t("Unknown"),
    open: _t("Open"),
    opening: _t("Opening"),
    closed: _t("Closed"),
    closing: _t("Closing"),
    locked: _t("Locked"),
    locking: _t("Locking"),
    unlocked: _t("Unlocked"),
    unlocking: _t("Unlocking"),
    jammed: _t("Jammed"),
    playing: _t("Playing"),
    paused: _t("Paused"),
    idle: _t("Idle"),
    standby: _t("Standby"),
    buffering: _t("Buffering"),
    cleaning: _t("Cleaning"),
    docked: _t("Docked"),
    returning: _t("Returning"),
    error: _t("Error"),
    heat: _t("Heat"),
    cool: _t("Cool"),
    heat_cool: _t("Heat/Cool"),
    auto: _t("Auto"),
    dry: _t("Dry"),
    fan_only: _t("Fan only"),
};

const BINARY_SENSOR_LABELS = {
    door: [_t("Open"), _t("Closed")],
    garage_door: [_t("Open"), _t("Closed")],
    opening: [_t("Open"), _t("Closed")],
    window: [_t("Open"), _t("Closed")],
    motion: [_t("Detected"), _t("Clear")],
    occupancy: [_t("Detected"), _t("Clear")],
    presence: [_t("Home"), _t("Away")],
    moisture: [_t("Wet"), _t("Dry")],
    smoke: [_t("Detected"), _t("Clear")],
    battery: [_t("Low"), _t("Normal")],
    problem: [_t("Problem"), _t("OK")],
    connectivity: [_t("Connected"), _t("Disconnected")],
};

// Helpers ------------------------------------------------------------------------------

function attr(entity, name) {
    return entity.attributes?.[name];
}

function isOn(entity) {
    return entity.state === "on";
}

function onOffService(entity, value) {
    if (value === undefined) {
        return "toggle";
    }
    return value ? "turn_on" : "turn_off";
}

function onOffPatch(entity, value) {
    const on = value === undefined ? !isOn(entity) : Boolean(value);
    return { state: on ? "on" : "off" };
}

function colorModes(entity) {
    return attr(entity, "supported_color_modes") || [];
}

export function supportsBrightness(entity) {
    return colorModes(entity).some((mode) => LIGHT_BRIGHTNESS_MODES.includes(mode));
}

export function supportsColorTemp(entity) {
    return colorModes(entity).includes("color_temp");
}

export function supportsColor(entity) {
    return colorModes(entity).some((mode) => LIGHT_COLOR_MODES.includes(mode));
}

function minKelvin(entity) {
    return numberOr(attr(entity, "min_color_temp_kelvin"), DEFAULT_MIN_KELVIN);
}

function brightnessPercent(entity) {
    const brightness = attr(entity, "brightness");
    if (!isOn(entity) || brightness === undefined || brightness === null) {
        return 0;
    }
    return Math.round((brightness * 100) / HA_BRIGHTNESS_MAX);
}

export function rgbToHex(rgb) {
    if (!Array.isArray(rgb) || rgb.length < 3) {
        return "#ffffff";
    }
    return (
        "#" +
        rgb
            .slice(0, 3)
            .map((channel) => Math.max(0, Math.min(255, Math.round(channel))))
            .map((channel) => channel.toString(16).padStart(2, "0"))
            .join("")
    );
}

export function hexToRgb(hex) {
    const match = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
    if (!match) {
        return [255, 255, 255];
    }
    return match.slice(1).map((channel) => parseInt(channel, 16));
}

function numberOr(value, fallback) {
    const number = typeof value === "number" ? value : parseFloat(value);
    return Number.isFinite(number) ? number : fallback;
}

function labelOf(value) {
    return STATE_LABELS[value] || String(value).replaceAll("_", " ");
}

const setValue = {
    service: "set_value",
    data: (entity, value) => ({ value }),
    patch: (entity, value) => ({ state: String(value) }),
};

const selectOption = {
    service: "select_option",
    data: (entity, option) => ({ option }),
    patch: (entity, option) => ({ state: option }),
};

const numberControl = {
    kind: (entity) => (attr(entity, "mode") === "box" ? "number" : "range"),
    action: "set_value",
    primary: true,
    label: _t("Value"),
    value: (entity) => numberOr(entity.state, null),
    min: (entity) => numberOr(attr(entity, "min"), 0),
    max: (entity) => numberOr(attr(entity, "max"), 100),
    step: (entity) => numberOr(attr(entity, "step"), 1),
    unit: (entity) => entity.unit_of_measurement || attr(entity, "unit_of_measurement"),
};

const selectControl = {
    kind: "select",
    action: "select_option",
    primary: true,
    label: _t("Option"),
    value: (entity) => entity.state,
    options: (entity) => (attr(entity, "options") || []).map((option) => [option, option]),
};

const onOffActions = { toggle: { service: onOffService, patch: onOffPatch } };
const onOffControl = { kind: "switch", action: "toggle", primary: true, value: isOn };

const turnOnAction = (success) => ({ service: "turn_on", success });

// The table ----------------------------------------------------------------------------

export const DOMAIN_CONTROLS = {
    light: {
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
                max: (entity) =>
                    numberOr(attr(entity, "max_color_temp_kelvin"), DEFAULT_MAX_KELVIN),
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
        ],
    },
    switch: { actions: onOffActions, controls: [onOffControl] },
    input_boolean: { actions: onOffActions, controls: [onOffControl] },
    fan: {
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
        ],
    },
    climate: {
        actions: {
            set_temperature: {
                service: "set_temperature",
                data: (entity, temperature) => ({ temperature }),
                patch: (entity, temperature) => ({ attributes: { temperature } }),
            },
            set_hvac_mode: {
                service: "set_hvac_mode",
                data: (entity, mode) => ({ hvac_mode: mode }),
                patch: (entity, mode) => ({ state: mode }),
            },
        },
        controls: [
            {
                kind: "number",
                action: "set_temperature",
                primary: true,
                label: _t("Target temperature"),
                when: (entity) => typeof attr(entity, "temperature") === "number",
                value: (entity) => attr(entity, "temperature"),
                min: (entity) => numberOr(attr(entity, "min_temp"), 7),
                max: (entity) => numberOr(attr(entity, "max_temp"), 35),
                step: (entity) => numberOr(attr(entity, "target_temp_step"), 0.5),
            },
            {
                kind: "select",
                action: "set_hvac_mode",
                label: _t("Mode"),
                when: (entity) => (attr(entity, "hvac_modes") || []).length > 0,
                value: (entity) => entity.state,
                options: (entity) =>
                    attr(entity, "hvac_modes").map((mode) => [mode, labelOf(mode)]),
            },
        ],
    },
    cover: {
        actions: {
            open: { service: "open_cover", patch: () => ({ state: "opening" }) },
            stop: { service: "stop_cover" },
            close: { service: "close_cover", patch: () => ({ state: "closing" }) },
            position: {
                service: "set_cover_position",
                data: (entity, position) => ({ position }),
                patch: (entity, position) => ({ attributes: { current_position: position } }),
            },
        },
        controls: [
            {
                kind: "button",
                action: "open",
                primary: true,
                label: _t("Open"),
                icon: "fa-arrow-up",
            },
            { kind: "button", action: "stop", primary: true, label: _t("Stop"), icon: "fa-stop" },
            {
                kind: "button",
                action: "close",
                primary: true,
                label: _t("Close"),
                icon: "fa-arrow-down",
            },
            {
                kind: "range",
                action: "position",
                label: _t("Position"),
                when: (entity) => typeof attr(entity, "current_position") === "number",
                value: (entity) => attr(entity, "current_position"),
                min: 0,
                max: 100,
                step: 1,
                unit: "%",
            },
        ],
    },
    lock: {
        actions: {
            lock: { service: "lock", patch: () => ({ state: "locking" }) },
            unlock: { service: "unlock", patch: () => ({ state: "unlocking" }) },
        },
        controls: [
            {
                kind: "button",
                action: "lock",
                primary: true,
                label: _t("Lock"),
                icon: "fa-lock",
                disabled: (entity) => entity.state === "locked",
            },
            {
                kind: "button",
                action: "unlock",
                primary: true,
                label: _t("Unlock"),
                icon: "fa-unlock",
                disabled: (entity) => entity.state === "unlocked",
            },
        ],
    },
    media_player: {
        actions: {
            play_pause: {
                service: "media_play_pause",
                patch: (entity) => ({ state: entity.state === "playing" ? "paused" : "playing" }),
            },
            volume: {
                service: "volume_set",
                data: (entity, percent) => ({ volume_level: percent / 100 }),
                patch: (entity, percent) => ({ attributes: { volume_level: percent / 100 } }),
            },
        },
        controls: [
            {
                kind: "button",
                action: "play_pause",
                primary: true,
                label: (entity) => (entity.state === "playing" ? _t("Pause") : _t("Play")),
                icon: (entity) => (entity.state === "playing" ? "fa-pause" : "fa-play"),
            },
            {
                kind: "range",
                action: "volume",
                label: _t("Volume"),
                when: (entity) => typeof attr(entity, "volume_level") === "number",
                value: (entity) => Math.round(attr(entity, "volume_level") * 100),
                min: 0,
                max: 100,
                step: 1,
                unit: "%",
            },
        ],
    },
    scene: {
        actions: { activate: turnOnAction(_t("Scene activated")) },
        controls: [
            {
                kind: "button",
                action: "activate",
                primary: true,
                label: _t("Activate"),
                icon: "fa-magic",
            },
        ],
    },
    script: {
        actions: { run: turnOnAction(_t("Script started")) },
        controls: [
            { kind: "button", action: "run", primary: true, label: _t("Run"), icon: "fa-play" },
        ],
    },
    automation: {
        actions: {
            toggle: { service: onOffService, patch: onOffPatch },
            trigger: { service: "trigger", success: _t("Automation triggered") },
        },
        controls: [
            { ...onOffControl, label: _t("Enabled") },
            { kind: "button", action: "trigger", label: _t("Trigger"), icon: "fa-bolt" },
        ],
    },
    button: {
        actions: { press: { service: "press", success: _t("Button pressed") } },
        controls: [
            {
                kind: "button",
                action: "press",
                primary: true,
                label: _t("Press"),
                icon: "fa-hand-pointer-o",
            },
        ],
    },
    number: { actions: { set_value: setValue }, controls: [numberControl] },
    input_number: { actions: { set_value: setValue }, controls: [numberControl] },
    select: { actions: { select_option: selectOption }, controls: [selectControl] },
    input_select: { actions: { select_option: selectOption }, controls: [selectControl] },
    vacuum: {
        actions: {
            start: { service: "start", patch: () => ({ state: "cleaning" }) },
            return_to_base: { service: "return_to_base", patch: () => ({ state: "returning" }) },
        },
        controls: [
            { kind: "button", action: "start", primary: true, label: _t("Start"), icon: "fa-play" },
            {
                kind: "button",
                action: "return_to_base",
                primary: true,
                label: _t("Return to base"),
                icon: "fa-home",
            },
        ],
    },
    sensor: { readOnly: true },
    binary_sensor: { readOnly: true },
};
DOMAIN_CONTROLS.input_button = DOMAIN_CONTROLS.button;

const CONTROL_KEYS = ["kind", "label", "icon", "value", "min", "max", "step", "unit", "options"];
let nextUid = 1;
const READ_ONLY = Object.freeze({ readOnly: true, actions: {}, controls: [] });

// Pure API -----------------------------------------------------------------------------

/** The table entry of the entity's domain (a read-only entry for unknown domains). */
export function controlFor(entity) {
    const entry = DOMAIN_CONTROLS[entity?.domain];
    return entry && !entry.readOnly ? entry : READ_ONLY;
}

/** True when the entity's domain has nothing to control (whatever the user's rights). */
export function isReadOnly(entity) {
    return controlFor(entity) === READ_ONLY;
}

function resolve(value, entity) {
    return typeof value === "function" ? value(entity) : value;
}

/**
 * The controls to render for the entity, with their current values: [] when the user may
 * not control it or the domain is read only.
 */
export function controlsFor(entity, { compact = false } = {}) {
    if (!entity?.can_control) {
        return [];
    }
    const unavailable = entity.state === "unavailable";
    const result = [];
    for (const spec of controlFor(entity).controls) {
        if ((spec.when && !spec.when(entity)) || (compact && !spec.primary)) {
            continue;
        }
        const control = { action: spec.action, primary: Boolean(spec.primary) };
        for (const key of CONTROL_KEYS) {
            if (key in spec) {
                control[key] = resolve(spec[key], entity);
            }
        }
        if (control.label !== undefined) {
            control.label = String(control.label);
        }
        if (control.options) {
            control.options = control.options.map(([value, label]) => [value, String(label)]);
        }
        control.disabled = unavailable || Boolean(resolve(spec.disabled, entity));
        if (control.kind === "range" || control.kind === "number") {
            control.display = formatNumber(control.value, control.unit);
        }
        result.push(control);
    }
    return result;
}

function actionOf(entity, action) {
    const spec = controlFor(entity).actions[action];
    if (!spec) {
        throw new Error(`No action "${action}" for the domain "${entity?.domain}"`);
    }
    return spec;
}

/** The Home Assistant service call that performs ``action`` (with ``value``) on the entity. */
export function serviceCallFor(entity, action, value) {
    const spec = actionOf(entity, action);
    return {
        domain: entity.domain,
        service: typeof spec.service === "function" ? spec.service(entity, value) : spec.service,
        service_data: spec.data ? spec.data(entity, value) : {},
    };
}

/** The {state?, attributes?} to show at once for ``action``, or null. */
export function optimisticPatch(entity, action, value) {
    const spec = actionOf(entity, action);
    return spec.patch ? spec.patch(entity, value) : null;
}

/** The notification to show when ``action`` succeeded, or null (its effect shows itself). */
export function successMessageFor(entity, action) {
    const spec = actionOf(entity, action);
    return spec.success ? String(spec.success) : null;
}

/**
 * ``value`` brought within [min, max] on the step grid starting at min; null when it is not
 * a number.
 */
export function clampToStep(value, { min, max, step } = {}) {
    let number = numberOr(value, null);
    if (number === null) {
        return null;
    }
    const low = numberOr(min, -Infinity);
    const high = numberOr(max, Infinity);
    const grid = numberOr(step, 0);
    if (grid > 0 && Number.isFinite(low)) {
        number = low + Math.round((number - low) / grid) * grid;
        // Drop the float noise of the multiplication (0.1 * 3) at the step's precision.
        const decimals = (String(grid).split(".")[1] || "").length;
        number = parseFloat(number.toFixed(decimals));
    }
    return Math.min(high, Math.max(low, number));
}

/** The entity with ``patch`` applied (a new object; the entity is left alone). */
export function applyPatch(entity, patch) {
    if (!patch) {
        return entity;
    }
    const patched = { ...entity };
    if ("state" in patch) {
        patched.state = patch.state;
    }
    if (patch.attributes) {
        patched.attributes = { ...entity.attributes, ...patch.attributes };
    }
    return patched;
}

function formatNumber(value, unit) {
    const number = numberOr(value, null);
    if (number === null) {
        return value === undefined || value === null ? "" : String(value);
    }
    const text = formatFloat(number, { digits: [0, 2], trailingZeros: false });
    return unit ? `${text} ${unit}` : text;
}

/** The entity's value as text: its state (translated where it is a known word) and unit. */
export function formatValue(entity) {
    const state = entity.state;
    if (state === undefined || state === null || state === "") {
        return "";
    }
    if (UNAVAILABLE_STATES.includes(state)) {
        return String(STATE_LABELS[state]);
    }
    const unit = entity.unit_of_measurement || attr(entity, "unit_of_measurement");
    if (attr(entity, "device_class") === "timestamp") {
        const date = luxon.DateTime.fromISO(state);
        if (date.isValid) {
            return formatDateTime(date);
        }
    }
    switch (entity.domain) {
        case "binary_sensor": {
            const labels = BINARY_SENSOR_LABELS[attr(entity, "device_class")];
            if (labels && (state === "on" || state === "off")) {
                return String(labels[state === "on" ? 0 : 1]);
            }
            return String(labelOf(state));
        }
        case "light":
            if (isOn(entity) && supportsBrightness(entity) && attr(entity, "brightness") != null) {
                return `${STATE_LABELS.on} · ${brightnessPercent(entity)} %`;
            }
            return String(labelOf(state));
        case "cover": {
            const position = attr(entity, "current_position");
            return typeof position === "number"
                ? `${labelOf(state)} · ${position} %`
                : String(labelOf(state));
        }
        case "climate": {
            const parts = [String(labelOf(state))];
            const current = attr(entity, "current_temperature");
            const target = attr(entity, "temperature");
            if (typeof current === "number") {
                parts.push(`${formatNumber(current)}°`);
            }
            if (typeof target === "number") {
                parts.push(_t("target %(temperature)s°", { temperature: formatNumber(target) }));
            }
            return parts.join(" · ");
        }
        case "media_player": {
            const title = attr(entity, "media_title");
            return title ? `${labelOf(state)} · ${title}` : String(labelOf(state));
        }
        case "scene":
        case "script":
        case "button":
        case "input_button":
            // Their state is the last activation time, or on/off for a running script.
            return entity.domain === "script" ? String(labelOf(state)) : "";
    }
    if (numberOr(state, null) !== null && /^-?[\d.]+(e[-+]?\d+)?$/i.test(state)) {
        return formatNumber(state, unit);
    }
    const label = STATE_LABELS[state] ? String(STATE_LABELS[state]) : state;
    return unit ? `${label} ${unit}` : label;
}

// Component ----------------------------------------------------------------------------

/**
 * An entity's value, and the controls of its domain when the user may control it. An action
 * shows its effect at once (optimistic patch through ha_data, or locally for an entity
 * ha_data does not hold), calls the service, and undoes the patch when Home Assistant
 * refuses (ha_data notifies the error).
 */
export class EntityControl extends Component {
    static template = "odoo_ha_addon.EntityControl";
    static props = {
        entity: Object,
        compact: { type: Boolean, optional: true },
        // The entity's ha.instance id, for an entity ha_data does not show (kanban, form).
        instanceId: { type: Number, optional: true },
    };

    setup() {
        this.haData = useService("ha_data");
        this.local = useState({ patch: null, busy: false });
        this.uid = nextUid++;
        onWillUpdateProps((nextProps) => {
            if (nextProps.entity !== this.props.entity) {
                this.local.patch = null;
            }
        });
    }

    get entity() {
        return applyPatch(this.props.entity, this.local.patch);
    }

    get value() {
        return formatValue(this.entity);
    }

    get controls() {
        return controlsFor(this.entity, { compact: this.props.compact });
    }

    inputId(control) {
        return `o_ha_control_${this.uid}_${control.action}`;
    }

    onRangeChange(control, ev) {
        return this.run(control.action, parseFloat(ev.target.value));
    }

    onNumberChange(control, ev) {
        const value = clampToStep(ev.target.value, control);
        if (value === null || value === control.value) {
            ev.target.value = control.value ?? "";
            return;
        }
        ev.target.value = value;
        return this.run(control.action, value);
    }

    async run(action, value) {
        const entity = this.entity;
        const entityId = entity.entity_id;
        const call = serviceCallFor(entity, action, value);
        const patch = optimisticPatch(entity, action, value);
        // The same record as the one ha_data shows (entity ids repeat across instances).
        const held = this.haData.state.entities[entityId]?.id === entity.id;
        const shared = Boolean(patch) && held && this.haData.setOptimistic(entityId, patch);
        if (patch && !shared) {
            this.local.patch = { ...this.local.patch, ...patch };
        }
        this.local.busy = true;
        try {
            await this.haData.callService(call.domain, call.service, entityId, call.service_data, {
                instanceId: this.props.instanceId ?? (held ? this.haData.shownInstanceId : null),
                successMessage: successMessageFor(entity, action),
            });
        } catch {
            // ha_data notified the refusal; show the state as it was.
            if (shared) {
                this.haData.rollback(entityId);
            }
            this.local.patch = null;
        } finally {
            this.local.busy = false;
        }
    }
}
