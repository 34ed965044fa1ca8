import { Component } from "@odoo/owl";
import { STATUS_BADGE_CLASSES, statusLabel } from "../dashboard/dashboard";

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
