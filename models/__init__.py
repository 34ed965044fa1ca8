# isort: off
from . import ha_registry_mirror  # first: ha.area, ha.device and ha.entity inherit it

# isort: on
from . import (
    ha_area,
    ha_device,
    ha_device_key,
    ha_entity,
    ha_entity_group,
    ha_entity_group_tag,
    ha_entity_history,
    ha_entity_history_rollup,
    ha_entity_share,
    ha_entity_share_wizard,
    ha_instance,
    ha_machine,
    ha_machine_reading,
    ha_machine_session,
    ha_machine_state,
    ha_realtime_update,
    ha_service_request,
    ha_ws_request_queue,
    ir_http,
    ir_websocket,
    res_config_settings,
    res_groups,
    res_users,
)
