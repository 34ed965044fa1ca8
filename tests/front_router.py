"""What the reverse proxy in front of a prefork Odoo does, for browsers in tests and
benchmarks: one address, ``/websocket`` to the gevent port, everything else to the HTTP port
(README, "Run it": the nginx example).

Each connection is routed by the path of its first request; a browser opens a WebSocket on a
connection of its own. The bytes are then forwarded unchanged both ways.

This module imports no Odoo: benchmarks load it by path.
"""

import contextlib
import socket
import threading

BUFFER_BYTES = 65536
HEAD_LIMIT_BYTES = 16384


class FrontRouter:
    """``FrontRouter(http_port, gevent_port).start()``; ``.url``; ``.stop()``."""

    def __init__(self, http_port, gevent_port, host="127.0.0.1"):
        self.host = host
        self.http_port = http_port
        self.gevent_port = gevent_port
        self._listener = socket.create_server((host, 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._stopping = threading.Event()

    def start(self):
        threading.Thread(target=self._accept, name=f"front-router-{self.port}", daemon=True).start()
        return self

    def stop(self):
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self):
        while not self._stopping.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._route, args=(client,), daemon=True).start()

    def _route(self, client):
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n" not in head and len(head) < HEAD_LIMIT_BYTES:
                chunk = client.recv(BUFFER_BYTES)
                if not chunk:
                    break
                head += chunk
        parts = head.split(b" ", 2)
        if len(parts) < 3:
            client.close()
            return
        websocket = parts[1] == b"/websocket" or parts[1].startswith(b"/websocket?")
        port = self.gevent_port if websocket else self.http_port
        try:
            upstream = socket.create_connection((self.host, port))
            upstream.sendall(head)
        except OSError:
            client.close()
            return
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source, target):
    """Forward ``source`` to ``target`` until either end closes, then close both."""
    try:
        while True:
            data = source.recv(BUFFER_BYTES)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
