import { getColor, hexToRGBA } from "@web/core/colors/colors";
import { _t } from "@web/core/l10n/translation";
import { formatDateTime, formatDuration } from "@web/core/l10n/dates";
import { formatFloat } from "@web/core/utils/numbers";
import { STATE_LABELS, UNAVAILABLE_STATES } from "../controls/entity_values";

/**
 * Turns the series of the `entity_history` route into what the History action draws:
 * Chart.js configurations for numeric series (one chart per unit) and positioned blocks
 * for state timelines. Pure functions of their arguments, so they are tested without DOM.
 */

const { DateTime } = luxon;

// Opacity of the min/max band drawn around each average line.
const BAND_OPACITY = 0.18;
// A timeline block narrower than this share of the range shows its state in a tooltip only.
const LABELLED_SEGMENT_MIN_PERCENT = 6;

// The time axis unit by length of range: times of day up to 3 days, then dates, then months.
const TIME_UNITS = [
    { unit: "minute", upToMs: 3 * 3600 * 1000 },
    { unit: "hour", upToMs: 3 * 24 * 3600 * 1000 },
    { unit: "day", upToMs: 90 * 24 * 3600 * 1000 },
    { unit: "month", upToMs: Infinity },
];
const TIME_FORMATS = { minute: "t", hour: "t", day: "MMM d", month: "LLL yyyy" };

const ACTIVE_STATES = new Set([
    "on",
    "open",
    "opening",
    "home",
    "playing",
    "unlocked",
    "active",
    "heat",
    "cool",
    "heat_cool",
    "cleaning",
    "above_horizon",
]);
const INACTIVE_STATES = new Set([
    "off",
    "closed",
    "closing",
    "not_home",
    "idle",
    "paused",
    "standby",
    "locked",
    "docked",
    "below_horizon",
]);
const MISSING_STATES = new Set(UNAVAILABLE_STATES);

// What a series reads when it is not the recorded states themselves (its `resolution`).
export const STATISTICS_LABELS = {
    "5minute": _t("5-minute statistics"),
    hour: _t("Hourly statistics"),
};

export function toMillis(isoString) {
    return DateTime.fromISO(isoString, { zone: "utc" }).toMillis();
}

export function stateLabel(state) {
    return STATE_LABELS[state] || state || STATE_LABELS.unknown;
}

export function seriesHasData(series) {
    return series.kind === "numeric" ? series.points.length > 0 : series.segments.length > 0;
}

/** Numeric series grouped by unit, in the order units first appear: one chart per group. */
export function groupNumericSeries(seriesList) {
    const groups = new Map();
    for (const series of seriesList) {
        if (series.kind !== "numeric" || !seriesHasData(series)) {
            continue;
        }
        const unit = series.unit || "";
        if (!groups.has(unit)) {
            groups.set(unit, { unit, series: [] });
        }
        groups.get(unit).series.push(series);
    }
    return [...groups.values()];
}

/**
 * The note shown with a chart whose series read statistics instead of the recorded states:
 * the period alone when every series reads it, else the period followed by the entities that
 * read it ("5-minute statistics: Kitchen temperature"). Empty when all are recorded states.
 */
export function resolutionNote(seriesList) {
    const byPeriod = new Map();
    for (const series of seriesList) {
        if (STATISTICS_LABELS[series.resolution]) {
            if (!byPeriod.has(series.resolution)) {
                byPeriod.set(series.resolution, []);
            }
            byPeriod.get(series.resolution).push(series.name);
        }
    }
    const notes = [];
    for (const [period, names] of byPeriod) {
        notes.push(
            names.length === seriesList.length
                ? String(STATISTICS_LABELS[period])
                : _t("%(statistics)s: %(names)s", {
                      statistics: STATISTICS_LABELS[period],
                      names: names.join(", "),
                  }),
        );
    }
    return notes.join("; ");
}

export function timeUnitFor(start, end) {
    const span = end.toMillis() - start.toMillis();
    return TIME_UNITS.find(({ upToMs }) => span <= upToMs).unit;
}

function formatValue(value, unit) {
    const number = formatFloat(value, { digits: [false, 2], trailingZeros: false });
    return unit ? `${number} ${unit}` : number;
}

/**
 * A Chart.js line chart of `series` (all of the same `unit`): per entity an average line
 * and a min/max band, on a time axis spanning [start, end] (luxon DateTimes).
 */
