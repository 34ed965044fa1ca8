import { Component, onWillUpdateProps, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

import { DOMAIN_CONTROLS } from "./control_table";
import { clampToStep } from "./entity_attributes";
import { formatNumber, formatValue } from "./entity_values";
import { CalendarView } from "./views/calendar_view";
import { CameraView } from "./views/camera_view";
import { TodoView } from "./views/todo_view";
import { WeatherView } from "./views/weather_view";

export { DOMAIN_CONTROLS } from "./control_table";
export { formatValue } from "./entity_values";
export {
    clampToStep,
    hexToRgb,
    rgbToHex,
    supportsBrightness,
    supportsColor,
    supportsColorTemp,
} from "./entity_attributes";

/**
 * Home Assistant entity controls: the pure API over the one control table (control_table.js)
 * and the EntityControl component that every place rendering an entity uses.
 */

// Domains shown with a view of their own below the value (not in compact renderings): what
// they show is a value, so people who may only view the entity see it too.
const DOMAIN_VIEWS = {
    camera: CameraView,
    calendar: CalendarView,
    todo: TodoView,
    weather: WeatherView,
};

const CONTROL_KEYS = [
    "kind",
    "label",
    "icon",
    "value",
    "min",
    "max",
    "step",
    "unit",
    "options",
    "placeholder",
    "password",
    "pattern",
    "numeric",
];

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
        const control = {
            key: spec.action || `field_${spec.field}`,
            action: spec.action,
            field: spec.field,
            sends: spec.sends,
            primary: Boolean(spec.primary),
        };
        for (const key of CONTROL_KEYS) {
            if (key in spec) {
                control[key] = resolve(spec[key], entity);
            }
        }
        for (const key of ["label", "placeholder"]) {
            if (control[key] !== undefined) {
                control[key] = String(control[key]);
            }
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

// Component ----------------------------------------------------------------------------

/**
 * An entity's value, the view of its domain if it has one, and the controls of its domain
 * when the user may control it. An action shows its effect at once (optimistic patch through
 * ha_data, or locally for an entity ha_data does not hold), calls the service, and undoes
 * the patch when Home Assistant refuses (ha_data notifies the error).
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
        // fields: what secret inputs hold (an alarm code) until a button sends it.
        this.local = useState({ patch: null, busy: false, fields: {} });
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

    /** True when ha_data shows this very record (entity ids repeat across instances). */
    get held() {
        const entity = this.props.entity;
        return this.haData.state.entities[entity.entity_id]?.id === entity.id;
    }

    /** The instance to address: the one given, the one shown, or (null) the session's. */
    get instanceId() {
        return this.props.instanceId ?? (this.held ? this.haData.shownInstanceId : null);
    }

    get view() {
        return this.props.compact ? null : DOMAIN_VIEWS[this.props.entity.domain] || null;
    }

    get viewProps() {
        return {
            entity: this.entity,
            instanceId: this.instanceId ?? undefined,
            canControl: Boolean(this.entity.can_control),
            run: (action, value) => this.run(action, value),
        };
    }

    inputId(control) {
        return `o_ha_control_${this.uid}_${control.key}`;
    }

    onButtonClick(control) {
        if (!control.sends) {
            return this.run(control.action);
        }
        // What a secret input held (a code) goes with this call only.
        const value = this.local.fields[control.sends] || undefined;
        this.local.fields[control.sends] = "";
        return this.run(control.action, value);
    }

    onSecretInput(control, ev) {
        this.local.fields[control.field] = ev.target.value;
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

    onTextChange(control, ev) {
        const value = ev.target.value;
        if (value === control.value) {
            return;
        }
        if (value.length < control.min || value.length > control.max) {
            ev.target.value = control.value ?? "";
            return;
        }
        if (control.password) {
            ev.target.value = "";
        }
        return this.run(control.action, value);
    }

    onDateChange(control, ev) {
        const value = ev.target.value;
        if (!value || value === control.value) {
            return;
        }
        return this.run(control.action, value);
    }

    /** Perform ``action``; true when Home Assistant accepted it. */
    async run(action, value) {
        const entity = this.entity;
        const entityId = entity.entity_id;
        const call = serviceCallFor(entity, action, value);
        const patch = optimisticPatch(entity, action, value);
        const held = this.held;
        const shared = Boolean(patch) && held && this.haData.setOptimistic(entityId, patch);
        if (patch && !shared) {
            this.local.patch = { ...this.local.patch, ...patch };
        }
        this.local.busy = true;
        try {
            await this.haData.callService(call.domain, call.service, entityId, call.service_data, {
                instanceId: this.instanceId,
                successMessage: successMessageFor(entity, action),
            });
            return true;
        } catch {
            // ha_data notified the refusal; show the state as it was.
            if (shared) {
                this.haData.rollback(entityId);
            }
            this.local.patch = null;
            return false;
        } finally {
            this.local.busy = false;
        }
    }
}
