"""Bus notifications dispatched to websockets in batches, one cursor for all.

Odoo dispatches bus notifications socket by socket: each socket woken by a notification
takes a pooled cursor, checks its session and reads its own notifications with a query. A
Home Assistant change goes to every socket of a scope, so at 1,000 sockets each flush of
the state writer cost 1,000 cursors and 1,000 queries in the one ``/websocket`` process:
the pool ran dry, sockets were closed with "try later", and the last socket of a round
heard of a change seconds after the first (docs/PERFORMANCE.md, "Prefork + gevent").

Here a woken socket still reads its session and takes its wake-up, as Odoo does (the
session file is parsed again only when it changed: reading it was the largest cost left per
socket), then hands its poll to the process's ``BatchDispatcher`` and waits. The dispatcher
gathers the sockets woken together (a few milliseconds), and for each database takes one cursor,
checks every session token (Odoo's ``check_session``, cached per session), reads the
notifications of all their channels in one query and gives each socket the rows of its own
channels newer than its last id and not in its recent history: what ``bus.bus._poll``
returns to it. Each socket then sends them itself, the same frame Odoo sends; sockets that
get the same notifications share one JSON text.

What stays Odoo's: the first poll of a socket (its last id is 0 and Odoo reads by date)
and every poll of a database where another addon overrides ``bus.bus._poll`` go through
``bus.bus._poll`` per socket, on the shared cursor. A database without this addon, or
whose registry is not loaded yet, is dispatched by Odoo's code unchanged.
"""

import bisect
import json
import logging
import os
import threading
import time
from collections import defaultdict

from psycopg2.pool import PoolError

from odoo import SUPERUSER_ID, api
from odoo.http import FilesystemSessionStore, SessionExpiredException, root
from odoo.modules.registry import Registry
from odoo.service.security import check_session

from odoo.addons.bus import websocket as bus_websocket
from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.addons.bus.websocket import ConnectionState

_logger = logging.getLogger(__name__)

# How long the dispatcher waits for more sockets of the same wake-up, at most.
GATHER_STEP_SECONDS = 0.002
GATHER_MAX_SECONDS = 0.05
# The modules whose ``bus.bus._poll`` the batch knows how to answer for.
KNOWN_POLL_MODULES = ("odoo.addons.bus.", "odoo.addons.odoo_ha_addon.")


class Poll:
    """One socket's request: what it has had, and then what it gets."""

    __slots__ = ("error", "ignore", "last", "notifications", "session", "text", "websocket")

    def __init__(self, websocket, session):
        self.websocket = websocket
        self.session = session
        self.last = websocket._last_notif_sent_id
        self.ignore = sent_ids(websocket)
        self.notifications = []
        self.text = None
        self.error = None


def sent_ids(websocket):
    """The ids of the socket's ``_notif_history``, as a set kept along with it (rebuilt if
    Odoo's own dispatch changed the history meanwhile)."""
    history = websocket._notif_history
    ids = getattr(websocket, "_ha_sent_ids", None)
    if ids is None or len(ids) != len(history) or (history and history[-1][0] not in ids):
        ids = websocket._ha_sent_ids = {notif_id for notif_id, _sent in history}
    return ids


def channel_texts(websocket, dbname):
    """The socket's channels as the bus table writes them, kept until it subscribes anew."""
    cached = getattr(websocket, "_ha_channel_texts", None)
    if cached is None or cached[0] is not websocket._channels:
        texts = frozenset(json_dump(channel_with_db(dbname, c)) for c in websocket._channels)
        cached = (websocket._channels, texts)
        websocket._ha_channel_texts = cached
    return cached[1]


def poll_is_known(bus_class):
    """Whether every ``_poll`` in the registry's ``bus.bus`` is one the batch answers for."""
    return all(
        klass.__module__.startswith(KNOWN_POLL_MODULES)
        for klass in bus_class.__mro__
        if "_poll" in vars(klass)
    )


