import { onMounted, onWillUnmount } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { KanbanController } from "@web/views/kanban/kanban_controller";
import { kanbanView } from "@web/views/kanban/kanban_view";

// Several changes in a row (a scene, a reconnect) reload the view once.
const RELOAD_DELAY_MS = 300;

/**
 * Kanban of ha.entity that stays live: states change inside the cards (ha_entity_control
 * widget); entities removed from Home Assistant (archived by the connector), moved to
 * another area, and areas renamed, added or removed make the view read its records again
 * (its columns are the areas).
 */
export class HaEntityKanbanController extends KanbanController {
    setup() {
        super.setup();
        this.haData = useService("ha_data");
        this.reloadTimer = null;
        this.onChanges = (instanceId, changes) => {
            if (Object.values(changes).some((change) => change === null || "area_id" in change)) {
                this.scheduleReload();
            }
        };
        this.onAreas = () => this.scheduleReload();
        onMounted(() => {
            this.haData.onGlobalState(this.onChanges);
            this.haData.onRegistryChanged(this.onAreas);
        });
        onWillUnmount(() => {
            this.haData.offGlobalState(this.onChanges);
            this.haData.offRegistryChanged(this.onAreas);
            clearTimeout(this.reloadTimer);
        });
    }

    scheduleReload() {
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => this.model.load(), RELOAD_DELAY_MS);
    }
}

registry.category("views").add("ha_entity_kanban", {
    ...kanbanView,
    Controller: HaEntityKanbanController,
});
