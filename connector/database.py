"""PostgreSQL access for connector threads, kept apart from Odoo's shared pool.

Connector threads may live in the prefork master process. Before forking workers the master
empties Odoo's global pool (``odoo.sql_db.close_all()``), which would close a connection a
connector is using; and a forked child that inherits a live connection can end the parent's
PostgreSQL session when it finalises its copy (libpq sends a Terminate message on the shared
socket), which would silently drop the parent's advisory locks. So connector threads take their
cursors from a private pool, their long-lived sessions are tracked here, and a fork hook points
the child's copies of all those sockets at /dev/null before the child can touch them.

Bus messages sent in a connector transaction are announced (``NOTIFY imbus``) on the
connector's own connection too. Odoo's ``bus.bus`` would borrow one from the process's shared
pool after the commit; in a threaded server every open ``/websocket`` borrows from that pool at
each notification, and with a few hundred sockets the writer found it full ("The Connection Pool
Is Full") and had to write its batch again (docs/PERFORMANCE.md).
"""

import contextlib
import logging
import os
import threading
import weakref

import psycopg2
import psycopg2.extensions
from psycopg2 import errorcodes, sql
from psycopg2.pool import PoolError

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.sql_db import Connection, ConnectionPool, PsycoConnection, connection_info_for
from odoo.tools import OrderedSet

from odoo.addons.bus.models.bus import ODOO_NOTIFY_FUNCTION, get_notify_payloads

from ..hass.forking import release_descriptors

_logger = logging.getLogger(__name__)

# Immediate retries of a transaction that lost a serialization race with another one.
SERIALIZATION_RETRIES = 5
_RETRYABLE_CODES = {errorcodes.SERIALIZATION_FAILURE, errorcodes.DEADLOCK_DETECTED}

# Where bus.bus keeps, in a cursor's postcommit data, the channels to announce after the
# commit; it registers its own announcement only when the key is not there yet.
BUS_CHANNELS_KEY = "bus.bus.channels"
# Odoo's bus listens on this database, whatever the database of the messages.
BUS_LISTEN_DB = "postgres"

# A fork waits at most this long for connections being opened to be tracked (see _opening).
FORK_WAIT_FOR_CONNECTS_S = 2.0

_tracked_connections = weakref.WeakSet()
_tracked_pools = weakref.WeakSet()
_tracked_lock = threading.Lock()
_connects_in_progress = 0
_connects_done = threading.Condition()


def _track_connection(connection):
    with _tracked_lock:
        _tracked_connections.add(connection)
    return connection


@contextlib.contextmanager
def _opening():
    """Around opening a connection until it is tracked: its socket exists before the fork hook
    can know it, so a fork waits for it. Otherwise a prefork worker forked meanwhile (the master
    forks its first workers just as the supervisor opens its session) keeps a copy of the socket,
    and the session, with its advisory locks, outlives the master until that worker exits."""
    global _connects_in_progress  # noqa: PLW0603
    with _connects_done:
        _connects_in_progress += 1
    try:
        yield
    finally:
        with _connects_done:
            _connects_in_progress -= 1
            _connects_done.notify_all()


def _wait_for_connects():
    """Before a fork: let connections being opened get tracked (bounded: PostgreSQL may hang)."""
    with _connects_done:
        _connects_done.wait_for(lambda: not _connects_in_progress, FORK_WAIT_FOR_CONNECTS_S)


def open_raw_connection(dbname, *, autocommit=True):
    """A dedicated psycopg2 connection (for advisory locks, LISTEN, queue bookkeeping)."""
    _name, params = connection_info_for(dbname)
    with _opening():
        connection = _track_connection(psycopg2.connect(**params))
    connection.autocommit = autocommit
    return connection


class ConnectorPool(ConnectionPool):
    """Odoo's connection pool for one database, except that opening or resetting a
    connection happens outside the pool's lock.

    Odoo's pool holds its lock while it connects. The connectors of a process share one pool
    (``shared.py``): a connection attempt that hangs (PostgreSQL restarting behind a proxy
    answered after 10 s in the fault suite) would stop every connector thread of the node at
    that lock, and a node hosting 34 instances then needed 10 s to stop them instead of
    0.1 s.
    """

    def __init__(self, maxconn):
        super().__init__(maxconn)
        self._opening = 0

    def borrow(self, connection_info):
        while True:
            with self._lock:
                # A broken connection is closed by psycopg2; a cursor whose rollback failed on
                # it never gave it back, so closed ones go whether in use or not, as in Odoo.
                self._connections[:] = [e for e in self._connections if not e[0].closed]
                for entry in self._connections:
                    # A cursor garbage-collected unclosed marks its connection leaked.
                    if getattr(entry[0], "leaked", False):
                        del entry[0].leaked
                        entry[1] = False
                        _logger.info("%r: Free leaked connection to %r", self, entry[0].dsn)
                idle = next((entry for entry in self._connections if not entry[1]), None)
                if idle is not None:
                    idle[1] = True
                elif len(self._connections) + self._opening >= self._maxconn:
                    raise PoolError("The Connection Pool Is Full")
                else:
                    self._opening += 1
            if idle is None:
                return self._connect(connection_info)
            try:
                idle[0].reset()
            except psycopg2.OperationalError:
                with self._lock:
                    self._connections[:] = [e for e in self._connections if e is not idle]
                with contextlib.suppress(psycopg2.Error):
                    idle[0].close()
                continue
            return idle[0]

    def _connect(self, connection_info):
        try:
            connection = psycopg2.connect(connection_factory=PsycoConnection, **connection_info)
        except psycopg2.Error:
            with self._lock:
                self._opening -= 1
            _logger.info("Connection to the database failed")
            raise
        with self._lock:
            self._opening -= 1
            self._connections.append([connection, True, 0])
        return connection


