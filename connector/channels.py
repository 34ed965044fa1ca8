"""PostgreSQL NOTIFY channels between Odoo processes and the process hosting a connection.

A NOTIFY sent inside a transaction is delivered when that transaction commits, so listeners
never see a change or a request before its rows are visible to them.
"""

# Instance created, changed, archived, deleted or asked to restart, entities of it started
# recording history, or its host released it for another node to take; payload: JSON
# {"instance_id": int, "action": "reload" | "restart" | "backfill" | "released"}.
CONTROL_CHANNEL = "odoo_ha_addon_control"
# A new ha.ws.request.queue row; payload: "<instance_id>:<request_id>".
REQUEST_CHANNEL = "odoo_ha_addon_request"
# A request row reached a final state; payload: "<request_id>".
RESPONSE_CHANNEL = "odoo_ha_addon_response"


def notify(cr, channel, payload):
    cr.execute("SELECT pg_notify(%s, %s)", (channel, payload))
