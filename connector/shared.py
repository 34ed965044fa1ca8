"""What the connectors of one database share within a process: PostgreSQL connections and
worker threads.

Each connector used to own a pool of up to four connections, two bookkeeping connections, a
bus connection and four threads or more (its loop, its writer, two bookkeeping threads and
asyncio's resolver threads). A node hosting 100 instances would have needed some 500
PostgreSQL connections (PostgreSQL allows 100 by default, Odoo takes 64 per process) and 600
threads, whose stacks alone exceed the address space Odoo's threaded server allows a process
(``limit_memory_hard``, 2.5 GB): "can't start new thread".

Now a connector owns only its event loop thread. Its SQL runs on threads of this process's
``ConnectorShared`` for its database: the writers' pool and the bookkeeping pool, each
bounded, whatever the number of instances; their cursors come from one ``ConnectorDatabase``
sized for those threads, bookkeeping statements use one autocommit connection per
bookkeeping thread, and bus messages are announced on one connection. A node thus holds at
most ``WRITER_THREADS + 2 * BOOKKEEPING_THREADS + 2`` connections for its connectors (plus the
supervisor's own), hosting one instance or a hundred.

Each connector sees the shared pools through ``LaneExecutor``s: the writer's lane runs one
job at a time in submission order, as its own thread did (a flush never overlaps the next
one, even after the loop gave up waiting for it), the bookkeeping lane runs at most two at a
time, and shutting a lane down waits for its jobs only.
"""

import collections
import contextlib
import threading
from concurrent.futures import Executor, Future, ThreadPoolExecutor

from .database import ConnectorDatabase, open_raw_connection

# Threads running the state writers' SQL, for all instances of a database in a process: a
# flush takes a few milliseconds and each instance flushes at most ten times a second.
WRITER_THREADS = 4
# Threads for registry syncs, statuses, requests and history backfill, likewise shared.
BOOKKEEPING_THREADS = 4
# Threads resolving Home Assistant host names for the connectors' event loops.
RESOLVER_THREADS = 2
# Stack of connector and shared threads: they run SQL and asyncio, never deep recursion;
# the default (8 MB, from ``ulimit -s``) would reserve 800 MB of address space at 100
# instances.
THREAD_STACK_BYTES = 2 * 1024 * 1024

_stack_size_lock = threading.Lock()


@contextlib.contextmanager
def thread_stack(size=THREAD_STACK_BYTES):
    """Threads started in this block get a stack of ``size`` bytes."""
    with _stack_size_lock:
        previous = threading.stack_size(size)
        try:
            yield
        finally:
            threading.stack_size(previous)


class SmallStackThreadPool(ThreadPoolExecutor):
    """A thread pool whose threads get ``THREAD_STACK_BYTES`` stacks."""

    def _adjust_thread_count(self):
        with thread_stack():
            return super()._adjust_thread_count()


class LaneExecutor(Executor):
    """Runs its jobs on a shared pool, at most ``width`` at a time, in submission order."""

    def __init__(self, pool, width=1):
        self._pool = pool
        self._width = width
        self._lock = threading.Lock()
        self._queue = collections.deque()
        self._running = 0
        self._idle = threading.Event()
        self._idle.set()
        self._shut = False

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._queue.append((future, fn, args, kwargs))
            start = self._running < self._width
            if start:
                self._running += 1
                self._idle.clear()
        if start:
            try:
                self._pool.submit(self._drain)
            except RuntimeError:
                with self._lock:
                    self._running -= 1
                    if not self._running:
                        self._idle.set()
                raise
        return future

    def _drain(self):
        while True:
            with self._lock:
                if not self._queue:
                    self._running -= 1
                    if not self._running:
                        self._idle.set()
                    return
                future, fn, args, kwargs = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            self._shut = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft()[0].cancel()
        if wait:
            self._idle.wait()


class LanePool(ThreadPoolExecutor):
    """A ``LaneExecutor`` that passes for a ``ThreadPoolExecutor``, which is what asyncio
    accepts as a loop's default executor; it starts no thread of its own."""

    def __init__(self, pool, width=1):
        super().__init__(max_workers=1)
        self._lane = LaneExecutor(pool, width)

    def submit(self, fn, /, *args, **kwargs):
        return self._lane.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._lane.shutdown(wait, cancel_futures=cancel_futures)
        return super().shutdown(wait=False)


class ConnectorShared:
    """The pools and connections the connectors of ``dbname`` share in this process."""

    def __init__(self, dbname):
        self.dbname = dbname
        # A connection per thread that may hold a cursor, and a spare.
        self.db = ConnectorDatabase(
            dbname, max_connections=WRITER_THREADS + BOOKKEEPING_THREADS + 1
        )
        self.writers = SmallStackThreadPool(WRITER_THREADS, thread_name_prefix="ha-writer")
        self.bookkeeping = SmallStackThreadPool(
            BOOKKEEPING_THREADS, thread_name_prefix="ha-bookkeeping"
        )
        self.resolver = SmallStackThreadPool(RESOLVER_THREADS, thread_name_prefix="ha-resolver")
        self._local = threading.local()

    def raw_connection(self):
        """This bookkeeping thread's autocommit connection (opened again once closed)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = open_raw_connection(self.dbname)
            self._local.connection = connection
        return connection


_shared = {}
_shared_lock = threading.Lock()


def shared_for(dbname):
    """This process's ``ConnectorShared`` of ``dbname``, made at first use; it lives as long
    as the process (a supervisor restarted after losing PostgreSQL finds it again; broken
    connections are replaced as they are found)."""
    with _shared_lock:
        shared = _shared.get(dbname)
        if shared is None:
            shared = _shared[dbname] = ConnectorShared(dbname)
        return shared