class BatchDispatcher:
    def __init__(self):
        self._lock = threading.Lock()
        self._pending = []
        # Set once the batch the pending requests will be part of is answered.
        self._answered = threading.Event()
        self._wakeup = threading.Event()
        self._thread = None

    def poll(self, websocket, session):
        """Block until the batch answered this socket; return (notifications, JSON text).
        Like Odoo's dispatch, it waits for PostgreSQL as long as PostgreSQL takes."""
        request = Poll(websocket, session)
        with self._lock:
            self._pending.append(request)
            answered = self._answered
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="odoo_ha_addon.bus_batch", daemon=True
                )
                self._thread.start()
        self._wakeup.set()
        answered.wait()
        if request.error is not None:
            raise request.error
        return request.notifications, request.text

    def _run(self):
        while True:
            self._wakeup.wait()
            self._gather()
            with self._lock:
                self._wakeup.clear()
                batch, self._pending = self._pending, []
                answered, self._answered = self._answered, threading.Event()
            by_db = defaultdict(list)
            for request in batch:
                by_db[request.session.db].append(request)
            try:
                for dbname, requests in by_db.items():
                    try:
                        self._answer(dbname, requests)
                    except Exception as exc:  # given to every socket that waits
                        if not isinstance(exc, PoolError):
                            _logger.exception("Bus dispatch of %d sockets failed", len(requests))
                        for request in requests:
                            request.error = request.error or exc
            finally:
                answered.set()

    def _gather(self):
        """Let the other sockets of the same wake-up join, until none comes for a step."""
        deadline = time.monotonic() + GATHER_MAX_SECONDS
        seen = -1
        while time.monotonic() < deadline:
            with self._lock:
                count = len(self._pending)
            if count == seen:
                return
            seen = count
            time.sleep(GATHER_STEP_SECONDS)

    def _answer(self, dbname, requests):
        with bus_websocket.acquire_cursor(dbname) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            valid = []
            for request in requests:
                session = request.session
                # The session token depends on the user and the session only; Odoo caches it.
                if session.uid is not None and not check_session(session, env):
                    request.error = SessionExpiredException()
                else:
                    valid.append(request)
            bus = env["bus.bus"]
            if poll_is_known(type(bus)):
                batched = [request for request in valid if request.last]
                one_by_one = [request for request in valid if not request.last]
            else:
                batched, one_by_one = [], valid
            if batched:
                self._read_together(env, dbname, batched)
            for request in one_by_one:
                self._read_alone(cr, request)
            texts = {}
            for request in valid:
                if request.error is None and request.notifications:
                    ids = tuple(notification["id"] for notification in request.notifications)
                    if ids not in texts:
                        texts[ids] = json.dumps(request.notifications)
                    request.text = texts[ids]

    def _read_together(self, env, dbname, requests):
        channels = {request: channel_texts(request.websocket, dbname) for request in requests}
        env.cr.execute(
            "SELECT id, channel, message FROM bus_bus WHERE id > %s AND channel = ANY(%s)"
            " ORDER BY id",
            (min(request.last for request in requests), list(set().union(*channels.values()))),
        )
        ids_by_channel = defaultdict(list)
        messages = {}
        for notif_id, channel, message in env.cr.fetchall():
            ids_by_channel[channel].append(notif_id)
            messages[notif_id] = message
        decoded = {}

        def notification(notif_id):
            if notif_id not in decoded:
                decoded[notif_id] = {"id": notif_id, "message": json.loads(messages[notif_id])}
            return decoded[notif_id]

        apikeys = env["res.users.apikeys"]
        for request in requests:
            ids = []
            for channel in channels[request]:
                channel_ids = ids_by_channel.get(channel)
                if channel_ids:
                    start = bisect.bisect_right(channel_ids, request.last)
                    ids.extend(i for i in channel_ids[start:] if i not in request.ignore)
            ids.sort()
            request.notifications = [notification(notif_id) for notif_id in ids]
            try:
                apikeys._ha_check_device_socket(request.websocket._channels, request.notifications)
            except SessionExpiredException as exc:
                request.error = exc

    def _read_alone(self, cr, request):
        session = request.session
        env = api.Environment(cr, session.uid, dict(session.context, lang=None))
        try:
            request.notifications = env["bus.bus"]._poll(
                request.websocket._channels, request.last, list(request.ignore)
            )
        except SessionExpiredException as exc:
            request.error = exc


