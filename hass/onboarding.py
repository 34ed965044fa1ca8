"""Turn a freshly installed Home Assistant into one that has a user and an API token.

Runs only HA's "user" onboarding step (the later steps add integrations that want the
internet): create the owner, exchange the returned auth code for an access token, then
ask for a long-lived access token over the websocket.
"""

from typing import Any

import requests

from .blocking import run_blocking
from .connection import HAConnection
from .const import HTTP_TIMEOUT_S, LONG_LIVED_TOKEN_LIFESPAN_DAYS
from .errors import AuthenticationFailed, CannotConnect, CommandFailed, NotHomeAssistant
from .rest import describe_connection_error
from .urls import api_url
from .urls import base_url as normalize_base_url

DEFAULT_TOKEN_NAME = "odoo_ha_addon"


def onboard(
    base_url: str,
    username: str,
    password: str,
    *,
    name: str = "Owner",
    client_id: str | None = None,
    language: str = "en",
    token_name: str = DEFAULT_TOKEN_NAME,
    lifespan_days: int = LONG_LIVED_TOKEN_LIFESPAN_DAYS,
    timeout_s: float = HTTP_TIMEOUT_S,
) -> str:
    """Create the owner account of a fresh HA and return a long-lived access token.

    Raises ``CommandFailed`` when HA is already onboarded, ``CannotConnect`` /
    ``NotHomeAssistant`` when the URL is wrong.
    """
    url = normalize_base_url(base_url)
    client_id = client_id or f"{url}/"
    with requests.Session() as session:
        created = _post(
            session,
            url,
            "/api/onboarding/users",
            timeout_s,
            json={
                "client_id": client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": language,
            },
        )
        tokens = _post(
            session,
            url,
            "/auth/token",
            timeout_s,
            data={
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": client_id,
            },
        )
    return run_blocking(
        _create_long_lived_token,
        url,
        tokens["access_token"],
        token_name,
        lifespan_days,
        timeout_s,
    )


async def _create_long_lived_token(
    url: str, access_token: str, token_name: str, lifespan_days: int, timeout_s: float
) -> str:
    connection = await HAConnection.connect(
        url,
        access_token,
        command_timeout_s=timeout_s,
        ping_interval_s=None,
        coalesce_messages=False,
    )
    try:
        return await connection.call(
            "auth/long_lived_access_token", client_name=token_name, lifespan=lifespan_days
        )
    finally:
        await connection.close()


def _post(session: requests.Session, url: str, path: str, timeout_s: float, **kwargs: Any) -> Any:
    try:
        response = session.post(api_url(url, path), timeout=timeout_s, **kwargs)
    except requests.exceptions.ConnectionError as error:
        raise CannotConnect(f"cannot reach {url}: {describe_connection_error(error)}") from None
    except requests.exceptions.Timeout:
        raise CannotConnect(f"cannot reach {url}: no answer within {timeout_s:g} s") from None
    if response.status_code == 403 and path.endswith("/users"):
        raise CommandFailed("onboarding_done", f"{url} is already onboarded")
    if response.status_code in (400, 401, 403):
        raise AuthenticationFailed(f"{path} refused: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise NotHomeAssistant(
            f"{url} is not a Home Assistant server (HTTP {response.status_code} at {path})"
        ) from None
    if response.status_code >= 300:
        raise CommandFailed(f"http_{response.status_code}", f"{path}: HTTP {response.status_code}")
    return body
