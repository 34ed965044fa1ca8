import { Component, onWillDestroy, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatDateTime } from "@web/core/l10n/dates";
import { EntityControl } from "../controls/domain_controls";
import {
    ACCESS_CHANGED,
    ACCESS_RELOAD_MS,
    ENTITIES_RELOAD,
    ENTITY_CHANGES,
    INSTANCE_STATUS,
} from "../services/ha_data_service";

const { DateTime } = luxon;

// Read again a little after a share starts or expires, so the server's clock has passed it.
const BOUNDARY_MARGIN_MS = 500;
// Changes that move an entity between areas, or remove it, need the grouping read again.
const REGROUPING_KEYS = ["area_id"];

/**
 * The entities shared with the logged-in person (portal page /my/ha), by instance and area,
 * live: the server joins this session to the bus channels of the person's current shares
 * only. A share that starts or expires, or is revoked or changed, makes the page read its
 * data again, so entities appear and leave without a reload.
 */
export class SharedEntities extends Component {
    static template = "odoo_ha_addon.SharedEntities";
    static components = { EntityControl };
    static props = { data: Object };

    setup() {
        this.haData = useService("ha_data");
        this.bus = useService("bus_service");
        this.state = useState({ data: this.props.data, error: null });
        this.boundaryTimer = null;
        this.readTimer = null;
        const handlers = [
            [ENTITY_CHANGES, (payload) => this.applyChanges(payload)],
            [ENTITIES_RELOAD, () => this.readLater(0)],
            [INSTANCE_STATUS, (payload) => this.applyStatus(payload)],
            [
                ACCESS_CHANGED,
                () => {
                    this.bus.forceUpdateChannels();
                    this.readLater(ACCESS_RELOAD_MS);
                },
            ],
        ];
        for (const [type, handler] of handlers) {
            this.bus.subscribe(type, handler);
        }
        this.bus.start();
        this.scheduleBoundary();
        onWillDestroy(() => {
            for (const [type, handler] of handlers) {
                this.bus.unsubscribe(type, handler);
            }
            browser.clearTimeout(this.boundaryTimer);
            browser.clearTimeout(this.readTimer);
        });
    }

    get instances() {
        return this.state.data.instances;
    }

    areaName(area) {
        return area.name || _t("No area");
    }

    until(entity) {
        return entity.shared_until
            ? _t("Shared until %(date)s", {
                  date: formatDateTime(DateTime.fromISO(entity.shared_until)),
              })
            : "";
    }

    applyChanges({ instance_id: instanceId, changes }) {
        const instance = this.instances.find((i) => i.id === instanceId);
        if (!instance) {
            return;
        }
        let regroup = false;
        for (const area of instance.areas) {
            area.entities = area.entities.map((entity) => {
                if (!(entity.entity_id in changes)) {
                    return entity;
                }
                const change = changes[entity.entity_id];
                if (
                    change === null ||
                    REGROUPING_KEYS.some((key) => key in change && change[key] !== entity[key])
                ) {
                    regroup = true;
                    return entity;
                }
                // A new object: the control drops its optimistic patch for the server's state.
                return { ...entity, ...change };
            });
        }
        if (regroup) {
            this.readLater(0);
        }
    }

    applyStatus({ instance_id: instanceId, status }) {
        const instance = this.instances.find((i) => i.id === instanceId);
        if (instance) {
            instance.status = status;
        }
    }

    readLater(delay) {
        browser.clearTimeout(this.readTimer);
        this.readTimer = browser.setTimeout(() => this.read(), delay);
    }

    async read() {
        try {
            this.state.data = await this.haData.api("shared_entities", {}, { silent: true });
            this.state.error = null;
        } catch (error) {
            this.state.error = error.message;
            return;
        }
        this.scheduleBoundary();
    }

    scheduleBoundary() {
        browser.clearTimeout(this.boundaryTimer);
        const seconds = this.state.data.next_change_in;
        if (seconds === null || seconds === undefined) {
            return;
        }
        // setTimeout holds at most about 24.8 days; a later boundary is re-planned then.
        const delay = Math.min(seconds * 1000 + BOUNDARY_MARGIN_MS, 2 ** 31 - 1);
        this.boundaryTimer = browser.setTimeout(() => this.read(), delay);
    }
}

registry.category("public_components").add("odoo_ha_addon.shared_entities", SharedEntities);
