"""Faults a real Home Assistant cannot produce on demand, against a scripted server."""

import asyncio
import json
import logging
import random
import time

import pytest
from waiting import wait_until

from hass import (
    AuthenticationFailed,
    Backoff,
    ConnectionLost,
    HAClient,
    HAConnection,
    NotConnected,
)
from hass.const import MIN_MAX_FRAME_BYTES

FAST_BACKOFF = {"backoff_initial_s": 0.01, "backoff_max_s": 0.05}


class RunningClient:
    """An HAClient running in the background of the test's event loop."""

    def __init__(self, url, token, **options):
        self.statuses = []
        self.changes = []
        self.client = HAClient(
            url,
            token,
            on_status=lambda status, error: self.statuses.append((status, error)),
            on_states=lambda batch, snapshot: self.changes.append((snapshot, batch)),
            **options,
        )

    async def __aenter__(self):
        self.task = asyncio.create_task(self.client.run())
        return self.client

    async def __aexit__(self, *exc_info):
        self.client.stop()
        await asyncio.wait_for(self.task, 5)


def test_drop_mid_command_fails_pending_commands_fast(run, scripted_server):
    async def on_command(session, message):
        if message["type"] == "slow_command":
            await asyncio.sleep(0.1)
            session.drop()

    async def script(session):
        await session.serve(on_command)

    async def main():
        async with scripted_server(script) as server:
            connection = await HAConnection.connect(server.url, server.token, command_timeout_s=30)
            started = time.monotonic()
            results = await asyncio.gather(
                connection.call("slow_command"),
                connection.call("slow_command"),
                return_exceptions=True,
            )
            assert time.monotonic() - started < 2  # far below the 30 s command timeout
            assert all(isinstance(result, ConnectionLost) for result in results)
            assert connection.closed
            with pytest.raises(ConnectionLost):
                await connection.ping()

    run(main())


def test_client_reconnects_after_a_drop(run, scripted_server):
    async def on_command(session, message):
        if message["type"] == "slow_command" and session.server.connections == 1:
            session.drop()
        else:
            await session.result(message, "done")

    async def script(session):
        await session.serve(on_command)

    async def main():
        async with scripted_server(script) as server:
            running = RunningClient(server.url, server.token, **FAST_BACKOFF)
            async with running as client:
                await client.wait_connected(5)
                with pytest.raises(ConnectionLost):
                    await client.call("slow_command")
                await wait_until(lambda: server.connections == 2, what="reconnect")
                await client.wait_connected(5)
                assert await client.call("slow_command") == "done"
            statuses = [status for status, _error in running.statuses]
            assert statuses == [
                "connecting",
                "connected",
                "disconnected",
                "connecting",
                "connected",
                "stopped",
            ]
            assert "without a close frame" in running.statuses[2][1]

    run(main())


def test_failing_on_connect_hook_fails_the_attempt_and_is_retried(run, scripted_server):
    hook_calls = []

    async def on_connect(connection):
        hook_calls.append(connection)
        if len(hook_calls) == 1:
            raise RuntimeError("registry sync failed")

    async def main():
        async with scripted_server() as server:
            running = RunningClient(server.url, server.token, on_connect=on_connect, **FAST_BACKOFF)
            async with running as client:
                await client.wait_connected(5)
                assert server.connections == 2
                assert hook_calls[0].closed
                assert client.connection is hook_calls[1]
            assert running.statuses[:2] == [
                ("connecting", None),
                ("disconnected", "connection setup failed: registry sync failed"),
            ]

    run(main())


def test_ids_are_positive_and_strictly_increasing(run, scripted_server):
    async def main():
        async with scripted_server() as server:
            connection = await HAConnection.connect(server.url, server.token)
            await asyncio.gather(*(connection.call("anything") for _ in range(50)))
            await connection.close()
            ids = [message["id"] for message in server.sessions[0].received]
            assert ids[0] >= 1
            assert ids == sorted(set(ids))
            assert len(ids) == 51  # supported_features + 50

    run(main())


def test_coalesced_arrays_are_accepted(run, scripted_server):
    async def on_command(session, message):
        if message["type"] == "subscribe_entities":
            snapshot = {
                "a": {"switch.fan": {"s": "off", "a": {}, "c": "ctx-1", "lc": 1710000000.5}}
            }
            diff = {"c": {"switch.fan": {"+": {"s": "on", "lc": 1710000001.25, "c": "ctx-2"}}}}
            await session.send_raw(
                json.dumps(
                    [
                        {"id": message["id"], "type": "result", "success": True, "result": None},
                        {"id": message["id"], "type": "event", "event": snapshot},
                        {"id": message["id"], "type": "event", "event": diff},
                    ]
                )
            )
        else:
            await session.result(message, message["type"])

    async def script(session):
        features = await session.receive()
        assert features == {
            "type": "supported_features",
            "features": {"coalesce_messages": 1},
            "id": 1,
        }
        await session.result(features)
        await session.serve(on_command, script_types={"subscribe_entities"})

    async def main():
        async with scripted_server(script) as server:
            running = RunningClient(server.url, server.token)
            async with running as client:
                await client.wait_connected(5)
                await wait_until(lambda: client.states["switch.fan"]["state"] == "on")
                assert client.states["switch.fan"] == {
                    "entity_id": "switch.fan",
                    "state": "on",
                    "attributes": {},
                    "last_changed": "2024-03-09T16:00:01.250000+00:00",
                    "last_updated": "2024-03-09T16:00:01.250000+00:00",
                    "context": {"id": "ctx-2", "parent_id": None, "user_id": None},
                }
                assert [snapshot for snapshot, _batch in running.changes] == [True, False]
                assert await client.call("other") == "other"

    run(main())


