/** An entity as the ha_data service holds it, for the control tests; ``values`` overrides. */
export function makeEntity(entityId, state, attributes = {}, values = {}) {
    return {
        id: 1,
        entity_id: entityId,
        name: entityId,
        domain: entityId.split(".")[0],
        state,
        attributes,
        unit_of_measurement: null,
        can_control: true,
        ...values,
    };
}
