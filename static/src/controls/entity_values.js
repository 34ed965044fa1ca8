import { formatDate, formatDateTime } from "@web/core/l10n/dates";
import { localization } from "@web/core/l10n/localization";
import { _t } from "@web/core/l10n/translation";
import { formatFloat } from "@web/core/utils/numbers";

import { attr, brightnessPercent, isOn, numberOr, supportsBrightness } from "./entity_attributes";

/**
 * An entity's value as people read it: states and modes in the user's language, numbers,
 * dates and times in the user's format and time zone.
 */

const { DateTime } = luxon;

// The states of an entity whose value Home Assistant does not know.
export const UNAVAILABLE_STATES = ["unavailable", "unknown"];

// States, modes and options Home Assistant names with fixed words (integration-specific
// options, such as a light's effects or a player's sources, are shown as they come).
export const STATE_LABELS = {
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
    mowing: _t("Mowing"),
    error: _t("Error"),
    heat: _t("Heat"),
    cool: _t("Cool"),
    heat_cool: _t("Heat/Cool"),
    auto: _t("Auto"),
    dry: _t("Dry"),
    fan_only: _t("Fan only"),
    // Alarm panels.
    disarmed: _t("Disarmed"),
    armed_home: _t("Armed home"),
    armed_away: _t("Armed away"),
    armed_night: _t("Armed night"),
    armed_vacation: _t("Armed vacation"),
    armed_custom_bypass: _t("Armed custom bypass"),
    arming: _t("Arming"),
    disarming: _t("Disarming"),
    pending: _t("Pending"),
    triggered: _t("Triggered"),
    // People and trackers (any other state is the name of the zone they are in).
    home: _t("Home"),
    not_home: _t("Away"),
    // Climate, fan, humidifier and water heater modes.
    eco: _t("Eco"),
    away: _t("Away"),
    boost: _t("Boost"),
    comfort: _t("Comfort"),
    sleep: _t("Sleep"),
    activity: _t("Activity"),
    normal: _t("Normal"),
    baby: _t("Baby"),
    none: _t("None"),
    low: _t("Low"),
    medium: _t("Medium"),
    high: _t("High"),
    middle: _t("Middle"),
    focus: _t("Focus"),
    diffuse: _t("Diffuse"),
    both: _t("Both"),
    vertical: _t("Vertical"),
    horizontal: _t("Horizontal"),
    forward: _t("Forward"),
    reverse: _t("Reverse"),
    electric: _t("Electric"),
    performance: _t("Performance"),
    high_demand: _t("High demand"),
    heat_pump: _t("Heat pump"),
    gas: _t("Gas"),
    // Cameras.
    streaming: _t("Streaming"),
    recording: _t("Recording"),
    // To-do items.
    needs_action: _t("To do"),
    completed: _t("Completed"),
};

