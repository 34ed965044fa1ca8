import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { describe, expect, test } from "@odoo/hoot";
import { queryAll, queryAllAttributes, queryAllTexts, queryOne } from "@odoo/hoot-dom";
import { animationFrame, mockDate } from "@odoo/hoot-mock";
import { setupChartJsForTests } from "@web/../tests/views/graph/graph_test_helpers";
import {
    contains,
    mountWithCleanup,
    onRpc,
    patchTranslations,
    patchWithCleanup,
} from "@web/../tests/web_test_helpers";
import { deserializeDateTime, serializeDateTime } from "@web/core/l10n/dates";
import { download } from "@web/core/network/download";
import { user } from "@web/core/user";
import { HaHistory } from "@odoo_ha_addon/history/history";
import { exportChoices } from "@odoo_ha_addon/history/history_export/history_export";
import { groupNumericSeries, resolutionNote } from "@odoo_ha_addon/history/history_series";

const { DateTime } = luxon;

describe.current.tags("desktop");
defineMailModels();
setupChartJsForTests();

const NOW = "2024-05-01 12:00:00";

const ENTITIES = [
    {
        id: 1,
        entity_id: "sensor.kitchen_temperature",
        name: "Kitchen temperature",
        domain: "sensor",
        unit: "°C",
    },
    {
        id: 2,
        entity_id: "sensor.living_temperature",
        name: "Living temperature",
        domain: "sensor",
        unit: "°C",
    },
    { id: 3, entity_id: "sensor.humidity", name: "Humidity", domain: "sensor", unit: "%" },
    { id: 4, entity_id: "binary_sensor.door", name: "Door", domain: "binary_sensor", unit: null },
    {
        id: 5,
        entity_id: "light.hall",
        name: "Hall light",
        domain: "light",
        unit: null,
        record_history: false,
    },
].map(({ unit, record_history = true, ...entity }) => ({
    ...entity,
    state: "1",
    attributes: {},
    unit_of_measurement: unit,
    last_changed: null,
    last_updated: null,
    area_id: null,
    device_id: null,
    record_history,
    can_control: false,
}));

function iso(serverDateTime, offsetSeconds = 0) {
    return deserializeDateTime(serverDateTime)
        .plus({ seconds: offsetSeconds })
        .toUTC()
        .toISO({ suppressMilliseconds: true });
}

function seconds(serverDateTime) {
    return deserializeDateTime(serverDateTime).toSeconds();
}

/**
 * Series the way the entity_history route returns them, over the requested range; numeric
 * ones read `resolution` ("raw" by default).
 */
function seriesFor(entityId, start, end, resolution = "raw") {
    const entity = ENTITIES.find((e) => e.entity_id === entityId);
    const base = {
        entity_id: entityId,
        name: entity.name,
        unit: entity.unit_of_measurement,
        resolution: "raw",
        bucket_seconds: 60,
    };
    if (entityId === "light.hall") {
        return { ...base, kind: "timeline", segments: [] };
    }
    if (entity.domain === "binary_sensor") {
        const middle = (seconds(end) - seconds(start)) / 2;
        return {
            ...base,
            kind: "timeline",
            segments: [
                { state: "off", start: iso(start), end: iso(start, middle) },
                { state: "on", start: iso(start, middle), end: iso(end) },
            ],
        };
    }
    const offset = entity.id;
    return {
        ...base,
        resolution,
        kind: "numeric",
        points: [
            { t: iso(start), min: 18 + offset, max: 20 + offset, avg: 19 + offset, count: 4 },
            { t: iso(start, 60), min: 19 + offset, max: 21 + offset, avg: 20 + offset, count: 3 },
        ],
    };
}

/**
 * Mocks the routes the History action calls; returns the entity_history requests.
 * `resolutions` gives the resolution of numeric series by entity_id.
 */
function mockHistoryRoutes({ emptyHistory = false, resolutions = {} } = {}) {
    const requests = [];
    onRpc("/odoo_ha_addon/entities", () => ({
        success: true,
        data: {
            instance: { id: 1, name: "Home", status: "connected" },
            areas: [],
            entities: ENTITIES,
            can_manage: false,
        },
        error: null,
        error_type: null,
    }));
    onRpc("/odoo_ha_addon/entity_history", async (request) => {
        const { params } = await request.json();
        requests.push(params);
        const series = params.entity_ids.map((entityId) => {
            const series = seriesFor(entityId, params.start, params.end, resolutions[entityId]);
            return emptyHistory ? { ...series, points: [], segments: [] } : series;
        });
        return {
            success: true,
            data: { start: params.start, end: params.end, series },
            error: null,
            error_type: null,
        };
    });
    return requests;
}

