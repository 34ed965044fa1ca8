"""The protocol client against a real Home Assistant 2024.3.3 running the demo."""

import asyncio
import functools
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import waiting

from hass import (
    AuthenticationFailed,
    CommandFailed,
    ConnectionLost,
    HAClient,
    HAConnection,
    NotConnected,
)

pytestmark = pytest.mark.real_ha

LIGHT = "light.bed_light"


# A real Home Assistant takes longer than a scripted server.
wait_until = functools.partial(waiting.wait_until, timeout_s=10.0)


def by_entity_id(states):
    return {state["entity_id"]: state for state in states}


def last_change(client, entity_id):
    """The state reported last for ``entity_id`` by a diff (not a snapshot) callback."""
    for snapshot, batch in reversed(client.changes):
        for changed_id, state in reversed(batch):
            if changed_id == entity_id:
                assert not snapshot
                return state
    raise AssertionError(f"no change reported for {entity_id}")


async def start_client(ha, **options):
    statuses = []
    changes = []
    client = HAClient(
        ha.url,
        ha.token,
        on_status=lambda status, error: statuses.append((status, error)),
        on_states=lambda batch, snapshot: changes.append((snapshot, batch)),
        **options,
    )
    client.statuses = statuses
    client.changes = changes
    task = asyncio.create_task(client.run())
    await client.wait_connected(10)
    return client, task


async def stop_client(client, task):
    client.stop()
    await asyncio.wait_for(task, 5)
    assert client.status == "stopped"


async def light_service(client, service, **data):
    await client.call(
        "call_service",
        domain="light",
        service=service,
        service_data=data,
        target={"entity_id": LIGHT},
    )


def test_auth_ok_reports_version(ha, run):
    async def main():
        connection = await HAConnection.connect(ha.url, ha.token)
        try:
            assert connection.ha_version == "2024.3.3"
            config = await connection.get_config()
            assert config["location_name"] == "Test Home"
        finally:
            await connection.close()
        assert connection.closed

    run(main())


def test_wrong_token_fails_once_and_is_not_retried(ha, run):
    log = ha.config_dir / "home-assistant.log"
    failed_logins_before = log.read_text().count("invalid authentication")
    statuses = []
    client = HAClient(
        ha.url,
        "not-a-valid-token",
        on_status=lambda status, error: statuses.append((status, error)),
        backoff_initial_s=0.01,
        backoff_max_s=0.01,
    )

    async def main():
        await client.run()  # returns by itself: no retry loop
        await asyncio.sleep(0.5)

    run(main(), timeout_s=15)
    assert client.status == "auth_failed"
    assert isinstance(client.error, AuthenticationFailed)
    assert client.connect_attempts == 1
    assert [status for status, _error in statuses] == ["connecting", "auth_failed"]
    assert "not-a-valid-token" not in statuses[-1][1]
    # HA itself saw exactly one failed login.
    assert log.read_text().count("invalid authentication") == failed_logins_before + 1


def test_snapshot_equals_get_states(ha, run):
    async def main():
        client, task = await start_client(ha)
        try:
            snapshot, first_batch = client.changes[0]
            assert snapshot is True
            states = await client.call("get_states")
            # Events sent before get_states' result have been applied by now, so the
            # mirror must be exactly what HA returns: every entity, every field.
            assert len(states) > 50
            assert client.states == by_entity_id(states)
            assert dict(first_batch).keys() == client.states.keys()
        finally:
            await stop_client(client, task)

    run(main())


def test_light_changes_decode_to_get_states(ha, run):
    async def main():
        client, task = await start_client(ha)
        try:
            await light_service(client, "turn_off")
            await wait_until(lambda: client.states[LIGHT]["state"] == "off", what="light off")
            client.changes.clear()

            await light_service(client, "turn_on", brightness=100)
            await wait_until(
                lambda: client.states[LIGHT]["attributes"].get("brightness") == 100,
                what="brightness 100",
            )
            turned_on = client.states[LIGHT]
            assert turned_on == by_entity_id(await client.call("get_states"))[LIGHT]
            assert turned_on["state"] == "on"
            # Came as a diff, not a snapshot, and carries the calling user's context.
            assert any(not snapshot for snapshot, _batch in client.changes)
            assert turned_on["context"]["user_id"]

            # Same state, new attributes: last_changed stays, last_updated moves.
            await light_service(client, "turn_on", brightness=200)
            await wait_until(
                lambda: client.states[LIGHT]["attributes"].get("brightness") == 200,
                what="brightness 200",
            )
            dimmed = client.states[LIGHT]
            assert dimmed == by_entity_id(await client.call("get_states"))[LIGHT]
            assert dimmed["last_changed"] == turned_on["last_changed"]
            assert datetime.fromisoformat(dimmed["last_updated"]) > datetime.fromisoformat(
                turned_on["last_updated"]
            )

            await light_service(client, "turn_off")
            await wait_until(lambda: client.states[LIGHT]["state"] == "off", what="light off")
            assert client.states == by_entity_id(await client.call("get_states"))
        finally:
            await stop_client(client, task)

    run(main())


