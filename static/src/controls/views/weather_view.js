import { Component } from "@odoo/owl";

import { attr, supports } from "../entity_attributes";
import { formatNumber, labelOf } from "../entity_values";
import { VIEW_PROPS, entityParams, useEntityRoute } from "./route_data";

const { DateTime } = luxon;

// WeatherEntityFeature.FORECAST_DAILY: entities without it have no daily forecast to ask.
const FORECAST_DAILY = 1;
export const FORECAST_DAYS_SHOWN = 5;

/** Read the daily forecast only of an entity that has one. */
class DailyForecast extends Component {
    static template = "odoo_ha_addon.WeatherForecast";
    static props = VIEW_PROPS;

    setup() {
        this.forecast = useEntityRoute(
            "weather_forecast",
            (props) => entityParams(props, { type: "daily" }),
            (props) => `${props.entity.state}|${props.entity.last_updated || ""}`,
        );
    }

    get days() {
        const entity = this.props.entity;
        const unit = attr(entity, "temperature_unit") || "°";
        return (this.forecast.state.data?.forecast || [])
            .slice(0, FORECAST_DAYS_SHOWN)
            .map((entry) => {
                // The day of the forecast's own zone: converted to the user's, a midnight there
                // could fall on the day before.
                const day = DateTime.fromISO(entry.datetime || "", { setZone: true });
                const high = formatNumber(entry.temperature, unit);
                const low =
                    typeof entry.templow === "number" ? formatNumber(entry.templow, unit) : "";
                return {
                    key: entry.datetime,
                    day: day.isValid ? day.toFormat("ccc") : "",
                    condition: labelOf(entry.condition),
                    temperatures: low ? `${high} / ${low}` : high,
                };
            });
    }
}

/** A weather entity's short daily forecast (route weather_forecast); its current condition
 * and temperature are its value, shown above. */
export class WeatherView extends Component {
    static template = "odoo_ha_addon.WeatherView";
    static components = { DailyForecast };
    static props = VIEW_PROPS;

    get hasDailyForecast() {
        return supports(this.props.entity, FORECAST_DAILY);
    }
}
