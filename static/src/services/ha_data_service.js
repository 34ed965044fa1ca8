import { reactive } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { ConnectionLostError, RPCError, rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

export const API_PREFIX = "/odoo_ha_addon";
// The group of Home Assistant managers (configure instances, see everything).
export const MANAGER_GROUP = "odoo_ha_addon.group_ha_manager";
// Bus notification types, as the server names them (ha.realtime.update and
// controllers/instance_resolver.py; TestBusNamesMatchServer holds the two equal).
export const ENTITY_CHANGES = "odoo_ha_addon/entity_changes";
export const ENTITIES_RELOAD = "odoo_ha_addon/entities_reload";
export const INSTANCE_STATUS = "odoo_ha_addon/instance_status";
export const REGISTRY_CHANGED = "odoo_ha_addon/registry_changed";
export const MACHINE_STATES = "odoo_ha_addon/machine_states";
export const ACCESS_CHANGED = "odoo_ha_addon/access_changed";
export const INSTANCE_SWITCHED = "odoo_ha_addon/instance_switched";
export const INSTANCE_FALLBACK = "odoo_ha_addon/instance_fallback";
// Several instance_switched notifications within this delay (a user clicking through
// instances in another tab) make one reload, for the last instance.
export const SWITCH_DEBOUNCE_MS = 300;
// Entities the bus reports but the cache does not hold (new in Home Assistant) are fetched
// with one reload per burst.
export const UNKNOWN_ENTITY_RELOAD_MS = 1000;
// After a successful service call, an optimistic patch that no state change has replaced
// within this delay is checked against the server (Home Assistant may accept a call and
// change nothing).
export const OPTIMISTIC_CHECK_MS = 5000;
// After access_changed, data is read again once the new bus subscription is in place (the
// bus worker debounces subscriptions by 300 ms), so no change falls between the two.
export const ACCESS_RELOAD_MS = 1000;

/**
 * What an instance_status notification carries: ha.realtime.update INSTANCE_STATUS_FIELDS
 * (TestBusNamesMatchServer holds the two equal).
 */
export const INSTANCE_STATUS_KEYS = [
    "status",
    "status_since",
    "last_event_at",
    "ha_version",
    "entity_count",
    "last_error",
];

/** The bus notifications components can follow through HaDataService.subscribe. */
export const SUBSCRIPTION_KINDS = [
    "entity_changes",
    "instance_status",
    "registry_changed",
    "machine_states",
];

export class HaApiError extends Error {
    /**
     * @param {string} message
     * @param {string} type error_type of the API envelope, or "connection_lost"/"server_error"
     */
    constructor(message, type) {
        super(message);
        this.name = "HaApiError";
        this.type = type;
    }
}

function toApiError(error) {
    if (error instanceof HaApiError) {
        return error;
    }
    if (error instanceof ConnectionLostError) {
        return new HaApiError(_t("The server cannot be reached."), "connection_lost");
    }
    if (error instanceof RPCError) {
        return new HaApiError(error.data?.message || error.message, "server_error");
    }
    return new HaApiError(error?.message || String(error), "client_error");
}

function timestamp(value) {
    const time = value ? Date.parse(value) : NaN;
    return Number.isNaN(time) ? null : time;
}

/** The entity fields an entity_changes diff (or a full entity) sets. */
function entityUpdate(diff) {
    const update = {};
    for (const key of [
        "state",
        "attributes",
        "last_changed",
        "last_updated",
        "area_id",
        "device_id",
        "label_ids",
    ]) {
        if (key in diff) {
            update[key] = diff[key];
        }
    }
    if (diff.attributes) {
        update.unit_of_measurement = diff.attributes.unit_of_measurement ?? null;
    }
    const name = diff.name || diff.attributes?.friendly_name;
    if (name) {
        update.name = name;
    }
    return update;
}

function indexEntities(entities) {
    return Object.fromEntries(entities.map((entity) => [entity.entity_id, entity]));
}

/**
 * The web client's copy of Home Assistant data, shared by every HA screen of a tab.
 *
 * ``state`` is reactive: components read it through ``useState(haData.state)`` and re-render
 * when the bus (through HaBusBridge) patches it. Each loaded instance keeps its own cache
 * entry, kept current by the bus as well, so switching back to an instance is instant.
 * ``state.entities`` IS the cache entry's entities object of the instance shown.
 */
export class HaDataService {
    constructor(env, { notification }) {
        this.env = env;
        this.notification = notification;
        this.state = reactive({
            instances: [],
            currentInstanceId: null,
            instance: null,
            // Floors ({id, floor_id, name, level, icon}) and labels ({id, label_id, name,
            // color, icon}) of the instance shown, those the user may read.
            floors: [],
            areas: [],
            devices: [],
            labels: [],
            entities: {},
            canManage: false,
            loading: false,
            error: null,
            // Machine id -> the health the bus last reported for it, of any instance.
            machines: {},
        });
        /** @type {Map<number, {instance, floors, areas, devices, labels, entities, canManage, ignored: Set<string>}>} */
        this.cache = new Map();
        this.shownInstanceId = null;
        // Kind -> the callbacks subscribe() registered for it.
        this._subscribers = Object.fromEntries(SUBSCRIPTION_KINDS.map((kind) => [kind, new Set()]));
        this._machineUpdates = 0;
        this._loadSeq = 0;
        this._fetches = new Map();
        this._queuedFetches = new Map();
        this._changeBuffers = new Set();
        this._switchTimer = null;
        this._switchTarget = null;
        this._unknownTimers = new Map();
        this._optimistic = new Map();
        this._accessTimer = null;
    }

    // Server API -----------------------------------------------------------------------

    /**
     * Call ``/odoo_ha_addon/<route>``. Returns the envelope's data; throws HaApiError
     * without notifying anyone (callers decide how to show it).
     */
    async api(route, params = {}, { silent = false } = {}) {
        let response;
        try {
            response = await rpc(`${API_PREFIX}/${route}`, params, { silent });
        } catch (error) {
            throw toApiError(error);
        }
        if (!response?.success) {
            throw new HaApiError(
                response?.error || _t("The Home Assistant request failed."),
                response?.error_type || "unknown",
            );
        }
        return response.data;
    }

    /** Read the instances the user may use; returns them, or null on error (state.error). */
    async loadInstances() {
        try {
            const data = await this.api("instances");
            this.state.instances = data.instances;
            this.state.currentInstanceId = data.current_instance_id;
            return data.instances;
        } catch (error) {
            this._setError(error);
            return null;
        }
    }

    /**
     * Show ``instanceId`` (default: the current instance): from its cache entry when there
     * is one, else (or with ``force``) from the server. Errors end in ``state.error``.
     * Returns true when the instance is shown.
     */
    async load(instanceId = this.state.currentInstanceId, { force = false, silent = false } = {}) {
        const seq = ++this._loadSeq;
        if (!force && instanceId && this.cache.has(instanceId)) {
            this._show(instanceId);
            return true;
        }
        this.state.loading = true;
        const entry = await this._fetch(instanceId, { fresh: force, silent });
        if (seq !== this._loadSeq) {
            // A later load (or switch) superseded this one: it decides what is shown.
            return Boolean(entry);
        }
        this.state.loading = false;
        if (!entry) {
            return false;
        }
        this._show(entry.instance.id);
        return true;
    }

    /**
     * Make ``instanceId`` the user's current instance (session and preference) and show it.
     * Errors are notified; returns true on success.
     */
    async switchInstance(instanceId) {
        let instance;
        try {
            instance = await this.api("switch_instance", { ha_instance_id: instanceId });
        } catch (error) {
            this._notifyError(_t("Could not switch the Home Assistant instance"), error);
            return false;
        }
        this._setCurrent(instance.id);
        this._updateInstance(instance.id, instance);
        return this.load(instance.id);
    }

    /**
     * Call a Home Assistant service on entities the user controls. Failures are notified
     * and thrown (HaApiError); ``successMessage`` is notified on success.
     *
     * @param {string} domain
     * @param {string} service
     * @param {string | string[]} entityIds
     * @param {object} [serviceData]
     * @param {{ instanceId?: number | null, successMessage?: string }} [options]
     *  instanceId: default the instance shown; null: the session's current instance
     */
    async callService(domain, service, entityIds, serviceData = {}, options = {}) {
        const instanceId =
            options.instanceId === undefined ? this.shownInstanceId : options.instanceId;
        const params = { domain, service, entity_id: entityIds, service_data: serviceData };
        if (instanceId) {
            params.ha_instance_id = instanceId;
        }
        let data;
        try {
            data = await this.api("call_service", params);
        } catch (error) {
            this._notifyError(
                _t("Home Assistant refused %(service)s", { service: `${domain}.${service}` }),
                error,
            );
            throw error;
        }
        if (options.successMessage) {
            this.notification.add(options.successMessage, { type: "success" });
        }
        this._checkOptimisticLater([entityIds].flat());
        return data;
    }

    // Realtime -------------------------------------------------------------------------

    /**
     * Calls ``callback`` for every bus notification of ``kind`` about any instance, until the
     * function returned is called:
     * - "entity_changes": ``callback(instanceId, changes)`` for every batch of entity changes;
     * - "instance_status": ``callback(payload)`` for every connection status change;
     * - "registry_changed": ``callback(instanceId, {floors, areas, devices, labels})`` when
     *   the floors, areas, devices or labels change in Home Assistant;
     * - "machine_states": ``callback(payload)`` for every health change of machines.
     *
     * @param {string} kind one of SUBSCRIPTION_KINDS
     * @param {Function} callback
     * @returns {Function} unsubscribe
     */
    subscribe(kind, callback) {
        const callbacks = this._subscribers[kind];
        if (!callbacks) {
            throw new Error(`ha_data cannot subscribe to "${kind}"`);
        }
        callbacks.add(callback);
        return () => callbacks.delete(callback);
    }

    /** Calls the subscribers of ``kind`` with ``args``. */
    _notifySubscribers(kind, ...args) {
        for (const callback of [...this._subscribers[kind]]) {
            try {
                callback(...args);
            } catch (error) {
                // Reported (error service) without depriving the other callbacks of the event.
                Promise.reject(error);
            }
        }
    }

    /** Bus "entity_changes": ``{instance_id, changes: {entity_id: diff | null}}``. */
    applyEntityChanges({ instance_id: instanceId, changes }) {
        if (!changes) {
            return;
        }
        for (const buffer of this._changeBuffers) {
            // A load is in flight: its answer may predate these, they are replayed on it.
            buffer.push([instanceId, changes]);
        }
        this._applyChanges(instanceId, changes);
        this._notifySubscribers("entity_changes", instanceId, changes);
    }

    /** Bus "entities_reload": too many changes at once, read the instance again. */
    applyReload({ instance_id: instanceId }) {
        if (instanceId === this.shownInstanceId) {
            return this.load(instanceId, { force: true, silent: true });
        }
        this.cache.delete(instanceId);
    }

    /**
     * Bus "access_changed": entities or instances were granted or withdrawn. Cached data may
     * hold what the user may no longer read: drop it, then read the instances and the shown
     * one again.
     */
    applyAccessChanged() {
        browser.clearTimeout(this._accessTimer);
        this._accessTimer = browser.setTimeout(async () => {
            this._accessTimer = null;
            const shown = this.shownInstanceId;
            for (const instanceId of [...this.cache.keys()]) {
                if (instanceId !== shown) {
                    this.cache.delete(instanceId);
                }
            }
            await this.loadInstances();
            if (shown && !(await this.load(shown, { force: true, silent: true }))) {
                // The instance itself was withdrawn: nothing of it stays on screen.
                this.cache.delete(shown);
                if (this.shownInstanceId === shown) {
                    this._show(null);
                }
            }
        }, ACCESS_RELOAD_MS);
    }

    /** Bus "registry_changed": floors, areas, devices or labels of the instance were
     * renamed, added, removed or moved in Home Assistant. */
    applyRegistry({ instance_id: instanceId, areas, devices, floors = [], labels = [] }) {
        const lists = { floors, areas, devices, labels };
        const entry = this.cache.get(instanceId);
        if (entry) {
            Object.assign(entry, lists);
        }
        if (instanceId === this.shownInstanceId) {
            Object.assign(this.state, lists);
        }
        this._notifySubscribers("registry_changed", instanceId, lists);
    }

    /** Bus "instance_status": the connection status of an instance changed. */
    applyInstanceStatus(payload) {
        const status = {};
        for (const key of INSTANCE_STATUS_KEYS) {
            if (key in payload) {
                status[key] = payload[key];
            }
        }
        this._updateInstance(payload.instance_id, status);
        this._notifySubscribers("instance_status", payload);
    }

    /**
     * Bus "machine_states": ``{instance_id, machines: {machine_id: health}}``. Each health
     * gets ``received``, an order of arrival that tells it from values the views read
     * before it (see MachineHealth).
     */
    applyMachineStates(payload) {
        for (const [machineId, health] of Object.entries(payload.machines || {})) {
            this.state.machines[machineId] = {
                ...this.state.machines[machineId],
                ...health,
                received: ++this._machineUpdates,
            };
        }
        this._notifySubscribers("machine_states", payload);
    }

    /** Bus "instance_switched": the user switched instance in another tab (or this one). */
    applyInstanceSwitched({ instance_id: instanceId }) {
        this._switchTarget = instanceId;
        browser.clearTimeout(this._switchTimer);
        this._switchTimer = browser.setTimeout(() => {
            this._switchTimer = null;
            this._followSwitch(this._switchTarget);
        }, SWITCH_DEBOUNCE_MS);
    }

    /** Bus "instance_fallback": the session's instance became unusable, the server chose another. */
    applyFallback({ previous_instance_id: previousId, instance_id: instanceId }) {
        if (previousId) {
            this.cache.delete(previousId);
        }
        const wasShown = this.shownInstanceId !== null;
        this._setCurrent(instanceId || null);
        if (!instanceId) {
            this._show(null);
            if (wasShown) {
                this.state.error = {
                    message: _t("No Home Assistant instance is available to you."),
                    type: "instance_not_found",
                };
            }
            return;
        }
        if (wasShown && this.shownInstanceId !== instanceId) {
            this.notification.add(
                _t("The Home Assistant instance you used is no longer available."),
                { type: "warning" },
            );
            return this.load(instanceId, { silent: true });
        }
    }

    // Optimistic updates ---------------------------------------------------------------

    /**
     * Show ``patch`` ({state?, attributes?}) on the entity at once; returns false when the
     * entity is not shown. The next state change from Home Assistant replaces it.
     */
    setOptimistic(entityId, patch) {
        const entity = this.state.entities[entityId];
        if (!entity) {
            return false;
        }
        if (!this._optimistic.has(entityId)) {
            this._optimistic.set(entityId, {
                instanceId: this.shownInstanceId,
                state: entity.state,
                attributes: entity.attributes,
            });
        }
        if ("state" in patch) {
            entity.state = patch.state;
        }
        if (patch.attributes) {
            entity.attributes = { ...entity.attributes, ...patch.attributes };
        }
        return true;
    }

    /** Undo the optimistic patches of the entity (no-op when HA has changed it since). */
    rollback(entityId) {
        const previous = this._optimistic.get(entityId);
        if (!previous) {
            return;
        }
        this._optimistic.delete(entityId);
        const entity = this._entities(previous.instanceId)?.[entityId];
        if (entity) {
            entity.state = previous.state;
            entity.attributes = previous.attributes;
        }
    }

    // Internals ------------------------------------------------------------------------

    /**
     * One request per instance at a time: a load joins the one in flight, unless ``fresh``
     * asks for data read after now (a reload), which then follows it, once for all askers.
     */
    _fetch(instanceId, { fresh = false, silent = false } = {}) {
        const key = instanceId || 0;
        const running = this._fetches.get(key);
        if (running && !fresh) {
            return running;
        }
        if (running) {
            if (!this._queuedFetches.has(key)) {
                const queued = running.then(() => {
                    this._queuedFetches.delete(key);
                    return this._fetch(instanceId, { silent });
                });
                this._queuedFetches.set(key, queued);
            }
            return this._queuedFetches.get(key);
        }
        const promise = this._doFetch(instanceId, silent).finally(() => {
            this._fetches.delete(key);
        });
        this._fetches.set(key, promise);
        return promise;
    }

    async _doFetch(instanceId, silent) {
        const buffer = [];
        this._changeBuffers.add(buffer);
        let data;
        try {
            data = await this.api("entities", instanceId ? { ha_instance_id: instanceId } : {}, {
                silent,
            });
        } catch (error) {
            this._setError(error);
            return null;
        } finally {
            this._changeBuffers.delete(buffer);
        }
        const id = data.instance.id;
        const previous = this.cache.get(id);
        const entities = indexEntities(data.entities);
        const ignored = new Set(
            [...(previous?.ignored || [])].filter((entityId) => !(entityId in entities)),
        );
        const entry = {
            instance: data.instance,
            floors: data.floors || [],
            areas: data.areas,
            devices: data.devices || [],
            labels: data.labels || [],
            entities,
            canManage: data.can_manage,
            ignored,
        };
        this.cache.set(id, entry);
        for (const [entityId, pending] of this._optimistic) {
            if (pending.instanceId === id) {
                this._optimistic.delete(entityId);
            }
        }
        this._updateInstance(id, data.instance, { cache: false });
        for (const [changedId, changes] of buffer) {
            if (changedId === id) {
                this._applyChanges(id, changes, { onlyNewer: true });
            }
        }
        this.state.error = null;
        return entry;
    }

    _show(instanceId) {
        const entry = instanceId ? this.cache.get(instanceId) : null;
        this.shownInstanceId = entry ? instanceId : null;
        Object.assign(this.state, {
            instance: entry ? entry.instance : null,
            floors: entry ? entry.floors : [],
            areas: entry ? entry.areas : [],
            devices: entry ? entry.devices : [],
            labels: entry ? entry.labels : [],
            entities: entry ? entry.entities : {},
            canManage: entry ? entry.canManage : false,
            loading: false,
        });
        if (entry && !this.state.currentInstanceId) {
            this._setCurrent(instanceId);
        }
    }

    /** The entities object to patch for an instance: the reactive one when it is shown. */
    _entities(instanceId) {
        if (instanceId === this.shownInstanceId) {
            return this.state.entities;
        }
        return this.cache.get(instanceId)?.entities;
    }

    _applyChanges(instanceId, changes, { onlyNewer = false } = {}) {
        const entities = this._entities(instanceId);
        if (!entities) {
            return;
        }
        const ignored = this.cache.get(instanceId).ignored;
        let unknown = false;
        for (const [entityId, diff] of Object.entries(changes)) {
            const entity = entities[entityId];
            if (!entity) {
                // New in Home Assistant, or not readable by this user: the server decides
                // on the next reload; each id triggers at most one.
                if (diff && !ignored.has(entityId)) {
                    ignored.add(entityId);
                    unknown = true;
                }
                continue;
            }
            this._optimistic.delete(entityId);
            if (diff === null) {
                delete entities[entityId];
                continue;
            }
            if (onlyNewer) {
                const current = timestamp(entity.last_updated);
                const incoming = timestamp(diff.last_updated);
                if (current !== null && incoming !== null && incoming < current) {
                    continue;
                }
            }
            Object.assign(entity, entityUpdate(diff));
        }
        if (unknown) {
            this._reloadForUnknown(instanceId);
        }
    }

    _reloadForUnknown(instanceId) {
        if (this._unknownTimers.has(instanceId)) {
            return;
        }
        const timer = browser.setTimeout(() => {
            this._unknownTimers.delete(instanceId);
            this.applyReload({ instance_id: instanceId });
        }, UNKNOWN_ENTITY_RELOAD_MS);
        this._unknownTimers.set(instanceId, timer);
    }

    _checkOptimisticLater(entityIds) {
        const pending = entityIds.filter((entityId) => this._optimistic.has(entityId));
        if (!pending.length) {
            return;
        }
        const instanceId = this._optimistic.get(pending[0]).instanceId;
        browser.setTimeout(async () => {
            const stale = pending.filter((entityId) => this._optimistic.has(entityId));
            if (!stale.length || instanceId !== this.shownInstanceId) {
                return;
            }
            let data;
            try {
                data = await this.api(
                    "entity_states",
                    { entity_ids: stale, ha_instance_id: instanceId },
                    { silent: true },
                );
            } catch {
                return;
            }
            const changes = Object.fromEntries(stale.map((entityId) => [entityId, null]));
            for (const entity of data.entities) {
                changes[entity.entity_id] = entity;
            }
            this._applyChanges(instanceId, changes);
        }, OPTIMISTIC_CHECK_MS);
    }

    _followSwitch(instanceId) {
        if (!instanceId) {
            return;
        }
        this._setCurrent(instanceId);
        if (this.shownInstanceId !== null && this.shownInstanceId !== instanceId) {
            return this.load(instanceId, { silent: true });
        }
    }

    _setCurrent(instanceId) {
        this.state.currentInstanceId = instanceId;
        for (const instance of this.state.instances) {
            instance.current = instance.id === instanceId;
        }
    }

    _updateInstance(instanceId, values, { cache = true } = {}) {
        const listed = this.state.instances.find((instance) => instance.id === instanceId);
        if (listed) {
            Object.assign(listed, values, { current: listed.current });
        }
        if (instanceId === this.shownInstanceId && this.state.instance) {
            // Through the reactive state only: it writes the cached object too, and an
            // assignment to that object first would leave the state seeing no change.
            Object.assign(this.state.instance, values);
            return;
        }
        const entry = this.cache.get(instanceId);
        if (cache && entry) {
            Object.assign(entry.instance, values);
        }
    }

    _setError(error) {
        const apiError = toApiError(error);
        this.state.error = { message: apiError.message, type: apiError.type };
        this.state.loading = false;
    }

    _notifyError(title, error) {
        this.notification.add(toApiError(error).message, { title, type: "danger" });
    }
}

export const haDataService = {
    dependencies: ["notification"],
    start(env, services) {
        return new HaDataService(env, services);
    },
};

registry.category("services").add("ha_data", haDataService);
