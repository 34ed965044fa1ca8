import { _t } from "@web/core/l10n/translation";
import { UNAVAILABLE_STATES } from "../controls/entity_values";

export const ALL_AREAS = "all";
export const NO_AREA = "none";
// The key of the group of areas on no floor (and of entities without area).
export const NO_FLOOR = "no_floor";
const FLOOR_PREFIX = "floor_";
const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

function sortName(entity) {
    return entity.name || entity.entity_id;
}

/** The area filter's value that shows every area of the floor ``floorId``. */
export function floorKey(floorId) {
    return `${FLOOR_PREFIX}${floorId}`;
}

/** The floor key (``floorKey``) of each area of ``areas`` that is on one of ``floors``. */
function floorKeysOf(areas, floors) {
    const known = new Set(floors.map((floor) => floor.id));
    return new Map(
        areas
            .filter((area) => area.floor_id && known.has(area.floor_id))
            .map((area) => [area.id, floorKey(area.floor_id)]),
    );
}

/** Floors by level, those without level last, then by name. */
function compareFloors(a, b) {
    const [la, lb] = [a.level ?? null, b.level ?? null];
    if (la !== lb) {
        if (la === null || lb === null) {
            return la === null ? 1 : -1;
        }
        return la - lb;
    }
    return collator.compare(a.name, b.name) || a.id - b.id;
}

/**
 * Whether ``entity`` passes the dashboard's filters (area or floor, labels, search, domain,
 * state). ``floorKeys``: area id -> the floorKey of its floor, for a floor filter.
 */
export function matchesFilters(entity, filters, floorKeys = new Map()) {
    const { area, search, domain, state, labels = [] } = filters;
    if (area !== ALL_AREAS) {
        const key = String(area).startsWith(FLOOR_PREFIX)
            ? floorKeys.get(entity.area_id)
            : entity.area_id || NO_AREA;
        if (key !== area) {
            return false;
        }
    }
    // Any of the chosen labels.
    if (labels.length && !(entity.label_ids || []).some((id) => labels.includes(id))) {
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
 * labels the entities carry (``labelOptions``, by name, with counts), the total, and with
 * ``filters.byDevice`` the device group of each id (``groupOf``: entity_id -> {key, name}),
 * the list then ordered by device, entities without a device last. When areas with entities
 * are on ``floors``, ``floorGroups`` holds the area tabs by floor (by level, then name; the
 * areas on no floor and "No area" last); otherwise it is null and the tabs are not grouped.
 * One pass over the entities; the dashboard calls it only when the membership of the list can
 * have changed (filters, entities added or removed, names, areas, devices, labels), never for
 * a change of state alone.
 */
export function buildListing(
    entities,
    areas,
    filters,
    devices = [],
    { floors = [], labels = [] } = {},
) {
    const all = Object.values(entities);
    const floorKeys = floorKeysOf(areas, floors);
    const counts = {};
    const labelCounts = new Map();
    const domains = new Set();
    const shown = [];
    for (const entity of all) {
        const key = entity.area_id || NO_AREA;
        counts[key] = (counts[key] || 0) + 1;
        for (const labelId of entity.label_ids || []) {
            labelCounts.set(labelId, (labelCounts.get(labelId) || 0) + 1);
        }
        domains.add(entity.domain);
        if (matchesFilters(entity, filters, floorKeys)) {
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
    const labelOptions = labels
        .filter((label) => labelCounts.has(label.id))
        .map((label) => ({ ...label, count: labelCounts.get(label.id) }))
        .sort((a, b) => collator.compare(a.name, b.name) || a.id - b.id);
    return {
        ids: shown.map((entity) => entity.entity_id),
        groupOf,
        tabs,
        floorGroups: groupByFloor(tabs.slice(1), floors, floorKeys),
        labelOptions,
        domains: [...domains].sort(),
        total: all.length,
    };
}

/**
 * The area tabs (``tabs``, without "All") by floor: ``[{key, name, count, floorId, tabs}]``
 * with ``key`` the floor's filter value (floorKey), the floors by level then name, and last
 * the group of areas on no floor (``floorId`` null, ``key`` NO_FLOOR). Null when no tab is
 * on a floor: the tabs are then shown as they are.
 */
function groupByFloor(tabs, floors, floorKeys) {
    const groups = new Map();
    for (const floor of [...floors].sort(compareFloors)) {
        const key = floorKey(floor.id);
        groups.set(key, { key, name: floor.name, count: 0, floorId: floor.id, tabs: [] });
    }
    const rest = { key: NO_FLOOR, name: _t("No floor"), count: 0, floorId: null, tabs: [] };
    for (const tab of tabs) {
        const group = groups.get(floorKeys.get(tab.key)) || rest;
        group.tabs.push(tab);
        group.count += tab.count;
    }
    const onFloors = [...groups.values()].filter((group) => group.tabs.length);
    if (!onFloors.length) {
        return null;
    }
    return rest.tabs.length ? [...onFloors, rest] : onFloors;
}

/**
 * Whether a bus batch (entity_id -> diff, null when removed) can change what
 * ``buildListing`` returned: an entity removed, renamed, moved to another area or labelled
 * anew, or a state changed while a state filter is on. ``entities`` are the entities after
 * the batch; ``indexed`` holds each entity's name, area and labels as last listed.
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
        if (labelsKey(entity) !== listed.labels) {
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

function labelsKey(entity) {
    return (entity.label_ids || []).join(",");
}

/** entity_id -> {name, area, device, labels} of ``entities``, for ``changesListing``. */
export function indexListing(entities) {
    const indexed = new Map();
    for (const entity of Object.values(entities)) {
        indexed.set(entity.entity_id, {
            name: entity.name,
            area: entity.area_id || null,
            device: entity.device_id || null,
            labels: labelsKey(entity),
        });
    }
    return indexed;
}
