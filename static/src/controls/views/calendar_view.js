import { Component } from "@odoo/owl";
import { formatDate, formatDateTime } from "@web/core/l10n/dates";
import { localization } from "@web/core/l10n/localization";

import { VIEW_PROPS, entityParams, useEntityRoute } from "./route_data";

const { DateTime } = luxon;

// What a card shows of a calendar: the next events of this many days, at most this many.
export const CALENDAR_DAYS = 7;
export const CALENDAR_EVENTS_SHOWN = 5;

/**
 * When an event takes place, in the user's format and time zone. All-day events come as
 * dates, their end excluded (an event of May 6 ends on May 7).
 */
export function eventWhen(event) {
    if (event.all_day) {
        const start = DateTime.fromISO(event.start);
        const last = DateTime.fromISO(event.end || event.start).minus({ days: 1 });
        if (!start.isValid) {
            return "";
        }
        return last.isValid && last > start
            ? `${formatDate(start)} – ${formatDate(last)}`
            : formatDate(start);
    }
    const start = DateTime.fromISO(event.start, { setZone: true }).setZone("default");
    const end = DateTime.fromISO(event.end || "", { setZone: true }).setZone("default");
    if (!start.isValid) {
        return "";
    }
    const from = formatDateTime(start, { showSeconds: false });
    if (!end.isValid) {
        return from;
    }
    const to = end.hasSame(start, "day")
        ? end.toFormat(localization.shortTimeFormat)
        : formatDateTime(end, { showSeconds: false });
    return `${from} – ${to}`;
}

/** A calendar's next events (route calendar_events). */
export class CalendarView extends Component {
    static template = "odoo_ha_addon.CalendarView";
    static props = VIEW_PROPS;

    setup() {
        this.events = useEntityRoute(
            "calendar_events",
            (props) => entityParams(props, { days: CALENDAR_DAYS }),
            // The entity's state and attributes follow its current or next event.
            (props) =>
                `${props.entity.state}|${props.entity.attributes?.message || ""}|` +
                `${props.entity.attributes?.start_time || ""}`,
        );
        this.eventWhen = eventWhen;
    }

    get shown() {
        return (this.events.state.data?.events || []).slice(0, CALENDAR_EVENTS_SHOWN);
    }
}
