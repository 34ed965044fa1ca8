import { Component, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { EntityControl } from "../controls/domain_controls";

/**
 * One entity of the shown instance as a dashboard card, found by its id in ha_data. The card
 * reads its own entity only, so a change of that entity re-renders this card and nothing
 * else: the cost of a bus batch follows the entities it changed.
 */
export class HaEntityCard extends Component {
    static template = "odoo_ha_addon.HaEntityCard";
    static components = { EntityControl };
    static props = { entityId: String, onOpen: Function };

    setup() {
        this.data = useState(useService("ha_data").state);
    }
}
