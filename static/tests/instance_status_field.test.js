import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { describe, expect, test } from "@odoo/hoot";
import { animationFrame } from "@odoo/hoot-mock";
import {
    MockServer,
    defineModels,
    fields,
    getService,
    models,
    mountView,
    onRpc,
} from "@web/../tests/web_test_helpers";

describe.current.tags("desktop");

class HaInstance extends models.Model {
    _name = "ha.instance";
    name = fields.Char();
    status = fields.Selection({
        selection: [
            ["connected", "Connected"],
            ["connecting", "Connecting"],
            ["auth_failed", "Authentication failed"],
            ["unreachable", "Unreachable"],
            ["disconnected", "Disconnected"],
        ],
    });
    _records = [
        { id: 1, name: "Home", status: "connected" },
        { id: 2, name: "Cabin", status: "unreachable" },
    ];
}

defineMailModels();
defineModels([HaInstance]);

const ARCH = `
    <form>
        <field name="name"/>
        <field name="status" widget="ha_instance_status"/>
    </form>`;

test("the status field is the status badge, with its selection's label", async () => {
    await mountView({ type: "form", resModel: "ha.instance", resId: 2, arch: ARCH });
    expect(".o_ha_instance_status").toHaveText("Unreachable");
    expect(".o_ha_instance_status").toHaveAttribute("data-status", "unreachable");
    expect(".o_ha_instance_status").toHaveClass(["badge", "rounded-pill", "text-bg-danger"]);
});

test("a status notification of the record shown reads it again, of another record not", async () => {
    onRpc("web_read", ({ model }) => expect.step(`read:${model}`));
    await mountView({ type: "form", resModel: "ha.instance", resId: 1, arch: ARCH });
    expect.verifySteps(["read:ha.instance"]);
    expect(".o_ha_instance_status").toHaveClass("text-bg-success");

    MockServer.env["ha.instance"].write([1], { status: "connecting" });
    getService("ha_data").applyInstanceStatus({ instance_id: 2, status: "connected" });
    await animationFrame();
    expect.verifySteps([]);

    getService("ha_data").applyInstanceStatus({ instance_id: 1, status: "connecting" });
    await animationFrame();
    await animationFrame();
    expect.verifySteps(["read:ha.instance"]);
    expect(".o_ha_instance_status").toHaveText("Connecting");
    expect(".o_ha_instance_status").toHaveAttribute("data-status", "connecting");
    expect(".o_ha_instance_status").toHaveClass("text-bg-warning");
});