def test_malformed_frame_recycles_the_connection(run, scripted_server, caplog):
    async def script(session):
        if session.server.connections == 1:

            async def on_command(session, message):
                await session.result(message)
                await session.send_raw("{this is not json")

            await session.serve(on_command)
        else:
            await session.serve()

    async def main():
        async with scripted_server(script) as server:
            running = RunningClient(server.url, server.token, **FAST_BACKOFF)
            async with running as client:
                await client.wait_connected(5)
                await client.call("trigger")
                await wait_until(lambda: server.connections == 2, what="reconnect")
                await client.wait_connected(5)
                assert client.states["light.kitchen"]["state"] == "on"
            assert ("disconnected", "malformed JSON frame from Home Assistant") in running.statuses

    with caplog.at_level(logging.WARNING, logger="hass"):
        run(main())
    assert "Malformed JSON frame" in caplog.text


def test_oversized_frame_is_rejected_and_the_client_reconnects(run, scripted_server):
    limit = MIN_MAX_FRAME_BYTES

    async def on_command(session, message):
        if message["type"] == "huge" and session.server.connections == 1:
            padding = "x" * (limit + 1024)
            await session.result(message, padding)
        else:
            await session.result(message, "small")

    async def script(session):
        await session.serve(on_command)

    async def main():
        async with scripted_server(script) as server:
            running = RunningClient(server.url, server.token, max_frame_bytes=limit, **FAST_BACKOFF)
            async with running as client:
                await client.wait_connected(5)
                with pytest.raises(ConnectionLost, match="frame limit"):
                    await client.call("huge")
                await wait_until(lambda: server.connections == 2, what="reconnect")
                await client.wait_connected(5)
                assert await client.call("huge") == "small"

    run(main())


def test_frame_limit_below_the_minimum_is_refused():
    with pytest.raises(ValueError):
        HAClient("http://127.0.0.1:1", "token", max_frame_bytes=1024 * 1024)


def test_auth_invalid_is_not_retried(run, scripted_server):
    async def main():
        async with scripted_server() as server:
            running = RunningClient(server.url, "wrong-token", **FAST_BACKOFF)
            async with running as client:
                await running.task  # run() ends by itself
                await asyncio.sleep(0.3)  # many backoff periods: no new attempt
                assert server.connections == 1
                assert server.auth_attempts == 1
                assert client.status == "auth_failed"
                assert isinstance(client.error, AuthenticationFailed)
                with pytest.raises(AuthenticationFailed):
                    await client.wait_connected(1)
                with pytest.raises(NotConnected):
                    await client.call("get_states")

    run(main())


def test_backoff_never_gives_up_and_connects_when_the_server_appears(
    run, scripted_server, refused_url
):
    port = int(refused_url.rsplit(":", 1)[1])

    async def main():
        running = RunningClient(refused_url, "scripted-token", **FAST_BACKOFF)
        client = running.client
        await running.__aenter__()
        with pytest.raises(NotConnected):
            await client.call("get_states")
        await wait_until(lambda: client.connect_attempts >= 10, what="10 attempts")
        assert client.status == "unreachable"
        assert str(client.error) == f"cannot reach {refused_url}: connection refused"
        async with scripted_server(port=port) as server:
            await client.wait_connected(5)
            assert server.connections == 1
            assert client.states["light.kitchen"]["attributes"]["brightness"] == 180
            await running.__aexit__()
        # One "unreachable" report for all the identical failures, not one per attempt.
        statuses = [status for status, _error in running.statuses]
        assert statuses == ["connecting", "unreachable", "connected", "stopped"]

    run(main())


def test_backoff_grows_is_jittered_and_capped():
    backoff = Backoff(1.0, 30.0, rng=random.Random(42))
    delays = [backoff.next_delay() for _ in range(200)]
    bases = [min(30.0, 2.0**n) for n in range(200)]
    # Each delay lies in [base / 2, base]: it grows with the failures...
    assert all(base / 2 <= delay <= base for delay, base in zip(delays, bases, strict=True))
    assert delays[5] > delays[0] * 4
    # ...is never above the cap, and keeps coming after any number of failures.
    assert max(delays) <= 30.0
    assert all(delay > 0 for delay in delays)
    # Jitter: capped delays are spread, not identical.
    assert len({round(delay, 6) for delay in delays[10:]}) > 100
    backoff.reset()
    assert backoff.next_delay() <= 1.0