async function mountHistory(params = {}) {
    await mountWithCleanup(HaHistory, { props: { action: { params } } });
    await animationFrame();
}

function chartDatasets(chartEl) {
    return Chart.getChart(chartEl.querySelector("canvas")).data.datasets;
}

test("asks to choose entities, and requests nothing, when none is chosen", async () => {
    const requests = mockHistoryRoutes();
    await mountHistory();
    expect(".o_ha_history_no_entity").toHaveCount(1);
    expect(".o_ha_numeric_chart").toHaveCount(0);
    expect(requests).toHaveLength(0);
});

test("numeric series: one chart per unit, each entity an average line with a min/max band", async () => {
    mockDate(NOW);
    const requests = mockHistoryRoutes();
    await mountHistory({
        entity_ids: ["sensor.kitchen_temperature", "sensor.living_temperature", "sensor.humidity"],
        ha_instance_id: 1,
    });
    expect(requests).toHaveLength(1);
    expect(requests[0].ha_instance_id).toBe(1);
    expect(requests[0].entity_ids).toEqual([
        "sensor.kitchen_temperature",
        "sensor.living_temperature",
        "sensor.humidity",
    ]);
    expect(requests[0].max_points).toBeWithin(10, 2000);

    expect(".o_ha_numeric_chart").toHaveCount(2);
    expect(queryAllAttributes(".o_ha_numeric_chart", "data-unit")).toEqual(["°C", "%"]);
    const [temperatures, humidity] = queryAll(".o_ha_numeric_chart");

    const datasets = chartDatasets(temperatures);
    expect(datasets.map((d) => d.role)).toEqual(["avg", "min", "max", "avg", "min", "max"]);
    expect(datasets.filter((d) => d.role === "avg").map((d) => d.label)).toEqual([
        "Kitchen temperature",
        "Living temperature",
    ]);
    expect(datasets[0].data.map((point) => point.y)).toEqual([20, 21]);
    expect(datasets[1].data.map((point) => point.y)).toEqual([19, 20]);
    expect(datasets[2].data.map((point) => point.y)).toEqual([21, 22]);
    expect(datasets[2].fill).toBe("-1");
    expect(datasets[0].data[0].x).toBe(deserializeDateTime(requests[0].start).toMillis());

    const chart = Chart.getChart(temperatures.querySelector("canvas"));
    expect(chart.options.scales.y.title.text).toBe("°C");
    expect(chart.options.scales.x.type).toBe("time");
    expect(
        chartDatasets(humidity)
            .filter((d) => d.role === "avg")
            .map((d) => d.label),
    ).toEqual(["Humidity"]);
    expect(".o_ha_history_no_data").toHaveCount(0);
    expect(".o_ha_resolution_note").toHaveCount(0);
});

test("discrete series: a timeline with one block per state", async () => {
    mockDate(NOW);
    mockHistoryRoutes();
    await mountHistory({ entity_ids: ["binary_sensor.door"] });
    expect(".o_ha_numeric_chart").toHaveCount(0);
    expect(".o_ha_timeline_row").toHaveCount(1);
    expect(".o_ha_timeline_row .o_ha_timeline_name").toHaveText("Door");
    expect(queryAllAttributes(".o_ha_timeline_segment", "data-state")).toEqual(["off", "on"]);
    expect(queryAllTexts(".o_ha_timeline_segment")).toEqual(["Off", "On"]);
    const [off, on] = queryAll(".o_ha_timeline_segment");
    expect(off.style.left).toBe("0%");
    expect(off.style.width).toBe("50%");
    expect(on.style.left).toBe("50%");
    expect(on.style.width).toBe("50%");
});

