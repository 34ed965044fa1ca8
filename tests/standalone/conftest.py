"""Fixtures of the standalone tier: one real Home Assistant per session, fault servers."""

import asyncio
import http.server
import socket
import threading

import pytest
from ha_server import HomeAssistantServer
from scripted_server import ScriptedServer

# Upper bound for any single test's asyncio part: a hang fails the test instead of the run.
TEST_TIMEOUT_S = 60.0

_ha_servers = []


@pytest.fixture(scope="session")
def ha_session_server():
    server = HomeAssistantServer()
    _ha_servers.append(server)
    server.start()
    yield server
    server.stop(remove_config=True)


@pytest.fixture
def ha(ha_session_server):
    """The session's Home Assistant, running and answering.

    Tests may restart, pause or stop it; the next test gets it back in working order.
    """
    server = ha_session_server
    if server.paused:
        server.resume()
    if not server.running:
        server.start()
    yield server
    if server.paused:
        server.resume()


@pytest.fixture
def run():
    """Run a coroutine to completion on a fresh event loop, bounded by TEST_TIMEOUT_S."""

    def run_coroutine(coroutine, timeout_s=TEST_TIMEOUT_S):
        async def bounded():
            async with asyncio.timeout(timeout_s):
                return await coroutine

        return asyncio.run(bounded())

    return run_coroutine


@pytest.fixture
def scripted_server():
    """The ScriptedServer class: use it inside the test's coroutine (``async with``)."""
    return ScriptedServer


@pytest.fixture
def refused_url():
    """An http URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def html_server_url():
    """A plain web server answering every request with an HTML page."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def pytest_terminal_summary(terminalreporter):
    for server in _ha_servers:
        if server.start_durations_s:
            durations = ", ".join(f"{d:.1f} s" for d in server.start_durations_s)
            terminalreporter.write_line(f"Home Assistant start-up times: {durations}")
