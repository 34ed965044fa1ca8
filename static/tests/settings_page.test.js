import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { beforeEach, describe, expect, test } from "@odoo/hoot";
import { queryAllTexts } from "@odoo/hoot-dom";
import { animationFrame } from "@odoo/hoot-mock";
import {
    contains,
    defineModels,
    fields,
    getService,
    makeMockEnv,
    makeServerError,
    mockService,
    models,
    mountView,
    mountWebClient,
    onRpc,
} from "@web/../tests/web_test_helpers";

import { hardwareRows, networkRows } from "@odoo_ha_addon/system_info/system_info";

describe.current.tags("desktop");

const STATUS_SELECTION = [
    ["disconnected", "Disconnected"],
    ["connecting", "Connecting"],
    ["connected", "Connected"],
    ["auth_failed", "Authentication Failed"],
    ["unreachable", "Unreachable"],
];

class HaInstance extends models.Model {
    _name = "ha.instance";
    name = fields.Char();
    url = fields.Char();
    sequence = fields.Integer();
    has_token = fields.Boolean();
    status = fields.Selection({ selection: STATUS_SELECTION });
    status_since = fields.Datetime();
    last_event_at = fields.Datetime();
    ha_version = fields.Char();
    entity_count = fields.Integer();
    last_error = fields.Text();
    host_node = fields.Char();
    _records = [
        {
            id: 1,
            name: "Home",
            url: "http://ha.local:8123",
            sequence: 1,
            has_token: true,
            status: "connected",
            status_since: "2024-03-01 10:00:00",
            ha_version: "2024.3.3",
            entity_count: 97,
            host_node: "odoo-1:4242",
        },
        {
            id: 2,
            name: "Cabin",
            url: "http://cabin.local:8123",
            sequence: 2,
            has_token: true,
            status: "connected",
            ha_version: "2024.3.3",
            entity_count: 12,
        },
        {
            id: 3,
            name: "Unconfigured",
            url: "http://new.local:8123",
            sequence: 0,
            has_token: false,
            status: "disconnected",
        },
    ];
}

class ResConfigSettings extends models.Model {
    _name = "res.config.settings";
    ha_default_instance_id = fields.Many2one({ relation: "ha.instance" });
}

defineMailModels();
defineModels([HaInstance, ResConfigSettings]);

// The Home Assistant notifications HaBusBridge subscribed to, by type.
let subscribed;

beforeEach(() => {
    subscribed = {};
    mockService("bus_service", {
        subscribe(type, callback) {
            subscribed[type] = callback;
        },
        unsubscribe(type) {
            delete subscribed[type];
        },
        addChannel() {},
        deleteChannel() {},
        forceUpdateChannels() {},
        start() {},
    });
});

const SETTINGS_ARCH = `<form><widget name="ha_instance_settings"/></form>`;
const row = (id) => `.o_ha_instance_row[data-instance-id='${id}']`;

async function mountSettings() {
    await mountView({ type: "form", resModel: "res.config.settings", arch: SETTINGS_ARCH });
    await animationFrame();
}

test("the instances panel lists the instances in order, the default marked", async () => {
    await mountSettings();
    expect(queryAllTexts(".o_ha_instance_row .o_ha_instance_open")).toEqual([
        "Unconfigured",
        "Home",
        "Cabin",
    ]);
    // The first configured instance: users who chose none work on it.
    expect(".o_ha_default_instance").toHaveCount(1);
    expect(`${row(1)} .o_ha_default_instance`).toHaveCount(1);
    expect(`${row(1)} .o_ha_instance_status`).toHaveAttribute("data-status", "connected");
    expect(`${row(1)} .o_ha_version`).toHaveText("Version 2024.3.3");
    expect(`${row(3)} .o_ha_instance_status`).toHaveText("Disconnected");
});

test("a status notification on the bus updates the instance's badge at once", async () => {
    await mountSettings();
    const notify = subscribed["odoo_ha_addon/instance_status"];
    expect(typeof notify).toBe("function");
    notify({
        instance_id: 1,
        status: "unreachable",
        status_since: "2024-03-01 11:00:00",
        last_error: "Cannot reach http://ha.local:8123: connection refused",
    });
    await animationFrame();
    expect(`${row(1)} .o_ha_instance_status`).toHaveAttribute("data-status", "unreachable");
    expect(`${row(1)} .o_ha_instance_status`).toHaveText("Unreachable");
    expect(`${row(1)} .o_ha_last_error`).toHaveText(
        "Cannot reach http://ha.local:8123: connection refused",
    );
    // The other instances are left as they are.
    expect(`${row(2)} .o_ha_instance_status`).toHaveAttribute("data-status", "connected");

    notify({ instance_id: 1, status: "connected", last_error: false });
    await animationFrame();
    expect(`${row(1)} .o_ha_instance_status`).toHaveAttribute("data-status", "connected");
    expect(`${row(1)} .o_ha_last_error`).toHaveCount(0);
});