def test_registry_lists(ha, run):
    async def main():
        connection = await HAConnection.connect(ha.url, ha.token)
        try:
            areas = await connection.call("config/area_registry/list")
            devices = await connection.call("config/device_registry/list")
            entities = await connection.call("config/entity_registry/list")
            labels = await connection.call("config/label_registry/list")
            if not any(label["name"] == "Odoo test" for label in labels):
                await connection.call("config/label_registry/create", name="Odoo test")
                labels = await connection.call("config/label_registry/list")
        finally:
            await connection.close()
        assert areas and all({"area_id", "name"} <= area.keys() for area in areas)
        assert len(devices) > 10
        assert all({"id", "name", "area_id", "manufacturer"} <= device.keys() for device in devices)
        assert len(entities) > 50
        assert all(
            {"entity_id", "platform", "device_id", "area_id"} <= entity.keys()
            for entity in entities
        )
        assert any(entity["entity_id"] == LIGHT for entity in entities)
        assert [label["name"] for label in labels if label["name"] == "Odoo test"]
        assert all({"label_id", "name"} <= label.keys() for label in labels)

    run(main())


def test_history_returns_points_for_a_changed_entity(ha, run):
    async def main():
        start = datetime.now(UTC) - timedelta(minutes=5)
        client, task = await start_client(ha)
        try:
            await light_service(client, "turn_on", brightness=50)
            await light_service(client, "turn_off")
            history = {}

            async def read_history():
                history.update(
                    await client.call(
                        "history/history_during_period",
                        start_time=start.isoformat(),
                        entity_ids=[LIGHT],
                        minimal_response=False,
                        no_attributes=False,
                    )
                )
                points = history.get(LIGHT, [])
                # The recorder writes asynchronously: wait for the last change to land.
                return len(points) >= 2 and points[-1]["s"] == "off"

            deadline = time.monotonic() + 10
            while not await read_history():
                assert time.monotonic() < deadline, f"history stayed {history}"
                await asyncio.sleep(0.2)
            points = history[LIGHT]
            assert {point["s"] for point in points} >= {"on", "off"}
            assert client.states[LIGHT]["state"] == "off"
            assert all(isinstance(point["lu"], float) for point in points)
        finally:
            await stop_client(client, task)

    run(main())


def test_many_commands_in_flight(ha, run):
    async def main():
        connection = await HAConnection.connect(ha.url, ha.token)
        try:
            # HA rejects ids that are not strictly increasing: 60 concurrent commands
            # only all succeed if ids are taken and sent in order.
            results = await asyncio.gather(
                *(connection.call("get_config") for _ in range(30)),
                *(connection.ping() for _ in range(30)),
            )
            assert all(result["version"] == "2024.3.3" for result in results[:30])
            with pytest.raises(CommandFailed) as failure:
                await connection.call("no_such_command")
            assert failure.value.code == "unknown_command"
            # A failed command leaves the connection usable.
            assert (await connection.get_config())["version"] == "2024.3.3"
        finally:
            await connection.close()

    run(main())


def test_values_json_cannot_carry_are_refused_before_they_reach_home_assistant(ha, run):
    async def main():
        connection = await HAConnection.connect(ha.url, ha.token)
        try:
            for value in (float("nan"), float("inf")):
                with pytest.raises(CommandFailed) as failure:
                    await connection.call(
                        "call_service",
                        domain="light",
                        service="turn_on",
                        service_data={"brightness": value},
                        target={"entity_id": LIGHT},
                    )
                assert failure.value.code == "invalid_format"
            # Home Assistant closes the connection on such a frame; it never got one.
            assert not connection.closed
            assert (await connection.get_config())["version"] == "2024.3.3"
        finally:
            await connection.close()

    run(main())


def test_event_subscription_and_unsubscribe(ha, run):
    async def main():
        connection = await HAConnection.connect(ha.url, ha.token)
        events = []
        try:
            unsubscribe = await connection.subscribe_events(events.append, "state_changed")
            await connection.call_service("light", "toggle", target={"entity_id": LIGHT})
            await wait_until(
                lambda: any(e["data"]["entity_id"] == LIGHT for e in events), what="event"
            )
            await unsubscribe()
            seen = len(events)
            await connection.call_service("light", "toggle", target={"entity_id": LIGHT})
            await connection.ping()
            assert len(events) == seen
        finally:
            await connection.close()

    run(main())


