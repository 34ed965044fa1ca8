"""Client of the addon's JSON API and of Odoo's bus websocket.

HTTP: every route is a JSON-RPC POST to ``{base}/odoo_ha_addon/<route>`` answering
``{"success", "data", "error", "error_type"}``; the device logs in with a device key at
``device/login`` and sends the ``session_id`` cookie with every later request.

Real time: Odoo's bus websocket ``/websocket?version=<bus_version>``. The client subscribes
with the highest notification id it saw; the server chooses the channels from the session's
user and replays the notifications newer than that id it still keeps. See
``OdooHaClient.changes`` for reconnection and catch-up.
"""

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

from .errors import ApiError, AuthenticationError, ConnectionFailed, SessionExpired
from .mirror import ACCESS_CHANGED, Change, InstanceChanged, Mirror, Reloaded

_logger = logging.getLogger(__name__)

API_PREFIX = "/odoo_ha_addon/"
LOGIN_ROUTE = "device/login"
HTTP_TIMEOUT_S = 15.0
# Attempts of one HTTP call when the network fails (connection error, timeout, 502-504).
HTTP_ATTEMPTS = 3
HTTP_RETRY_DELAY_S = 0.5
RETRYABLE_HTTP_STATUS = frozenset({502, 503, 504})
# Routes that only read: repeating one after a network failure cannot do anything twice.
# call_service is repeated only with its request_id, which makes the server run it once.
READ_ROUTES = frozenset(
    {
        "instances",
        "entities",
        "areas",
        "entities_by_area",
        "entity_states",
        "entity_related",
        "entity_history",
        "shared_entities",
        "websocket_status",
        "ha_urls",
        "hardware_info",
        "network_info",
    }
)
SESSION_EXPIRED_EXCEPTION = "odoo.http.SessionExpiredException"
ACCESS_DENIED_EXCEPTION = "odoo.exceptions.AccessDenied"

# Websocket close codes and reasons sent by Odoo's bus.
CLOSE_CLEAN = 1000
CLOSE_ABNORMAL = 1006
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SESSION_EXPIRED = 4001
OUTDATED_VERSION = "OUTDATED_VERSION"

# The bus replays missed notifications for about a minute: after a longer disconnection (or
# when the client cannot tell) the client reads everything again over HTTP instead.
CATCH_UP_WINDOW_S = 45.0
# After access_changed, the client waits this long before reading everything again, so the
# server has finished the change that caused the notification.
ACCESS_REREAD_DELAY_S = 1.0
# Pings detect dead connections that a proxy or NAT dropped silently.
PING_INTERVAL_S = 20.0
PING_TIMEOUT_S = 20.0
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Reconnection delay: doubles from the initial value up to the maximum, with jitter, and
# starts over once a connection has lasted STABLE_CONNECTION_S.
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_CONNECTION_S = 10.0
# Failures to connect (or to read over HTTP while connected) that a retry may cure.
CONNECTION_ERRORS = (OSError, TimeoutError, InvalidHandshake, ConnectionFailed)
# Notification ids remembered to drop the ones delivered twice. Ids are not delivered in
# order (a lower id may come seconds after a higher one), so comparing with the highest id
# seen would drop real notifications.
SEEN_NOTIFICATIONS_KEPT = 2048

# What changes() yields.
Event = Change | InstanceChanged | Reloaded


class _RecentIds:
    """The last ``size`` distinct ids added, oldest forgotten first."""

    def __init__(self, size: int = SEEN_NOTIFICATIONS_KEPT) -> None:
        self.size = size
        self._order: collections.deque[int] = collections.deque()
        self._ids: set[int] = set()

    def add(self, item: int) -> bool:
        """Remember ``item``; False when it is already among the remembered ids."""
        if item in self._ids:
            return False
        if len(self._order) >= self.size:
            self._ids.discard(self._order.popleft())
        self._order.append(item)
        self._ids.add(item)
        return True

    def __contains__(self, item: object) -> bool:
        return item in self._ids

    def __len__(self) -> int:
        return len(self._order)


class Backoff:
    """Capped exponential delays with jitter: each delay is drawn in [d/2, d]."""

    def __init__(self, initial_s: float = BACKOFF_INITIAL_S, max_s: float = BACKOFF_MAX_S) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._delay_s = initial_s

    def next_delay(self) -> float:
        delay = self._delay_s
        self._delay_s = min(self.max_s, delay * 2)
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self._delay_s = self.initial_s


