import { _t } from "@web/core/l10n/translation";

import { button } from "../control_builders";
import { attr, supports, supportsUnlessUnknown } from "../entity_attributes";

/** Covers, valves, locks and alarm panels. */

// Home Assistant's EntityFeature bits.
const COVER = { OPEN: 1, CLOSE: 2, STOP: 8, OPEN_TILT: 16, CLOSE_TILT: 32, SET_TILT: 128 };
const VALVE = { OPEN: 1, CLOSE: 2, SET_POSITION: 4, STOP: 8 };
const ALARM = {
    ARM_HOME: 1,
    ARM_AWAY: 2,
    ARM_NIGHT: 4,
    ARM_CUSTOM_BYPASS: 16,
    ARM_VACATION: 32,
};

const can = (feature) => (entity) => supports(entity, feature);
const canUnlessUnknown = (feature) => (entity) => supportsUnlessUnknown(entity, feature);

function positionRange(action, attribute, label, feature) {
    return {
        kind: "range",
        action,
        label,
        when: (entity) =>
            typeof attr(entity, attribute) === "number" &&
            (feature === undefined || supports(entity, feature)),
        value: (entity) => attr(entity, attribute),
        min: 0,
        max: 100,
        step: 1,
        unit: "%",
    };
}

function positionAction(service, field, attribute) {
    return {
        service,
        data: (entity, position) => ({ [field]: position }),
        patch: (entity, position) => ({ attributes: { [attribute]: position } }),
    };
}

export const cover = {
    actions: {
        open: { service: "open_cover", patch: () => ({ state: "opening" }) },
        stop: { service: "stop_cover" },
        close: { service: "close_cover", patch: () => ({ state: "closing" }) },
        position: positionAction("set_cover_position", "position", "current_position"),
        open_tilt: { service: "open_cover_tilt" },
        close_tilt: { service: "close_cover_tilt" },
        tilt_position: positionAction(
            "set_cover_tilt_position",
            "tilt_position",
            "current_tilt_position",
        ),
    },
    controls: [
        button("open", _t("Open"), "fa-arrow-up", {
            primary: true,
            when: canUnlessUnknown(COVER.OPEN),
        }),
        button("stop", _t("Stop"), "fa-stop", {
            primary: true,
            when: canUnlessUnknown(COVER.STOP),
        }),
        button("close", _t("Close"), "fa-arrow-down", {
            primary: true,
            when: canUnlessUnknown(COVER.CLOSE),
        }),
        // SET_POSITION is implied by the position Home Assistant reports.
        positionRange("position", "current_position", _t("Position")),
        button("open_tilt", _t("Open tilt"), "fa-angle-double-up", { when: can(COVER.OPEN_TILT) }),
        button("close_tilt", _t("Close tilt"), "fa-angle-double-down", {
            when: can(COVER.CLOSE_TILT),
        }),
        positionRange("tilt_position", "current_tilt_position", _t("Tilt"), COVER.SET_TILT),
    ],
};

export const valve = {
    actions: {
        open: { service: "open_valve", patch: () => ({ state: "opening" }) },
        stop: { service: "stop_valve" },
        close: { service: "close_valve", patch: () => ({ state: "closing" }) },
        position: positionAction("set_valve_position", "position", "current_position"),
    },
    controls: [
        button("open", _t("Open"), "fa-arrow-up", {
            primary: true,
            when: can(VALVE.OPEN),
            disabled: (entity) => entity.state === "open",
        }),
        button("stop", _t("Stop"), "fa-stop", { primary: true, when: can(VALVE.STOP) }),
        button("close", _t("Close"), "fa-arrow-down", {
            primary: true,
            when: can(VALVE.CLOSE),
            disabled: (entity) => entity.state === "closed",
        }),
        positionRange("position", "current_position", _t("Position"), VALVE.SET_POSITION),
    ],
};

export const lock = {
    actions: {
        lock: { service: "lock", patch: () => ({ state: "locking" }) },
        unlock: { service: "unlock", patch: () => ({ state: "unlocking" }) },
    },
    controls: [
        button("lock", _t("Lock"), "fa-lock", {
            primary: true,
            disabled: (entity) => entity.state === "locked",
        }),
        button("unlock", _t("Unlock"), "fa-unlock", {
            primary: true,
            disabled: (entity) => entity.state === "unlocked",
        }),
    ],
};

/** Arm or disarm with the code typed in, when the panel wants one. */
function alarmAction(service, transient) {
    return {
        service,
        data: (entity, code) => (code ? { code: String(code) } : {}),
        patch: () => ({ state: transient }),
    };
}

function armButton(action, label, icon, feature) {
    return button(action, label, icon, {
        primary: true,
        sends: "code",
        when: can(feature),
        disabled: (entity) => entity.state === action,
    });
}

export const alarm_control_panel = {
    actions: {
        disarmed: alarmAction("alarm_disarm", "disarming"),
        armed_home: alarmAction("alarm_arm_home", "arming"),
        armed_away: alarmAction("alarm_arm_away", "arming"),
        armed_night: alarmAction("alarm_arm_night", "arming"),
        armed_vacation: alarmAction("alarm_arm_vacation", "arming"),
        armed_custom_bypass: alarmAction("alarm_arm_custom_bypass", "arming"),
    },
    controls: [
        {
            kind: "secret",
            field: "code",
            primary: true,
            label: _t("Code"),
            when: (entity) => Boolean(attr(entity, "code_format")),
            numeric: (entity) => attr(entity, "code_format") === "number",
        },
        button("disarmed", _t("Disarm"), "fa-unlock", {
            primary: true,
            sends: "code",
            disabled: (entity) => entity.state === "disarmed",
        }),
        armButton("armed_home", _t("Arm home"), "fa-home", ALARM.ARM_HOME),
        armButton("armed_away", _t("Arm away"), "fa-sign-out", ALARM.ARM_AWAY),
        armButton("armed_night", _t("Arm night"), "fa-moon-o", ALARM.ARM_NIGHT),
        armButton("armed_vacation", _t("Arm vacation"), "fa-suitcase", ALARM.ARM_VACATION),
        armButton(
            "armed_custom_bypass",
            _t("Arm custom bypass"),
            "fa-shield",
            ALARM.ARM_CUSTOM_BYPASS,
        ),
    ],
};
