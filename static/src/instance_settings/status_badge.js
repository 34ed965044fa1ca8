import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { STATUS_BADGE_CLASSES } from "../dashboard/dashboard";

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

/**
 * The connection status of an instance as the dashboard shows it, for pages that hold the
 * status as plain data (the ``ha_instance_status`` field widget is for records of a view).
 */
export class HaStatusBadge extends Component {
    static template = "odoo_ha_addon.HaStatusBadge";
    static props = { status: { type: String, optional: true } };

    get label() {
        return statusLabel(this.props.status);
    }

    get badgeClass() {
        return STATUS_BADGE_CLASSES[this.props.status] || "text-bg-secondary";
    }
}
