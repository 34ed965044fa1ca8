"""Home Assistant protocol client: pure Python, asyncio + websockets + requests.

Never imports odoo, and uses only relative imports, so it works both as the top-level
``hass`` package (standalone tests, scripts) and as ``odoo.addons.odoo_ha_addon.hass``.
"""

from .backoff import Backoff
from .client import (
    STATUS_AUTH_FAILED,
    STATUS_CONNECTED,
    STATUS_CONNECTING,
    STATUS_DISCONNECTED,
    STATUS_STOPPED,
    STATUS_UNREACHABLE,
    HAClient,
)
from .connection import HAConnection
from .errors import (
    AuthenticationFailed,
    CannotConnect,
    CommandFailed,
    ConnectionLost,
    HAError,
    NotConnected,
    NotHomeAssistant,
    ProtocolError,
    RequestTimeout,
    ResponseTooLarge,
)
from .messages import EntityStates, apply_state_diff, decode_compressed_state
from .onboarding import onboard
from .probe import ServerInfo, check_connection
from .rest import HARestClient
from .urls import base_url, websocket_url

__all__ = [
    "STATUS_AUTH_FAILED",
    "STATUS_CONNECTED",
    "STATUS_CONNECTING",
    "STATUS_DISCONNECTED",
    "STATUS_STOPPED",
    "STATUS_UNREACHABLE",
    "AuthenticationFailed",
    "Backoff",
    "CannotConnect",
    "CommandFailed",
    "ConnectionLost",
    "EntityStates",
    "HAClient",
    "HAConnection",
    "HAError",
    "HARestClient",
    "NotConnected",
    "NotHomeAssistant",
    "ProtocolError",
    "RequestTimeout",
    "ResponseTooLarge",
    "ServerInfo",
    "apply_state_diff",
    "base_url",
    "check_connection",
    "decode_compressed_state",
    "onboard",
    "websocket_url",
]
