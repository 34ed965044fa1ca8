import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { queryAll, waitFor } from "@odoo/hoot-dom";
import { advanceTime, animationFrame } from "@odoo/hoot-mock";
import {
    MockServer,
    contains,
    defineModels,
    fields,
    getService,
    makeServerError,
    models,
    mountView,
    mountWithCleanup,
    onRpc,
} from "@web/../tests/web_test_helpers";
import { serializeDateTime } from "@web/core/l10n/dates";

import { HaDashboard } from "@odoo_ha_addon/dashboard/dashboard";
import { HA_NOTIFICATIONS } from "@odoo_ha_addon/services/ha_bus_bridge";

const { DateTime } = luxon;

describe.current.tags("desktop");

/** An Odoo UTC datetime string, ``seconds`` ago. */
function secondsAgo(seconds) {
    return serializeDateTime(DateTime.now().minus({ seconds }));
}

class HaMachine extends models.Model {
    _name = "ha.machine";
    name = fields.Char();
    instance_id = fields.Many2one({ relation: "ha.instance" });
    phase = fields.Selection({
        selection: [
            ["idle", "Idle"],
            ["starting", "Starting"],
            ["working", "Working"],
            ["standby", "Standby"],
            ["stopping", "Stopping"],
        ],
    });
    available = fields.Boolean();
    last_power_w = fields.Float();
    last_reading_at = fields.Datetime();
    session_started_at = fields.Datetime();
    _records = [
        {
            id: 1,
            name: "Laser cutter",
            instance_id: 1,
            phase: "standby",
            available: true,
            last_power_w: 35.4,
            last_reading_at: "2024-03-01 10:00:00",
            session_started_at: false,
        },
        {
            id: 2,
            name: "Kiln",
            instance_id: 2,
            phase: "idle",
            available: false,
            last_power_w: 0,
            last_reading_at: "2024-03-01 09:00:00",
            session_started_at: false,
        },
        {
            id: 3,
            name: "Lathe",
            instance_id: 2,
            phase: "idle",
            available: false,
            last_power_w: 0,
            last_reading_at: false,
            session_started_at: false,
        },
    ];
}

class HaInstance extends models.Model {
    _name = "ha.instance";
    name = fields.Char();
    _records = [
        { id: 1, name: "Home" },
        { id: 2, name: "Workshop" },
        { id: 3, name: "Cabin" },
    ];
}

defineMailModels();
defineModels([HaMachine, HaInstance]);

const LIST_ARCH = `
    <list>
        <field name="name"/>
        <field name="phase" widget="ha_machine_health"/>
    </list>`;

test("the widget shows the phase and the power it reads with the record", async () => {
    // The power and the reading time are not in the arch: the widget's fieldDependencies
    // have the list read them.
    await mountView({ type: "list", resModel: "ha.machine", arch: LIST_ARCH });
    const laser = ".o_data_row:contains(Laser) .o_ha_machine_health";
    expect(`${laser} .o_ha_machine_phase`).toHaveText("Standby");
    expect(`${laser} .o_ha_machine_power`).toHaveText("35 W");
    expect(`${laser} .o_ha_machine_running_time`).toHaveCount(0);
    expect(`${laser} .o_ha_machine_unavailable`).toHaveCount(0);
});

test("a bus update makes the form show working and a running time that ticks", async () => {
    await mountView({
        type: "form",
        resModel: "ha.machine",
        resId: 1,
        arch: `<form><field name="name"/><field name="phase" widget="ha_machine_health"/></form>`,
    });
    expect(".o_ha_machine_phase").toHaveText("Standby");
    const haData = getService("ha_data");
    const running = {
        phase: "working",
        available: true,
        last_power_w: 1200,
        last_reading_at: secondsAgo(1),
        session_started_at: secondsAgo(65),
    };
    // Another machine's health leaves this one alone.
    haData.applyMachineStates({ instance_id: 1, machines: { 9: running } });
    await animationFrame();
    expect(".o_ha_machine_phase").toHaveText("Standby");

    haData.applyMachineStates({ instance_id: 1, machines: { 1: running } });
    await animationFrame();
    expect(".o_ha_machine_health").toHaveAttribute("data-phase", "working");
    expect(".o_ha_machine_phase").toHaveText("Working");
    expect(".o_ha_machine_power").toHaveText("1,200 W");
    expect(".o_ha_machine_running_time").toHaveText("0:01:05");
    await advanceTime(2000);
    expect(".o_ha_machine_running_time").toHaveText("0:01:07");

    haData.applyMachineStates({
        instance_id: 1,
        machines: { 1: { ...running, phase: "idle", session_started_at: false } },
    });
    await animationFrame();
    expect(".o_ha_machine_phase").toHaveText("Idle");
    expect(".o_ha_machine_running_time").toHaveCount(0);
});

