import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

/**
 * What uses an entity in Home Assistant (automations, scripts, scenes, its device and area),
 * read from Home Assistant when the form opens, limited by the server to what the user may
 * read in Odoo. Each item opens its record.
 */
export class HaEntityRelated extends Component {
    static template = "odoo_ha_addon.HaEntityRelated";
    static props = { ...standardWidgetProps };

    setup() {
        this.haData = useService("ha_data");
        this.action = useService("action");
        this.state = useState({ loading: true, error: null, related: null });
        this.sections = [
            ["automation", _t("Automations"), "ha.entity"],
            ["script", _t("Scripts"), "ha.entity"],
            ["scene", _t("Scenes"), "ha.entity"],
            ["device", _t("Device"), "ha.device"],
            ["area", _t("Area"), "ha.area"],
        ];
        onWillStart(() => this.load());
    }

    async load() {
        const data = this.props.record.data;
        if (!data.entity_id || !data.instance_id) {
            this.state.loading = false;
            return;
        }
        try {
            this.state.related = await this.haData.api(
                "entity_related",
                { ha_instance_id: data.instance_id[0], entity_id: data.entity_id },
                { silent: true },
            );
        } catch (error) {
            this.state.error = error.message;
        }
        this.state.loading = false;
    }

    get isEmpty() {
        const related = this.state.related;
        return !related || this.sections.every(([kind]) => !related[kind]?.length);
    }

    open(model, id) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: model,
            res_id: id,
            views: [[false, "form"]],
            target: "current",
        });
    }
}

registry.category("view_widgets").add("ha_entity_related", { component: HaEntityRelated });
