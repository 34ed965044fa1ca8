import { Component, markRaw, onMounted, onWillStart, useRef, useState } from "@odoo/owl";
import { DateTimeInput } from "@web/core/datetime/datetime_input";
import { _t } from "@web/core/l10n/translation";
import { deserializeDateTime, formatDateTime, serializeDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { SelectMenu } from "@web/core/select_menu/select_menu";
import { useService } from "@web/core/utils/hooks";
import { useSetupAction } from "@web/search/action_hook";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { HaApiError } from "../services/ha_data_service";
import { HaHistoryExport } from "./history_export/history_export";
import { groupNumericSeries, resolutionNote, seriesHasData } from "./history_series";
import { HaNumericChart } from "./numeric_chart/numeric_chart";
import { HaStateTimeline } from "./state_timeline/state_timeline";

const { DateTime } = luxon;

export const HISTORY_PRESETS = [
    { id: "1h", label: _t("1 hour"), duration: { hours: 1 } },
    { id: "24h", label: _t("24 hours"), duration: { hours: 24 } },
    { id: "7d", label: _t("7 days"), duration: { days: 7 } },
];
export const CUSTOM_RANGE = "custom";
const DEFAULT_PRESET = "24h";
// Same limits as the entity_history route: one point per pixel of chart, within bounds.
const MIN_POINTS = 10;
const MAX_POINTS = 2000;
const DEFAULT_POINTS = 300;
const MAX_ENTITIES = 20;

/** The range a preset covers, ending `now`. */
export function presetRange(presetId, now = DateTime.now()) {
    const preset = HISTORY_PRESETS.find((p) => p.id === presetId);
    return { start: now.minus(preset.duration), end: now };
}

/**
 * History of the chosen entities of an instance: numeric ones as average lines with their
 * min/max band (one chart per unit), the others as state timelines. Opened from the menu or
 * from an entity's form, whose action passes `params.entity_ids` and `params.ha_instance_id`.
 */
export class HaHistory extends Component {
    static template = "odoo_ha_addon.HaHistory";
    static components = {
        DateTimeInput,
        HaHistoryExport,
        HaNumericChart,
        HaStateTimeline,
        SelectMenu,
    };
    static props = { ...standardActionServiceProps };

    setup() {
        this.action = useService("action");
        this.haData = useService("ha_data");
        this.notification = useService("notification");
        this.chartsRef = useRef("charts");
        this.presets = HISTORY_PRESETS;
        this.CUSTOM_RANGE = CUSTOM_RANGE;
        const params = this.props.action.params || {};
        // What the user chose, when coming back to the action through the breadcrumbs.
        const restored = this.props.state || {};
        this.instanceId = params.ha_instance_id || undefined;
        const now = DateTime.now();
        this.state = useState({
            instance: null,
            entities: [],
            selected: restored.selected || [...(params.entity_ids || [])],
            preset: restored.preset || DEFAULT_PRESET,
            customStart: restored.customStart || now.minus({ hours: 24 }),
            customEnd: restored.customEnd || now,
            result: null,
            loading: false,
            error: null,
        });
        this.requestCount = 0;
        useSetupAction({
            getLocalState: () => ({
                selected: [...this.state.selected],
                preset: this.state.preset,
                customStart: this.state.customStart,
                customEnd: this.state.customEnd,
            }),
        });
        onWillStart(() => this.loadEntities());
        onMounted(() => this.loadHistory());
    }

    async loadEntities() {
        try {
            const data = await this.haData.api("entities", this.instanceParams);
            this.state.instance = data.instance;
            this.state.entities = data.entities;
            const readable = new Set(data.entities.map((entity) => entity.entity_id));
            this.state.selected = this.state.selected.filter((id) => readable.has(id));
        } catch (error) {
            if (!(error instanceof HaApiError)) {
                throw error;
            }
            this.state.error = error.message;
        }
    }

    get instanceParams() {
        return this.instanceId ? { ha_instance_id: this.instanceId } : {};
    }

    // Range ---------------------------------------------------------------------------------

    get range() {
        if (this.state.preset === CUSTOM_RANGE) {
            return { start: this.state.customStart, end: this.state.customEnd };
        }
        return presetRange(this.state.preset);
    }

    selectPreset(presetId) {
        if (presetId === CUSTOM_RANGE) {
            const { start, end } = this.state.result || this.range;
            this.state.customStart = start;
            this.state.customEnd = end;
        }
        this.state.preset = presetId;
        this.loadHistory();
    }

    onApplyStart(value) {
        if (value) {
            this.state.customStart = value;
            this.loadHistory();
        }
    }

    onApplyEnd(value) {
        if (value) {
            this.state.customEnd = value;
            this.loadHistory();
        }
    }

    // Entities ------------------------------------------------------------------------------

    get entityGroups() {
        const byDomain = new Map();
        for (const entity of this.state.entities) {
            if (!byDomain.has(entity.domain)) {
                byDomain.set(entity.domain, { label: entity.domain, choices: [] });
            }
            byDomain.get(entity.domain).choices.push({
                value: entity.entity_id,
                label: entity.name,
            });
        }
        return [...byDomain.values()].sort((a, b) => a.label.localeCompare(b.label));
    }

    entitySearchText(choice) {
        return `${choice.label} ${choice.value}`;
    }

    onSelectEntities(entityIds) {
        if (entityIds.length > MAX_ENTITIES) {
            this.notification.add(
                _t("Show at most %(count)s entities at once.", { count: MAX_ENTITIES }),
                { type: "warning" },
            );
            return;
        }
        this.state.selected = entityIds;
        this.loadHistory();
    }

    // History -------------------------------------------------------------------------------

    get maxPoints() {
        const width = Math.round(this.chartsRef.el?.clientWidth || 0) || DEFAULT_POINTS;
        return Math.min(MAX_POINTS, Math.max(MIN_POINTS, width));
    }

    async loadHistory() {
        const request = ++this.requestCount;
        const { start, end } = this.range;
        if (!this.state.selected.length || !(start < end)) {
            this.state.result = null;
            this.state.loading = false;
            this.state.error = this.state.selected.length
                ? _t("The start of the range must come before its end.")
                : null;
            return;
        }
        this.state.loading = true;
        try {
            const data = await this.haData.api("entity_history", {
                ...this.instanceParams,
                entity_ids: [...this.state.selected],
                start: serializeDateTime(start),
                end: serializeDateTime(end),
                max_points: this.maxPoints,
            });
            if (request !== this.requestCount) {
                return;
            }
            this.state.error = null;
            this.state.result = markRaw(this.resultFrom(data));
        } catch (error) {
            if (!(error instanceof HaApiError)) {
                throw error;
            }
            if (request === this.requestCount) {
                this.state.error = error.message;
                this.state.result = null;
            }
        } finally {
            if (request === this.requestCount) {
                this.state.loading = false;
            }
        }
    }

    resultFrom(data) {
        const series = data.series;
        const recordIds = new Map(this.state.entities.map((e) => [e.entity_id, e.id]));
        return {
            start: deserializeDateTime(data.start),
            end: deserializeDateTime(data.end),
            series,
            // The ha.entity records charted: what the Export menu exports.
            recordIds: series.map((s) => recordIds.get(s.entity_id)).filter(Boolean),
            numericGroups: groupNumericSeries(series).map((group) => ({
                ...group,
                note: resolutionNote(group.series),
            })),
            timelines: series.filter((s) => s.kind === "timeline" && seriesHasData(s)),
            empty: series.filter((s) => !seriesHasData(s)),
        };
    }

    get rangeLabel() {
        const { start, end } = this.state.result || this.range;
        const options = { showSeconds: false };
        return `${formatDateTime(start, options)} – ${formatDateTime(end, options)}`;
    }

    emptySeriesText(series) {
        const entity = this.state.entities.find((e) => e.entity_id === series.entity_id);
        return entity && !entity.record_history
            ? _t("%(name)s (does not record history)", { name: series.name })
            : series.name;
    }

    get hasChartData() {
        const result = this.state.result;
        return Boolean(result && (result.numericGroups.length || result.timelines.length));
    }

    openRecordedStates() {
        // The list's search filters on one entity; with several chosen, it shows them all.
        const chosen = this.state.entities.filter((e) => this.state.selected.includes(e.entity_id));
        this.action.doAction("odoo_ha_addon.ha_entity_history_action", {
            additionalContext:
                chosen.length === 1 ? { search_default_entity_id: chosen[0].id } : {},
        });
    }
}

registry.category("actions").add("odoo_ha_addon.history", HaHistory);
