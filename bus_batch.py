"""Bus notifications dispatched to websockets in batches, one cursor for all.

Odoo dispatches bus notifications socket by socket: each socket woken by a notification
takes a pooled cursor, checks its session and reads its own notifications with a query. A
Home Assistant change goes to every socket of a scope, so at 1,000 sockets each flush of
the state writer cost 1,000 cursors and 1,000 queries in the one ``/websocket`` process:
the pool ran dry, sockets were closed with "try later", and the last socket of a round
heard of a change seconds after the first (docs/PERFORMANCE.md, "Prefork + gevent").

Here a notification for a socket of a database with this addon puts the socket in the
process's ``BatchDispatcher`` instead of waking the socket's own thread. The dispatcher
gathers the sockets triggered together (a few milliseconds) and for each database takes one
cursor, checks every session (the session file is parsed again only when it changed, and the
token is Odoo's ``check_session``), reads the notifications of all their channels in one
query and gives each socket the rows of its own channels newer than its last id and not in
its recent history: what ``bus.bus._poll`` returns to it. It keeps Odoo's history of sent ids
for the socket and writes the frame Odoo sends itself; sockets that get the same
notifications share one JSON text and one frame. A socket whose session ended (or whose
read failed) is handed the error through its wake-up pipe and closed by Odoo's code as
Odoo's own dispatch would close it.

What stays Odoo's: every poll of a database where another addon overrides
``bus.bus._poll`` goes through ``bus.bus._poll`` per socket, on the shared cursor. A
database without this addon, or whose registry is not loaded yet, is dispatched by Odoo's
code unchanged.
"""

import bisect
import datetime
import gc
import json
import logging
import os
import socket
import struct
import threading
import time
from collections import defaultdict

from psycopg2.pool import PoolError

import odoo
from odoo import SUPERUSER_ID, api, fields
from odoo.http import FilesystemSessionStore, SessionExpiredException, root
from odoo.modules.registry import Registry
from odoo.service.security import check_session

from odoo.addons.bus import websocket as bus_websocket
from odoo.addons.bus.models import bus as bus_models
from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.addons.bus.websocket import ConnectionState

from .models.ha_device_key import device_key_ids_of

_logger = logging.getLogger(__name__)

# How long the dispatcher waits for more sockets of the same wake-up, at most.
GATHER_STEP_SECONDS = 0.002
GATHER_MAX_SECONDS = 0.05
# The modules whose ``bus.bus._poll`` the batch knows how to answer for.
KNOWN_POLL_MODULES = ("odoo.addons.bus.", "odoo.addons.odoo_ha_addon.")


class Poll:
    """One socket's read: what it has had, and then what it gets."""

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


def channel_device_keys(websocket):
    """The device keys named in the socket's channels, kept until it subscribes anew."""
    cached = getattr(websocket, "_ha_channel_keys", None)
    if cached is None or cached[0] is not websocket._channels:
        cached = (websocket._channels, tuple(device_key_ids_of(websocket._channels)))
        websocket._ha_channel_keys = cached
    return cached[1]


def poll_is_known(bus_class):
    """Whether every ``_poll`` in the registry's ``bus.bus`` is one the batch answers for."""
    return all(
        klass.__module__.startswith(KNOWN_POLL_MODULES)
        for klass in bus_class.__mro__
        if "_poll" in vars(klass)
    )


