import { attr, isOn, listAttr } from "./entity_attributes";
import { labelOf } from "./entity_values";

/**
 * Pieces the domain entries of the control table (table/*.js) are made of: actions and
 * controls that several domains share.
 */

export function onOffService(entity, value) {
    if (value === undefined) {
        return "toggle";
    }
    return value ? "turn_on" : "turn_off";
}

export function onOffPatch(entity, value) {
    const on = value === undefined ? !isOn(entity) : Boolean(value);
    return { state: on ? "on" : "off" };
}

export const onOffActions = { toggle: { service: onOffService, patch: onOffPatch } };
export const onOffControl = { kind: "switch", action: "toggle", primary: true, value: isOn };

/** An on/off domain: one switch. */
export const onOffEntry = { actions: onOffActions, controls: [onOffControl] };

export const turnOnAction = (success) => ({ service: "turn_on", success });

/** ``service`` with ``{[field]: value}``, shown at once as ``patch(entity, value)``. */
export function fieldAction(service, field, patch) {
    return {
        service,
        data: (entity, value) => ({ [field]: value }),
        ...(patch ? { patch } : {}),
    };
}

/** ``service`` with ``{[field]: value}`` whose value shows as the attribute ``attribute``. */
export function attributeAction(service, field, attribute = field) {
    return fieldAction(service, field, (entity, value) => ({ attributes: { [attribute]: value } }));
}

/** A button; ``when`` and ``disabled`` are functions of the entity. */
export function button(action, label, icon, extra = {}) {
    return { kind: "button", action, label, icon, ...extra };
}

/**
 * A select among the entity's own list attribute ``listName`` (fan_modes, source_list...),
 * shown when the list is not empty; its value is the attribute ``valueName``.
 */
export function listSelect(action, listName, valueName, label, extra = {}) {
    return {
        kind: "select",
        action,
        label,
        when: (entity) => listAttr(entity, listName).length > 0,
        value: (entity) => attr(entity, valueName),
        options: (entity) => listAttr(entity, listName).map((option) => [option, labelOf(option)]),
        placeholder: label,
        ...extra,
    };
}
