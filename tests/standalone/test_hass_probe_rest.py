"""check_connection, the REST helper, onboarding and URL handling, against real servers."""

import time

import pytest
import requests

from hass import (
    AuthenticationFailed,
    CannotConnect,
    CommandFailed,
    HARestClient,
    NotHomeAssistant,
    base_url,
    check_connection,
    onboard,
    websocket_url,
)

pytestmark = pytest.mark.real_ha


def assert_clean_message(error, *forbidden):
    message = str(error)
    assert "Traceback" not in message
    for text in forbidden:
        assert text not in message


def test_check_connection_describes_the_server(ha):
    info = check_connection(ha.url, ha.token)
    states = requests.get(
        f"{ha.url}/api/states", headers={"Authorization": f"Bearer {ha.token}"}, timeout=10
    ).json()
    assert info.version == "2024.3.3"
    assert info.entity_count == len(states)
    assert info.location_name == "Test Home"


def test_check_connection_accepts_a_trailing_slash(ha):
    assert check_connection(ha.url + "/", ha.token).version == "2024.3.3"


def test_check_connection_wrong_token(ha):
    with pytest.raises(AuthenticationFailed) as failure:
        check_connection(ha.url, "wrong-token")
    assert_clean_message(failure.value, "wrong-token")


def test_check_connection_refused(refused_url):
    with pytest.raises(CannotConnect) as failure:
        check_connection(refused_url, "token")
    assert str(failure.value) == f"cannot reach {refused_url}: connection refused"


def test_check_connection_html_server(html_server_url):
    with pytest.raises(NotHomeAssistant) as failure:
        check_connection(html_server_url, "token")
    assert "not a Home Assistant server" in str(failure.value)
    assert_clean_message(failure.value, "token")


def test_check_connection_frozen_server_times_out(ha):
    ha.pause()
    try:
        started = time.monotonic()
        with pytest.raises(CannotConnect) as failure:
            check_connection(ha.url, ha.token, timeout_s=1.0)
        assert time.monotonic() - started < 3
    finally:
        ha.resume()
    assert "no answer within 1 s" in str(failure.value)


def test_onboarding_token_works_and_onboarding_runs_once(ha):
    with HARestClient(ha.url, ha.token) as rest:
        assert rest.api_status() == {"message": "API running."}
    with pytest.raises(CommandFailed) as failure:
        onboard(ha.url, "someone", "else")
    assert failure.value.code == "onboarding_done"


def test_rest_reads_states(ha):
    with HARestClient(ha.url + "/", ha.token) as rest:
        states = rest.get_states()
        assert len(states) > 50
        light = rest.get_state("light.bed_light")
        assert light["entity_id"] == "light.bed_light"
        assert rest.get_config()["version"] == "2024.3.3"


def test_rest_errors(ha, refused_url, html_server_url):
    with pytest.raises(AuthenticationFailed):
        HARestClient(ha.url, "wrong-token").api_status()
    with pytest.raises(CommandFailed) as failure:
        HARestClient(ha.url, ha.token).get_state("light.does_not_exist")
    assert failure.value.code == "http_404"
    with pytest.raises(CannotConnect) as failure:
        HARestClient(refused_url, "token").api_status()
    assert str(failure.value) == f"cannot reach {refused_url}: connection refused"
    with pytest.raises(NotHomeAssistant) as failure:
        HARestClient(html_server_url, "token").api_status()
    assert "not a Home Assistant server" in str(failure.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://ha.local:8123", "ws://ha.local:8123/api/websocket"),
        ("http://ha.local:8123/", "ws://ha.local:8123/api/websocket"),
        ("https://ha.example.org", "wss://ha.example.org/api/websocket"),
        ("https://example.org/ha/", "wss://example.org/ha/api/websocket"),
        ("ws://ha.local:8123/api/websocket", "ws://ha.local:8123/api/websocket"),
        (" http://10.0.0.2:8123 ", "ws://10.0.0.2:8123/api/websocket"),
    ],
)
def test_websocket_url(url, expected):
    assert websocket_url(url) == expected
    assert websocket_url(base_url(url)) == expected


@pytest.mark.parametrize("url", ["", "ha.local:8123", "ftp://ha.local", "http://"])
def test_invalid_urls(url):
    with pytest.raises(ValueError):
        websocket_url(url)
    with pytest.raises(CannotConnect):
        check_connection(url, "token", timeout_s=1)
