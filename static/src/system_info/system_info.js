import { Component, onMounted, onWillDestroy, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { HaStatusBadge } from "../instance_status/status_badge";
import { HaApiError, INSTANCE_STATUS_KEYS, MANAGER_GROUP } from "../services/ha_data_service";

// Route of each section of the page.
const SECTION_ROUTES = {
    instance: "websocket_status",
    urls: "ha_urls",
    hardware: "hardware_info",
    network: "network_info",
};

function joined(parts, separator = " · ") {
    return parts.filter(Boolean).join(separator);
}

function gigabytes(bytes) {
    return bytes ? _t("%(size)s GB", { size: (bytes / 1e9).toFixed(1) }) : "";
}

/**
 * Rows ``{name, details}`` of a hardware_info answer: the Supervisor's drives and devices
 * (by subsystem), or the boards and dongles Home Assistant's hardware integration knows.
 */
export function hardwareRows({ source, info }) {
    if (source === "supervisor") {
        const rows = (info.drives || []).map((drive) => ({
            name: joined([drive.vendor, drive.model], " ") || drive.id,
            details: joined([gigabytes(drive.size), drive.connection_bus]),
        }));
        const bySubsystem = {};
        for (const device of info.devices || []) {
            const subsystem = device.subsystem || "?";
            bySubsystem[subsystem] = (bySubsystem[subsystem] || 0) + 1;
        }
        if (Object.keys(bySubsystem).length) {
            rows.push({
                name: _t("Devices"),
                details: joined(
                    Object.entries(bySubsystem)
                        .sort()
                        .map(([subsystem, count]) => `${subsystem}: ${count}`),
                ),
            });
        }
        return rows;
    }
    return (info.hardware || []).map((item) => ({
        name: item.name,
        details: joined([
            item.board && joined([item.board.manufacturer, item.board.model], " "),
            item.dongle && joined([item.dongle.manufacturer, item.dongle.description], " "),
        ]),
    }));
}

function addresses(list) {
    return (list || []).map((a) =>
        typeof a === "string" ? a : joined([a.address, a.network_prefix], "/"),
    );
}

/**
 * Rows ``{name, state, addresses}`` of a network_info answer: the Supervisor's interfaces or
 * the adapters of Home Assistant's network integration.
 */
export function networkRows({ source, info }) {
    if (source === "supervisor") {
        return (info.interfaces || []).map((iface) => ({
            name: joined([iface.interface, iface.type && `(${iface.type})`], " "),
            state: joined([
                iface.connected ? _t("connected") : _t("not connected"),
                iface.primary && _t("primary"),
                iface.enabled === false && _t("disabled"),
            ]),
            addresses: [...addresses(iface.ipv4?.address), ...addresses(iface.ipv6?.address)],
        }));
    }
    return (info.adapters || []).map((adapter) => ({
        name: adapter.name,
        state: joined([
            adapter.enabled ? _t("enabled") : _t("disabled"),
            adapter.default && _t("default"),
        ]),
        addresses: [...addresses(adapter.ipv4), ...addresses(adapter.ipv6)],
    }));
}

/**
 * What an instance's Home Assistant tells of itself: version, URLs, hardware and network,
 * read through the API routes of this addon. Without a Supervisor (Home Assistant Core or
 * Container), hardware and network come from core integrations when it has them, and are
 * "not supported" otherwise: said plainly, not as an error. For Home Assistant managers.
 */
export class HaSystemInfo extends Component {
    static template = "odoo_ha_addon.HaSystemInfo";
    static components = { HaStatusBadge, Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.haData = useService("ha_data");
        const { context = {}, params = {} } = this.props.action;
        this.instanceId = context.active_id || params.ha_instance_id || null;
        const section = () => ({ loading: false, data: null, error: null, errorType: null });
        this.state = useState({
            allowed: null,
            ...Object.fromEntries(Object.keys(SECTION_ROUTES).map((key) => [key, section()])),
        });
        this.onStatus = (payload) => this.applyStatus(payload);
        onWillDestroy(this.haData.subscribe("instance_status", this.onStatus));
        onWillStart(async () => {
            this.state.allowed = Boolean(this.instanceId) && (await user.hasGroup(MANAGER_GROUP));
        });
        // Home Assistant may take seconds to answer: the page shows at once, sections fill in.
        onMounted(() => this.state.allowed && this.load());
    }

    load() {
        return Promise.all(Object.keys(SECTION_ROUTES).map((key) => this.loadSection(key)));
    }

    async loadSection(key) {
        const section = this.state[key];
        section.loading = true;
        try {
            section.data = await this.haData.api(
                SECTION_ROUTES[key],
                { ha_instance_id: this.instanceId },
                { silent: true },
            );
            section.error = section.errorType = null;
        } catch (error) {
            if (!(error instanceof HaApiError)) {
                throw error;
            }
            section.data = null;
            section.error = error.message;
            section.errorType = error.type;
        } finally {
            section.loading = false;
        }
    }

    applyStatus(payload) {
        const instance = this.state.instance.data;
        if (payload.instance_id !== this.instanceId || !instance) {
            return;
        }
        const wasConnected = instance.status === "connected";
        for (const key of INSTANCE_STATUS_KEYS) {
            if (key in payload) {
                instance[key] = payload[key];
            }
        }
        if (!wasConnected && instance.status === "connected") {
            // Read again what the missing connection left out: the URLs Home Assistant
            // knows, and what failed as "not connected".
            this.loadSection("urls");
            for (const key of ["hardware", "network"]) {
                if (this.state[key].errorType === "not_connected") {
                    this.loadSection(key);
                }
            }
        }
    }

    get instance() {
        return this.state.instance.data;
    }

    get connected() {
        return this.instance?.status === "connected";
    }

    urlText(value) {
        if (value) {
            return value;
        }
        return this.connected ? _t("Not set") : _t("Unknown while not connected");
    }

    hardwareRows(data) {
        return hardwareRows(data);
    }

    networkRows(data) {
        return networkRows(data);
    }
}

registry.category("actions").add("odoo_ha_addon.system_info", HaSystemInfo);
