import { _t } from "@web/core/l10n/translation";

import { button } from "../control_builders";
import {
    attr,
    isoToLocalInput,
    localInputToIso,
    numberLimits,
    numberOr,
    steppedValue,
    withSeconds,
} from "../entity_attributes";

/**
 * Entities that hold a value: numbers, selects, texts, dates and times, and to-do lists
 * (whose items are shown and edited by views/todo_view.js through the actions below).
 */

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
    min: (entity) => numberLimits(entity).min,
    max: (entity) => numberLimits(entity).max,
    step: (entity) => numberLimits(entity).step,
    unit: (entity) => entity.unit_of_measurement || attr(entity, "unit_of_measurement"),
};

/** One step down or up, disabled at the end of the range (or when the state is no number). */
function stepButtons(controls) {
    const atEnd = (direction) => (entity) => {
        const next = steppedValue(entity, direction);
        return next === null || next === numberOr(entity.state, null);
    };
    return [
        button("decrement", _t("Decrease"), "fa-minus", { disabled: atEnd(-1) }),
        ...controls,
        button("increment", _t("Increase"), "fa-plus", { disabled: atEnd(1) }),
    ];
}

const stepPatch = (direction) => (entity) => ({
    state: String(steppedValue(entity, direction) ?? entity.state),
});

export const number = {
    actions: {
        set_value: setValue,
        // number has no increment service: the next value is computed here.
        decrement: {
            service: "set_value",
            data: (entity) => ({ value: steppedValue(entity, -1) }),
            patch: stepPatch(-1),
        },
        increment: {
            service: "set_value",
            data: (entity) => ({ value: steppedValue(entity, 1) }),
            patch: stepPatch(1),
        },
    },
    controls: stepButtons([numberControl]),
};

export const input_number = {
    actions: {
        set_value: setValue,
        decrement: { service: "decrement", patch: stepPatch(-1) },
        increment: { service: "increment", patch: stepPatch(1) },
    },
    controls: stepButtons([numberControl]),
};

const selectControl = {
    kind: "select",
    action: "select_option",
    primary: true,
    label: _t("Option"),
    value: (entity) => entity.state,
    options: (entity) => (attr(entity, "options") || []).map((option) => [option, option]),
};

export const select = { actions: { select_option: selectOption }, controls: [selectControl] };

/** text and input_text: their length bounds are min and max, their mode text or password. */
export const text = {
    actions: {
        set_value: {
            service: "set_value",
            data: (entity, value) => ({ value: String(value) }),
            patch: (entity, value) => ({ state: String(value) }),
        },
    },
    controls: [
        {
            kind: "text",
            action: "set_value",
            primary: true,
            label: _t("Value"),
            // A password is never put back in the page: type a new one.
            value: (entity) => (attr(entity, "mode") === "password" ? "" : entity.state),
            password: (entity) => attr(entity, "mode") === "password",
            min: (entity) => numberOr(attr(entity, "min"), 0),
            max: (entity) => numberOr(attr(entity, "max"), 255),
            pattern: (entity) => attr(entity, "pattern") || undefined,
        },
    ],
};

function dateTimeControl(kind, action, value, extra = {}) {
    return { kind, action, primary: true, label: _t("Value"), value, ...extra };
}

export const date = {
    actions: {
        set_value: {
            service: "set_value",
            data: (entity, value) => ({ date: value }),
            patch: (entity, value) => ({ state: value }),
        },
    },
    controls: [dateTimeControl("date", "set_value", (entity) => entity.state)],
};

export const time = {
    actions: {
        set_value: {
            service: "set_value",
            data: (entity, value) => ({ time: withSeconds(value) }),
            patch: (entity, value) => ({ state: withSeconds(value) }),
        },
    },
    controls: [dateTimeControl("time", "set_value", (entity) => entity.state)],
};

export const datetime = {
    actions: {
        set_value: {
            service: "set_value",
            data: (entity, value) => ({ datetime: localInputToIso(value) }),
            patch: (entity, value) => ({ state: localInputToIso(value) }),
        },
    },
    controls: [dateTimeControl("datetime", "set_value", (entity) => isoToLocalInput(entity.state))],
};

/**
 * input_datetime holds a date, a time or both (has_date, has_time) as a wall-clock value of
 * Home Assistant's zone, without offset: it is edited as it is, never converted.
 */
const hasBoth = (entity) => Boolean(attr(entity, "has_date") && attr(entity, "has_time"));
export const input_datetime = {
    actions: {
        set_date: {
            service: "set_datetime",
            data: (entity, value) => ({ date: value }),
            patch: (entity, value) => ({ state: value }),
        },
        set_time: {
            service: "set_datetime",
            data: (entity, value) => ({ time: withSeconds(value) }),
            patch: (entity, value) => ({ state: withSeconds(value) }),
        },
        set_datetime: {
            service: "set_datetime",
            data: (entity, value) => ({ datetime: wallClock(value) }),
            patch: (entity, value) => ({ state: wallClock(value) }),
        },
    },
    controls: [
        dateTimeControl("date", "set_date", (entity) => entity.state, {
            when: (entity) => attr(entity, "has_date") && !attr(entity, "has_time"),
        }),
        dateTimeControl("time", "set_time", (entity) => entity.state, {
            when: (entity) => attr(entity, "has_time") && !attr(entity, "has_date"),
        }),
        dateTimeControl(
            "datetime",
            "set_datetime",
            (entity) =>
                String(entity.state || "")
                    .replace(" ", "T")
                    .slice(0, 16),
            { when: hasBoth },
        ),
    ],
};

/** A datetime-local input's "YYYY-MM-DDTHH:MM[:SS]" as "YYYY-MM-DD HH:MM:SS". */
function wallClock(value) {
    const [day, time = ""] = String(value).split("T");
    return `${day} ${withSeconds(time)}`;
}

/** To-do lists: their items are the view's (views/todo_view.js), through these actions. */
export const todo = {
    actions: {
        add_item: {
            service: "add_item",
            data: (entity, summary) => ({ item: String(summary) }),
        },
        complete_item: {
            service: "update_item",
            data: (entity, uid) => ({ item: String(uid), status: "completed" }),
        },
        reopen_item: {
            service: "update_item",
            data: (entity, uid) => ({ item: String(uid), status: "needs_action" }),
        },
    },
    controls: [],
};
