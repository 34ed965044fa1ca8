import { registry } from "@web/core/registry";
import { FormController } from "@web/views/form/form_controller";
import { formView } from "@web/views/form/form_view";
import { useDebouncedReload, useHaChanges } from "../services/ha_hooks";

/**
 * Form of ha.entity that follows Home Assistant: when the entity is renamed, moved to
 * another area or device, or removed there (from Home Assistant's own interface too), the
 * record is read again, unless the user is editing it: their save then sends only what they
 * changed, and what Home Assistant holds stays.
 */
export class HaEntityFormController extends FormController {
    setup() {
        super.setup();
        const reload = useDebouncedReload(async () => {
            const record = this.model.root;
            // isDirty also counts what is typed in a field and not yet applied.
            if (!(await record.isDirty())) {
                await record.load();
            }
        });
        this.haData = useHaChanges((instanceId, changes) => {
            const data = this.model.root.data;
            if (!data.entity_id || (data.instance_id && data.instance_id[0] !== instanceId)) {
                return;
            }
            if (data.entity_id in changes && this.changesRegistry(changes[data.entity_id])) {
                reload();
            }
        });
    }

    changesRegistry(change) {
        if (change === null || "area_id" in change || "device_id" in change || "name" in change) {
            return true;
        }
        const name = change.attributes?.friendly_name;
        return name !== undefined && name !== this.model.root.data.name;
    }
}

registry.category("views").add("ha_entity_form", {
    ...formView,
    Controller: HaEntityFormController,
});
