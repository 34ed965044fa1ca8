import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { click, edit, queryAll, queryAllTexts, queryOne, select } from "@odoo/hoot-dom";
import { advanceTime, animationFrame, mockTimeZone } from "@odoo/hoot-mock";
import { Component, xml } from "@odoo/owl";
import { makeMockEnv, mockService, mountWithCleanup, onRpc } from "@web/../tests/web_test_helpers";

import { EntityControl } from "@odoo_ha_addon/controls/domain_controls";
import { makeEntity } from "@odoo_ha_addon/../tests/helpers/entities";
import { CAMERA_REFRESH_MS } from "@odoo_ha_addon/controls/views/camera_view";

// EntityControl with the inputs and views of the domains: what people do in the page and
// the service call or route request it makes.

describe.current.tags("headless");
defineMailModels();

/** Mount EntityControl for ``entity`` of instance 1 (not held by ha_data). */
async function mountEntity(entity, { compact = false } = {}) {
    class Parent extends Component {
        static template = xml`<EntityControl entity="entity" instanceId="1" compact="compact"/>`;
        static components = { EntityControl };
        static props = {};
        setup() {
            this.entity = entity;
            this.compact = compact;
        }
    }
    await makeMockEnv();
    await mountWithCleanup(Parent);
    await animationFrame();
}

/** Set an input's value as a date or time picker does, and let it change. */
async function pick(selector, value) {
    const input = queryOne(selector);
    input.value = value;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    await animationFrame();
}

let routeResults;

beforeEach(() => {
    routeResults = {};
    onRpc("/odoo_ha_addon/call_service", async (request) => {
        const { params } = await request.json();
        expect.step(
            `${params.domain}.${params.service} ${params.entity_id} ${JSON.stringify(
                params.service_data,
            )} @${params.ha_instance_id ?? "-"}`,
        );
        return { success: true, data: {} };
    });
    for (const route of ["todo_items", "calendar_events", "weather_forecast"]) {
        onRpc(`/odoo_ha_addon/${route}`, async (request) => {
            const { params } = await request.json();
            expect.step(`${route} ${JSON.stringify(params)}`);
            return routeResults[route] || { success: true, data: {} };
        });
    }
    mockService("notification", {
        add(message, options = {}) {
            expect.step(`notify:${options.type}:${message}`);
            return () => {};
        },
    });
});

