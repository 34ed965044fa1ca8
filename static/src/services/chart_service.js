import { onWillStart, onWillUnmount } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

/**
 * Odoo's own Chart.js and its luxon date adapter (time axes), loaded on demand the way the
 * graph view loads them: nothing is vendored, and the bundle is fetched once per page.
 */
export const CHART_JS_BUNDLE = "web.chartjs_lib";

export class ChartService {
    /** Resolves once the global `Chart` and its time axis adapter are available. */
    load() {
        return loadBundle(CHART_JS_BUNDLE);
    }

    /**
     * A new chart on `canvas`. Chart.js must have been loaded (`await load()`, which
     * `useChart` does before the component first renders).
     */
    create(canvas, config) {
        if (typeof Chart === "undefined") {
            throw new Error("Chart.js is not loaded yet: await the chart service's load() first.");
        }
        return new Chart(canvas, config);
    }

    destroy(chart) {
        chart?.destroy();
    }
}

export const chartService = {
    start() {
        return new ChartService();
    },
};

registry.category("services").add("chart", chartService);

/**
 * Charts owned by the calling component: Chart.js is loaded before its first render and
 * every chart it created is destroyed when it unmounts.
 *
 * @returns {{ create(canvas: HTMLCanvasElement, config: Object): Object,
 *             destroy(chart: Object): void, destroyAll(): void }}
 */
export function useChart() {
    const service = useService("chart");
    const charts = new Set();
    const owned = {
        create(canvas, config) {
            const chart = service.create(canvas, config);
            charts.add(chart);
            return chart;
        },
        destroy(chart) {
            charts.delete(chart);
            service.destroy(chart);
        },
        destroyAll() {
            for (const chart of charts) {
                service.destroy(chart);
            }
            charts.clear();
        },
    };
    onWillStart(() => service.load());
    onWillUnmount(() => owned.destroyAll());
    return owned;
}
