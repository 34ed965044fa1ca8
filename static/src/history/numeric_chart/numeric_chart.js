import { Component, useEffect, useRef } from "@odoo/owl";
import { cookie } from "@web/core/browser/cookie";
import { useChart } from "../../services/chart_service";
import { numericChartConfig } from "../history_series";

/**
 * One Chart.js line chart: the numeric series that share a unit, over the shown range, with
 * `note` (which statistics it reads, when not the recorded states) above it.
 */
export class HaNumericChart extends Component {
    static template = "odoo_ha_addon.HaNumericChart";
    static props = {
        unit: String,
        series: Array,
        start: Object,
        end: Object,
        note: { type: String, optional: true },
    };

    setup() {
        this.canvasRef = useRef("canvas");
        this.charts = useChart();
        useEffect(
            () => {
                const chart = this.charts.create(
                    this.canvasRef.el,
                    numericChartConfig({
                        unit: this.props.unit,
                        series: this.props.series,
                        start: this.props.start,
                        end: this.props.end,
                        colorScheme: cookie.get("color_scheme"),
                    }),
                );
                return () => this.charts.destroy(chart);
            },
            () => [this.props.unit, this.props.series, this.props.start, this.props.end],
        );
    }
}
