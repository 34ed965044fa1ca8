"""The websocket handshake never follows a redirect: the token stays with the URL given.

HA's access token travels in the first message after the upgrade, so following a 3xx
would hand it to whichever server the ``Location`` names. The REST client refuses
redirects too (``allow_redirects=False`` in rest.py).
"""

import asyncio
from http import HTTPStatus

import pytest
from scripted_server import RedirectingServer
from waiting import wait_until

from hass import CannotConnect, HAClient, HAConnection, check_connection

# Distinctive, so a leak into any message is easy to spot.
TOKEN = "redirect-test-secret-token-8f3a"


@pytest.mark.parametrize(
    "status",
    [
        HTTPStatus.MOVED_PERMANENTLY,
        HTTPStatus.FOUND,
        HTTPStatus.TEMPORARY_REDIRECT,
        HTTPStatus.PERMANENT_REDIRECT,
    ],
)
def test_a_redirected_handshake_fails_and_the_target_never_sees_the_token(
    run, scripted_server, status
):
    async def main():
        async with scripted_server(token=TOKEN) as target:
            location = f"ws://127.0.0.1:{target.port}/api/websocket"
            async with RedirectingServer(location, status=status) as redirector:
                with pytest.raises(CannotConnect) as failure:
                    await HAConnection.connect(redirector.url, TOKEN, ping_interval_s=None)
                await asyncio.sleep(0.1)  # time for a followed redirect to arrive
                assert redirector.requests == 1
                assert target.connections == 0
                assert target.auth_attempts == 0
        message = str(failure.value)
        assert f"HTTP {int(status)}" in message
        assert location in message
        assert "redirect" in message
        assert TOKEN not in message

    run(main())


def test_a_same_server_redirect_is_refused_too(run, scripted_server):
    # Only the configured URL is trusted, even for a path change on the same server.
    async def main():
        async with RedirectingServer("/elsewhere/websocket") as redirector:
            with pytest.raises(CannotConnect, match="HTTP 302 to /elsewhere/websocket"):
                await HAConnection.connect(redirector.url, TOKEN, ping_interval_s=None)
            assert redirector.requests == 1

    run(main())


def test_the_client_retries_a_redirect_like_any_unreachable_server(run, scripted_server):
    async def main():
        statuses = []
        async with scripted_server(token=TOKEN) as target:
            location = f"ws://127.0.0.1:{target.port}/api/websocket"
            async with RedirectingServer(location) as redirector:
                client = HAClient(
                    redirector.url,
                    TOKEN,
                    on_status=lambda status, error: statuses.append((status, error)),
                    backoff_initial_s=0.01,
                    backoff_max_s=0.05,
                )
                task = asyncio.create_task(client.run())
                # An attempt is counted before its request reaches the server: wait for the
                # requests themselves.
                await wait_until(lambda: redirector.requests >= 3, what="3 redirected requests")
                client.stop()
                await asyncio.wait_for(task, 5)
                assert client.connect_attempts >= 3
            assert target.connections == 0
            assert target.auth_attempts == 0
        assert isinstance(client.error, CannotConnect)
        assert statuses[:2] == [("connecting", None), ("unreachable", str(client.error))]
        assert "HTTP 302" in statuses[1][1]
        assert TOKEN not in statuses[1][1]

    run(main())


def test_test_connection_reports_the_redirect(scripted_server):
    async def serve_then_check():
        async with scripted_server(token=TOKEN) as target:
            location = f"ws://127.0.0.1:{target.port}/api/websocket"
            async with RedirectingServer(location) as redirector:
                loop = asyncio.get_running_loop()
                with pytest.raises(CannotConnect, match="HTTP 302"):
                    # check_connection is synchronous and runs its own event loop.
                    await loop.run_in_executor(None, check_connection, redirector.url, TOKEN, 5)
            assert target.connections == 0

    asyncio.run(asyncio.wait_for(serve_then_check(), 30))