class ConnectorDatabase:
    """Cursors on one database for connector threads, from a pool Odoo never empties."""

    def __init__(self, dbname, max_connections):
        self.dbname = dbname
        _name, self._params = connection_info_for(dbname)
        self._pool = ConnectorPool(max_connections)
        with _tracked_lock:
            _tracked_pools.add(self._pool)
        self._bus_connection = None
        self._bus_lock = threading.Lock()

    def cursor(self):
        """An Odoo cursor (usable with ``api.Environment``) on this private pool."""
        with _opening():  # the pool may open a connection
            return Connection(self._pool, self.dbname, self._params).cursor()

    def environment(self, cr):
        """A superuser environment on ``cr`` (one of this pool's cursors).

        ``api.Environment`` would look the registry up through ``Registry(dbname)``, which
        waits for ``Registry._lock``; the threaded server holds that lock while it loads
        databases and runs their tests, so a connector started meanwhile would stall. The
        registry already loaded in this process is taken directly instead.
        """
        try:
            registry = Registry.registries[self.dbname]
        except KeyError:
            registry = Registry(self.dbname)
        cr.transaction = api.Transaction(registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    def run_transaction(self, function, *args):
        """``function(cr, *args)`` in one READ COMMITTED transaction, committed.

        Odoo's cursors default to REPEATABLE READ, under which the state writer would fail
        whenever someone else updated one of its rows since its snapshot (a person editing an
        entity's note, a status update on the instance). Its statements are upserts of values
        that come from Home Assistant, not read-modify-write cycles, so READ COMMITTED is
        right: concurrent writers wait for each other instead of failing. Deadlocks are still
        retried.

        Bus messages the transaction sends are announced after the commit on this object's
        own connection (``announce_bus_messages``).
        """
        for attempt in range(SERIALIZATION_RETRIES + 1):
            try:
                bus_channels = OrderedSet()
                with self.cursor() as cr:
                    # bus.bus then adds its channels here and announces nothing itself.
                    cr.postcommit.data[BUS_CHANNELS_KEY] = bus_channels
                    cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    result = function(cr, *args)
            except psycopg2.Error as error:
                if error.pgcode not in _RETRYABLE_CODES or attempt == SERIALIZATION_RETRIES:
                    raise
            else:
                self.announce_bus_messages(bus_channels)
                return result
        return None

    def announce_bus_messages(self, channels):
        """``NOTIFY imbus`` for bus messages just committed on ``channels``, as ``bus.bus``
        does, on a connection of this object's own (opened on first use, and again after an
        error). A failure is logged, not raised: the messages are committed, sockets read them
        at their next notification, and writing the batch again would not help."""
        if not channels:
            return
        statement = sql.SQL("SELECT {}('imbus', %s)").format(sql.Identifier(ODOO_NOTIFY_FUNCTION))
        payloads = get_notify_payloads(list(channels))
        with self._bus_lock:
            try:
                if self._bus_connection is None or self._bus_connection.closed:
                    self._bus_connection = open_raw_connection(BUS_LISTEN_DB)
                with self._bus_connection.cursor() as cr:
                    for payload in payloads:
                        cr.execute(statement, (payload,))
            except psycopg2.Error as error:
                _logger.warning(
                    "Announcing bus messages of %s failed (%s); they go out with the next ones",
                    self.dbname,
                    str(error).strip() or type(error).__name__,
                )
                self._close_bus_connection()

    def _close_bus_connection(self):
        connection, self._bus_connection = self._bus_connection, None
        if connection is not None:
            with contextlib.suppress(psycopg2.Error):
                connection.close()


def _detach_inherited_connections():
    """In a forked child: make the parent's sockets unreachable without closing them.

    Closing a libpq connection sends Terminate to the server, and the parent shares that
    session; dup2() of /dev/null over the descriptor keeps the number reserved (so nothing
    else reuses it) while whatever the child later writes to it goes nowhere.
    """
    # The child runs one thread now; a lock some parent thread held at fork time stays held
    # forever in the child, so it gets a fresh one instead of waiting on it.
    global _tracked_lock, _connects_done, _connects_in_progress  # noqa: PLW0603
    _tracked_lock = threading.Lock()
    _connects_done = threading.Condition()
    _connects_in_progress = 0
    connections = list(_tracked_connections)
    for pool in list(_tracked_pools):
        connections.extend(cnx for cnx, *_rest in pool._connections)
        pool._connections.clear()
        pool._lock = threading.Lock()
    _tracked_connections.clear()
    descriptors = []
    for connection in connections:
        with contextlib.suppress(psycopg2.Error):
            if not connection.closed:
                descriptors.append(connection.fileno())
    release_descriptors(descriptors)


os.register_at_fork(before=_wait_for_connects, after_in_child=_detach_inherited_connections)
