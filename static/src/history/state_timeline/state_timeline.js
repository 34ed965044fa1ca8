import { Component } from "@odoo/owl";
import { cookie } from "@web/core/browser/cookie";
import { formatDateTime } from "@web/core/l10n/dates";
import { timelineRows } from "../history_series";

// Time labels under the timelines: the range's start, its quarters and its end.
const AXIS_TICKS = [0, 25, 50, 75, 100];

/** A horizontal bar per discrete entity: one coloured block per state it was in. */
export class HaStateTimeline extends Component {
    static template = "odoo_ha_addon.HaStateTimeline";
    static props = {
        series: Array,
        start: Object,
        end: Object,
    };

    get rows() {
        return timelineRows(
            this.props.series,
            this.props.start,
            this.props.end,
            cookie.get("color_scheme"),
        );
    }

    get ticks() {
        const start = this.props.start.toMillis();
        const span = this.props.end.toMillis() - start;
        return AXIS_TICKS.map((percent) => ({
            percent,
            label: formatDateTime(luxon.DateTime.fromMillis(start + (span * percent) / 100), {
                showSeconds: false,
            }),
        }));
    }

    segmentStyle(segment) {
        const style = `left: ${segment.left}%; width: ${segment.width}%;`;
        return segment.color ? `${style} background-color: ${segment.color};` : style;
    }
}