def test_frame_of_five_megabytes_is_accepted(ha, run):
    blob = "x" * (5 * 1024 * 1024)
    url = f"{ha.url}/api/states/sensor.big_payload"
    headers = {"Authorization": f"Bearer {ha.token}"}
    requests.post(
        url, json={"state": "big", "attributes": {"blob": blob}}, headers=headers, timeout=30
    ).raise_for_status()

    async def main():
        connection = await HAConnection.connect(ha.url, ha.token)
        try:
            return by_entity_id(await connection.get_states())
        finally:
            await connection.close()

    try:
        states = run(main())
    finally:
        requests.delete(url, headers=headers, timeout=30)
    assert states["sensor.big_payload"]["attributes"]["blob"] == blob


def test_added_changed_and_removed_entities(ha, run):
    entity_id = "sensor.odoo_mirror_test"
    url = f"{ha.url}/api/states/{entity_id}"
    headers = {"Authorization": f"Bearer {ha.token}"}

    def set_state(state, attributes):
        body = {"state": state, "attributes": attributes}
        requests.post(url, json=body, headers=headers, timeout=10).raise_for_status()

    async def main():
        client, task = await start_client(ha)
        try:
            matches_ha = lambda: client.states == by_entity_id(states)  # noqa: E731

            await asyncio.to_thread(set_state, "1", {"unit_of_measurement": "W", "extra": [1, 2]})
            await wait_until(lambda: entity_id in client.states, what="added entity")
            states = await client.call("get_states")
            assert matches_ha()
            assert last_change(client, entity_id) == client.states[entity_id]

            # An attribute removed ("-" in the diff), one changed, the state unchanged.
            await asyncio.to_thread(set_state, "1", {"unit_of_measurement": "kW"})
            await wait_until(
                lambda: "extra" not in client.states[entity_id]["attributes"], what="removal"
            )
            states = await client.call("get_states")
            assert matches_ha()

            await asyncio.to_thread(requests.delete, url, headers=headers, timeout=10)
            await wait_until(lambda: entity_id not in client.states, what="removed entity")
            assert last_change(client, entity_id) is None
            states = await client.call("get_states")
            assert matches_ha()
        finally:
            requests.delete(url, headers=headers, timeout=10)
            await stop_client(client, task)

    run(main())


def test_client_resyncs_after_home_assistant_restart(ha, run):
    connected_hooks = []
    area_events = []

    async def on_connect(connection):
        connected_hooks.append((await connection.get_config())["version"])

    async def main():
        client, task = await start_client(
            ha, on_connect=on_connect, backoff_initial_s=0.1, backoff_max_s=0.5
        )
        try:
            await client.subscribe_events(area_events.append, "area_registry_updated")
            connections_before = client.statuses.count(("connected", None))
            await asyncio.to_thread(ha.restart)
            await wait_until(
                lambda: client.statuses.count(("connected", None)) > connections_before,
                timeout_s=30,
                what="reconnect",
            )
            assert any(status == "disconnected" for status, _error in client.statuses)
            assert connected_hooks == ["2024.3.3", "2024.3.3"]
            # The new snapshot replaced the mirror; it must match HA's states again.
            assert sum(1 for snapshot, _batch in client.changes if snapshot) >= 2
            assert client.states == by_entity_id(await client.call("get_states"))
            # Event subscriptions made through the client were re-established.
            area = await client.call("config/area_registry/create", name="Odoo restart test")
            await client.call("config/area_registry/delete", area_id=area["area_id"])
            await wait_until(lambda: len(area_events) >= 2, what="area events")
            assert area_events[0]["data"] == {"action": "create", "area_id": area["area_id"]}
        finally:
            await stop_client(client, task)

    run(main())


def test_frozen_server_is_noticed_by_keepalive_and_pending_commands_fail_fast(ha, run):
    ping_interval_s, ping_timeout_s = 0.5, 0.5

    async def main():
        client, task = await start_client(
            ha,
            ping_interval_s=ping_interval_s,
            ping_timeout_s=ping_timeout_s,
            open_timeout_s=1,
            auth_timeout_s=1,
            backoff_initial_s=0.1,
            backoff_max_s=0.5,
        )
        try:
            ha.pause()
            frozen_at = time.monotonic()
            with pytest.raises(ConnectionLost):
                await client.call("get_config")  # default timeout: 30 s
            noticed_after_s = time.monotonic() - frozen_at
            # Scheduling slack on a loaded 2-core machine on top of interval + timeout.
            assert noticed_after_s < ping_interval_s + ping_timeout_s + 0.75
            await wait_until(lambda: client.status != "connected", timeout_s=1, what="status")
            with pytest.raises(NotConnected):
                await client.call("get_config")

            ha.resume()
            await client.wait_connected(15)
            assert client.states == by_entity_id(await client.call("get_states"))
        finally:
            ha.resume()
            await stop_client(client, task)

    run(main())
