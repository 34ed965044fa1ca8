import { Component, onWillDestroy, xml } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import {
    ACCESS_CHANGED,
    ENTITIES_RELOAD,
    ENTITY_CHANGES,
    INSTANCE_FALLBACK,
    INSTANCE_STATUS,
    INSTANCE_SWITCHED,
    MACHINE_STATES,
    REGISTRY_CHANGED,
} from "./ha_data_service";

/**
 * Bus notification type -> ha_data method that applies its payload. ACCESS_CHANGED (what
 * the user may read changed) is handled apart: subscribe again (the server picks the
 * channels), then read.
 */
export const HA_NOTIFICATIONS = {
    [ENTITY_CHANGES]: "applyEntityChanges",
    [ENTITIES_RELOAD]: "applyReload",
    [INSTANCE_STATUS]: "applyInstanceStatus",
    [REGISTRY_CHANGED]: "applyRegistry",
    [INSTANCE_SWITCHED]: "applyInstanceSwitched",
    [INSTANCE_FALLBACK]: "applyFallback",
    [MACHINE_STATES]: "applyMachineStates",
};

/**
 * The one place that listens to Home Assistant notifications on the bus; it renders nothing
 * and hands every payload to the ha_data service.
 *
 * Listening costs nothing to users who are not Home Assistant users: the server joins a
 * session only to the channels of what its user may read (ir.websocket), so they never
 * receive these notifications, and the bus itself is started for every backend tab anyway
 * (bus's own services start it). No group check, hence no extra request per page.
 */
export class HaBusBridge extends Component {
    static template = xml`<t/>`;
    static props = {};

    setup() {
        const bus = useService("bus_service");
        const haData = useService("ha_data");
        const handlers = Object.entries(HA_NOTIFICATIONS).map(([type, method]) => [
            type,
            (payload) => haData[method](payload),
        ]);
        handlers.push([
            ACCESS_CHANGED,
            () => {
                bus.forceUpdateChannels();
                haData.applyAccessChanged();
            },
        ]);
        for (const [type, handler] of handlers) {
            bus.subscribe(type, handler);
        }
        bus.start();
        onWillDestroy(() => {
            for (const [type, handler] of handlers) {
                bus.unsubscribe(type, handler);
            }
        });
    }
}

registry.category("main_components").add("odoo_ha_addon.HaBusBridge", { Component: HaBusBridge });
