"""Noticing that the supervisor's PostgreSQL session is cut off, before PostgreSQL does.

The advisory locks that elect each instance's host live as long as the supervisor's session
(``locks.py``). When the network between a node and PostgreSQL fails without closing anything,
neither side hears about it: by default PostgreSQL keeps the dead session, and its locks, until
the kernel's keepalive gives up (hours), so no other node takes over; and the cut node goes on
talking to Home Assistant. Two timers make this safe and fast, and their order is the point:

1. This node gives up first. Every statement on the supervisor's session must be answered
   within ``SESSION_ANSWER_TIMEOUT_S``, and the session carries a statement every election
   round. When one is late, ``SessionWatch`` stops the node's connectors (their Home Assistant
   connections close), then shuts the session's socket down, so the supervisor's blocked call
   fails and it starts over on a new session. Counted from the last statement that got
   through, that is done within ``NODE_GIVES_UP_S``: one round, the answer timeout, one look
   of the watch, stopping the connectors.
2. PostgreSQL gives up later. The session asks for server keepalives (``SERVER_KEEPALIVE_*``):
   PostgreSQL ends it, and frees its locks, ``SERVER_GIVES_UP_S`` after the last packet it got
   from the node, which is no older than that last statement.

Only then do the other nodes see the instances free and take them over (their next election
round), so one instance never has two connections, and the takeover comes 7-9 s after the
cut. Left open: a supervisor busy between statements (waiting up to its connector stop timeout
for a connector that does not stop) notices a cut only at its next statement; a cut in that
window can let another node connect before this one has let go.
"""

import contextlib
import logging
import os
import socket
import threading
import time

import psycopg2.extensions

_logger = logging.getLogger(__name__)

# The election round of the supervisor: a statement at least this often on the session.
ELECTION_INTERVAL_S = 2.0
# A statement of the supervisor's session not answered within this: the session is lost.
# Its statements read a few catalog rows and try locks without waiting: milliseconds.
SESSION_ANSWER_TIMEOUT_S = 2.0
# How often the watch looks; adds at most this to the detection.
WATCH_TICK_S = 0.25
# Waiting for the connectors to close their Home Assistant connections when fencing.
FENCE_STOP_TIMEOUT_S = 1.0
# This node has stopped its connectors at most this long after its last answered statement.
NODE_GIVES_UP_S = (
    ELECTION_INTERVAL_S + SESSION_ANSWER_TIMEOUT_S + WATCH_TICK_S + FENCE_STOP_TIMEOUT_S
)
# Server keepalives of the session (PostgreSQL's tcp_keepalives_* and tcp_user_timeout): it
# drops the session 4 + 3 * 1 = 7 s after the last packet from the node. Not a multiple of
# ELECTION_INTERVAL_S: the nodes' rounds tend to run in step (a NOTIFY wakes them all), and a
# drop just after the other nodes' round would wait a whole round more for its takeover.
SERVER_KEEPALIVE_IDLE_S = 4
SERVER_KEEPALIVE_INTERVAL_S = 1
SERVER_KEEPALIVE_COUNT = 3
SERVER_GIVES_UP_S = SERVER_KEEPALIVE_IDLE_S + SERVER_KEEPALIVE_COUNT * SERVER_KEEPALIVE_INTERVAL_S
# How long before PostgreSQL can free the locks the node is done at the latest (1.75 s).
FENCE_MARGIN_S = SERVER_GIVES_UP_S - NODE_GIVES_UP_S
assert FENCE_MARGIN_S > 1, "the node must stop its connectors before PostgreSQL frees its locks"


def ask_server_keepalives(connection):
    """Have PostgreSQL drop this session ``SERVER_GIVES_UP_S`` after the node falls silent."""
    with connection.cursor() as cr:
        cr.execute(
            "SELECT set_config('tcp_keepalives_idle', %s, false),"
            " set_config('tcp_keepalives_interval', %s, false),"
            " set_config('tcp_keepalives_count', %s, false),"
            " set_config('tcp_user_timeout', %s, false)",
            (
                str(SERVER_KEEPALIVE_IDLE_S),
                str(SERVER_KEEPALIVE_INTERVAL_S),
                str(SERVER_KEEPALIVE_COUNT),
                str(SERVER_GIVES_UP_S * 1000),
            ),
        )


class SessionWatch(threading.Thread):
    """Watches one session at a time: ``watch(connection)`` makes its cursors report how long
    their statements wait; ``fence()`` runs (on this thread) when one waits too long."""

    def __init__(self, name, fence):
        super().__init__(name=name, daemon=True)
        self._fence = fence
        self._lock = threading.Lock()
        self._connection = None
        self._waiting_since = None
        self._stopping = threading.Event()

    # pylint-odoo takes the nested cursor class's super() call for this method's.
    def watch(self, connection):  # pylint: disable=missing-return
        watch = self

        class WatchedCursor(psycopg2.extensions.cursor):
            def execute(self, query, params=None):
                with watch._awaiting_answer(connection):
                    return super().execute(query, params)

        connection.cursor_factory = WatchedCursor
        with self._lock:
            self._connection, self._waiting_since = connection, None

    def stop(self):
        self._stopping.set()

    @contextlib.contextmanager
    def _awaiting_answer(self, connection):
        with self._lock:
            if self._connection is connection:
                self._waiting_since = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                if self._connection is connection:
                    self._waiting_since = None

    def run(self):
        while not self._stopping.wait(WATCH_TICK_S):
            with self._lock:
                late = (
                    self._waiting_since is not None
                    and time.monotonic() - self._waiting_since > SESSION_ANSWER_TIMEOUT_S
                )
                connection = self._connection if late else None
                if late:
                    self._connection = self._waiting_since = None
            if connection is not None:
                _logger.warning(
                    "PostgreSQL did not answer the connector supervisor within %g s: stopping"
                    " this node's Home Assistant connections before its locks can be freed",
                    SESSION_ANSWER_TIMEOUT_S,
                )
                try:
                    self._fence()
                finally:
                    _shut_down(connection)


def _shut_down(connection):
    """End the blocked call on ``connection`` now: its socket reads end of file."""
    with (
        contextlib.suppress(OSError, psycopg2.Error),
        socket.socket(fileno=os.dup(connection.fileno())) as sock,
    ):
        sock.shutdown(socket.SHUT_RDWR)
