import { Component, onWillUpdateProps, useEffect, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat } from "@web/core/utils/numbers";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

const { DateTime, Duration } = luxon;

// The running time shows seconds.
export const RUNNING_TIME_TICK_MS = 1000;

const PHASE_BADGE_CLASSES = {
    idle: "text-bg-secondary",
    starting: "text-bg-info",
    working: "text-bg-success",
    standby: "text-bg-warning",
    stopping: "text-bg-info",
};

/** The ha.machine fields a health is made of, besides ``phase``. */
export const MACHINE_HEALTH_FIELDS = [
    { name: "available", type: "boolean" },
    { name: "last_power_w", type: "float" },
    { name: "last_reading_at", type: "datetime" },
    { name: "session_started_at", type: "datetime" },
];

function phaseLabel(phase) {
    const labels = {
        idle: _t("Idle"),
        starting: _t("Starting"),
        working: _t("Working"),
        standby: _t("Standby"),
        stopping: _t("Stopping"),
    };
    return labels[phase] || phase;
}

/** Epoch milliseconds of a datetime as a record holds it (luxon) or the bus and searchRead
 * send it (Odoo UTC string), null for false. */
function toMillis(value) {
    if (!value) {
        return null;
    }
    return (typeof value === "string" ? deserializeDateTime(value) : value).toMillis();
}

/** One shape for the health of a record, of a searchRead row and of a bus payload. */
function readHealth(values) {
    return {
        phase: values.phase || "idle",
        available: Boolean(values.available),
        powerW: values.last_power_w || 0,
        lastReadingAt: toMillis(values.last_reading_at),
        sessionStartedAt: toMillis(values.session_started_at),
    };
}

function sameHealth(a, b) {
    return Object.keys(a).every((key) => a[key] === b[key]);
}

/**
 * The health of a machine: its phase, its power, and how long its session has run, ticking
 * each second. It shows ``values`` (as read from the server) until the bus reports a newer
 * health for the machine (ha_data.state.machines), and ``values`` again once they change,
 * which means the server was read again.
 */
export class MachineHealth extends Component {
    static template = "odoo_ha_addon.MachineHealth";
    // No machineId: a record not saved yet, which the bus cannot report on.
    static props = { machineId: { type: Number, optional: true }, values: Object };

    setup() {
        this.machines = useState(useService("ha_data").state.machines);
        this.readAt = this._lastReceived(this.props.machineId);
        onWillUpdateProps((nextProps) => {
            if (
                nextProps.machineId !== this.props.machineId ||
                !sameHealth(readHealth(nextProps.values), readHealth(this.props.values))
            ) {
                this.readAt = this._lastReceived(nextProps.machineId);
            }
        });
        // Ticks only while a session runs: a list of idle machines costs no render.
        useEffect(
            (running) => {
                if (!running) {
                    return;
                }
                const interval = browser.setInterval(() => this.render(), RUNNING_TIME_TICK_MS);
                return () => browser.clearInterval(interval);
            },
            () => [this.health.sessionStartedAt !== null],
        );
    }

    _lastReceived(machineId) {
        return this.machines[machineId]?.received || 0;
    }

    get health() {
        const live = this.machines[this.props.machineId];
        return readHealth(live && live.received > this.readAt ? live : this.props.values);
    }

    /** What the template shows, from one reading of the health. */
    get display() {
        const health = this.health;
        const display = {
            phase: health.phase,
            label: phaseLabel(health.phase),
            badgeClass: PHASE_BADGE_CLASSES[health.phase] || "text-bg-secondary",
            // A machine never read is not "unavailable": it has said nothing yet.
            unavailable: !health.available && health.lastReadingAt !== null,
            power: null,
            runningTime: null,
            title: "",
        };
        if (health.available && health.lastReadingAt !== null) {
            display.power = _t("%(power)s W", {
                power: formatFloat(health.powerW, { digits: [false, 0] }),
            });
        }
        if (health.lastReadingAt !== null) {
            display.title = _t("Last reading: %(time)s", {
                time: formatDateTime(DateTime.fromMillis(health.lastReadingAt)),
            });
        }
        if (health.sessionStartedAt !== null) {
            // A client clock behind the server's would show a negative time.
            const elapsedMs = DateTime.now().toMillis() - health.sessionStartedAt;
            const seconds = Math.max(0, Math.floor(elapsedMs / 1000));
            display.runningTime = Duration.fromObject({ seconds }).toFormat("h:mm:ss");
        }
        return display;
    }
}

/** The health of an ha.machine record, on its ``phase`` field, in lists, forms and kanban. */
export class MachineHealthField extends Component {
    static template = "odoo_ha_addon.MachineHealthField";
    static components = { MachineHealth };
    static props = { ...standardFieldProps };

    get values() {
        const data = this.props.record.data;
        return {
            phase: data[this.props.name],
            available: data.available,
            last_power_w: data.last_power_w,
            last_reading_at: data.last_reading_at,
            session_started_at: data.session_started_at,
        };
    }
}

registry.category("fields").add("ha_machine_health", {
    component: MachineHealthField,
    displayName: "Machine health",
    supportedTypes: ["selection"],
    fieldDependencies: MACHINE_HEALTH_FIELDS,
});
