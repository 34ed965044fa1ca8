import { _t } from "@web/core/l10n/translation";
import { UNAVAILABLE_STATES } from "../controls/entity_values";

export const ALL_AREAS = "all";
export const NO_AREA = "none";
const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

function sortName(entity) {
    return entity.name || entity.entity_id;
}

/** Whether ``entity`` passes the dashboard's filters (area, search, domain, state). */
export function matchesFilters(entity, { area, search, domain, state }) {
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

const NO_DEVICE = "none";

/**
 * What the dashboard lists for ``entities`` (entity_id -> entity, plain objects) under
 * ``filters``: the ids to show in order, the area tabs with their counts, the domains, the
 * total, and with ``filters.byDevice`` the device group of each id (``groupOf``: entity_id ->
 * {key, name}), the list then ordered by device, entities without a device last. One pass
 * over the entities; the dashboard calls it only when the membership of the list can have
 * changed (filters, entities added or removed, names, areas, devices), never for a change of
 * state alone.
 */
export function buildListing(entities, areas, filters, devices = []) {
    const all = Object.values(entities);
    const counts = {};
    const domains = new Set();
    const shown = [];
    for (const entity of all) {
        const key = entity.area_id || NO_AREA;
        counts[key] = (counts[key] || 0) + 1;
        domains.add(entity.domain);
        if (matchesFilters(entity, filters)) {
            shown.push(entity);
        }
    }
    let groupOf = null;
    if (filters.byDevice) {
        const names = new Map(devices.map((device) => [device.id, device.name]));
        groupOf = new Map();
        for (const entity of shown) {
            const name = names.get(entity.device_id);
            groupOf.set(
                entity.entity_id,
                name ? { key: entity.device_id, name } : { key: NO_DEVICE, name: _t("No device") },
            );
        }
        const groupName = (entity) => groupOf.get(entity.entity_id);
        shown.sort((a, b) => {
            const [ga, gb] = [groupName(a), groupName(b)];
            if (ga.key !== gb.key) {
                if (ga.key === NO_DEVICE || gb.key === NO_DEVICE) {
                    return ga.key === NO_DEVICE ? 1 : -1;
                }
                return collator.compare(ga.name, gb.name) || ga.key - gb.key;
            }
            return collator.compare(sortName(a), sortName(b));
        });
    } else {
        shown.sort((a, b) => collator.compare(sortName(a), sortName(b)));
    }
    const tabs = [{ key: ALL_AREAS, name: _t("All"), count: all.length }];
    for (const area of areas) {
        if (counts[area.id]) {
            tabs.push({ key: area.id, name: area.name, count: counts[area.id] });
        }
    }
    if (counts[NO_AREA]) {
        tabs.push({ key: NO_AREA, name: _t("No area"), count: counts[NO_AREA] });
    }
    return {
        ids: shown.map((entity) => entity.entity_id),
        groupOf,
        tabs,
        domains: [...domains].sort(),
        total: all.length,
    };
}

/**
 * Whether a bus batch (entity_id -> diff, null when removed) can change what
 * ``buildListing`` returned: an entity removed, renamed or moved to another area, or a
 * state changed while a state filter is on. ``entities`` are the entities after the batch;
 * ``indexed`` holds each entity's name and area as last listed.
 */
export function changesListing(changes, entities, indexed, filters) {
    for (const [entityId, diff] of Object.entries(changes)) {
        if (diff === null) {
            if (indexed.has(entityId)) {
                return true;
            }
            continue;
        }
        const entity = entities[entityId];
        const listed = indexed.get(entityId);
        if (!entity || !listed) {
            continue; // unknown to the page: ha_data reads the instance again
        }
        if (entity.name !== listed.name || (entity.area_id || null) !== listed.area) {
            return true;
        }
        if (filters.byDevice && (entity.device_id || null) !== listed.device) {
            return true;
        }
        if (filters.state && "state" in diff) {
            return true;
        }
    }
    return false;
}

/** entity_id -> {name, area, device} of ``entities``, for ``changesListing``. */
export function indexListing(entities) {
    const indexed = new Map();
    for (const entity of Object.values(entities)) {
        indexed.set(entity.entity_id, {
            name: entity.name,
            area: entity.area_id || null,
            device: entity.device_id || null,
        });
    }
    return indexed;
}
