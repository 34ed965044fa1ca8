"""The "Test connection" check: can we reach, authenticate and read this server?"""

import asyncio
from dataclasses import dataclass

from .blocking import run_blocking
from .connection import HAConnection
from .errors import CannotConnect


@dataclass(frozen=True)
class ServerInfo:
    version: str
    entity_count: int
    location_name: str


def check_connection(
    url: str, token: str, timeout_s: float = 10.0, *, verify_ssl: bool = True
) -> ServerInfo:
    """Connect over the websocket, authenticate, and describe the server.

    Synchronous. Raises ``CannotConnect`` (e.g. "cannot reach http://127.0.0.1:1:
    connection refused"), ``NotHomeAssistant`` ("... is not a Home Assistant server ..."),
    ``AuthenticationFailed`` or ``CommandFailed``; messages never carry the token.
    """
    return run_blocking(_check_connection, url, token, timeout_s, verify_ssl)


async def _check_connection(url: str, token: str, timeout_s: float, verify_ssl: bool) -> ServerInfo:
    try:
        async with asyncio.timeout(timeout_s):
            connection = await HAConnection.connect(
                url,
                token,
                open_timeout_s=timeout_s,
                auth_timeout_s=timeout_s,
                command_timeout_s=timeout_s,
                ping_interval_s=None,
                coalesce_messages=False,
                verify_ssl=verify_ssl,
            )
            try:
                config = await connection.get_config()
                states = await connection.get_states()
            finally:
                await connection.close()
    except TimeoutError:
        raise CannotConnect(f"cannot reach {url}: no answer within {timeout_s:g} s") from None
    return ServerInfo(
        version=connection.ha_version or config.get("version") or "",
        entity_count=len(states),
        location_name=config.get("location_name") or "",
    )