export const WEATHER_LABELS = {
    "clear-night": _t("Clear night"),
    cloudy: _t("Cloudy"),
    exceptional: _t("Exceptional"),
    fog: _t("Fog"),
    hail: _t("Hail"),
    lightning: _t("Lightning"),
    "lightning-rainy": _t("Lightning, rainy"),
    partlycloudy: _t("Partly cloudy"),
    pouring: _t("Pouring"),
    rainy: _t("Rainy"),
    snowy: _t("Snowy"),
    "snowy-rainy": _t("Snowy, rainy"),
    sunny: _t("Sunny"),
    windy: _t("Windy"),
    "windy-variant": _t("Windy, cloudy"),
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

const PASSWORD_MASK = "••••••";

/** A state, mode or option in the user's language (as it comes when it has no fixed word). */
export function labelOf(value) {
    if (value === undefined || value === null) {
        return "";
    }
    const label = STATE_LABELS[value] || WEATHER_LABELS[value];
    return label ? String(label) : String(value).replaceAll("_", " ");
}

export function formatNumber(value, unit) {
    const number = numberOr(value, null);
    if (number === null) {
        return value === undefined || value === null ? "" : String(value);
    }
    const text = formatFloat(number, { digits: [0, 2], trailingZeros: false });
    return unit ? `${text} ${unit}` : text;
}

// Dates and times ------------------------------------------------------------------------

/** "YYYY-MM-DD" in the user's date format; "" when it is not a date. */
export function formatIsoDate(value) {
    const date = DateTime.fromISO(value || "");
    return date.isValid ? formatDate(date) : "";
}

/** "HH:MM[:SS]" in the user's time format (seconds only when there are some). */
export function formatIsoTime(value) {
    const time = DateTime.fromISO(value || "");
    if (!time.isValid) {
        return "";
    }
    const format = time.second ? localization.timeFormat : localization.shortTimeFormat;
    return time.toFormat(format);
}

/**
 * An ISO date and time with its offset, in the user's time zone and format; an ISO date
 * alone (an all-day event) as a date. "" when it is neither.
 */
export function formatIsoDateTime(value, { showSeconds = false } = {}) {
    if (/^\d{4}-\d{2}-\d{2}$/.test(value || "")) {
        return formatIsoDate(value);
    }
    const date = DateTime.fromISO(value || "", { setZone: true });
    return date.isValid ? formatDateTime(date, { showSeconds }) : "";
}

/**
 * An input_datetime's state: a wall-clock date and/or time of Home Assistant's own zone,
 * with no offset, so it is shown as it is (in the user's format) and not converted.
 */
function formatWallClock(entity) {
    const state = entity.state;
    if (attr(entity, "has_date") && attr(entity, "has_time")) {
        const date = DateTime.fromSQL(state);
        return date.isValid
            ? date.toFormat(`${localization.dateFormat} ${localization.shortTimeFormat}`)
            : state;
    }
    if (attr(entity, "has_date")) {
        return formatIsoDate(state) || state;
    }
    return formatIsoTime(state) || state;
}

// Values by domain -------------------------------------------------------------------------

function withTarget(label, current, target, unit = "°") {
    const parts = [label];
    if (typeof current === "number") {
        parts.push(`${formatNumber(current)}${unit}`);
    }
    if (typeof target === "number") {
        parts.push(_t("target %(value)s", { value: `${formatNumber(target)}${unit}` }));
    }
    return parts.filter(Boolean).join(" · ");
}

function withPosition(entity, name) {
    const position = attr(entity, name);
    return typeof position === "number"
        ? `${labelOf(entity.state)} · ${position} %`
        : labelOf(entity.state);
}

const DOMAIN_VALUES = {
    binary_sensor(entity) {
        const labels = BINARY_SENSOR_LABELS[attr(entity, "device_class")];
        if (labels && (entity.state === "on" || entity.state === "off")) {
            return String(labels[entity.state === "on" ? 0 : 1]);
        }
        return labelOf(entity.state);
    },
    light(entity) {
        if (isOn(entity) && supportsBrightness(entity) && attr(entity, "brightness") != null) {
            return `${STATE_LABELS.on} · ${brightnessPercent(entity)} %`;
        }
        return labelOf(entity.state);
    },
    cover: (entity) => withPosition(entity, "current_position"),
    valve: (entity) => withPosition(entity, "current_position"),
    climate: (entity) =>
        withTarget(
            labelOf(entity.state),
            attr(entity, "current_temperature"),
            attr(entity, "temperature"),
        ),
    water_heater: (entity) =>
        withTarget(
            labelOf(entity.state),
            attr(entity, "current_temperature"),
            attr(entity, "temperature"),
        ),
    humidifier: (entity) =>
        withTarget(
            labelOf(entity.state),
            attr(entity, "current_humidity"),
            isOn(entity) ? attr(entity, "humidity") : undefined,
            " %",
        ),
    media_player(entity) {
        const title = attr(entity, "media_title");
        return title ? `${labelOf(entity.state)} · ${title}` : labelOf(entity.state);
    },
    // Their state is the last activation time.
    scene: () => "",
    button: () => "",
    input_button: () => "",
    text: (entity) => (attr(entity, "mode") === "password" ? PASSWORD_MASK : entity.state),
    input_text: (entity) => (attr(entity, "mode") === "password" ? PASSWORD_MASK : entity.state),
    date: (entity) => formatIsoDate(entity.state) || entity.state,
    time: (entity) => formatIsoTime(entity.state) || entity.state,
    datetime: (entity) => formatIsoDateTime(entity.state) || entity.state,
    input_datetime: formatWallClock,
    update(entity) {
        const installed = attr(entity, "installed_version");
        const latest = attr(entity, "latest_version");
        const progress = attr(entity, "in_progress");
        if (progress === true || typeof progress === "number") {
            return typeof progress === "number"
                ? _t("Installing %(version)s: %(progress)s", {
                      version: latest,
                      progress: `${formatNumber(progress)} %`,
                  })
                : _t("Installing %(version)s", { version: latest });
        }
        if (entity.state === "on") {
            return _t("Update available: %(installed)s → %(latest)s", { installed, latest });
        }
        return installed ? _t("Up to date: %(version)s", { version: installed }) : labelOf("off");
    },
    event(entity) {
        const when = formatIsoDateTime(entity.state, { showSeconds: true });
        if (!when) {
            return _t("No event yet");
        }
        return `${labelOf(attr(entity, "event_type"))} · ${when}`;
    },
    weather(entity) {
        const temperature = attr(entity, "temperature");
        const unit = attr(entity, "temperature_unit") || "";
        const condition = labelOf(entity.state);
        return typeof temperature === "number"
            ? `${condition} · ${formatNumber(temperature, unit)}`
            : condition;
    },
    calendar(entity) {
        const message = attr(entity, "message");
        if (!message) {
            return _t("No event");
        }
        return entity.state === "on"
            ? _t("Now: %(event)s", { event: message })
            : _t("Next: %(event)s", { event: message });
    },
    todo(entity) {
        const count = numberOr(entity.state, null);
        return count === null
            ? labelOf(entity.state)
            : _t("%(count)s to do", { count: formatNumber(count) });
    },
};

/** The entity's value as text: its state (translated where it is a known word) and unit. */
export function formatValue(entity) {
    const state = entity.state;
    if (state === undefined || state === null || state === "") {
        return "";
    }
    // An event entity is "unknown" until its first event: its own sentence says so.
    if (UNAVAILABLE_STATES.includes(state) && !(entity.domain === "event" && state === "unknown")) {
        return String(STATE_LABELS[state]);
    }
    const unit = entity.unit_of_measurement || attr(entity, "unit_of_measurement");
    if (attr(entity, "device_class") === "timestamp") {
        const date = DateTime.fromISO(state);
        if (date.isValid) {
            return formatDateTime(date);
        }
    }
    const domainValue = DOMAIN_VALUES[entity.domain];
    if (domainValue) {
        return String(domainValue(entity));
    }
    if (numberOr(state, null) !== null && /^-?[\d.]+(e[-+]?\d+)?$/i.test(state)) {
        return formatNumber(state, unit);
    }
    const label = STATE_LABELS[state] ? String(STATE_LABELS[state]) : state;
    return unit ? `${label} ${unit}` : label;
}
