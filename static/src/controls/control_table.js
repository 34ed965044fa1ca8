import { alarm_control_panel, cover, lock, valve } from "./table/openings";
import { automation, light, pressButton, scene, script, siren, update } from "./table/basics";
import { climate, fan, humidifier, water_heater } from "./table/comfort";
import { lawn_mower, media_player, vacuum } from "./table/appliances";
import {
    date,
    datetime,
    input_datetime,
    input_number,
    number,
    select,
    text,
    time,
    todo,
} from "./table/values";
import { onOffEntry } from "./control_builders";

/**
 * The one table of Home Assistant entity controls, by domain, shared by every place that
 * renders an entity (dashboard cards, kanban cards, field widgets, the portal). Its entries
 * are written by family in table/*.js; policy/services.py allows exactly the service calls
 * they make, with the data they send (a browser test holds the two equal).
 *
 * A domain entry has
 * - ``actions``: name -> {service, data?, patch?, success?}. ``service`` and ``data`` (the
 *   service_data) may be functions of (entity, value); ``patch(entity, value)`` is the
 *   optimistic {state?, attributes?} shown until Home Assistant answers; ``success`` is a
 *   notification for actions whose effect does not show in the entity's state.
 * - ``controls``: the inputs, in display order: {kind, action, label?, icon?, primary?,
 *   when?, value?, min?, max?, step?, unit?, options?, placeholder?, password?, pattern?,
 *   numeric?, sends?, field?, disabled?}; every property but kind, action and field may be a
 *   function of the entity. Kinds: switch, button, range, number, select, color, text (min
 *   and max are its length), date, time, datetime, and secret: an input that calls nothing
 *   and keeps what is typed as ``field``, which a button that ``sends`` it passes as its
 *   value (an alarm code). ``primary`` controls are the ones a compact rendering keeps.
 * - ``readOnly: true`` for domains that only show a value (some with a view of their own:
 *   camera, calendar, weather; see domain_controls.js).
 * Domains not in the table are read only.
 */
export const DOMAIN_CONTROLS = {
    light,
    switch: onOffEntry,
    input_boolean: onOffEntry,
    remote: onOffEntry,
    siren,
    fan,
    climate,
    water_heater,
    humidifier,
    cover,
    valve,
    lock,
    alarm_control_panel,
    media_player,
    scene,
    script,
    automation,
    button: pressButton,
    input_button: pressButton,
    update,
    number,
    input_number,
    select,
    input_select: select,
    text,
    input_text: text,
    date,
    time,
    datetime,
    input_datetime,
    todo,
    vacuum,
    lawn_mower,
    sensor: { readOnly: true },
    binary_sensor: { readOnly: true },
    person: { readOnly: true },
    device_tracker: { readOnly: true },
    event: { readOnly: true },
    camera: { readOnly: true },
    calendar: { readOnly: true },
    weather: { readOnly: true },
};
