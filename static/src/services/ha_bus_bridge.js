import { Component, onWillDestroy, xml } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

/** Bus notification type -> ha_data method that applies its payload. */
export const HA_NOTIFICATIONS = {
    "odoo_ha_addon/entity_changes": "applyEntityChanges",
    "odoo_ha_addon/entities_reload": "applyReload",
    "odoo_ha_addon/instance_status": "applyInstanceStatus",
    "odoo_ha_addon/registry_changed": "applyRegistry",
    "odoo_ha_addon/instance_switched": "applyInstanceSwitched",
    "odoo_ha_addon/instance_fallback": "applyFallback",
    "odoo_ha_addon/machine_states": "applyMachineStates",
};
/** What the user may read changed: subscribe again (the server picks the channels), then read. */
export const ACCESS_CHANGED = "odoo_ha_addon/access_changed";

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
