import { onMounted, onWillUnmount } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { FormController } from "@web/views/form/form_controller";
import { formView } from "@web/views/form/form_view";

// Several changes in a row (a rename sends the registry change, then the new state) read the
// record once.
const RELOAD_DELAY_MS = 300;

/**
 * Form of ha.entity that follows Home Assistant: when the entity is renamed, moved to
 * another area or device, or removed there (from Home Assistant's own interface too), the
 * record is read again, unless the user is editing it: their save then sends only what they
 * changed, and what Home Assistant holds stays.
 */
export class HaEntityFormController extends FormController {
    setup() {
        super.setup();
        this.haData = useService("ha_data");
        this.reloadTimer = null;
        this.onChanges = (instanceId, changes) => {
            const record = this.model.root;
            const data = record.data;
            if (!data.entity_id || (data.instance_id && data.instance_id[0] !== instanceId)) {
                return;
            }
            if (!(data.entity_id in changes) || !this.changesRegistry(changes[data.entity_id])) {
                return;
            }
            clearTimeout(this.reloadTimer);
            this.reloadTimer = setTimeout(async () => {
                // isDirty also counts what is typed in a field and not yet applied.
                if (!(await record.isDirty())) {
                    await record.load();
                }
            }, RELOAD_DELAY_MS);
        };
        onMounted(() => this.haData.onGlobalState(this.onChanges));
        onWillUnmount(() => {
            this.haData.offGlobalState(this.onChanges);
            clearTimeout(this.reloadTimer);
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