class OdooHaClient:
    """One device's session with the addon: HTTP calls, and a mirror kept by the bus.

    Nothing is bound to an event loop before use: create the client anywhere, use it from
    one loop. ``session`` is an optional ``requests.Session`` (proxies, certificates).
    The attributes named after the module constants (``catch_up_window_s``, ...) may be
    changed after construction; tests shorten them.
    """

    def __init__(
        self,
        base_url: str,
        db: str,
        login: str,
        key: str,
        *,
        session: requests.Session | None = None,
        timeout_s: float = HTTP_TIMEOUT_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.db = db
        self.login_name = login
        self._key = key
        self.timeout_s = timeout_s
        self._http = session if session is not None else requests.Session()
        self._owns_http = session is None
        self._rpc_ids = itertools.count(1)

        # Filled by login().
        self.session_id: str | None = None
        self.uid: int | None = None
        self.user_name: str | None = None
        self.bus_version: str | None = None
        self.server_version: str | None = None

        self.mirror = Mirror()
        # Highest bus notification id seen: the ``last`` of the next subscribe.
        self.last_notification_id = 0
        # Recent notification ids, to drop a notification delivered again.
        self._seen_notifications = _RecentIds()
        # The ``channels_version`` of the last ``instances`` read that filled the mirror
        # (None when the server does not send one).
        self._channels_version: Any = None

        self.http_attempts = HTTP_ATTEMPTS
        self.http_retry_delay_s = HTTP_RETRY_DELAY_S
        self.catch_up_window_s = CATCH_UP_WINDOW_S
        self.access_reread_delay_s = ACCESS_REREAD_DELAY_S
        self.backoff_initial_s = BACKOFF_INITIAL_S
        self.backoff_max_s = BACKOFF_MAX_S

        self._websocket: ClientConnection | None = None
        self._streaming = False
        self._closed = False
        self._wake: asyncio.Event | None = None
        # True from the start of a read of the mirror until it succeeds: the next
        # connection then reads everything, whatever the bus could replay.
        self._mirror_stale = True
        self._reread_all_at: float | None = None
        # Whether the current connection got through its catch-up (reads and checks): only
        # then does its end move the start of the gap the next connection must cover.
        self._caught_up = False

    # HTTP

    async def login(self) -> dict[str, Any]:
        """Log in with the device key; returns the server's ``data`` (uid, name, ...)."""
        params = {"db": self.db, "login": self.login_name, "key": self._key}
        try:
            data = await self._rpc(LOGIN_ROUTE, params, retry=True, session_id=None)
        except ApiError as error:
            if error.error_type == "access_denied":
                raise AuthenticationError(error.message) from None
            raise
        self.session_id = data.get("session_id") or self.session_id
        self.uid = data.get("uid")
        self.user_name = data.get("name")
        self.bus_version = data.get("bus_version")
        self.server_version = data.get("server_version")
        return data

    async def call(self, route: str, **params: Any) -> Any:
        """Call ``/odoo_ha_addon/<route>`` and return its ``data``; logs in first if needed.

        Raises ApiError (``success: false``), SessionExpired, ConnectionFailed. A network
        failure is retried only when repeating the call is harmless: read routes, and calls
        carrying a ``request_id``.
        """
        if self.session_id is None:
            await self.login()
        retry = route in READ_ROUTES or "request_id" in params
        return await self._rpc(route, params, retry=retry, session_id=self.session_id)

    async def instances(self) -> dict[str, Any]:
        """``{"current_instance_id", "instances": [...]}``: the instances the user may read."""
        return await self.call("instances")

    async def entities(self, instance_id: int) -> dict[str, Any]:
        """``{"instance", "areas", "devices", "entities", "can_manage"}`` of one instance."""
        return await self.call("entities", ha_instance_id=instance_id)

    async def call_service(
        self,
        instance_id: int,
        domain: str,
        service: str,
        entity_id: str | list[str],
        service_data: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> Any:
        """Call a Home Assistant service; ``entity_id`` is one id or a list.

        The call carries a ``request_id`` (a new uuid4 unless given) and keeps it when it is
        retried after a network failure: the server runs it once and answers each repeat
        with the first answer (``"repeated": true``).
        """
        return await self.call(
            "call_service",
            ha_instance_id=instance_id,
            domain=domain,
            service=service,
            entity_id=entity_id,
            service_data=service_data or {},
            request_id=request_id or str(uuid.uuid4()),
        )

    async def _rpc(
        self, route: str, params: dict[str, Any], *, retry: bool, session_id: str | None
    ) -> Any:
        attempts = self.http_attempts if retry else 1
        for attempt in range(attempts):
            try:
                response = await asyncio.to_thread(self._post, route, params, session_id)
            except requests.RequestException as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status_code not in RETRYABLE_HTTP_STATUS:
                    return self._result(response)
                failure = f"HTTP {response.status_code}"
            if attempt + 1 < attempts:
                _logger.info("%s failed (%s), retrying", route, failure)
                await asyncio.sleep(self.http_retry_delay_s * 2**attempt)
        raise ConnectionFailed(f"{route}: {failure}")

    def _post(
        self, route: str, params: dict[str, Any], session_id: str | None
    ) -> requests.Response:
        """One JSON-RPC POST, blocking (runs in a thread)."""
        payload = {"jsonrpc": "2.0", "method": "call", "id": next(self._rpc_ids), "params": params}
        # The cookie is sent explicitly rather than from the cookie jar, as a port would.
        headers = {"Cookie": f"session_id={session_id}"} if session_id else {}
        return self._http.post(
            self.base_url + API_PREFIX + route,
            json=payload,
            headers=headers,
            timeout=self.timeout_s,
            # Odoo redirects a request without a valid session to the login page.
            allow_redirects=False,
        )

    def _result(self, response: requests.Response) -> Any:
        """The ``data`` of a JSON-RPC answer, or the matching exception."""
        status = response.status_code
        if 300 <= status < 400 or status in (401, 403):
            raise SessionExpired(f"HTTP {status}: the session is no longer valid")
        if status != 200:
            raise ConnectionFailed(f"HTTP {status}")
        try:
            body = response.json()
        except ValueError:
            raise ConnectionFailed("the server did not answer JSON") from None
        if not isinstance(body, dict):
            raise ConnectionFailed("the answer is not JSON-RPC")
        error = body.get("error")
        if error:
            data = error.get("data") or {}
            message = data.get("message") or error.get("message") or "server error"
            if data.get("name") == SESSION_EXPIRED_EXCEPTION:
                raise SessionExpired(message)
            if data.get("name") == ACCESS_DENIED_EXCEPTION:
                raise AuthenticationError(message)
            raise ApiError(message, "server_error")
        envelope = body.get("result")
        if not isinstance(envelope, dict) or "success" not in envelope:
            raise ConnectionFailed("the answer is not the addon's envelope")
        if not envelope["success"]:
            raise ApiError(envelope.get("error") or "request failed", envelope.get("error_type"))
        # Odoo may rotate the session; later requests and the websocket use the new one.
        rotated = response.cookies.get("session_id")
        if rotated:
            self.session_id = rotated
        return envelope.get("data")

    # Real time

    def websocket_url(self) -> str:
        """``ws(s)://host[:port][/prefix]/websocket?version=<bus_version>``."""
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}/websocket?version={self.bus_version}"

    def _origin(self) -> Origin:
        parts = urlsplit(self.base_url)
        return Origin(f"{parts.scheme}://{parts.netloc}")

    async def changes(self) -> AsyncGenerator[Event]:
        """Keep ``self.mirror`` equal to the server and yield what changed, for ever.

        Yields Change (one entity), InstanceChanged (an instance's record, areas or
        devices) and Reloaded (an instance's entities were read again, e.g. at the start).

        Each connection subscribes first, then reads instances and entities over HTTP when
        the bus cannot replay what was missed: on the first connection, after a
        disconnection longer than ``catch_up_window_s``, or when a read was interrupted.
        Subscribing first means no change can fall between the read and the bus.

        Every reconnection also reads ``instances`` right after subscribing. Odoo accepts the
        socket of an ended session as an anonymous one that receives nothing, so this call
        is what reveals the end: it raises SessionExpired here. When its
        ``channels_version`` (the fingerprint of the channels the user's sessions join) or
        its instance ids differ from the last read, access changed while the client was
        away (the ``access_changed`` saying so went to a channel it no longer listens to):
        everything is read again, however short the disconnection.

        Notifications are applied once each, in the order received: a notification id seen
        among the last ``SEEN_NOTIFICATIONS_KEPT`` is dropped as a repeat.

        Close codes: 4001 (session expired) raises SessionExpired here, with no reconnect;
        1000 with reason OUTDATED_VERSION logs in again for the new bus version, then
        reconnects; anything else (1013 try later, network failures, a dropped TCP
        connection) reconnects after a capped, jittered exponential delay. AuthenticationError
        is raised when logging in again fails. The iterator ends after ``close()``.

        The bus is read while the iterator is awaited: keep iterating (pings are answered
        meanwhile, and at most a few messages wait in websockets' queue).
        """
        if self._streaming:
            raise RuntimeError("changes() is already being iterated")
        self._streaming = True
        wake = self._wake = asyncio.Event()
        backoff = Backoff(self.backoff_initial_s, self.backoff_max_s)
        # When the last connection that caught up was last known alive (monotonic).
        lost_at: float | None = None
        try:
            while not self._closed:
                connected_at: float | None = None
                failure: BaseException | None = None
                self._caught_up = False
                try:
                    if self.session_id is None:
                        await self.login()
                    async with self._connect() as websocket:
                        self._websocket = websocket
                        connected_at = time.monotonic()
                        async with contextlib.aclosing(self._follow(websocket, lost_at)) as events:
                            async for event in events:
                                yield event
                except (ConnectionClosed, *CONNECTION_ERRORS) as error:
                    failure = error
                    self._on_disconnect(error)
                finally:
                    self._websocket = None
                if self._closed:
                    return
                if connected_at is not None:
                    alive_at = _last_alive(failure)
                    if self._caught_up:
                        lost_at = alive_at
                    if alive_at - connected_at >= STABLE_CONNECTION_S:
                        backoff.reset()
                await _sleep(backoff.next_delay(), wake)
        finally:
            self._streaming = False

    def _on_disconnect(self, failure: BaseException) -> None:
        """Act on why the bus connection ended; close code 4001 raises SessionExpired."""
        if self._closed:
            return
        if not isinstance(failure, ConnectionClosed):
            _logger.warning("bus connection failed (%s), retrying", failure)
            return
        if failure.rcvd is None:
            code, reason = CLOSE_ABNORMAL, ""
        else:
            code, reason = failure.rcvd.code, failure.rcvd.reason
        if code == CLOSE_SESSION_EXPIRED:
            raise SessionExpired("the server closed the bus: session expired") from None
        if code == CLOSE_CLEAN and reason == OUTDATED_VERSION:
            # The server runs a new bus version: a new login tells which one.
            _logger.info("bus version outdated, logging in again")
            self.session_id = None
        else:
            _logger.warning("bus connection closed (%s %s), reconnecting", code, reason)

    def _connect(self) -> connect:
        return connect(
            self.websocket_url(),
            origin=self._origin(),
            additional_headers={"Cookie": f"session_id={self.session_id}"},
            open_timeout=self.timeout_s,
            ping_interval=PING_INTERVAL_S,
            ping_timeout=PING_TIMEOUT_S,
            max_size=MAX_MESSAGE_BYTES,
        )

    async def _subscribe(self, websocket: ClientConnection) -> None:
        # No channel named: the server joins the session to what its user may read.
        data = {"channels": [], "last": self.last_notification_id}
        await websocket.send(json.dumps({"event_name": "subscribe", "data": data}))

    async def _follow(
        self, websocket: ClientConnection, lost_at: float | None
    ) -> AsyncGenerator[Event]:
        """Subscribe, read what the bus cannot replay, then yield the bus's events."""
        event: Event
        if self._closed:
            # close() ran while the connection was opening, before it could close it.
            return
        # A re-read pending when the last connection ended is covered by _mirror_stale.
        self._reread_all_at = None
        await self._subscribe(websocket)
        for event in await self._catch_up(lost_at):
            yield event
        self._caught_up = True
        while True:
            raw = await self._receive(websocket)
            if raw is None:
                # The delay after access_changed is over.
                self._reread_all_at = None
                for event in await self._read(None):
                    yield event
                continue
            events, reread = await self._handle(websocket, raw)
            for event in events:
                yield event
            if reread:
                for event in await self._read(reread):
                    yield event

    async def _catch_up(self, lost_at: float | None) -> list[Reloaded]:
        """Read over HTTP what the bus cannot replay; returns the Reloaded events.

        ``lost_at``: when the last connection was last known alive, None on the first one.
        """
        if lost_at is None:
            return await self._read(None)
        # The socket of an ended session is accepted but silent: an HTTP call tells.
        # SessionExpired ends the iterator, as close code 4001 does.
        data = await self.instances()
        gap_s = time.monotonic() - lost_at
        if self._mirror_stale or gap_s > self.catch_up_window_s or self._access_moved(data):
            return await self._read(None, data)
        self._channels_version = data.get("channels_version")
        return []

    async def _receive(self, websocket: ClientConnection) -> str | bytes | None:
        """The next message, or None when a pending re-read after access_changed is due."""
        timeout_s = None
        if self._reread_all_at is not None:
            timeout_s = max(0.0, self._reread_all_at - time.monotonic())
        try:
            async with asyncio.timeout(timeout_s):
                return await websocket.recv()
        except TimeoutError:
            return None

    async def _handle(
        self, websocket: ClientConnection, raw: str | bytes
    ) -> tuple[list[Change | InstanceChanged], set[int]]:
        """Apply one bus message (a list of notifications) to the mirror.

        Returns ``(events, reread)``: the events to yield and the instance ids to read.
        """
        try:
            notifications = json.loads(raw)
        except ValueError:
            _logger.warning("ignored a bus message that is not JSON")
            return [], set()
        events: list[Change | InstanceChanged] = []
        reread: set[int] = set()
        for notification in notifications if isinstance(notifications, list) else []:
            if not isinstance(notification, dict):
                continue
            notification_id = notification.get("id")
            if isinstance(notification_id, int):
                # A replay after a new subscribe may repeat notifications already seen, and a
                # lower id may come after a higher one: only a repeat is dropped.
                if not self._seen_notifications.add(notification_id):
                    continue
                self.last_notification_id = max(self.last_notification_id, notification_id)
            message = notification.get("message")
            if not isinstance(message, dict):
                continue
            if message.get("type") == ACCESS_CHANGED:
                # Subscribe again so the server re-joins the channels, then read everything
                # once the change that caused the notification is done.
                await self._subscribe(websocket)
                self._mirror_stale = True
                self._reread_all_at = time.monotonic() + self.access_reread_delay_s
                # Entities the user could not read may now be readable.
                self.mirror.clear_ignored()
                continue
            applied, instance_ids = self.mirror.apply_message(message)
            events += applied
            reread |= instance_ids
        return events, reread

    def _access_moved(self, data: Mapping[str, Any]) -> bool:
        """Whether an ``instances`` answer shows access changed since the mirror was read."""
        version = data.get("channels_version")
        if version is not None and version != self._channels_version:
            return True
        instance_ids = {instance["id"] for instance in data.get("instances", [])}
        return instance_ids != set(self.mirror.instances)

    async def _read(
        self, instance_ids: set[int] | None, instances_data: Mapping[str, Any] | None = None
    ) -> list[Reloaded]:
        """Read instances (when needed) and the entities of ``instance_ids`` (None: all).

        ``instances_data``: an ``instances`` answer just read, used instead of reading it
        again. Reading all also stops ignoring unknown entities. Returns the Reloaded
        events, one per instance read or dropped.
        """
        self._mirror_stale = True
        events: list[Reloaded] = []
        if instance_ids is None:
            self.mirror.clear_ignored()
        if instance_ids is None or not instance_ids <= set(self.mirror.instances):
            data = instances_data if instances_data is not None else await self.instances()
            self._channels_version = data.get("channels_version")
            gone = self.mirror.set_instances(data.get("instances", []))
            events += [Reloaded(instance_id) for instance_id in sorted(gone)]
        if instance_ids is None:
            instance_ids = set(self.mirror.instances)
        for instance_id in sorted(instance_ids & set(self.mirror.instances)):
            try:
                self.mirror.load(instance_id, await self.entities(instance_id))
            except ApiError as error:
                _logger.warning("cannot read the entities of instance %s: %s", instance_id, error)
                self.mirror.forget(instance_id)
            events.append(Reloaded(instance_id))
        self._mirror_stale = self._reread_all_at is not None
        return events

    def drop_connection(self) -> None:
        """Abort the bus connection as a network failure would (no close frame).

        For tests: the iterator reconnects and catches up.
        """
        if self._websocket is not None:
            self._websocket.transport.abort()

    async def close(self) -> None:
        """End ``changes()`` and release the connections."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()
        if self._websocket is not None:
            await self._websocket.close()
        if self._owns_http:
            self._http.close()


async def _sleep(delay_s: float, wake: asyncio.Event) -> None:
    """Sleep, or return early when ``wake`` is set (close() sets it)."""
    try:
        async with asyncio.timeout(delay_s):
            await wake.wait()
    except TimeoutError:
        pass


def _last_alive(failure: BaseException | None) -> float:
    """When a connection that just ended was last known alive (monotonic time)."""
    now = time.monotonic()
    keepalive_failed = (
        isinstance(failure, ConnectionClosed)
        and failure.rcvd is None
        and failure.sent is not None
        and failure.sent.code == CLOSE_INTERNAL_ERROR
    )
    if keepalive_failed:
        # No pong in time: the peer was last heard one ping period and its timeout ago.
        return now - PING_INTERVAL_S - PING_TIMEOUT_S
    return now
