from . import (
    test_access,
    test_api,
    test_connection,
    test_connector,
    test_dashboard,
    test_frontend_js,
    test_history_action,
    test_history_lifecycle,
    test_install,
    test_models,
    test_realtime,
    test_rpc_access,
)
