import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { useService } from "@web/core/utils/hooks";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { EntityControl } from "../controls/domain_controls";

export const STATUS_BADGE_CLASSES = {
    connected: "text-bg-success",
    connecting: "text-bg-warning",
    auth_failed: "text-bg-danger",
    unreachable: "text-bg-danger",
    disconnected: "text-bg-secondary",
};

const ALL_AREAS = "all";
const NO_AREA = "none";
const UNAVAILABLE_STATES = ["unavailable", "unknown"];

/**
 * The live dashboard of the current Home Assistant instance: its connection, its areas as
 * tabs and each area's entities as cards with the control of their domain. Everything shown
 * comes from the ha_data service, which the bus keeps current.
 */
export class HaDashboard extends Component {
    static template = "odoo_ha_addon.HaDashboard";
    static components = { EntityControl };
    static props = { ...standardActionServiceProps };

    setup() {
        this.haData = useService("ha_data");
        this.action = useService("action");
        this.notification = useService("notification");
        this.data = useState(this.haData.state);
        this.filters = useState({ area: ALL_AREAS, search: "", domain: "", state: "" });
        this.ALL_AREAS = ALL_AREAS;
        this.NO_AREA = NO_AREA;
        onWillStart(async () => {
            this.isManager = await user.hasGroup("odoo_ha_addon.group_ha_manager");
            await this.haData.loadInstances();
            if (this.data.currentInstanceId) {
                await this.haData.load();
            }
        });
    }

    // Instance ---------------------------------------------------------------------------

    get instance() {
        return this.data.instance;
    }

    get connected() {
        return this.instance?.status === "connected";
    }

    statusLabel(status) {
        const labels = {
            connected: _t("Connected"),
            connecting: _t("Connecting"),
            auth_failed: _t("Authentication failed"),
            unreachable: _t("Unreachable"),
            disconnected: _t("Disconnected"),
        };
        return labels[status] || status;
    }

    statusClass(status) {
        return STATUS_BADGE_CLASSES[status] || "text-bg-secondary";
    }

    get summary() {
        const instance = this.instance;
        const parts = [];
        if (instance.ha_version) {
            parts.push(_t("Home Assistant %(version)s", { version: instance.ha_version }));
        }
        parts.push(_t("%(count)s entities", { count: this.entities.length }));
        parts.push(_t("%(count)s areas", { count: this.data.areas.length }));
        return parts.join(" · ");
    }

    async onInstanceChange(ev) {
        const instanceId = parseInt(ev.target.value);
        this.filters.area = ALL_AREAS;
        await this.haData.switchInstance(instanceId);
    }

    async restart() {
        try {
            await this.haData.api("websocket_restart", { ha_instance_id: this.instance.id });
            this.notification.add(_t("The connection is restarting."), { type: "info" });
        } catch (error) {
            this.notification.add(error.message, { type: "danger" });
        }
    }

    createInstance() {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "ha.instance",
            views: [[false, "form"]],
            target: "current",
        });
    }

    reload() {
        return this.haData.load(this.data.currentInstanceId, { force: true });
    }

    // Entities ---------------------------------------------------------------------------

    get entities() {
        return Object.values(this.data.entities);
    }

    get domains() {
        return [...new Set(this.entities.map((entity) => entity.domain))].sort();
    }

    get areaTabs() {
        const counts = {};
        for (const entity of this.entities) {
            const key = entity.area_id || NO_AREA;
            counts[key] = (counts[key] || 0) + 1;
        }
        const tabs = [{ key: ALL_AREAS, name: _t("All"), count: this.entities.length }];
        for (const area of this.data.areas) {
            if (counts[area.id]) {
                tabs.push({ key: area.id, name: area.name, count: counts[area.id] });
            }
        }
        if (counts[NO_AREA]) {
            tabs.push({ key: NO_AREA, name: _t("No area"), count: counts[NO_AREA] });
        }
        return tabs;
    }

    matches(entity) {
        const { area, search, domain, state } = this.filters;
        if (area !== ALL_AREAS && (entity.area_id || NO_AREA) !== area) {
            return false;
        }
        if (domain && entity.domain !== domain) {
            return false;
        }
        if (state === "on" && entity.state !== "on") {
            return false;
        }
        if (state === "off" && entity.state !== "off") {
            return false;
        }
        if (state === "unavailable" && !UNAVAILABLE_STATES.includes(entity.state)) {
            return false;
        }
        const needle = search.trim().toLowerCase();
        return (
            !needle ||
            (entity.name || "").toLowerCase().includes(needle) ||
            entity.entity_id.includes(needle)
        );
    }

    get visibleEntities() {
        return this.entities
            .filter((entity) => this.matches(entity))
            .sort((a, b) => (a.name || a.entity_id).localeCompare(b.name || b.entity_id));
    }

    selectArea(key) {
        this.filters.area = key;
    }

    clearFilters() {
        Object.assign(this.filters, { search: "", domain: "", state: "" });
    }

    openEntity(entity) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "ha.entity",
            res_id: entity.id,
            views: [[false, "form"]],
            target: "current",
        });
    }
}

registry.category("actions").add("odoo_ha_addon.dashboard", HaDashboard);
