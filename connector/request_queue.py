"""The request channel from any Odoo process to the process hosting an instance's connection.

Caller side (``call``): insert an ``ha.ws.request.queue`` row and NOTIFY the request channel on
a dedicated autocommit session, so the caller's own transaction is neither committed nor
rolled back by it; then wait on the same session, LISTENing on the response channel, until the
host NOTIFYs that the row is final or the timeout expires. Nothing polls.

Host side (``claim_request``/``finish_request``): the instance connector claims a pending row,
runs the command on its websocket (many at once), stores the outcome and NOTIFYs back.

When no process holds the instance's lock, or the host is not connected to Home Assistant,
the caller gets ``NotConnected`` at once instead of waiting for a timeout.

Secrets (alarm and lock codes...) live in a row only while it is open: every statement that
closes a row (the host's answer, the caller's timeout, the autovacuum's abandon) also stores
the payload with them redacted (policy/secret_fields.py).
"""

import json
import queue
import select
import threading
import time

import psycopg2

from ..hass import errors
from ..policy.secret_fields import redact_secrets, redact_text
from . import channels, locks
from .database import open_raw_connection

# Waiting sessions kept per database and process. Each holds a LISTEN on the response channel;
# more simultaneous callers than this open extra sessions and close them afterwards.
IDLE_CALLER_SESSIONS_PER_DB = 8

_idle_sessions = {}
_idle_sessions_lock = threading.Lock()


class RequestFailed(errors.HAError):
    """Home Assistant or the host answered the request with an error."""

    def __init__(self, message, error_type):
        super().__init__(message)
        self.error_type = error_type


def _borrow_session(dbname):
    with _idle_sessions_lock:
        pool = _idle_sessions.setdefault(dbname, queue.LifoQueue())
    try:
        connection = pool.get_nowait()
        if not connection.closed:
            return connection
    except queue.Empty:
        pass
    connection = open_raw_connection(dbname)
    with connection.cursor() as cr:
        # A constant channel name; LISTEN takes no parameter.
        cr.execute(f"LISTEN {channels.RESPONSE_CHANNEL}")  # pylint: disable=sql-injection
    return connection


def _return_session(dbname, connection):
    if connection.closed:
        return
    pool = _idle_sessions[dbname]
    if pool.qsize() >= IDLE_CALLER_SESSIONS_PER_DB:
        connection.close()
    else:
        pool.put(connection)


def call(dbname, instance_id, message_type, payload, *, timeout_s, uid=None):
    """Run one websocket command on the instance's connection and return HA's result.

    Raises ``errors.NotConnected`` when nothing hosts a live connection for the instance,
    ``errors.RequestTimeout`` after ``timeout_s``, ``errors.CommandFailed`` with Home Assistant's
    code and message, and ``RequestFailed`` for other failures reported by the host.
    """
    connection = _borrow_session(dbname)
    try:
        request_id = _enqueue(connection, instance_id, message_type, payload, timeout_s, uid)
        row = _wait_for_final_row(connection, request_id, payload, timeout_s)
    except psycopg2.Error:
        connection.close()
        raise
    finally:
        _return_session(dbname, connection)
    state, result, error, error_type, error_code = row
    if state == "done":
        return result
    if error_type == "not_connected":
        raise errors.NotConnected(error)
    if error_type == "command_failed":
        raise errors.CommandFailed(error_code or "unknown_error", error)
    if state == "timeout" or error_type == "timeout":
        raise errors.RequestTimeout(error)
    raise RequestFailed(error, error_type or "error")


def _enqueue(connection, instance_id, message_type, payload, timeout_s, uid):
    # Responses to earlier calls on this session are stale by now.
    connection.poll()
    connection.notifies.clear()
    with connection.cursor() as cr:
        cr.execute("SELECT status FROM ha_instance WHERE id = %s AND active", (instance_id,))
        row = cr.fetchone()
        if row is None:
            raise errors.NotConnected("the instance does not exist or is archived")
        if row[0] != "connected" or not locks.instance_lock_is_held(cr, instance_id):
            raise errors.NotConnected("no connection to Home Assistant for this instance")
        cr.execute(
            """
            INSERT INTO ha_ws_request_queue
                (instance_id, message_type, payload, state, timeout_s, requested_at, user_id,
                 create_uid, write_uid, create_date, write_date)
            VALUES (%s, %s, %s, 'pending', %s, now() at time zone 'UTC', %s,
                    %s, %s, now() at time zone 'UTC', now() at time zone 'UTC')
            RETURNING id
            """,
            (instance_id, message_type, json.dumps(payload or {}), timeout_s, uid, uid, uid),
        )
        request_id = cr.fetchone()[0]
        channels.notify(cr, channels.REQUEST_CHANNEL, f"{instance_id}:{request_id}")
    return request_id


def _wait_for_final_row(connection, request_id, payload, timeout_s):
    deadline = time.monotonic() + timeout_s
    wanted = str(request_id)
    while True:
        if any(n.payload == wanted for n in connection.notifies):
            break
        connection.notifies.clear()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        select.select([connection], [], [], remaining)
        connection.poll()
    with connection.cursor() as cr:
        # A row still open at the deadline is closed here, so the host skips it if it was
        # not claimed yet, and its outcome, if it comes later, is not mistaken for success.
        cr.execute(
            """
            UPDATE ha_ws_request_queue
               SET state = 'timeout', error_type = 'timeout', payload = %s,
                   error = %s, done_at = now() at time zone 'UTC',
                   write_date = now() at time zone 'UTC'
             WHERE id = %s AND state IN ('pending', 'running')
            """,
            (
                json.dumps(redact_secrets(payload or {})),
                f"no answer within {timeout_s:g} s",
                request_id,
            ),
        )
        cr.execute(
            "SELECT state, result, error, error_type, error_code"
            " FROM ha_ws_request_queue WHERE id = %s",
            (request_id,),
        )
        return cr.fetchone()


def claim_request(cr, request_id):
    """Host side: take a pending row; return (instance_id, message_type, payload, timeout_s)."""
    cr.execute(
        """
        UPDATE ha_ws_request_queue
           SET state = 'running', write_date = now() at time zone 'UTC'
         WHERE id = %s AND state = 'pending'
        RETURNING instance_id, message_type, payload, timeout_s
        """,
        (request_id,),
    )
    return cr.fetchone()


def finish_request(cr, request_id, *, result=None, error=None, error_type=None, error_code=None):
    """Host side: store the outcome, with the payload's secrets redacted, and wake the caller."""
    state = "done" if error_type is None else ("timeout" if error_type == "timeout" else "error")
    # The payload never changes while the row is open, so reading it first is safe; the
    # answer and the redacted payload are then stored together.
    cr.execute("SELECT payload FROM ha_ws_request_queue WHERE id = %s", (request_id,))
    row = cr.fetchone()
    payload = row[0] if row else None
    cr.execute(
        """
        UPDATE ha_ws_request_queue
           SET state = %s, result = %s, error = %s, error_type = %s, error_code = %s,
               payload = %s,
               done_at = now() at time zone 'UTC', write_date = now() at time zone 'UTC'
         WHERE id = %s AND state = 'running'
        """,
        (
            state,
            None if error_type else json.dumps(result),
            redact_text(error, payload),
            error_type,
            error_code,
            None if payload is None else json.dumps(redact_secrets(payload)),
            request_id,
        ),
    )
    channels.notify(cr, channels.RESPONSE_CHANNEL, str(request_id))
