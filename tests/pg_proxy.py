"""A TCP proxy on 127.0.0.1 in front of PostgreSQL whose link can be cut like a network.

One proxy per Odoo node (the node's ``db_port`` is the proxy's port), so a test or a benchmark
can cut one node off PostgreSQL and leave the others alone. ``cut()`` black-holes the link:
nothing is forwarded either way and nothing is closed; new connections are accepted by the
kernel and then left waiting, as when the network drops every packet. ``restore()`` forwards
again.

What a userspace proxy cannot reproduce by itself: the kernels on both sides go on
acknowledging TCP keepalive probes, so PostgreSQL's keepalive would never notice the cut.
``expire_silent`` plays that part for the sessions that asked for server keepalives: it resets
their upstream connection (PostgreSQL then ends the session, as its kernel would) once nothing
has come from the client for as long as those keepalives take to give up.

This module imports no Odoo: benchmarks load it by path.
"""

import contextlib
import select
import socket
import struct
import threading
import time

# How often blocked pumps look at the cut/stop flags.
PUMP_TICK_S = 0.1
BUFFER_BYTES = 65536


class _Link:
    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.upstream_port = upstream.getsockname()[1]
        self.last_from_client = time.monotonic()
        self.closed = False
        self.upstream_reset = False

    def close(self):
        self.closed = True
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.close()

    def reset_upstream(self):
        """RST to PostgreSQL, as its kernel sends when keepalive gives up; the client hears
        nothing while the link is cut (it is closed once the link is restored)."""
        with contextlib.suppress(OSError):
            self.upstream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.upstream.close()
        self.upstream_reset = True


class PgProxy:
    """``PgProxy(pg_port).start()``; ``.port``; ``.cut()``; ``.restore()``; ``.stop()``."""

    def __init__(self, upstream_port, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._stopping = threading.Event()
        self._links = []
        self._lock = threading.Lock()
        self.resets = 0

    def start(self):
        threading.Thread(target=self._accept, name=f"pg-proxy-{self.port}", daemon=True).start()
        return self

    def cut(self):
        self._forwarding.clear()

    def restore(self):
        self._forwarding.set()

    @property
    def is_cut(self):
        return not self._forwarding.is_set()

    def stop(self):
        self._stopping.set()
        self._forwarding.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.close()

    def expire_silent(self, upstream_ports, gives_up_s):
        """Reset the links among ``upstream_ports`` (their upstream side's local port, which
        PostgreSQL shows as ``client_port``) silent for ``gives_up_s``; returns how many."""
        now = time.monotonic()
        with self._lock:
            expired = [
                link
                for link in self._links
                if not link.closed
                and not link.upstream_reset
                and link.upstream_port in upstream_ports
                and now - link.last_from_client > gives_up_s
            ]
        for link in expired:
            link.reset_upstream()
        self.resets += len(expired)
        return len(expired)

    def _accept(self):
        while not self._stopping.is_set():
            readable, _w, _x = select.select([self._listener], [], [], PUMP_TICK_S)
            # While cut, a new connection waits in the backlog: the client sees no answer.
            if not readable or not self._forwarding.is_set():
                continue
            try:
                client, _address = self._listener.accept()
                upstream = socket.create_connection(self.upstream, 10)
            except OSError:
                continue
            link = _Link(client, upstream)
            with self._lock:
                self._links = [known for known in self._links if not known.closed] + [link]
            for source, target, from_client in (
                (client, upstream, True),
                (upstream, client, False),
            ):
                threading.Thread(
                    target=self._pump, args=(link, source, target, from_client), daemon=True
                ).start()

    def _pump(self, link, source, target, from_client):
        while not link.closed and not self._stopping.is_set():
            if not self._forwarding.wait(PUMP_TICK_S):
                continue
            try:
                readable, _w, _x = select.select([source], [], [], PUMP_TICK_S)
                if not readable or not self._forwarding.is_set():
                    continue
                data = source.recv(BUFFER_BYTES)
                if not data:
                    break
                if from_client:
                    link.last_from_client = time.monotonic()
                target.sendall(data)
            except (OSError, ValueError):  # ValueError: a socket reset_upstream closed
                break
        if not link.closed:
            link.close()
