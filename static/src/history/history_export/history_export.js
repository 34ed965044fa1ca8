import { Component, onWillStart } from "@odoo/owl";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { DropdownItem } from "@web/core/dropdown/dropdown_item";
import { _t } from "@web/core/l10n/translation";
import { serializeDateTime } from "@web/core/l10n/dates";
import { download } from "@web/core/network/download";
import { user } from "@web/core/user";
import { STATISTICS_LABELS } from "../history_series";

const { DateTime } = luxon;

export const EXPORT_FORMATS = [
    { id: "csv", label: _t("CSV") },
    { id: "xlsx", label: _t("Excel") },
];
const STATISTICS_PERIODS = ["5minute", "hour"];
const PERIOD_SECONDS = { "5minute": 300, hour: 3600 };

const RECORDED_STATES_FIELDS = [
    { name: "entity_id", label: _t("Entity"), type: "many2one" },
    { name: "last_updated", label: _t("Last Updated"), type: "datetime" },
    { name: "state", label: _t("State"), type: "char" },
    { name: "num_value", label: _t("Value"), type: "float" },
    // An 'unavailable' state has no value: its Value column reads 0, this one says so.
    { name: "is_numeric", label: _t("Has Value"), type: "boolean" },
    { name: "unit", label: _t("Unit"), type: "char" },
];
const STATISTICS_FIELDS = [
    { name: "entity_id", label: _t("Entity"), type: "many2one" },
    { name: "period", label: _t("Period"), type: "selection" },
    { name: "start", label: _t("Start"), type: "datetime" },
    { name: "minimum", label: _t("Minimum"), type: "float" },
    { name: "maximum", label: _t("Maximum"), type: "float" },
    { name: "mean", label: _t("Mean"), type: "float" },
    { name: "state_count", label: _t("States"), type: "integer" },
    { name: "unit", label: _t("Unit"), type: "char" },
];

/**
 * What the chart of `seriesList` can be exported as: its recorded states, and for numeric
 * series the statistics it reads (both periods when it reads the recorded states).
 */
export function exportChoices(seriesList) {
    const choices = [{ id: "raw", label: _t("Recorded states") }];
    if (!seriesList.some((series) => series.kind === "numeric")) {
        return choices;
    }
    const shown = new Set(seriesList.map((series) => series.resolution));
    const periods = STATISTICS_PERIODS.filter((period) => shown.has(period));
    for (const period of periods.length ? periods : STATISTICS_PERIODS) {
        choices.push({ id: period, label: STATISTICS_LABELS[period] });
    }
    return choices;
}

/** The start of the `period` that holds `dateTime`, as the route reads statistics from. */
function periodFloor(dateTime, period) {
    const periodMs = PERIOD_SECONDS[period] * 1000;
    return DateTime.fromMillis(Math.floor(dateTime.toMillis() / periodMs) * periodMs);
}

/**
 * The arguments of `download` that export, through Odoo's own /web/export routes, the `choice`
 * ("raw" or a statistics period) of the ha.entity records `entityIds` over [start, end): the
 * server's ORM and record rules decide which rows leave, as for a list view's export.
 */
export function exportRequest({ choice, format, entityIds, start, end, context }) {
    let model, fields, domain;
    if (choice === "raw") {
        model = "ha.entity.history";
        fields = RECORDED_STATES_FIELDS;
        domain = [
            ["entity_id", "in", entityIds],
            ["last_updated", ">=", serializeDateTime(start)],
            ["last_updated", "<", serializeDateTime(end)],
        ];
    } else {
        model = "ha.entity.history.rollup";
        fields = STATISTICS_FIELDS;
        domain = [
            ["entity_id", "in", entityIds],
            ["period", "=", choice],
            ["start", ">=", serializeDateTime(periodFloor(start, choice))],
            ["start", "<", serializeDateTime(end)],
        ];
    }
    return {
        url: `/web/export/${format}`,
        data: {
            data: JSON.stringify({
                import_compat: false,
                context,
                domain,
                fields: fields.map(({ name, label, type }) => ({
                    name,
                    label: String(label),
                    store: true,
                    type,
                })),
                groupby: [],
                ids: false,
                model,
            }),
        },
    };
}

/**
 * The Export menu of the History action: the shown entities over the shown range, as recorded
 * states or statistics, in CSV or Excel. Shown to the users Odoo lets export
 * (base.group_allow_export), like the list view's own Export.
 */
export class HaHistoryExport extends Component {
    static template = "odoo_ha_addon.HaHistoryExport";
    static components = { Dropdown, DropdownItem };
    static props = {
        entityIds: { type: Array, element: Number },
        series: Array,
        start: { type: Object, optional: true },
        end: { type: Object, optional: true },
    };

    setup() {
        this.formats = EXPORT_FORMATS;
        this.canExport = false;
        onWillStart(async () => {
            this.canExport = await user.hasGroup("base.group_allow_export");
        });
    }

    get disabled() {
        return !this.props.entityIds.length || !this.props.start || !this.props.end;
    }

    get choices() {
        return exportChoices(this.props.series);
    }

    async export(choice, format) {
        await download(
            exportRequest({
                choice,
                format,
                entityIds: this.props.entityIds,
                start: this.props.start,
                end: this.props.end,
                context: user.context,
            }),
        );
    }
}