test("the Odoo node holding each connection is shown, and read again on a new status", async () => {
    await mountSettings();
    expect(`${row(1)} .o_ha_host_node`).toHaveText("Hosted by odoo-1:4242");
    expect(`${row(3)} .o_ha_host_node`).toHaveCount(0);

    // Another node took the instance over: the status it reports makes the page ask again.
    onRpc("ha.instance", "read", ({ args }) => {
        expect.step(`read:${args[0]}:${args[1]}`);
        return [{ id: 1, host_node: "odoo-2:77" }];
    });
    subscribed["odoo_ha_addon/instance_status"]({ instance_id: 1, status: "connecting" });
    await animationFrame();
    await animationFrame();
    expect.verifySteps(["read:1:host_node"]);
    expect(`${row(1)} .o_ha_host_node`).toHaveText("Hosted by odoo-2:77");
});

test("a status that arrives while the instances are read is not lost", async () => {
    let release;
    onRpc("ha.instance", "search_read", async () => {
        getService("ha_data").applyInstanceStatus({ instance_id: 2, status: "connecting" });
        await new Promise((resolve) => (release = resolve));
    });
    const mounted = mountSettings();
    await animationFrame();
    release();
    await mounted;
    expect(`${row(2)} .o_ha_instance_status`).toHaveAttribute("data-status", "connecting");
});

test("Test connection and Restart notify their answer, refusals included", async () => {
    onRpc("ha.instance", "action_test_connection", ({ args }) => {
        expect.step(`test:${args[0]}`);
        return {
            type: "ir.actions.client",
            tag: "display_notification",
            params: {
                title: "Test connection",
                message: "Connected to Home Assistant 2024.4.0: 98 entities",
                type: "success",
                next: { type: "ir.actions.client", tag: "soft_reload" },
            },
        };
    });
    onRpc("ha.instance", "read", () => [{ id: 1, ha_version: "2024.4.0" }]);
    onRpc("ha.instance", "action_restart_connection", () => {
        throw makeServerError({
            type: "AccessError",
            message: "Only Home Assistant managers can restart a connection.",
        });
    });
    await mountSettings();
    await contains(`${row(1)} .o_ha_test_connection`).click();
    expect.verifySteps(["test:1"]);
    expect(".o_notification:has(.bg-success)").toHaveText(
        "Test connection\nConnected to Home Assistant 2024.4.0: 98 entities",
    );
    // The version found is shown; the page itself is not reloaded (the answer's "next").
    expect(`${row(1)} .o_ha_version`).toHaveText("Version 2024.4.0");

    await contains(`${row(1)} .o_ha_restart`).click();
    expect(".o_notification:has(.bg-danger)").toHaveText(
        "Home\nOnly Home Assistant managers can restart a connection.",
    );
    expect(".o_error_dialog").toHaveCount(0);
});

// System info ------------------------------------------------------------------------------

function mockRoutes(answers) {
    for (const [route, answer] of Object.entries(answers)) {
        onRpc(`/odoo_ha_addon/${route}`, async (request) => {
            const { params } = await request.json();
            expect.step(`${route}:${params.ha_instance_id}`);
            return typeof answer === "function" ? answer() : answer;
        });
    }
}

const ok = (data) => ({ success: true, data, error: null, error_type: null });
const failed = (error, errorType) => ({ success: false, data: null, error, error_type: errorType });
const NOT_SUPPORTED = failed(
    "This Home Assistant installation does not provide this information: it needs the Home " +
        "Assistant Supervisor (Home Assistant OS or a Supervised install).",
    "not_supported",
);
const CORE_NETWORK = {
    source: "core",
    info: {
        adapters: [
            {
                name: "lo",
                enabled: false,
                default: false,
                ipv4: [{ address: "127.0.0.1", network_prefix: 8 }],
                ipv6: [],
            },
            {
                name: "eth0",
                enabled: true,
                default: true,
                ipv4: [{ address: "192.168.1.20", network_prefix: 24 }],
                ipv6: [{ address: "fe80::1", network_prefix: 64 }],
            },
        ],
    },
};

async function openSystemInfo() {
    await mountWebClient();
    await getService("action").doAction({
        type: "ir.actions.client",
        tag: "odoo_ha_addon.system_info",
        name: "System info: Home",
        context: { active_id: 1 },
    });
    // The page shows at once; its sections fill in as the routes answer.
    await animationFrame();
    await animationFrame();
}

