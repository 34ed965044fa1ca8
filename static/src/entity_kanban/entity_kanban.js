import { registry } from "@web/core/registry";
import { KanbanController } from "@web/views/kanban/kanban_controller";
import { kanbanView } from "@web/views/kanban/kanban_view";
import { useDebouncedReload, useHaChanges } from "../services/ha_hooks";

/**
 * Kanban of ha.entity that stays live: states change inside the cards (ha_entity_control
 * widget); entities removed from Home Assistant (archived by the connector), moved to
 * another area, and areas renamed, added or removed make the view read its records again
 * (its columns are the areas).
 */
export class HaEntityKanbanController extends KanbanController {
    setup() {
        super.setup();
        this.scheduleReload = useDebouncedReload(() => this.model.load());
        this.haData = useHaChanges(
            (instanceId, changes) => {
                const moved = (change) => change === null || "area_id" in change;
                if (Object.values(changes).some(moved)) {
                    this.scheduleReload();
                }
            },
            () => this.scheduleReload(),
        );
    }
}

registry.category("views").add("ha_entity_kanban", {
    ...kanbanView,
    Controller: HaEntityKanbanController,
});