class BatchDispatcher:
    """Reads and sends the notifications of the sockets triggered together."""

    def __init__(self):
        self._lock = threading.Lock()
        # The sockets to dispatch in the next batch, in trigger order (a dict: each once).
        self._pending = {}
        self._wakeup = threading.Event()
        self._thread = None

    def trigger(self, websocket):
        """Dispatch ``websocket`` in the next batch; returns at once."""
        with self._lock:
            self._pending[websocket] = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="odoo_ha_addon.bus_batch", daemon=True
                )
                self._thread.start()
        self._wakeup.set()

    def _run(self):
        while True:
            self._wakeup.wait()
            self._gather()
            with self._lock:
                self._wakeup.clear()
                sockets, self._pending = list(self._pending), {}
            try:
                self._dispatch(sockets)
            except Exception:  # the dispatcher must outlive any one batch
                _logger.exception("Bus dispatch of %d sockets failed", len(sockets))

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

    def _dispatch(self, sockets):
        by_db = self._requests(sockets)
        for dbname, requests in by_db.items():
            try:
                self._answer(dbname, requests)
            except Exception as exc:
                if not isinstance(exc, PoolError):
                    _logger.exception("Bus dispatch of %d sockets failed", len(requests))
                for request in requests:
                    request.error = request.error or exc
            frames = {}
            for request in requests:
                if request.error is not None:
                    hand_back(request.websocket, request.error)
                elif not request.notifications:
                    end_send_turn(request.websocket)
                else:
                    try:
                        if request.text not in frames:
                            frames[request.text] = text_frame(request.text)
                        record_sent(request.websocket, request.notifications)
                    except Exception as exc:
                        _logger.exception("Bus dispatch to a socket failed")
                        hand_back(request.websocket, exc)
                        continue
                    send_frame(request.websocket, *frames[request.text])

    @staticmethod
    def _requests(sockets):
        """The reads of the open sockets whose send turn is free, by database."""
        by_db = defaultdict(list)
        for websocket in sockets:
            if websocket.state is not ConnectionState.OPEN or not take_send_turn(websocket):
                continue
            try:
                session = current_session(websocket)
            except Exception as exc:  # noqa: BLE001 - raised in the socket's thread, as Odoo does
                hand_back(websocket, exc)
                continue
            if not session:
                hand_back(websocket, SessionExpiredException())
                continue
            by_db[session.db].append(Poll(websocket, session))
        return by_db

    def _answer(self, dbname, requests):
        with bus_websocket.acquire_cursor(dbname) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            freeze_registry(env.registry)
            valid = []
            checked = {}
            for request in requests:
                session = request.session
                # The session token depends on the user and the session only: one check for
                # the sockets (tabs) of one session.
                key = (session.uid, session.sid, session.get("session_token"))
                if key not in checked:
                    checked[key] = session.uid is None or check_session(session, env)
                if not checked[key]:
                    request.error = SessionExpiredException()
                else:
                    valid.append(request)
            if not valid:
                pass
            elif poll_is_known(type(env["bus.bus"])):
                self._read_together(env, dbname, valid)
            else:
                for request in valid:
                    self._read_alone(cr, request)
            texts = {}
            for request in valid:
                if request.error is None and request.notifications:
                    ids = tuple(notification["id"] for notification in request.notifications)
                    if ids not in texts:
                        texts[ids] = json.dumps(request.notifications)
                    request.text = texts[ids]

    def _read_together(self, env, dbname, requests):
        """``bus.bus._poll`` for every request, with one query. As there, a socket with a last
        id gets the rows after it, and a socket without one yet (it keeps 0 until its first
        notifications leave its history) the rows of the last ``TIMEOUT`` seconds."""
        channels = {request: channel_texts(request.websocket, dbname) for request in requests}
        lasts = [request.last for request in requests if request.last]
        recent_since = None
        if len(lasts) < len(requests):
            recent_since = fields.Datetime.now() - datetime.timedelta(seconds=bus_models.TIMEOUT)
        # A comparison with NULL (no socket of that kind) is never true.
        env.cr.execute(
            "SELECT id, channel, message, create_date FROM bus_bus"
            " WHERE (id > %s OR create_date > %s) AND channel = ANY(%s) ORDER BY id",
            (min(lasts, default=None), recent_since, list(set().union(*channels.values()))),
        )
        ids_by_channel = defaultdict(list)
        messages = {}
        recent = set()
        for notif_id, channel, message, created in env.cr.fetchall():
            ids_by_channel[channel].append(notif_id)
            messages[notif_id] = message
            if recent_since is not None and created > recent_since:
                recent.add(notif_id)
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
                if not channel_ids:
                    continue
                if request.last:
                    start = bisect.bisect_right(channel_ids, request.last)
                    ids.extend(i for i in channel_ids[start:] if i not in request.ignore)
                else:
                    ids.extend(i for i in channel_ids if i in recent and i not in request.ignore)
            ids.sort()
            request.notifications = [notification(notif_id) for notif_id in ids]
            key_ids = channel_device_keys(request.websocket)
            if not key_ids:
                continue
            try:
                apikeys._ha_check_device_socket(
                    request.websocket._channels, request.notifications, key_ids
                )
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


