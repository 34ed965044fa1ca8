import { Component, onMounted, onWillUnmount } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { HaStatusBadge } from "./status_badge";

/**
 * The connection status of an ha.instance as a badge that follows the connector live: when
 * the bus reports a new status for the record shown, the record is read again (unless the
 * user is editing it), so status, "since", last event, version and last error stay current.
 */
export class HaInstanceStatusField extends Component {
    static template = "odoo_ha_addon.HaInstanceStatusField";
    static components = { HaStatusBadge };
    static props = { ...standardFieldProps };

    setup() {
        // The bus reaches this field through HaBusBridge and ha_data, like every other view.
        this.haData = useService("ha_data");
        this.onStatus = (payload) => this.reloadIfShown(payload);
        let unsubscribe = null;
        onMounted(() => {
            unsubscribe = this.haData.subscribe("instance_status", this.onStatus);
        });
        onWillUnmount(() => unsubscribe());
    }

    get value() {
        return this.props.record.data[this.props.name];
    }

    get label() {
        const selection = this.props.record.fields[this.props.name].selection;
        const option = selection.find(([value]) => value === this.value);
        return option ? option[1] : this.value;
    }

    async reloadIfShown(payload) {
        const record = this.props.record;
        if (payload.instance_id !== record.resId || (await record.isDirty())) {
            return;
        }
        await record.load();
    }
}

registry.category("fields").add("ha_instance_status", {
    component: HaInstanceStatusField,
    displayName: "Home Assistant connection status",
    supportedTypes: ["selection"],
});