test("a record read after the bus update is shown as read", async () => {
    await mountView({
        type: "form",
        resModel: "ha.machine",
        resId: 1,
        resIds: [1, 2],
        arch: `<form><field name="name"/><field name="phase" widget="ha_machine_health"/></form>`,
    });
    getService("ha_data").applyMachineStates({
        instance_id: 1,
        machines: {
            1: {
                phase: "working",
                available: true,
                last_power_w: 500,
                last_reading_at: secondsAgo(10),
                session_started_at: secondsAgo(60),
            },
        },
    });
    await animationFrame();
    expect(".o_ha_machine_phase").toHaveText("Working");
    MockServer.env["ha.machine"].write([1], {
        phase: "stopping",
        last_power_w: 3,
        last_reading_at: secondsAgo(0),
    });
    await contains(".o_pager_next").click();
    expect(".o_ha_machine_phase").toHaveText("Idle");
    await contains(".o_pager_previous").click();
    expect(".o_ha_machine_phase").toHaveText("Stopping");
    expect(".o_ha_machine_power").toHaveText("3 W");
});

test("the bus bridge hands machine_states to ha_data", () => {
    expect(HA_NOTIFICATIONS["odoo_ha_addon/machine_states"]).toBe("applyMachineStates");
});

test("an unavailable sensor shows Unavailable instead of a power, once it has reported", async () => {
    await mountView({
        type: "kanban",
        resModel: "ha.machine",
        domain: [["instance_id", "=", 2]],
        arch: `
            <kanban>
                <templates>
                    <t t-name="card">
                        <field name="name"/>
                        <field name="phase" widget="ha_machine_health"/>
                    </t>
                </templates>
            </kanban>`,
    });
    const card = (name) => `.o_kanban_record:contains(${name}) .o_ha_machine_health`;
    expect(`${card("Kiln")} .o_ha_machine_unavailable`).toHaveText("Unavailable");
    expect(`${card("Kiln")} .o_ha_machine_power`).toHaveCount(0);
    // Never read yet: nothing to call unavailable.
    expect(`${card("Lathe")} .o_ha_machine_unavailable`).toHaveCount(0);
    expect(`${card("Lathe")} .o_ha_machine_phase`).toHaveText("Idle");
});

describe("dashboard", () => {
    let currentInstance;

    beforeEach(() => {
        currentInstance = 1;
        const instance = (id) => ({ id, name: `Instance ${id}`, status: "connected" });
        const routes = {
            instances: () => ({
                current_instance_id: currentInstance,
                instances: [1, 2, 3].map(instance),
            }),
            entities: (params) => ({
                instance: instance(params.ha_instance_id || currentInstance),
                areas: [],
                entities: [],
                can_manage: false,
            }),
            switch_instance: (params) => {
                currentInstance = params.ha_instance_id;
                return instance(currentInstance);
            },
        };
        for (const [route, handler] of Object.entries(routes)) {
            onRpc(`/odoo_ha_addon/${route}`, async (request) => {
                const { params } = await request.json();
                return { success: true, data: handler(params), error: null, error_type: null };
            });
        }
    });

    async function mountDashboard() {
        await mountWithCleanup(HaDashboard, { props: { action: {}, actionId: 1 } });
        await animationFrame();
    }

    test("lists the machines of the instance with their live health", async () => {
        await mountDashboard();
        expect(".o_ha_machines").toHaveCount(1);
        expect(queryAll(".o_ha_machine_name").map((el) => el.textContent)).toEqual([
            "Laser cutter",
        ]);
        expect(".o_ha_machine_card .o_ha_machine_phase").toHaveText("Standby");
        getService("ha_data").applyMachineStates({
            instance_id: 1,
            machines: {
                1: {
                    phase: "starting",
                    available: true,
                    last_power_w: 80,
                    last_reading_at: secondsAgo(0),
                    session_started_at: false,
                },
            },
        });
        await animationFrame();
        expect(".o_ha_machine_card .o_ha_machine_phase").toHaveText("Starting");
        expect(".o_ha_machine_card .o_ha_machine_power").toHaveText("80 W");
    });

    test("lists the machines of the instance switched to", async () => {
        await mountDashboard();
        await getService("ha_data").switchInstance(2);
        await waitFor(".o_ha_machine_name:contains(Kiln)");
        expect(queryAll(".o_ha_machine_name").map((el) => el.textContent)).toEqual([
            "Kiln",
            "Lathe",
        ]);
    });

    test("shows no Machines section when the instance has none the user may read", async () => {
        currentInstance = 3;
        await mountDashboard();
        expect(".o_ha_dashboard_header").toHaveCount(1);
        expect(".o_ha_machines").toHaveCount(0);
    });

    test("a user without access to machines sees the dashboard without them", async () => {
        onRpc("ha.machine", "search_read", () => {
            throw makeServerError({ type: "AccessError", message: "No machines for you" });
        });
        await mountDashboard();
        expect(".o_ha_dashboard_header").toHaveCount(1);
        expect(".o_ha_machines").toHaveCount(0);
        expect(".o_error_dialog").toHaveCount(0);
    });
});
