import { Component, onMounted, onWillUnmount, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";

import { API_PREFIX } from "../../services/ha_data_service";
import { VIEW_PROPS } from "./route_data";

// A snapshot is a still image: read again this often while the card is shown.
export const CAMERA_REFRESH_MS = 10000;

/**
 * A camera's latest snapshot, through the addon's own route (which holds the Home Assistant
 * token: the browser never sees it), read again every CAMERA_REFRESH_MS while the page is
 * visible and on click.
 */
export class CameraView extends Component {
    static template = "odoo_ha_addon.CameraView";
    static props = VIEW_PROPS;

    setup() {
        this.state = useState({ stamp: Date.now(), failed: false });
        onMounted(() => {
            this.timer = browser.setInterval(() => {
                if (document.visibilityState !== "hidden") {
                    this.refresh();
                }
            }, CAMERA_REFRESH_MS);
        });
        onWillUnmount(() => browser.clearInterval(this.timer));
    }

    get src() {
        const params = new URLSearchParams({ entity_id: this.props.entity.entity_id });
        if (this.props.instanceId) {
            params.set("ha_instance_id", this.props.instanceId);
        }
        params.set("t", this.state.stamp);
        return `${API_PREFIX}/camera_snapshot?${params}`;
    }

    refresh() {
        this.state.stamp = Date.now();
    }

    onLoad(loaded) {
        this.state.failed = !loaded;
    }
}