describe("inputs", () => {
    test("an alarm code typed in goes with the arm button, and only once", async () => {
        await mountEntity(
            makeEntity("alarm_control_panel.security", "disarmed", {
                code_format: "number",
                supported_features: 63,
            }),
        );
        expect("[data-field=code] input[type=password]").toHaveAttribute("inputmode", "numeric");
        expect("button[data-action]").toHaveCount(6);
        expect("[data-action=disarmed]").toHaveAttribute("disabled");
        await click("[data-field=code] input");
        await edit("1234");
        await click("[data-action=armed_home]");
        await animationFrame();
        expect.verifySteps([
            'alarm_control_panel.alarm_arm_home alarm_control_panel.security {"code":"1234"} @1',
        ]);
        expect(".o_ha_entity_value").toHaveText("Arming");
        expect("[data-field=code] input").toHaveValue("");
    });

    test("a text is sent when confirmed, within its length", async () => {
        await mountEntity(
            makeEntity("text.text_with_1_to_5_characters", "Hello", {
                mode: "text",
                min: 1,
                max: 5,
            }),
        );
        expect("[data-action=set_value] input").toHaveAttribute("maxlength", "5");
        await click("[data-action=set_value] input");
        await edit("abc", { confirm: "enter" });
        await animationFrame();
        expect.verifySteps(['text.set_value text.text_with_1_to_5_characters {"value":"abc"} @1']);
        expect(".o_ha_entity_value").toHaveText("abc");
        // Emptied: shorter than its minimum, put back and not sent.
        await pick("[data-action=set_value] input", "");
        expect.verifySteps([]);
        expect("[data-action=set_value] input").toHaveValue("abc");
    });

    test("a password text shows masked and is typed in a password input", async () => {
        await mountEntity(makeEntity("text.password", "secret", { mode: "password", max: 255 }));
        expect(".o_ha_entity_value").toHaveText("••••••");
        expect("[data-action=set_value] input").toHaveAttribute("type", "password");
        expect("[data-action=set_value] input").toHaveValue("");
        await pick("[data-action=set_value] input", "n3w");
        expect.verifySteps(['text.set_value text.password {"value":"n3w"} @1']);
    });

    test("date, time and datetime pickers send ISO values, the datetime with its offset", async () => {
        mockTimeZone(+2);
        await mountEntity(makeEntity("datetime.date_and_time", "2020-01-01T12:00:00+00:00"));
        expect(".o_ha_entity_value").toHaveText("01/01/2020 14:00");
        // (toHaveValue reads a datetime-local input's valueAsDate, which browsers leave null.)
        expect(queryOne("[data-action=set_value] input[type=datetime-local]").value).toBe(
            "2020-01-01T14:00",
        );
        await pick("[data-action=set_value] input", "2024-05-06T08:30");
        expect.verifySteps([
            'datetime.set_value datetime.date_and_time {"datetime":"2024-05-06T08:30:00+02:00"} @1',
        ]);
    });

    test("a time picker sends seconds", async () => {
        await mountEntity(makeEntity("time.time", "12:00:00"));
        expect("[data-action=set_value] input[type=time]").toHaveAttribute("step", "1");
        await pick("[data-action=set_value] input", "08:30");
        expect.verifySteps(['time.set_value time.time {"time":"08:30:00"} @1']);
        expect(".o_ha_entity_value").toHaveText("08:30");
    });

    test("a date picker", async () => {
        await mountEntity(makeEntity("date.date", "2020-01-01"));
        await pick("[data-action=set_value] input[type=date]", "2024-05-06");
        expect.verifySteps(['date.set_value date.date {"date":"2024-05-06"} @1']);
        expect(".o_ha_entity_value").toHaveText("05/06/2024");
    });

    test("input_datetime's date and time picker sends its wall-clock value", async () => {
        await mountEntity(
            makeEntity("input_datetime.wake", "2024-05-06 08:30:00", {
                has_date: true,
                has_time: true,
            }),
        );
        await pick("[data-action=set_datetime] input[type=datetime-local]", "2024-05-07T09:15");
        expect.verifySteps([
            'input_datetime.set_datetime input_datetime.wake {"datetime":"2024-05-07 09:15:00"} @1',
        ]);
    });

    test("number steps: one step up, clamped at the maximum", async () => {
        await mountEntity(makeEntity("number.volume", "99.5", { min: 0, max: 100, step: 1 }));
        await click("[data-action=increment]");
        await animationFrame();
        expect.verifySteps(['number.set_value number.volume {"value":100} @1']);
        expect(".o_ha_entity_value").toHaveText("100");
        expect("[data-action=increment]").toHaveAttribute("disabled");
        await click("[data-action=decrement]");
        await animationFrame();
        expect.verifySteps(['number.set_value number.volume {"value":99} @1']);
    });

    test("input_number steps through its own services", async () => {
        await mountEntity(makeEntity("input_number.level", "5", { min: 0, max: 10, step: 0.5 }));
        await click("[data-action=increment]");
        await animationFrame();
        expect.verifySteps(["input_number.increment input_number.level {} @1"]);
        expect(".o_ha_entity_value").toHaveText("5.5");
    });

    test("a climate fan mode select", async () => {
        await mountEntity(
            makeEntity("climate.hvac", "cool", {
                hvac_modes: ["off", "cool"],
                fan_modes: ["on_low", "auto_low"],
                fan_mode: "on_low",
                temperature: 21,
            }),
        );
        await select("auto_low", { target: "[data-action=set_fan_mode] select" });
        await animationFrame();
        expect.verifySteps(['climate.set_fan_mode climate.hvac {"fan_mode":"auto_low"} @1']);
    });

    test("media player source, mute and next track", async () => {
        await mountEntity(
            makeEntity("media_player.lounge_room", "playing", {
                source_list: ["dvd", "youtube"],
                source: "dvd",
                is_volume_muted: false,
                supported_features: 8 | 32 | 2048,
            }),
        );
        await select("youtube", { target: "[data-action=select_source] select" });
        await animationFrame();
        await click("[data-action=mute] input");
        await animationFrame();
        await click("[data-action=next]");
        await animationFrame();
        expect.verifySteps([
            'media_player.select_source media_player.lounge_room {"source":"youtube"} @1',
            'media_player.volume_mute media_player.lounge_room {"is_volume_muted":true} @1',
            "media_player.media_next_track media_player.lounge_room {} @1",
        ]);
    });

    test("view-only entities show their value and no input", async () => {
        await mountEntity(
            makeEntity(
                "alarm_control_panel.security",
                "armed_away",
                { code_format: "number", supported_features: 63 },
                { can_control: false },
            ),
        );
        expect(".o_ha_entity_value").toHaveText("Armed away");
        expect("input, button, select").toHaveCount(0);
    });
});

