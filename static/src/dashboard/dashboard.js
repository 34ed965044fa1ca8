import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

const INSTANCE_FIELDS = ["name", "url", "status", "status_since", "ha_version", "entity_count"];
const STATUS_BADGE_CLASSES = {
    connected: "text-bg-success",
    connecting: "text-bg-warning",
    auth_failed: "text-bg-danger",
    unreachable: "text-bg-danger",
    disconnected: "text-bg-secondary",
};

/**
 * Overview of the Home Assistant instances the user may see and their connection status.
 */
export class HaDashboard extends Component {
    static template = "odoo_ha_addon.HaDashboard";
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({ instances: [], statusLabels: {}, loading: true });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.loading = true;
        const [instances, fields] = await Promise.all([
            this.orm.searchRead("ha.instance", [], INSTANCE_FIELDS),
            this.orm.call("ha.instance", "fields_get", [["status"]], {
                attributes: ["selection"],
            }),
        ]);
        this.state.statusLabels = Object.fromEntries(fields.status.selection);
        this.state.instances = instances;
        this.state.loading = false;
    }

    get emptyMessage() {
        return _t("No Home Assistant instance is available to you yet.");
    }

    statusLabel(instance) {
        return this.state.statusLabels[instance.status] || instance.status;
    }

    statusClass(instance) {
        return STATUS_BADGE_CLASSES[instance.status] || "text-bg-secondary";
    }

    entityCountLabel(instance) {
        return _t("%(count)s entities", { count: instance.entity_count });
    }

    openEntities(instance) {
        return this.action.doAction("odoo_ha_addon.ha_entity_action", {
            additionalContext: { search_default_instance_id: instance.id },
        });
    }
}

registry.category("actions").add("odoo_ha_addon.dashboard", HaDashboard);