test("the presets change the requested range", async () => {
    mockDate(NOW);
    const requests = mockHistoryRoutes();
    await mountHistory({ entity_ids: ["sensor.humidity"] });
    const span = (request) => seconds(request.end) - seconds(request.start);
    expect(requests).toHaveLength(1);
    expect(span(requests[0])).toBe(24 * 3600);
    expect(".o_ha_preset[data-preset='24h']").toHaveClass("active");

    await contains(".o_ha_preset[data-preset='1h']").click();
    expect(requests).toHaveLength(2);
    expect(span(requests[1])).toBe(3600);
    expect(".o_ha_preset[data-preset='1h']").toHaveClass("active");

    await contains(".o_ha_preset[data-preset='7d']").click();
    expect(requests).toHaveLength(3);
    expect(span(requests[2])).toBe(7 * 24 * 3600);

    await contains(".o_ha_preset[data-preset='custom']").click();
    expect(".o_ha_custom_range .o_datetime_input").toHaveCount(2);
    expect(span(requests.at(-1))).toBe(7 * 24 * 3600);

    const count = requests.length;
    await contains("#o_ha_history_start").edit("04/30/2024 06:00:00");
    expect(requests).toHaveLength(count + 1);
    expect(requests.at(-1).start).toBe(
        serializeDateTime(DateTime.fromFormat("2024-04-30 06:00:00", "yyyy-MM-dd HH:mm:ss")),
    );
    expect(requests.at(-1).end).toBe(requests.at(-2).end);
});

test("choosing an entity in the picker loads its history", async () => {
    mockDate(NOW);
    const requests = mockHistoryRoutes();
    await mountHistory();
    await contains(".o_ha_entity_picker .o_select_menu_toggler").click();
    await contains(".o_select_menu_item:contains(Door)").click();
    expect(requests).toHaveLength(1);
    expect(requests[0].entity_ids).toEqual(["binary_sensor.door"]);
    expect(".o_ha_timeline_segment").toHaveCount(2);
});

test("says so when the range holds no data", async () => {
    mockDate(NOW);
    mockHistoryRoutes({ emptyHistory: true });
    await mountHistory({ entity_ids: ["sensor.humidity", "light.hall"] });
    expect(".o_ha_numeric_chart").toHaveCount(0);
    expect(".o_ha_history_no_data").toHaveCount(1);
    expect(queryAllTexts(".o_ha_history_no_data .o_ha_history_empty_entity")).toEqual([
        "Humidity",
        "Hall light (does not record history)",
    ]);
});

test("an entity without data is named next to the charts of the others", async () => {
    mockDate(NOW);
    mockHistoryRoutes();
    await mountHistory({ entity_ids: ["sensor.humidity", "light.hall"] });
    expect(".o_ha_numeric_chart").toHaveCount(1);
    expect(queryOne(".o_ha_history_partial")).toHaveText(/Hall light/);
});

test("groupNumericSeries keeps the order in which units appear and skips empty series", () => {
    const series = [
        { entity_id: "a", unit: "W", kind: "numeric", points: [{}] },
        { entity_id: "b", unit: null, kind: "numeric", points: [{}] },
        { entity_id: "c", unit: "W", kind: "numeric", points: [{}] },
        { entity_id: "d", unit: "kWh", kind: "numeric", points: [] },
        { entity_id: "e", unit: null, kind: "timeline", segments: [{}] },
    ];
    expect(
        groupNumericSeries(series).map((group) => [
            group.unit,
            group.series.map((s) => s.entity_id),
        ]),
    ).toEqual([
        ["W", ["a", "c"]],
        ["", ["b"]],
    ]);
});

test("a chart reading statistics says which", async () => {
    mockDate(NOW);
    mockHistoryRoutes({
        resolutions: { "sensor.humidity": "hour", "sensor.kitchen_temperature": "5minute" },
    });
    await mountHistory({
        entity_ids: ["sensor.kitchen_temperature", "sensor.living_temperature", "sensor.humidity"],
    });
    const [temperatures, humidity] = queryAll(".o_ha_numeric_chart");
    expect(humidity.querySelector(".o_ha_resolution_note")).toHaveText("Hourly statistics");
    expect(temperatures.querySelector(".o_ha_resolution_note")).toHaveText(
        "5-minute statistics: Kitchen temperature",
    );
});

test("resolutionNote names the statistics of a chart, and their entities when mixed", () => {
    patchTranslations();
    const series = (name, resolution) => ({ name, resolution, kind: "numeric" });
    expect(resolutionNote([series("A", "raw"), series("B", "raw")])).toBe("");
    expect(resolutionNote([series("A", "5minute"), series("B", "5minute")])).toBe(
        "5-minute statistics",
    );
    expect(resolutionNote([series("A", "raw"), series("B", "hour")])).toBe("Hourly statistics: B");
});