describe("views", () => {
    test("a camera shows its snapshot through the addon, refreshed every 10 s and on click", async () => {
        await mountEntity(
            makeEntity("camera.demo_camera", "streaming", {}, { can_control: false }),
        );
        // The test templates move an image's src to data-src, so that no image is requested.
        const src = () => queryOne(".o_ha_camera_snapshot").dataset.src;
        const first = src();
        expect(first).toMatch(
            /^\/odoo_ha_addon\/camera_snapshot\?entity_id=camera\.demo_camera&ha_instance_id=1&t=\d+$/,
        );
        await advanceTime(CAMERA_REFRESH_MS);
        await animationFrame();
        const second = src();
        expect(second).not.toBe(first);
        await advanceTime(1);
        await click(".o_ha_camera_snapshot");
        await animationFrame();
        expect(src()).not.toBe(second);
    });

    test("no view in a compact rendering", async () => {
        await mountEntity(makeEntity("camera.demo_camera", "streaming"), { compact: true });
        expect(".o_ha_camera_snapshot").toHaveCount(0);
    });

    test("a to-do list shows its items; ticking and adding call the todo services", async () => {
        routeResults.todo_items = {
            success: true,
            data: {
                items: [
                    { uid: "a1", summary: "Milk", status: "needs_action", due: "2024-05-06" },
                    { uid: "b2", summary: "Bread", status: "completed" },
                ],
            },
        };
        await mountEntity(makeEntity("todo.shopping_list", "1"));
        expect.verifySteps(['todo_items {"entity_id":"todo.shopping_list","ha_instance_id":1}']);
        expect(".o_ha_entity_value").toHaveText("1 to do");
        expect(queryAllTexts(".o_ha_todo_open .o_ha_todo_summary")).toEqual(["Milk"]);
        expect(".o_ha_todo_open .o_ha_todo_due").toHaveText("due 05/06/2024");
        expect(".o_ha_todo_done summary").toHaveText("Completed (1)");
        await click(".o_ha_todo_done summary");
        await animationFrame();
        expect(queryAllTexts(".o_ha_todo_done .o_ha_todo_summary")).toEqual(["Bread"]);

        await click("[data-uid=a1] input[type=checkbox]");
        await animationFrame();
        await animationFrame();
        expect.verifySteps([
            'todo.update_item todo.shopping_list {"item":"a1","status":"completed"} @1',
            'todo_items {"entity_id":"todo.shopping_list","ha_instance_id":1}',
        ]);
        await click(".o_ha_todo_done [data-uid=b2] input[type=checkbox]");
        await animationFrame();
        await animationFrame();
        expect.verifySteps([
            'todo.update_item todo.shopping_list {"item":"b2","status":"needs_action"} @1',
            'todo_items {"entity_id":"todo.shopping_list","ha_instance_id":1}',
        ]);

        await click(".o_ha_todo_add input");
        await edit("  Eggs ");
        await animationFrame();
        await click(".o_ha_todo_add button");
        await animationFrame();
        await animationFrame();
        expect.verifySteps([
            'todo.add_item todo.shopping_list {"item":"Eggs"} @1',
            'todo_items {"entity_id":"todo.shopping_list","ha_instance_id":1}',
        ]);
        expect(".o_ha_todo_add input").toHaveValue("");
        await click(".o_ha_todo_add input");
        await edit("Tea", { confirm: "enter" });
        await animationFrame();
        await animationFrame();
        expect.verifySteps([
            'todo.add_item todo.shopping_list {"item":"Tea"} @1',
            'todo_items {"entity_id":"todo.shopping_list","ha_instance_id":1}',
        ]);
    });

    test("a to-do list viewed only: items, no checkbox, no adding", async () => {
        routeResults.todo_items = {
            success: true,
            data: { items: [{ uid: "a1", summary: "Milk", status: "needs_action" }] },
        };
        await mountEntity(makeEntity("todo.shopping_list", "1", {}, { can_control: false }));
        expect.verifySteps(['todo_items {"entity_id":"todo.shopping_list","ha_instance_id":1}']);
        expect(queryAllTexts(".o_ha_todo_summary")).toEqual(["Milk"]);
        expect(".o_ha_todo_view input, .o_ha_todo_view button").toHaveCount(0);
    });

    test("a route that fails shows why, in the card", async () => {
        routeResults.todo_items = {
            success: false,
            data: null,
            error: "Home Assistant is not connected.",
            error_type: "not_connected",
        };
        await mountEntity(makeEntity("todo.shopping_list", "1"));
        expect.verifySteps(['todo_items {"entity_id":"todo.shopping_list","ha_instance_id":1}']);
        expect(".o_ha_view_error").toHaveText("Home Assistant is not connected.");
    });

    test("a calendar lists its next events in the user's time zone", async () => {
        mockTimeZone(+2);
        routeResults.calendar_events = {
            success: true,
            data: {
                events: [
                    {
                        summary: "Dentist",
                        start: "2024-05-06T08:00:00+00:00",
                        end: "2024-05-06T09:00:00+00:00",
                        all_day: false,
                        location: "Town",
                    },
                    { summary: "Holiday", start: "2024-05-07", end: "2024-05-09", all_day: true },
                    { summary: "Birthday", start: "2024-05-10", end: "2024-05-11", all_day: true },
                ],
            },
        };
        await mountEntity(
            makeEntity(
                "calendar.calendar_1",
                "off",
                { message: "Dentist" },
                { can_control: false },
            ),
        );
        expect.verifySteps([
            'calendar_events {"entity_id":"calendar.calendar_1","days":7,"ha_instance_id":1}',
        ]);
        expect(queryAllTexts(".o_ha_calendar_when")).toEqual([
            "05/06/2024 10:00 – 11:00",
            "05/07/2024 – 05/08/2024",
            "05/10/2024",
        ]);
        expect(queryAllTexts(".o_ha_calendar_summary")).toEqual(["Dentist", "Holiday", "Birthday"]);
        expect(".o_ha_calendar_location").toHaveText("(Town)");
    });

    test("a weather entity shows its condition, temperature and daily forecast", async () => {
        routeResults.weather_forecast = {
            success: true,
            data: {
                forecast: [
                    {
                        datetime: "2024-05-06T00:00:00+00:00",
                        condition: "rainy",
                        temperature: 18,
                        templow: 9.5,
                    },
                    { datetime: "2024-05-07T00:00:00+00:00", condition: "sunny", temperature: 22 },
                ],
            },
        };
        await mountEntity(
            makeEntity(
                "weather.demo_weather_south",
                "partlycloudy",
                { temperature: 21.6, temperature_unit: "°C", supported_features: 1 },
                { can_control: false },
            ),
        );
        expect.verifySteps([
            'weather_forecast {"entity_id":"weather.demo_weather_south","type":"daily","ha_instance_id":1}',
        ]);
        expect(".o_ha_entity_value").toHaveText("Partly cloudy · 21.6 °C");
        expect(queryAll(".o_ha_forecast_day")).toHaveLength(2);
        expect(queryAllTexts(".o_ha_forecast_day")).toEqual([
            "Mon\nRainy\n18 °C / 9.5 °C",
            "Tue\nSunny\n22 °C",
        ]);
    });

    test("a weather entity without a daily forecast asks for none", async () => {
        await mountEntity(
            makeEntity("weather.hourly", "sunny", { temperature: 20, supported_features: 2 }),
        );
        expect.verifySteps([]);
        expect(".o_ha_forecast").toHaveCount(0);
    });
});