test("system info says plainly that a Home Assistant without Supervisor has no hardware", async () => {
    mockRoutes({
        websocket_status: ok({ id: 1, name: "Home", status: "connected", ha_version: "2024.3.3" }),
        ha_urls: ok({
            url: "http://ha.local:8123",
            internal_url: null,
            external_url: "https://home.example.org",
        }),
        hardware_info: NOT_SUPPORTED,
        network_info: ok(CORE_NETWORK),
    });
    await openSystemInfo();
    expect.verifySteps(["websocket_status:1", "ha_urls:1", "hardware_info:1", "network_info:1"]);
    expect(".o_ha_version").toHaveText("2024.3.3");
    expect(".o_ha_url").toHaveText("http://ha.local:8123");
    expect(".o_ha_internal_url").toHaveText("Not set");
    expect(".o_ha_external_url").toHaveText("https://home.example.org");
    expect(".o_ha_section_hardware .o_ha_not_supported").toHaveText(
        "Not supported: this Home Assistant has no Supervisor.",
    );
    // Plainly: no error styling, no error dialog.
    expect(".o_ha_section_error, .alert-danger, .o_error_dialog").toHaveCount(0);
    expect(".o_ha_section_network .o_ha_source").toHaveAttribute("data-source", "core");
    expect(".o_ha_network_row").toHaveCount(2);
    expect(queryAllTexts(".o_ha_network_row:eq(1) td")).toEqual([
        "eth0",
        "enabled · default",
        "192.168.1.20/24\nfe80::1/64",
    ]);
});

test("system info follows the connection status and reads again once connected", async () => {
    let connected = false;
    const notConnected = failed("Home Assistant is not connected.", "not_connected");
    mockRoutes({
        websocket_status: ok({
            id: 1,
            name: "Home",
            status: "unreachable",
            ha_version: "2024.3.3",
        }),
        ha_urls: () =>
            ok({ url: "http://ha.local:8123", internal_url: connected ? "http://10.0.0.2" : null }),
        hardware_info: () =>
            connected ? ok({ source: "core", info: { hardware: [] } }) : notConnected,
        network_info: () => (connected ? ok(CORE_NETWORK) : notConnected),
    });
    await openSystemInfo();
    expect.verifySteps(["websocket_status:1", "ha_urls:1", "hardware_info:1", "network_info:1"]);
    expect(".o_ha_instance_status").toHaveAttribute("data-status", "unreachable");
    expect(".o_ha_internal_url").toHaveText("Unknown while not connected");
    expect(".o_ha_section_hardware .o_ha_section_error").toHaveText(
        "Home Assistant is not connected.",
    );

    connected = true;
    subscribed["odoo_ha_addon/instance_status"]({ instance_id: 1, status: "connected" });
    await animationFrame();
    expect(".o_ha_instance_status").toHaveAttribute("data-status", "connected");
    expect.verifySteps(["ha_urls:1", "hardware_info:1", "network_info:1"]);
    await animationFrame();
    expect(".o_ha_internal_url").toHaveText("http://10.0.0.2");
    // A core install whose hardware integration knows no board: not supported, plainly.
    expect(".o_ha_section_hardware .o_ha_not_supported").toHaveText(
        "Not supported: this Home Assistant has no Supervisor.",
    );
    expect(".o_ha_section_hardware .o_ha_nothing").toHaveCount(1);
    expect(".o_ha_network_row").toHaveCount(2);
});

test("system info is for Home Assistant managers only", async () => {
    onRpc("has_group", ({ args }) => {
        expect.step(`has_group:${args.at(-1)}`);
        return false;
    });
    mockRoutes({ websocket_status: ok({}), ha_urls: ok({}), hardware_info: ok({}) });
    await openSystemInfo();
    expect(".o_ha_not_allowed").toHaveCount(1);
    // Nothing is asked of Home Assistant.
    expect.verifySteps(["has_group:odoo_ha_addon.group_ha_manager"]);
});

test("hardware and network rows read the Supervisor's answers too", async () => {
    await makeMockEnv();
    const hardware = hardwareRows({
        source: "supervisor",
        info: {
            drives: [
                { vendor: "Samsung", model: "SSD 870", size: 500107862016, connection_bus: "usb" },
            ],
            devices: [{ subsystem: "tty" }, { subsystem: "usb" }, { subsystem: "tty" }],
        },
    });
    expect(hardware).toEqual([
        { name: "Samsung SSD 870", details: "500.1 GB · usb" },
        { name: "Devices", details: "tty: 2 · usb: 1" },
    ]);
    const network = networkRows({
        source: "supervisor",
        info: {
            interfaces: [
                {
                    interface: "end0",
                    type: "ethernet",
                    enabled: true,
                    connected: true,
                    primary: true,
                    ipv4: { address: ["192.168.1.5/24"] },
                    ipv6: { address: [] },
                },
            ],
        },
    });
    expect(network).toEqual([
        { name: "end0 (ethernet)", state: "connected · primary", addresses: ["192.168.1.5/24"] },
    ]);
});
