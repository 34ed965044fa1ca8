import { _t } from "@web/core/l10n/translation";

import { attributeAction, button, listSelect } from "../control_builders";
import { attr, supports, supportsUnlessUnknown } from "../entity_attributes";

/** Media players, vacuums and lawn mowers. */

// Home Assistant's EntityFeature bits.
const MEDIA = { VOLUME_MUTE: 8, PREVIOUS_TRACK: 16, NEXT_TRACK: 32, SELECT_SOURCE: 2048 };
const VACUUM = {
    PAUSE: 4,
    STOP: 8,
    RETURN_HOME: 16,
    FAN_SPEED: 32,
    LOCATE: 512,
    START: 8192,
};
const LAWN_MOWER = { START_MOWING: 1, PAUSE: 2, DOCK: 4 };

const can = (feature) => (entity) => supports(entity, feature);
const canUnlessUnknown = (feature) => (entity) => supportsUnlessUnknown(entity, feature);

export const media_player = {
    actions: {
        play_pause: {
            service: "media_play_pause",
            patch: (entity) => ({ state: entity.state === "playing" ? "paused" : "playing" }),
        },
        previous: { service: "media_previous_track" },
        next: { service: "media_next_track" },
        volume: {
            service: "volume_set",
            data: (entity, percent) => ({ volume_level: percent / 100 }),
            patch: (entity, percent) => ({ attributes: { volume_level: percent / 100 } }),
        },
        mute: {
            service: "volume_mute",
            data: (entity, muted) => ({ is_volume_muted: Boolean(muted) }),
            patch: (entity, muted) => ({ attributes: { is_volume_muted: Boolean(muted) } }),
        },
        select_source: attributeAction("select_source", "source"),
    },
    controls: [
        button("previous", _t("Previous"), "fa-step-backward", {
            primary: true,
            when: can(MEDIA.PREVIOUS_TRACK),
        }),
        {
            kind: "button",
            action: "play_pause",
            primary: true,
            label: (entity) => (entity.state === "playing" ? _t("Pause") : _t("Play")),
            icon: (entity) => (entity.state === "playing" ? "fa-pause" : "fa-play"),
        },
        button("next", _t("Next"), "fa-step-forward", {
            primary: true,
            when: can(MEDIA.NEXT_TRACK),
        }),
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
        {
            kind: "switch",
            action: "mute",
            label: _t("Mute"),
            when: (entity) =>
                supports(entity, MEDIA.VOLUME_MUTE) &&
                typeof attr(entity, "is_volume_muted") === "boolean",
            value: (entity) => attr(entity, "is_volume_muted"),
        },
        listSelect("select_source", "source_list", "source", _t("Source"), {
            when: (entity) =>
                supports(entity, MEDIA.SELECT_SOURCE) && (attr(entity, "source_list") || []).length,
        }),
    ],
};

export const vacuum = {
    actions: {
        start: { service: "start", patch: () => ({ state: "cleaning" }) },
        pause: { service: "pause", patch: () => ({ state: "paused" }) },
        stop: { service: "stop", patch: () => ({ state: "idle" }) },
        return_to_base: { service: "return_to_base", patch: () => ({ state: "returning" }) },
        locate: { service: "locate", success: _t("The vacuum was asked to make itself known") },
        set_fan_speed: attributeAction("set_fan_speed", "fan_speed"),
    },
    controls: [
        button("start", _t("Start"), "fa-play", {
            primary: true,
            when: canUnlessUnknown(VACUUM.START),
        }),
        button("pause", _t("Pause"), "fa-pause", {
            when: can(VACUUM.PAUSE),
            disabled: (entity) => entity.state !== "cleaning",
        }),
        button("stop", _t("Stop"), "fa-stop", {
            when: can(VACUUM.STOP),
            disabled: (entity) => !["cleaning", "paused", "returning"].includes(entity.state),
        }),
        button("return_to_base", _t("Return to base"), "fa-home", {
            primary: true,
            when: canUnlessUnknown(VACUUM.RETURN_HOME),
        }),
        button("locate", _t("Locate"), "fa-map-marker", { when: can(VACUUM.LOCATE) }),
        listSelect("set_fan_speed", "fan_speed_list", "fan_speed", _t("Fan speed"), {
            when: (entity) =>
                supports(entity, VACUUM.FAN_SPEED) && (attr(entity, "fan_speed_list") || []).length,
        }),
    ],
};

export const lawn_mower = {
    actions: {
        start_mowing: { service: "start_mowing", patch: () => ({ state: "mowing" }) },
        pause: { service: "pause", patch: () => ({ state: "paused" }) },
        dock: { service: "dock" },
    },
    controls: [
        button("start_mowing", _t("Mow"), "fa-play", {
            primary: true,
            when: can(LAWN_MOWER.START_MOWING),
            disabled: (entity) => entity.state === "mowing",
        }),
        button("pause", _t("Pause"), "fa-pause", {
            primary: true,
            when: can(LAWN_MOWER.PAUSE),
            disabled: (entity) => entity.state !== "mowing",
        }),
        button("dock", _t("Dock"), "fa-home", {
            primary: true,
            when: can(LAWN_MOWER.DOCK),
            disabled: (entity) => entity.state === "docked",
        }),
    ],
};
