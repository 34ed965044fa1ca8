import { Component, onWillDestroy, onWillStart, useState } from "@odoo/owl";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { RPCError } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";
import { INSTANCE_STATUS_KEYS } from "../services/ha_data_service";
import { HaStatusBadge } from "../instance_status/status_badge";

export const INSTANCE_FIELDS = ["name", "url", "has_token", "host_node", ...INSTANCE_STATUS_KEYS];

/** An Odoo UTC datetime string in the user's time zone and format; "" for none. */
export function formatServerDateTime(value) {
    return value ? formatDateTime(deserializeDateTime(value)) : "";
}

/**
 * The instances on the Home Assistant settings page: each one's connection status as the
 * connector reports it (live, from the bus through ha_data), with its Test connection,
 * Restart and System info actions at hand. The page is for Home Assistant managers: the
 * settings app that holds it is shown to them only.
 */
export class HaInstanceSettings extends Component {
    static template = "odoo_ha_addon.HaInstanceSettings";
    static components = { HaStatusBadge };
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.haData = useService("ha_data");
        this.state = useState({ loaded: false, instances: [], busy: {} });
        // Statuses that arrive while the instances are read may be newer than what the read
        // returns: they are applied on top of it.
        this.pendingStatus = new Map();
        this.onStatus = (payload) => this.applyStatus(payload);
        onWillDestroy(this.haData.subscribe("instance_status", this.onStatus));
        onWillStart(() => this.load());
    }

    async load() {
        const instances = await this.orm.searchRead("ha.instance", [], INSTANCE_FIELDS, {
            order: "sequence, id",
        });
        for (const instance of instances) {
            Object.assign(instance, this.pendingStatus.get(instance.id));
        }
        this.pendingStatus.clear();
        this.state.instances = instances;
        this.state.loaded = true;
    }

    applyStatus(payload) {
        const status = Object.fromEntries(
            INSTANCE_STATUS_KEYS.filter((key) => key in payload).map((key) => [key, payload[key]]),
        );
        if (!this.state.loaded) {
            const pending = this.pendingStatus.get(payload.instance_id);
            this.pendingStatus.set(payload.instance_id, { ...pending, ...status });
            return;
        }
        const instance = this.state.instances.find((i) => i.id === payload.instance_id);
        if (instance) {
            Object.assign(instance, status);
            if ("status" in status) {
                // A new status may come from a new host (a node joined, died or came back).
                this.refreshHost(instance);
            }
        }
    }

    async refreshHost(instance) {
        const [fresh] = await this.orm.read("ha.instance", [instance.id], ["host_node"]);
        if (fresh) {
            instance.host_node = fresh.host_node;
        }
    }

    /** The instance users who chose none work on (the API's fallback: first by sequence). */
    get defaultInstanceId() {
        return this.state.instances.find((i) => i.url && i.has_token)?.id;
    }

    entityCount(instance) {
        return _t("%(count)s entities", { count: instance.entity_count });
    }

    formatTime(value) {
        return formatServerDateTime(value);
    }

    openInstance(instance) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "ha.instance",
            res_id: instance.id,
            views: [[false, "form"]],
        });
    }

    async testConnection(instance) {
        const action = await this.callInstance(instance, "action_test_connection");
        if (action) {
            // Shown here rather than run: its "next" reloads the page, which would drop the
            // settings being edited.
            const { title, message, type } = action.params;
            this.notification.add(message, { title, type });
            const [fresh] = await this.orm.read("ha.instance", [instance.id], ["ha_version"]);
            instance.ha_version = fresh.ha_version;
        }
    }

    async restart(instance) {
        const action = await this.callInstance(instance, "action_restart_connection");
        if (action) {
            const { title, message, type } = action.params;
            this.notification.add(message, { title, type });
        }
    }

    async systemInfo(instance) {
        const action = await this.callInstance(instance, "action_system_info");
        if (action) {
            await this.action.doAction(action);
        }
    }

    /** The answer of the instance's button method; its refusal is notified (null). */
    async callInstance(instance, method) {
        this.state.busy[instance.id] = method;
        try {
            return await this.orm.call("ha.instance", method, [[instance.id]]);
        } catch (error) {
            if (!(error instanceof RPCError)) {
                throw error;
            }
            this.notification.add(error.data?.message || error.message, {
                title: instance.name,
                type: "danger",
            });
            return null;
        } finally {
            delete this.state.busy[instance.id];
        }
    }
}

registry.category("view_widgets").add("ha_instance_settings", { component: HaInstanceSettings });
