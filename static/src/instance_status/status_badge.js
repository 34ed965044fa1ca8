import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";

/** A connection status of ha.instance, in words. */
export function statusLabel(status) {
    const labels = {
        connected: _t("Connected"),
        connecting: _t("Connecting"),
        auth_failed: _t("Authentication failed"),
        unreachable: _t("Unreachable"),
        disconnected: _t("Disconnected"),
    };
    return labels[status] || status || _t("Unknown");
}

export const STATUS_BADGE_CLASSES = {
    connected: "text-bg-success",
    connecting: "text-bg-warning",
    auth_failed: "text-bg-danger",
    unreachable: "text-bg-danger",
    disconnected: "text-bg-secondary",
};

/** The Bootstrap class of a connection status's badge. */
export function statusBadgeClass(status) {
    return STATUS_BADGE_CLASSES[status] || "text-bg-secondary";
}

/**
 * The connection status of an instance as a badge. Pages that hold the status as plain data
 * use it as it is; the ``ha_instance_status`` field widget passes the label of the field's
 * selection.
 */
export class HaStatusBadge extends Component {
    static template = "odoo_ha_addon.HaStatusBadge";
    static props = {
        status: { type: String, optional: true },
        label: { type: String, optional: true },
    };

    get label() {
        return this.props.label ?? statusLabel(this.props.status);
    }

    get badgeClass() {
        return statusBadgeClass(this.props.status);
    }
}