# Allocations between two young collections in the gevent process (Python's default: 700).
# A batch for 1,000 sockets allocates tens of thousands of objects that live as long as the
# batch; with the default, they outlived several young collections and were promoted, which
# made the full collections (the slow ones) several times more frequent.
YOUNG_COLLECTION_THRESHOLD = 10_000
# The registries whose objects the gevent process keeps out of the garbage collector.
_frozen_registries = set()


def freeze_registry(registry):
    """In the gevent process, keep the objects that live as long as the process (the loaded
    registry, the modules) out of Python's garbage collector once a registry is loaded.

    That process serves every socket: its full collections walked the whole registry, about
    a quarter of a second at a time with 1,000 sockets open, several times a minute, during
    which no socket heard of anything (docs/PERFORMANCE.md). Frozen objects are never
    collected, so when another registry is loaded (a module installed or updated) the old
    objects are thawed and collected first, once."""
    if not odoo.evented or id(registry) in _frozen_registries:
        return
    if _frozen_registries:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    threshold = gc.get_threshold()
    if threshold[0] < YOUNG_COLLECTION_THRESHOLD:
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *threshold[1:])
    _frozen_registries.clear()
    _frozen_registries.update(id(loaded) for loaded in list(Registry.registries.values()))
    _frozen_registries.add(id(registry))
    _logger.info("Garbage collector: %d long-lived objects frozen", gc.get_freeze_count())


def batches_database(dbname):
    """Whether the sockets of ``dbname`` are dispatched here: this addon is installed there
    and its registry is loaded (loading it is left to Odoo's own dispatch)."""
    registries = Registry.registries
    # Asked for every socket and notification: read the LRU's dict without taking its lock
    # (or moving the entry), as a lookup that cannot change it.
    registry = registries.d.get(dbname) if hasattr(registries, "d") else registries.get(dbname)
    return registry is not None and registry.ready and "ha.instance" in registry


