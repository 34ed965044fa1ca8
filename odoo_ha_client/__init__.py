"""Reference client of the odoo_ha_addon API for apps outside Odoo (tablets, scripts).

Needs only ``requests`` and ``websockets`` (>= 13.1); it does not import Odoo.

    client = OdooHaClient("https://odoo.example.com", "db", "tablet-kitchen", key)
    async for event in client.changes():      # logs in, reads, then follows the bus
        if isinstance(event, Change):
            print(event.entity_id, event.entity and event.entity["state"])
    await client.call_service(instance_id, "light", "turn_off", "light.kitchen")

``client.mirror`` holds the instances and entities; ``python -m odoo_ha_client --help``
shows the command line.
"""

from .client import CATCH_UP_WINDOW_S, Backoff, OdooHaClient
from .errors import (
    ApiError,
    AuthenticationError,
    ConnectionFailed,
    OdooHaError,
    SessionExpired,
)
from .mirror import Change, InstanceChanged, Mirror, Reloaded

__all__ = [
    "CATCH_UP_WINDOW_S",
    "ApiError",
    "AuthenticationError",
    "Backoff",
    "Change",
    "ConnectionFailed",
    "InstanceChanged",
    "Mirror",
    "OdooHaClient",
    "OdooHaError",
    "Reloaded",
    "SessionExpired",
]
