/**
 * What an entity's state and attributes say, as the control table and the value display read
 * them: pure functions of the entity, no component, no service.
 */

const { DateTime } = luxon;

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
export const HA_BRIGHTNESS_MAX = 255;

export function attr(entity, name) {
    return entity.attributes?.[name];
}

export function isOn(entity) {
    return entity.state === "on";
}

export function numberOr(value, fallback) {
    const number = typeof value === "number" ? value : parseFloat(value);
    return Number.isFinite(number) ? number : fallback;
}

/** True when the entity's ``supported_features`` has ``feature`` (a bit of its domain's
 * EntityFeature enum). */
export function supports(entity, feature) {
    const features = attr(entity, "supported_features");
    return typeof features === "number" && (features & feature) !== 0;
}

/**
 * ``supports``, except that an entity that does not say what it supports is taken to support
 * it: for the controls every entity of its domain had before features were read (covers'
 * open/stop/close, vacuums' start and return), which Home Assistant's answer decides anyway.
 */
export function supportsUnlessUnknown(entity, feature) {
    return typeof attr(entity, "supported_features") !== "number" || supports(entity, feature);
}

/** The entity's ``name`` attribute when it is a non-empty list (or object, whose keys). */
export function listAttr(entity, name) {
    const value = attr(entity, name);
    if (Array.isArray(value)) {
        return value;
    }
    return value && typeof value === "object" ? Object.keys(value) : [];
}

/** True when the attribute is present (even null): Home Assistant lists supported ones. */
export function hasAttr(entity, name) {
    return name in (entity.attributes || {});
}

// Lights ---------------------------------------------------------------------------------

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

export function brightnessPercent(entity) {
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

// Numbers --------------------------------------------------------------------------------

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

/** The limits of a number or input_number entity. */
export function numberLimits(entity) {
    return {
        min: numberOr(attr(entity, "min"), 0),
        max: numberOr(attr(entity, "max"), 100),
        step: numberOr(attr(entity, "step"), 1),
    };
}

/**
 * The value one step up (``direction`` 1) or down (-1) from the entity's, within its limits;
 * null when its state is not a number.
 */
export function steppedValue(entity, direction) {
    const current = numberOr(entity.state, null);
    if (current === null) {
        return null;
    }
    const limits = numberLimits(entity);
    return clampToStep(current + direction * limits.step, limits);
}

// Dates and times --------------------------------------------------------------------------
// Inputs of type date, time and datetime-local speak the browser's local wall-clock time,
// which Odoo's web client takes as the user's time zone (luxon's default zone).

/** "HH:MM" or "HH:MM:SS" as "HH:MM:SS" (what Home Assistant's time entities hold). */
export function withSeconds(time) {
    return /^\d{2}:\d{2}$/.test(time) ? `${time}:00` : time;
}

/** A datetime-local input's value (the user's zone) as an ISO string with its offset. */
export function localInputToIso(value) {
    return DateTime.fromISO(value).toISO({ suppressMilliseconds: true });
}

/** An ISO datetime (any offset) as a datetime-local input's value, in the user's zone. */
export function isoToLocalInput(value) {
    const date = DateTime.fromISO(value || "", { setZone: true });
    return date.isValid ? date.setZone("default").toFormat("yyyy-MM-dd'T'HH:mm") : "";
}
