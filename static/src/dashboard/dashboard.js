import {
    Component,
    onWillDestroy,
    onWillStart,
    toRaw,
    useEffect,
    useRef,
    useState,
} from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { ConnectionLostError, RPCError } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { useService } from "@web/core/utils/hooks";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { HaEntityCard } from "../entity_card/entity_card";
import { statusBadgeClass, statusLabel } from "../instance_status/status_badge";
import { MACHINE_HEALTH_FIELDS, MachineHealth } from "../machine_health/machine_health";
import { MANAGER_GROUP } from "../services/ha_data_service";
import { ALL_AREAS, NO_AREA, buildListing, changesListing, indexListing } from "./entity_listing";
import { labelColor } from "./label_color";

// Cards rendered at first and added each time the user scrolls near the end: the page's
// DOM follows what the user looked at, not the size of the home.
export const PAGE_SIZE = 60;
// How far below the visible part of the page the next cards are prepared.
const PRELOAD_MARGIN_PX = 800;
const MACHINE_FIELDS = ["name", "phase", ...MACHINE_HEALTH_FIELDS.map((field) => field.name)];

/**
 * The live dashboard of the current Home Assistant instance: its connection, its areas as
 * tabs (by floor when the home has floors) and each area's entities as cards with the control
 * of their domain, filtered by labels if the user chooses some. Everything shown comes from
 * the ha_data service, which the bus keeps current.
 *
 * Its cost follows what changes, not the size of the home: each card (HaEntityCard) reads
 * its own entity, so a change re-renders that card only; the dashboard itself reads no
 * entity reactively and lists them again (buildListing) only when the list can change
 * (filters, entities added or removed, renamed or moved, states under a state filter); it
 * renders the first PAGE_SIZE cards and more as the user scrolls. OWL renders at most once
 * per animation frame, so a burst of changes costs one frame.
 *
 * Above the areas, the metered machines of the instance that the user may read, if any;
 * each card follows its machine's health through ha_data like the machine views do.
 */
export class HaDashboard extends Component {
    static template = "odoo_ha_addon.HaDashboard";
    static components = { HaEntityCard, MachineHealth };
    static props = { ...standardActionServiceProps };