dispatcher = BatchDispatcher()


def batches_database(dbname):
    """Whether the sockets of ``dbname`` are dispatched here: this addon is installed there
    and its registry is loaded (loading it is left to Odoo's own dispatch)."""
    registries = Registry.registries
    if dbname not in registries:
        return False
    registry = registries[dbname]
    return registry.ready and "ha.instance" in registry


def current_session(websocket):
    """The socket's session as stored now, as ``root.session_store.get`` gives it; with
    Odoo's file store, its file is read again only when it was replaced (a save writes a new
    file) or removed."""
    store = root.session_store
    sid = websocket._session.sid
    if type(store).get is not FilesystemSessionStore.get:
        return store.get(sid)
    try:
        stat = os.stat(store.get_session_filename(sid))
    except (OSError, ValueError):
        return store.get(sid)
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = getattr(websocket, "_ha_session", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    session = store.get(sid)
    websocket._ha_session = (key, session)
    return session


_odoo_dispatch = bus_websocket.Websocket._dispatch_bus_notifications
_odoo_trigger = bus_websocket.Websocket.trigger_notification_dispatching


def _trigger_notification_dispatching(self):
    """Wake the socket for a dispatch. Odoo first polls the socket's wake-up pipe (a select
    with no timeout) so that one byte at most waits there; a socket dispatched in batches
    keeps a flag instead, cleared when its dispatch starts: a syscall and a gevent watcher
    less per socket and notification. The dispatch reads after clearing it, so a wake-up
    skipped because the flag was still up is for rows that read sees."""
    if not getattr(self, "_ha_flagged_wakeups", False):
        return _odoo_trigger(self)
    if self.state is not ConnectionState.OPEN or self._ha_wakeup_sent:
        return None
    self._ha_wakeup_sent = True
    self._Websocket__notif_sock_w.send(b"x")
    return None


def _dispatch_bus_notifications(self):
    self._ha_wakeup_sent = False
    if not batches_database(self._db):
        self._ha_flagged_wakeups = False
        return _odoo_dispatch(self)
    self._ha_flagged_wakeups = True
    session = current_session(self)
    if not session:
        raise SessionExpiredException()
    # Mark the notification request as taken before the read: a notification committed
    # after the read wakes the socket again.
    self._Websocket__notif_sock_r.recv(1)
    notifications, text = dispatcher.poll(self, session)
    if not notifications:
        return
    # Odoo's bookkeeping, unchanged: see Websocket.MAX_NOTIFICATION_HISTORY_SEC.
    # The set of sent ids follows the history (see sent_ids).
    sent = sent_ids(self)
    now = time.time()
    for notif in notifications:
        bisect.insort(self._notif_history, (notif["id"], now), key=lambda x: x[0])
        sent.add(notif["id"])
    last_index = -1
    for i, notif in enumerate(self._notif_history):
        if now - notif[1] > self.MAX_NOTIFICATION_HISTORY_SEC:
            last_index = i
        else:
            break
    if last_index != -1:
        self._last_notif_sent_id = self._notif_history[last_index][0]
        for notif_id, _sent in self._notif_history[: last_index + 1]:
            sent.discard(notif_id)
        self._notif_history = self._notif_history[last_index + 1 :]
    self._send(text)


bus_websocket.Websocket._dispatch_bus_notifications = _dispatch_bus_notifications
bus_websocket.Websocket.trigger_notification_dispatching = _trigger_notification_dispatching