test("exportChoices: statistics of the period shown, both periods over recorded states", () => {
    patchTranslations();
    const numeric = (resolution) => ({ kind: "numeric", resolution });
    const timeline = { kind: "timeline", resolution: "raw" };
    const ids = (series) => exportChoices(series).map((choice) => choice.id);
    expect(ids([numeric("raw"), timeline])).toEqual(["raw", "5minute", "hour"]);
    expect(ids([numeric("hour"), timeline])).toEqual(["raw", "hour"]);
    expect(ids([numeric("raw"), numeric("5minute")])).toEqual(["raw", "5minute"]);
    expect(ids([timeline])).toEqual(["raw"]);
});

/** Opens the Export menu and picks `choice` in `format`; returns what `download` got. */
async function exportAs(choice, format) {
    const downloads = [];
    patchWithCleanup(download, {
        _download: (options) => {
            downloads.push({ url: options.url, payload: JSON.parse(options.data.data) });
        },
    });
    await contains(".o_ha_history_export").click();
    await contains(
        `.o_ha_export_choice[data-export='${choice}'] .o_ha_export_format[data-format='${format}']`,
    ).click();
    expect(downloads).toHaveLength(1);
    return downloads[0];
}

test("Export of recorded states: Odoo's CSV export of the shown entities and range", async () => {
    mockDate(NOW);
    const requests = mockHistoryRoutes();
    await mountHistory({ entity_ids: ["sensor.humidity", "binary_sensor.door"] });
    await contains(".o_ha_history_export").click();
    expect(queryAllAttributes(".o_ha_export_choice", "data-export")).toEqual([
        "raw",
        "5minute",
        "hour",
    ]);
    expect(queryAllTexts(".o_ha_export_choice[data-export='raw'] .o_ha_export_format")).toEqual([
        "CSV",
        "Excel",
    ]);
    await contains(".o_ha_history_export").click();

    const { url, payload } = await exportAs("raw", "csv");
    expect(url).toBe("/web/export/csv");
    expect(payload).toEqual({
        import_compat: false,
        context: user.context,
        domain: [
            ["entity_id", "in", [3, 4]],
            ["last_updated", ">=", requests[0].start],
            ["last_updated", "<", requests[0].end],
        ],
        fields: [
            { name: "entity_id", label: "Entity", store: true, type: "many2one" },
            { name: "last_updated", label: "Last Updated", store: true, type: "datetime" },
            { name: "state", label: "State", store: true, type: "char" },
            { name: "num_value", label: "Value", store: true, type: "float" },
            { name: "is_numeric", label: "Has Value", store: true, type: "boolean" },
            { name: "unit", label: "Unit", store: true, type: "char" },
        ],
        groupby: [],
        ids: false,
        model: "ha.entity.history",
    });
});

test("Export of statistics: the shown period's, from the start of its first period", async () => {
    mockDate(NOW);
    const requests = mockHistoryRoutes({ resolutions: { "sensor.humidity": "hour" } });
    await mountHistory({ entity_ids: ["sensor.humidity"] });
    await contains(".o_ha_history_export").click();
    expect(queryAllAttributes(".o_ha_export_choice", "data-export")).toEqual(["raw", "hour"]);
    expect(queryAllTexts(".o_ha_export_label")).toEqual(["Recorded states", "Hourly statistics"]);
    await contains(".o_ha_history_export").click();

    const { url, payload } = await exportAs("hour", "xlsx");
    expect(url).toBe("/web/export/xlsx");
    const hourStart = deserializeDateTime(requests[0].start).toUTC().startOf("hour");
    expect(payload.model).toBe("ha.entity.history.rollup");
    expect(payload.domain).toEqual([
        ["entity_id", "in", [3]],
        ["period", "=", "hour"],
        ["start", ">=", serializeDateTime(hourStart)],
        ["start", "<", requests[0].end],
    ]);
    expect(payload.fields.map((field) => field.name)).toEqual([
        "entity_id",
        "period",
        "start",
        "minimum",
        "maximum",
        "mean",
        "state_count",
        "unit",
    ]);
    expect(payload.import_compat).toBe(false);
});

test("Export waits for a chart to export", async () => {
    mockHistoryRoutes();
    await mountHistory();
    expect(".o_ha_history_export").toHaveCount(1);
    expect(".o_ha_history_export").not.toBeEnabled();
});

test("no Export for users who may not export", async () => {
    mockDate(NOW);
    onRpc("has_group", ({ args }) => args[1] !== "base.group_allow_export");
    mockHistoryRoutes();
    await mountHistory({ entity_ids: ["sensor.humidity"] });
    expect(".o_ha_numeric_chart").toHaveCount(1);
    expect(".o_ha_history_export").toHaveCount(0);
});