    setup() {
        this.haData = useService("ha_data");
        this.action = useService("action");
        this.notification = useService("notification");
        this.orm = useService("orm");
        this.data = useState(this.haData.state);
        this.filters = useState({
            area: ALL_AREAS,
            search: "",
            domain: "",
            state: "",
            // Label ids: entities carrying any of them are shown.
            labels: [],
            byDevice: false,
        });
        this.view = useState({ version: 0, pages: 1 });
        this.ALL_AREAS = ALL_AREAS;
        this.NO_AREA = NO_AREA;
        this._listing = { key: null, result: null, indexed: new Map() };
        const onChanges = (instanceId, changes) => this._onChanges(instanceId, changes);
        onWillDestroy(this.haData.subscribe("entity_changes", onChanges));
        this.openEntity = this.openEntity.bind(this);
        this._useMoreOnScroll();
        this._useMachines();
        onWillStart(async () => {
            this.isManager = await user.hasGroup(MANAGER_GROUP);
            await this.haData.loadInstances();
            const instanceId = this.data.currentInstanceId;
            if (instanceId) {
                await Promise.all([this.haData.load(), this.loadMachines(instanceId)]);
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
        return statusLabel(status);
    }

    statusClass(status) {
        return statusBadgeClass(status);
    }

    get summary() {
        const instance = this.instance;
        const parts = [];
        if (instance.ha_version) {
            parts.push(_t("Home Assistant %(version)s", { version: instance.ha_version }));
        }
        parts.push(_t("%(count)s entities", { count: this.listing.total }));
        parts.push(_t("%(count)s areas", { count: this.data.areas.length }));
        return parts.join(" · ");
    }

    async onInstanceChange(ev) {
        const instanceId = parseInt(ev.target.value);
        this.setFilter("area", ALL_AREAS);
        this.setFilter("labels", []);
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

    // Machines ---------------------------------------------------------------------------

    /** The machines of the instance shown, none while those of another one are listed. */
    get machines() {
        const list = this.machineList;
        return list.instanceId === this.instance?.id ? list.machines : [];
    }

    /** List the machines of ``instanceId`` that the user may read (record rules decide). */
    async loadMachines(instanceId) {
        const seq = ++this._machinesSeq;
        let machines = [];
        try {
            machines = await this.orm.searchRead(
                "ha.machine",
                [["instance_id", "=", instanceId]],
                MACHINE_FIELDS,
            );
        } catch (error) {
            // Machines are an extra of the dashboard: without access to them (AccessError),
            // or when they cannot be read, the dashboard shows the rest without them.
            if (!(error instanceof RPCError || error instanceof ConnectionLostError)) {
                throw error;
            }
        }
        if (seq === this._machinesSeq) {
            Object.assign(this.machineList, { instanceId, machines });
        }
    }

    openMachine(machine) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "ha.machine",
            res_id: machine.id,
            views: [[false, "form"]],
            target: "current",
        });
    }

    _useMachines() {
        this.machineList = useState({ instanceId: null, machines: [] });
        this._machinesSeq = 0;
        // Machines the bus reported that the list did not hold, read once each: a machine
        // added since, or one the user may not read (then it stays out).
        const asked = new Set();
        const onMachineStates = ({ instance_id: instanceId, machines }) => {
            if (instanceId !== this.machineList.instanceId) {
                return;
            }
            const listed = new Set(this.machineList.machines.map((machine) => machine.id));
            const unknown = Object.keys(machines || {})
                .map(Number)
                .filter((machineId) => !listed.has(machineId) && !asked.has(machineId));
            if (unknown.length) {
                unknown.forEach((machineId) => asked.add(machineId));
                this.loadMachines(instanceId);
            }
        };
        onWillDestroy(this.haData.subscribe("machine_states", onMachineStates));
        // Another instance shown (here, from another tab, or by the server's fallback).
        useEffect(
            (instanceId) => {
                if (instanceId && instanceId !== this.machineList.instanceId) {
                    this.loadMachines(instanceId);
                }
            },
            () => [this.instance?.id],
        );
    }

    // Entities ---------------------------------------------------------------------------

    /** What is listed (see buildListing), computed again only when its inputs changed. */
    get listing() {
        // Reading these subscribes the dashboard to their replacement (another instance, a
        // reload, new areas), not to the entities inside.
        const entities = toRaw(this.data.entities);
        const areas = toRaw(this.data.areas);
        const devices = toRaw(this.data.devices);
        const floors = toRaw(this.data.floors);
        const labels = toRaw(this.data.labels);
        const { area, search, domain, state, byDevice } = this.filters;
        const chosen = toRaw(this.filters.labels);
        const key = [entities, areas, devices, floors, labels, area, search, domain, state];
        key.push(byDevice, chosen, this.view.version);
        const cached = this._listing;
        if (!cached.key || key.some((value, index) => value !== cached.key[index])) {
            const filters = { area, search, domain, state, byDevice, labels: chosen };
            cached.result = buildListing(entities, areas, filters, devices, { floors, labels });
            cached.indexed = indexListing(entities);
            cached.key = key;
        }
        return cached.result;
    }

    get shownIds() {
        return this.listing.ids.slice(0, this.view.pages * PAGE_SIZE);
    }

    /** The cards to render, with a device heading before each device's first card when the
     * list is grouped by device. */
    get shownRows() {
        const { groupOf } = this.listing;
        const rows = [];
        let group = null;
        for (const entityId of this.shownIds) {
            const next = groupOf?.get(entityId);
            if (next && next.key !== group) {
                group = next.key;
                rows.push({ key: `device-${next.key}`, heading: next.name });
            }
            rows.push({ key: entityId, entityId });
        }
        return rows;
    }

    get hasMore() {
        return this.listing.ids.length > this.view.pages * PAGE_SIZE;
    }

    _onChanges(instanceId, changes) {
        if (instanceId !== this.haData.shownInstanceId || !this._listing.key) {
            return;
        }
        const entities = toRaw(this.data.entities);
        if (changesListing(changes, entities, this._listing.indexed, this.filters)) {
            this.view.version++;
        }
    }

    _useMoreOnScroll() {
        const root = useRef("root");
        const sentinel = useRef("sentinel");
        let observer = null;
        useEffect(
            (element) => {
                if (!element) {
                    return;
                }
                observer = new IntersectionObserver(
                    (entries) => {
                        if (entries.some((entry) => entry.isIntersecting)) {
                            observer.disconnect();
                            this.view.pages++;
                        }
                    },
                    { root: root.el, rootMargin: `0px 0px ${PRELOAD_MARGIN_PX}px 0px` },
                );
                observer.observe(element);
                return () => observer.disconnect();
            },
            () => [sentinel.el],
        );
    }

    setFilter(name, value) {
        this.filters[name] = value;
        this.view.pages = 1;
    }

    selectArea(key) {
        this.setFilter("area", key);
    }

    toggleByDevice() {
        this.setFilter("byDevice", !this.filters.byDevice);
    }

    isLabelChosen(labelId) {
        return this.filters.labels.includes(labelId);
    }

    /** Add ``labelId`` to the labels filtered on, or take it off. */
    toggleLabel(labelId) {
        const chosen = this.filters.labels.filter((id) => id !== labelId);
        if (chosen.length === this.filters.labels.length) {
            chosen.push(labelId);
        }
        this.setFilter("labels", chosen);
    }

    labelDotStyle(label) {
        const color = labelColor(label.color);
        return color ? `background-color: ${color}` : "";
    }

    clearFilters() {
        Object.assign(this.filters, { search: "", domain: "", state: "", labels: [] });
        this.view.pages = 1;
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