export function numericChartConfig({ unit, series, start, end, colorScheme }) {
    const datasets = [];
    series.forEach((entitySeries, index) => {
        const color = getColor(index, colorScheme, series.length);
        const points = entitySeries.points.map((point) => ({
            x: toMillis(point.t),
            y: point.avg,
            min: point.min,
            max: point.max,
            count: point.count,
        }));
        const common = {
            entityId: entitySeries.entity_id,
            pointRadius: 0,
            pointHitRadius: 4,
            tension: 0,
        };
        datasets.push({
            ...common,
            label: entitySeries.name,
            role: "avg",
            data: points,
            borderColor: color,
            backgroundColor: color,
            borderWidth: 2,
            pointRadius: points.length === 1 ? 3 : 0,
            fill: false,
        });
        // The band: the max line filled down to the min line just before it.
        datasets.push({
            ...common,
            label: _t("%(name)s (min)", { name: entitySeries.name }),
            role: "min",
            data: points.map((point) => ({ x: point.x, y: point.min })),
            borderColor: "transparent",
            borderWidth: 0,
            fill: false,
        });
        datasets.push({
            ...common,
            label: _t("%(name)s (max)", { name: entitySeries.name }),
            role: "max",
            data: points.map((point) => ({ x: point.x, y: point.max })),
            borderColor: "transparent",
            backgroundColor: hexToRGBA(color, BAND_OPACITY),
            borderWidth: 0,
            fill: "-1",
        });
    });
    return {
        type: "line",
        data: { datasets },
        options: {
            maintainAspectRatio: false,
            animation: false,
            parsing: false,
            normalized: true,
            interaction: { mode: "nearest", axis: "x", intersect: false },
            scales: {
                x: {
                    type: "time",
                    min: start.toMillis(),
                    max: end.toMillis(),
                    time: {
                        unit: timeUnitFor(start, end),
                        tooltipFormat: "ff",
                        displayFormats: TIME_FORMATS,
                    },
                    // Major ticks (midnight on an hourly axis...) show the larger unit: the date.
                    ticks: { maxRotation: 0, autoSkip: true, major: { enabled: true } },
                },
                y: {
                    title: { display: Boolean(unit), text: unit },
                    ticks: { callback: (value) => formatValue(value, "") },
                },
            },
            plugins: {
                legend: {
                    labels: {
                        filter: (item, data) => data.datasets[item.datasetIndex].role === "avg",
                    },
                    onClick: toggleEntityDatasets,
                },
                tooltip: {
                    filter: (item) => item.dataset.role === "avg",
                    callbacks: {
                        label: (item) => {
                            const { y, min, max } = item.raw;
                            const text = `${item.dataset.label}: ${formatValue(y, unit)}`;
                            return min === max
                                ? text
                                : `${text} (${formatValue(min, "")} – ${formatValue(max, "")})`;
                        },
                    },
                },
            },
        },
    };
}

/** Legend click: hide or show an entity's line and its band together. */
function toggleEntityDatasets(event, legendItem, legend) {
    const chart = legend.chart;
    const { entityId } = chart.data.datasets[legendItem.datasetIndex];
    const visible = !chart.isDatasetVisible(legendItem.datasetIndex);
    chart.data.datasets.forEach((dataset, index) => {
        if (dataset.entityId === entityId) {
            chart.setDatasetVisibility(index, visible);
        }
    });
    chart.update();
}

function hashString(text) {
    let hash = 0;
    for (const char of text) {
        hash = (hash * 31 + char.charCodeAt(0)) | 0;
    }
    return Math.abs(hash);
}

/** How a state is painted: a class for the usual on/off/missing states, else a colour. */
export function stateStyle(state, colorScheme) {
    if (ACTIVE_STATES.has(state)) {
        return { className: "o_ha_state_active text-bg-success", color: null };
    }
    if (INACTIVE_STATES.has(state)) {
        return { className: "o_ha_state_inactive text-bg-secondary", color: null };
    }
    if (MISSING_STATES.has(state) || state === null) {
        return { className: "o_ha_state_missing", color: null };
    }
    return {
        className: "o_ha_state_other text-white",
        color: getColor(hashString(state), colorScheme, "lg"),
    };
}

/**
 * Timeline rows: each segment as a block positioned in percent of [start, end], clipped to
 * the range, with its label and a tooltip giving the exact period.
 */
export function timelineRows(seriesList, start, end, colorScheme) {
    const rangeStart = start.toMillis();
    const span = end.toMillis() - rangeStart;
    return seriesList
        .filter((series) => series.kind === "timeline" && seriesHasData(series))
        .map((series) => ({
            entityId: series.entity_id,
            name: series.name,
            segments: series.segments
                .map((segment) => {
                    const from = Math.max(toMillis(segment.start), rangeStart);
                    const to = Math.min(toMillis(segment.end || end.toISO()), rangeStart + span);
                    const left = ((from - rangeStart) / span) * 100;
                    const width = ((to - from) / span) * 100;
                    const label = stateLabel(segment.state);
                    const period = `${formatDateTime(DateTime.fromMillis(from))} – ${formatDateTime(
                        DateTime.fromMillis(to),
                    )}`;
                    return {
                        state: segment.state,
                        label,
                        left,
                        width,
                        showLabel: width >= LABELLED_SEGMENT_MIN_PERCENT,
                        title: `${label}\n${period} (${formatDuration((to - from) / 1000, true)})`,
                        ...stateStyle(segment.state, colorScheme),
                    };
                })
                .filter((segment) => segment.width > 0),
        }));
}