def current_session(websocket):
    """The socket's session as stored now, as ``root.session_store.get`` gives it; with
    Odoo's file store, its file is read again only when it was replaced (a save writes a new
    file) or removed."""
    store = root.session_store
    sid = websocket._session.sid
    if type(store).get is not FilesystemSessionStore.get:
        return store.get(sid)
    path = websocket.__dict__.get("_ha_session_file")
    try:
        if path is None:
            path = websocket._ha_session_file = store.get_session_filename(sid)
        stat = os.stat(path)
    except (OSError, ValueError):
        return store.get(sid)
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = getattr(websocket, "_ha_session", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    session = store.get(sid)
    websocket._ha_session = (key, session)
    return session


def record_sent(websocket, notifications):
    """Odoo's bookkeeping of sent notifications, unchanged (see
    ``Websocket.MAX_NOTIFICATION_HISTORY_SEC``); the set of sent ids follows the history."""
    sent = sent_ids(websocket)
    now = time.time()
    for notif in notifications:
        bisect.insort(websocket._notif_history, (notif["id"], now), key=lambda x: x[0])
        sent.add(notif["id"])
    last_index = -1
    for i, notif in enumerate(websocket._notif_history):
        if now - notif[1] > websocket.MAX_NOTIFICATION_HISTORY_SEC:
            last_index = i
        else:
            break
    if last_index != -1:
        websocket._last_notif_sent_id = websocket._notif_history[last_index][0]
        for notif_id, _sent in websocket._notif_history[: last_index + 1]:
            sent.discard(notif_id)
        websocket._notif_history = websocket._notif_history[last_index + 1 :]


# Sending. The dispatcher writes each socket's frame itself, without waking the socket's
# own thread (gevent greenlet): waking it (a byte through its wake-up pipe, a select with a
# timeout, a read of the byte) was half of the ``/websocket`` process's time at 1,000
# sockets. Frames of one socket must neither interleave nor overtake each other, so every
# send holds the socket's send turn: Odoo's own sends (pings, pongs, close frames) through
# ``_send_frame``, and the dispatcher from the read of a socket's notifications to the end
# of their frame. The dispatcher never waits for a socket: one whose turn is taken is
# dispatched again when the turn is given back, and a frame the kernel does not take at
# once is finished by a thread of its own.


_turns_lock = threading.Lock()


def send_turn(websocket):
    """The socket's send turn, made on first use: sockets opened before this addon was
    loaded in the process have none yet."""
    turn = websocket.__dict__.get("_ha_send_turn")
    if turn is None:
        with _turns_lock:
            turn = websocket.__dict__.setdefault("_ha_send_turn", threading.Lock())
    return turn


def take_send_turn(websocket):
    """Take the socket's send turn if it is free; otherwise have the socket dispatched again
    once it is given back. The request is marked before trying, so that a turn given back
    in between is not missed (a second dispatch finds nothing new)."""
    websocket._ha_dispatch_again = True
    if not send_turn(websocket).acquire(blocking=False):
        return False
    websocket._ha_dispatch_again = False
    return True


def end_send_turn(websocket):
    send_turn(websocket).release()
    if websocket._ha_dispatch_again:
        websocket._ha_dispatch_again = False
        if websocket.state is ConnectionState.OPEN:
            dispatcher.trigger(websocket)


def hand_back(websocket, error):
    """Give ``error`` to the socket's own thread, which raises it from its dispatch: Odoo then
    closes the socket as its own dispatch would have (session expired, try later, ...)."""
    websocket._ha_error = error
    end_send_turn(websocket)
    _odoo_trigger(websocket)


def text_frame(text):
    """The bytes of a final text frame of ``text``, as ``Websocket._send_frame`` writes them."""
    frame = bus_websocket.Frame(bus_websocket.Opcode.TEXT, text.encode())
    length = len(frame.payload)
    first = 0b10000000 | frame.opcode
    if length < 126:
        header = struct.pack("!BB", first, length)
    elif length < 65536:
        header = struct.pack("!BBH", first, 126, length)
    else:
        header = struct.pack("!BBQ", first, 127, length)
    return frame, header + frame.payload


def send_frame(websocket, frame, data):
    """Send ``data`` (the bytes of ``frame``) on the socket whose send turn is held, and give
    the turn back. What the kernel takes now is written at once; the rest of a frame to a
    slow reader is written by a thread that holds the turn until it is done."""
    sock = websocket._Websocket__socket
    # gevent's cooperative socket wraps the OS socket: write to that without waiting.
    raw = getattr(sock, "_sock", sock)
    try:
        sent = raw.send(data, socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        sent = 0
    except OSError as exc:
        hand_back(websocket, exc)
        return
    if sent == len(data):
        websocket._timeout_manager.acknowledge_frame_sent(frame)
        end_send_turn(websocket)
        return
    threading.Thread(
        target=_finish_frame,
        args=(websocket, frame, memoryview(data)[sent:]),
        name="odoo_ha_addon.bus_batch.send",
        daemon=True,
    ).start()


def _finish_frame(websocket, frame, rest):
    try:
        websocket._Websocket__socket.sendall(rest)
    except OSError as exc:
        hand_back(websocket, exc)
        return
    websocket._timeout_manager.acknowledge_frame_sent(frame)
    end_send_turn(websocket)


_odoo_send_frame = bus_websocket.Websocket._send_frame
_odoo_dispatch = bus_websocket.Websocket._dispatch_bus_notifications
_odoo_trigger = bus_websocket.Websocket.trigger_notification_dispatching


def _send_frame(self, frame):
    send_turn(self).acquire()
    try:
        return _odoo_send_frame(self, frame)
    finally:
        end_send_turn(self)


def _trigger_notification_dispatching(self):
    """Sockets of a database dispatched here join the next batch; others are woken as Odoo
    wakes them."""
    if not batches_database(self._db):
        return _odoo_trigger(self)
    if self.state is ConnectionState.OPEN:
        dispatcher.trigger(self)
    return None


def _dispatch_bus_notifications(self):
    """Run by the socket's own thread when its wake-up pipe is readable: for a socket of a
    batched database, to raise the error the dispatcher handed back (Odoo closes the socket
    accordingly), or to join the next batch when it was woken otherwise."""
    if not batches_database(self._db):
        return _odoo_dispatch(self)
    self._Websocket__notif_sock_r.recv(1)
    error, self._ha_error = self._ha_error, None
    if error is not None:
        raise error
    dispatcher.trigger(self)
    return None


# Per socket: dispatch again once the send turn is given back; an error for the socket's thread.
bus_websocket.Websocket._ha_dispatch_again = False
bus_websocket.Websocket._ha_error = None
bus_websocket.Websocket._send_frame = _send_frame
bus_websocket.Websocket._dispatch_bus_notifications = _dispatch_bus_notifications
bus_websocket.Websocket.trigger_notification_dispatching = _trigger_notification_dispatching
