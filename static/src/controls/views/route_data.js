import { onMounted, onWillUpdateProps, useComponent, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

/**
 * Data of an entity read through a route of the addon's JSON API (ha_data's ``api``, which
 * unwraps the {success, data, error, error_type} envelope): read when the component is
 * mounted, and again when ``keyOf(props)`` changes (the entity's state moved on). A failure
 * is kept in ``state.error`` and shown by the view, not notified: a card that cannot show
 * its extra data still shows its value.
 *
 * @param {string} route
 * @param {(props) => object} paramsOf the route's parameters
 * @param {(props) => string} keyOf
 */
export function useEntityRoute(route, paramsOf, keyOf) {
    const component = useComponent();
    const haData = useService("ha_data");
    const state = useState({ data: null, error: null, loading: false });
    let sequence = 0;
    let key = null;

    async function load(props) {
        const current = ++sequence;
        state.loading = true;
        try {
            const data = await haData.api(route, paramsOf(props), { silent: true });
            if (current === sequence) {
                state.data = data;
                state.error = null;
            }
        } catch (error) {
            if (current === sequence) {
                state.error = error.message || String(error);
            }
        } finally {
            if (current === sequence) {
                state.loading = false;
            }
        }
    }

    onMounted(() => {
        key = keyOf(component.props);
        load(component.props);
    });
    onWillUpdateProps((nextProps) => {
        const nextKey = keyOf(nextProps);
        if (nextKey !== key) {
            key = nextKey;
            load(nextProps);
        }
    });
    return { state, reload: () => load(component.props) };
}

/** The route parameters naming the entity (and its instance when known). */
export function entityParams(props, extra = {}) {
    const params = { entity_id: props.entity.entity_id, ...extra };
    if (props.instanceId) {
        params.ha_instance_id = props.instanceId;
    }
    return params;
}

export const VIEW_PROPS = {
    entity: Object,
    instanceId: { type: Number, optional: true },
    canControl: { type: Boolean, optional: true },
    run: { type: Function, optional: true },
};
