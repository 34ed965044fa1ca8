// Home Assistant's named label colours (its frontend's theme variables), as CSS colours.
const HA_COLORS = {
    primary: "#03a9f4",
    accent: "#ff9800",
    red: "#f44336",
    pink: "#e91e63",
    purple: "#926bc7",
    "deep-purple": "#6e41ab",
    indigo: "#3f51b5",
    blue: "#2196f3",
    "light-blue": "#03a9f4",
    cyan: "#00bcd4",
    teal: "#009688",
    green: "#4caf50",
    "light-green": "#8bc34a",
    lime: "#cddc39",
    yellow: "#ffeb3b",
    amber: "#ffc107",
    orange: "#ff9800",
    "deep-orange": "#ff6f22",
    brown: "#795548",
    "light-grey": "#bdbdbd",
    grey: "#9e9e9e",
    "dark-grey": "#606060",
    "blue-grey": "#607d8b",
    black: "#000000",
    white: "#ffffff",
};
const HEX_COLOR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

/**
 * The CSS colour of a Home Assistant label colour (a theme colour name or #RRGGBB), or null:
 * anything else is never put into a style attribute.
 */
export function labelColor(color) {
    if (!color) {
        return null;
    }
    if (HEX_COLOR.test(color)) {
        return color;
    }
    return Object.hasOwn(HA_COLORS, color) ? HA_COLORS[color] : null;
}
