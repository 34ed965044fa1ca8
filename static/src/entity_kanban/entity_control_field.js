import { Component, onWillUpdateProps, useState, xml } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { EntityControl } from "../controls/domain_controls";
import { useHaChanges } from "../services/ha_hooks";

const ENTITY_FIELDS = [
    { name: "entity_id", type: "char" },
    { name: "domain", type: "char" },
    { name: "name", type: "char" },
    { name: "state", type: "char" },
    { name: "attributes", type: "json" },
    { name: "unit_of_measurement", type: "char" },
    { name: "can_control", type: "boolean" },
    { name: "instance_id", type: "many2one" },
];

/**
 * The live state and the control of an ha.entity record, for kanban cards, lists and forms:
 * the same control as the dashboard (one table, controls/domain_controls.js). The record is
 * read once; changes that Home Assistant reports afterwards arrive through ha_data and are
 * laid over it until the record is read again.
 */
export class HaEntityControlField extends Component {
    static template = xml`
        <div class="o_ha_entity_control_field" t-on-click="onClick">
            <EntityControl entity="entity" compact="props.compact" instanceId="instanceId"/>
        </div>`;
    static components = { EntityControl };
    static props = { ...standardFieldProps, compact: { type: Boolean, optional: true } };

    setup() {
        this.live = useState({});
        this.haData = useHaChanges((instanceId, changes) => {
            const data = this.props.record.data;
            if (data.instance_id && data.instance_id[0] !== instanceId) {
                return;
            }
            const change = changes[data.entity_id];
            if (change) {
                Object.assign(this.live, change);
            }
        });
        onWillUpdateProps((nextProps) => {
            // A fresh read of the record supersedes what the bus said before it.
            if (nextProps.record.data.state !== this.props.record.data.state) {
                for (const key of Object.keys(this.live)) {
                    delete this.live[key];
                }
            }
        });
    }

    onClick(ev) {
        // Operating a control must not also open the record (kanban card, list row).
        if (ev.target.closest("button, input, select, label")) {
            ev.stopPropagation();
        }
    }

    get instanceId() {
        const instance = this.props.record.data.instance_id;
        return instance ? instance[0] : undefined;
    }

    get entity() {
        const data = this.props.record.data;
        return {
            id: this.props.record.resId,
            entity_id: data.entity_id,
            domain: data.domain,
            name: data.name || data.entity_id,
            state: data.state,
            attributes: data.attributes || {},
            unit_of_measurement: data.unit_of_measurement || null,
            can_control: Boolean(data.can_control),
            ...this.live,
        };
    }
}

registry.category("fields").add("ha_entity_control", {
    component: HaEntityControlField,
    displayName: "Home Assistant control",
    supportedTypes: ["char"],
    fieldDependencies: ENTITY_FIELDS,
    extractProps: ({ options }) => ({ compact: Boolean(options.compact) }),
});
