import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { describe, expect, test } from "@odoo/hoot";
import { advanceTime, animationFrame } from "@odoo/hoot-mock";
import {
    MockServer,
    contains,
    defineModels,
    fields,
    getService,
    models,
    mountView,
    onRpc,
} from "@web/../tests/web_test_helpers";

describe.current.tags("desktop");

class HaEntity extends models.Model {
    _name = "ha.entity";
    entity_id = fields.Char();
    name = fields.Char();
    note = fields.Text();
    instance_id = fields.Many2one({ relation: "ha.instance" });
    _records = [{ id: 1, entity_id: "light.desk", name: "Desk", instance_id: 1 }];
}

class HaInstance extends models.Model {
    _name = "ha.instance";
    name = fields.Char();
    _records = [{ id: 1, name: "Home" }];
}

defineMailModels();
defineModels([HaEntity, HaInstance]);

const ARCH = `
    <form js_class="ha_entity_form">
        <field name="entity_id"/>
        <field name="name"/>
        <field name="note"/>
        <field name="instance_id"/>
    </form>`;

function renamedInHomeAssistant(name) {
    MockServer.env["ha.entity"].write([1], { name });
    getService("ha_data").applyEntityChanges({
        instance_id: 1,
        changes: { "light.desk": { state: "on", attributes: { friendly_name: name } } },
    });
}

test("the entity form reads its record again when Home Assistant renames it", async () => {
    onRpc("web_read", ({ model }) => expect.step(`read:${model}`));
    await mountView({ type: "form", resModel: "ha.entity", resId: 1, arch: ARCH });
    expect.verifySteps(["read:ha.entity"]);
    renamedInHomeAssistant("Reading desk");
    await advanceTime(300);
    await animationFrame();
    expect.verifySteps(["read:ha.entity"]);
    expect(".o_field_widget[name=name] input").toHaveValue("Reading desk");
    // A state change alone reads nothing.
    getService("ha_data").applyEntityChanges({
        instance_id: 1,
        changes: { "light.desk": { state: "off", attributes: { friendly_name: "Reading desk" } } },
    });
    await advanceTime(300);
    expect.verifySteps([]);
});

test("an entity form being edited is left alone", async () => {
    onRpc("web_read", ({ model }) => expect.step(`read:${model}`));
    await mountView({ type: "form", resModel: "ha.entity", resId: 1, arch: ARCH });
    expect.verifySteps(["read:ha.entity"]);
    await contains(".o_field_widget[name=note] textarea").edit("Wobbly", { confirm: false });
    renamedInHomeAssistant("Reading desk");
    await advanceTime(300);
    expect.verifySteps([]);
    expect(".o_field_widget[name=note] textarea").toHaveValue("Wobbly");
});
