import { onMounted, onWillUnmount } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

// Several changes in a row (a scene, a rename that sends the registry change and then the
// new state) make one reload.
export const RELOAD_DELAY_MS = 300;

/**
 * ``onChanges(instanceId, changes)`` for every batch of entity changes, and
 * ``onRegistry(instanceId, {areas, devices})`` (optional) for every registry change, while the
 * component is mounted. Returns the ha_data service.
 */
export function useHaChanges(onChanges, onRegistry = null) {
    const haData = useService("ha_data");
    let unsubscribes = [];
    onMounted(() => {
        unsubscribes = [haData.subscribe("entity_changes", onChanges)];
        if (onRegistry) {
            unsubscribes.push(haData.subscribe("registry_changed", onRegistry));
        }
    });
    onWillUnmount(() => unsubscribes.forEach((unsubscribe) => unsubscribe()));
    return haData;
}

/**
 * A function that runs ``load`` once, ``RELOAD_DELAY_MS`` after the last of a burst of calls;
 * what is pending when the component unmounts is dropped.
 */
export function useDebouncedReload(load) {
    let timer = null;
    onWillUnmount(() => clearTimeout(timer));
    return () => {
        clearTimeout(timer);
        timer = setTimeout(load, RELOAD_DELAY_MS);
    };
}
