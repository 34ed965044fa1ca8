"""One authenticated websocket session with Home Assistant.

Concurrency model (one asyncio event loop owns the connection):

- One reader task owns the receive side. It decodes each frame (one message, or a JSON
  array of messages once ``coalesce_messages`` is on) and dispatches by id: a ``result``
  or ``pong`` resolves the future of the command waiting for it; an ``event`` calls the
  subscription's callback right there, synchronously. Callbacks must be quick and never
  block: HA drops a client that falls behind (4096 queued messages).
- Any number of coroutines may run commands at once. Sending is serialised by a lock and
  the id is taken under that lock, so ids reach HA strictly increasing (HA rejects an id
  that is not larger than the previous one). Each command has its own timeout covering
  both the send and the wait for its answer; a timeout does not close the connection.
- A keepalive task sends HA's own ``ping`` command every ``ping_interval_s`` and closes
  the connection when the ``pong`` takes longer than ``ping_timeout_s``. websockets' own
  ping is disabled: HA's ping is answered by HA's event loop, so it also catches a server
  that is frozen while its TCP stack still answers, and one keepalive with one timeout is
  simpler to reason about than two.
- When the connection ends for any reason (peer closed, socket error, malformed or
  oversized frame, missing pong, ``close()``), every pending command fails at once with
  ``ConnectionLost`` and ``wait_closed()`` returns the reason. A closed connection is never
  reused: ``HAClient`` opens a new one.
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import ssl
import weakref
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Self

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
)

from . import messages
from .const import (
    AUTH_TIMEOUT_S,
    CLOSE_TIMEOUT_S,
    DEFAULT_COMMAND_TIMEOUT_S,
    MAX_FRAME_BYTES,
    OPEN_TIMEOUT_S,
    PING_INTERVAL_S,
    PING_TIMEOUT_S,
    USER_AGENT,
)
from .errors import (
    AuthenticationFailed,
    CannotConnect,
    CommandFailed,
    ConnectionLost,
    HAError,
    NotHomeAssistant,
    ProtocolError,
    RequestTimeout,
)
from .forking import release_descriptors
from .urls import websocket_url

_logger = logging.getLogger(__name__)

# Close code websockets sends when a message exceeds max_size (RFC 6455 "message too big").
CLOSE_CODE_MESSAGE_TOO_BIG = 1009

# The websockets this process opened, for _release_inherited_sockets.
_open_websockets: weakref.WeakSet[ClientConnection] = weakref.WeakSet()

# What a subscription's callback gets: the ``event`` of each event message.
EventCallback = Callable[[Any], object]
# What subscribe() returns: ends the subscription.
Unsubscribe = Callable[[], Awaitable[None]]

# How much of a refused redirect's Location an error message quotes.
MAX_QUOTED_LOCATION_CHARS = 200


class _ConnectWithoutRedirects(websocket_connect):
    """websockets' ``connect`` that fails on a 3xx answer to the upgrade instead of following it.

    The access token goes out in the first message after the upgrade, so a followed
    redirect would hand it to whatever server the ``Location`` names. Only the URL the
    administrator configured gets it, as in rest.py (``allow_redirects=False``).
    ``process_redirect`` is the hook websockets' asyncio client (13.1 and later) asks
    whether to follow; returning the error itself makes ``connect`` raise it.
    """

    def process_redirect(self, exc: Exception) -> Exception:
        return exc


class HAConnection:
    """An authenticated session; create it with ``await HAConnection.connect(url, token)``."""

    def __init__(
        self,
        websocket: ClientConnection,
        url: str,
        ha_version: str | None,
        *,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        command_timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
        ping_interval_s: float | None = PING_INTERVAL_S,
        ping_timeout_s: float = PING_TIMEOUT_S,
    ) -> None:
        self.url = url
        self.ha_version = ha_version
        self.max_frame_bytes = max_frame_bytes
        self.command_timeout_s = command_timeout_s
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.close_reason: str | None = None
        self._websocket = websocket
        self._last_id = 0
        self._send_lock = asyncio.Lock()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._subscriptions: dict[int, EventCallback] = {}
        self._closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_loop(), name=f"ha-reader {url}")
        self._keepalive: asyncio.Task[None] | None = None
        if ping_interval_s:
            self._keepalive = asyncio.create_task(
                self._keepalive_loop(ping_interval_s), name=f"ha-keepalive {url}"
            )

    # Opening ------------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str,
        *,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        auth_timeout_s: float = AUTH_TIMEOUT_S,
        command_timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
        ping_interval_s: float | None = PING_INTERVAL_S,
        ping_timeout_s: float = PING_TIMEOUT_S,
        coalesce_messages: bool = True,
        verify_ssl: bool = True,
    ) -> Self:
        """Open, authenticate and return a connection.

        ``url`` is the base URL (``http://host:8123``); ``ws(s)://`` and the websocket
        endpoint itself are accepted too. Raises ``CannotConnect``, ``NotHomeAssistant``,
        ``AuthenticationFailed`` or ``ProtocolError``; the token never appears in them.
        """
        try:
            endpoint = websocket_url(url)
        except ValueError as error:
            raise CannotConnect(f"invalid Home Assistant URL: {error}") from None
        websocket = await _open_websocket(
            url, endpoint, max_frame_bytes, open_timeout_s, verify_ssl
        )
        try:
            ha_version = await _authenticate(websocket, url, token, auth_timeout_s)
        except BaseException:
            await _abort(websocket)
            raise
        connection = cls(
            websocket,
            url,
            ha_version,
            max_frame_bytes=max_frame_bytes,
            command_timeout_s=command_timeout_s,
            ping_interval_s=ping_interval_s,
            ping_timeout_s=ping_timeout_s,
        )
        try:
            if coalesce_messages:
                await connection.call(
                    messages.SUPPORTED_FEATURES,
                    features={messages.FEATURE_COALESCE_MESSAGES: 1},
                )
        except BaseException:
            await connection.close("setup failed")
            raise
        return connection

    # Commands -----------------------------------------------------------------------------

    async def call(self, message_type: str, /, **payload: Any) -> Any:
        """Run one command with the default timeout and return its ``result``."""
        return await self.command({"type": message_type, **payload})

    async def command(self, message: messages.Message, *, timeout_s: float | None = None) -> Any:
        """Send ``message`` (a dict with ``type``) under a fresh id and return its result.

        Raises ``CommandFailed`` (HA's error code and message), ``RequestTimeout`` or
        ``ConnectionLost``.
        """
        return await self._request(message, timeout_s=timeout_s)

    async def subscribe(
        self,
        message: messages.Message,
        callback: EventCallback,
        *,
        timeout_s: float | None = None,
    ) -> Unsubscribe:
        """Start a subscription command; ``callback(event)`` gets each of its events.

        Returns an async ``unsubscribe()``. The callback is registered before the command
        is sent, so no event can be missed between the result and the first event.
        """
        subscription_id = await self._request(message, callback=callback, timeout_s=timeout_s)

        async def unsubscribe() -> None:
            if self._subscriptions.pop(subscription_id, None) is None or self.closed:
                return
            with contextlib.suppress(ConnectionLost):
                await self.call(messages.UNSUBSCRIBE_EVENTS, subscription=subscription_id)

        return unsubscribe

    async def subscribe_events(
        self, callback: EventCallback, event_type: str | None = None
    ) -> Unsubscribe:
        """Subscribe to HA bus events (all of them when ``event_type`` is None)."""
        message: messages.Message = {"type": messages.SUBSCRIBE_EVENTS}
        if event_type is not None:
            message["event_type"] = event_type
        return await self.subscribe(message, callback)

    async def subscribe_entities(
        self, callback: EventCallback, entity_ids: Iterable[str] | None = None
    ) -> Unsubscribe:
        """Subscribe to compressed entity states (see ``messages``)."""
        message: messages.Message = {"type": messages.SUBSCRIBE_ENTITIES}
        if entity_ids is not None:
            message["entity_ids"] = list(entity_ids)
        return await self.subscribe(message, callback)

    async def ping(self, timeout_s: float | None = None) -> None:
        await self.command({"type": messages.PING}, timeout_s=timeout_s)

    async def get_states(self) -> list[messages.State]:
        return await self.call("get_states")

    async def get_config(self) -> dict[str, Any]:
        return await self.call("get_config")

    async def call_service(
        self,
        domain: str,
        service: str,
        service_data: dict[str, Any] | None = None,
        *,
        target: dict[str, Any] | None = None,
        return_response: bool = False,
    ) -> Any:
        payload: dict[str, Any] = {"domain": domain, "service": service}
        if service_data:
            payload["service_data"] = service_data
        if target:
            payload["target"] = target
        if return_response:
            payload["return_response"] = True
        return await self.call("call_service", **payload)

    async def _request(
        self,
        message: messages.Message,
        *,
        callback: EventCallback | None = None,
        timeout_s: float | None = None,
    ) -> Any:
        if self.closed:
            raise ConnectionLost(f"connection to {self.url} is closed: {self.close_reason}")
        try:
            # NaN or Infinity would make Home Assistant close the whole connection.
            json.dumps(message, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise CommandFailed(
                "invalid_format", f"{message.get('type')!r} cannot be sent as JSON: {error}"
            ) from None
        timeout_s = self.command_timeout_s if timeout_s is None else timeout_s
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        message_id: int | None = None
        try:
            async with asyncio.timeout(timeout_s):
                async with self._send_lock:
                    if self.closed:
                        raise ConnectionLost(
                            f"connection to {self.url} is closed: {self.close_reason}"
                        )
                    self._last_id += 1
                    message_id = self._last_id
                    self._pending[message_id] = future
                    if callback is not None:
                        self._subscriptions[message_id] = callback
                    # On ConnectionClosed the reader fails the future with the reason.
                    with contextlib.suppress(ConnectionClosed):
                        await self._websocket.send(json.dumps({**message, "id": message_id}))
                await future
        except TimeoutError:
            if message_id is not None:
                self._subscriptions.pop(message_id, None)
            raise RequestTimeout(
                f"no answer to {message.get('type')!r} from {self.url} within {timeout_s:g} s"
            ) from None
        except BaseException:
            if message_id is not None:
                self._subscriptions.pop(message_id, None)
            raise
        finally:
            if message_id is not None:
                self._pending.pop(message_id, None)
        return message_id if callback is not None else future.result()

    # Closing ------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed.done()

    async def wait_closed(self) -> str:
        """Wait until the connection ends; return why it ended."""
        return await asyncio.shield(self._closed)

    async def close(
        self, reason: str = "closed by the client", *, peer_is_dead: bool = False
    ) -> None:
        """Close the connection; pending commands fail with ``ConnectionLost`` at once.

        ``peer_is_dead`` skips the closing handshake, which a silent peer never completes.
        """
        self._finish(reason)
        current = asyncio.current_task()
        for task in (self._keepalive, self._reader):
            if task is not None and task is not current:
                task.cancel()
        if peer_is_dead:
            _drop_transport(self._websocket)
        await _abort(self._websocket)

    def _finish(self, reason: str) -> None:
        if self.closed:
            return
        self.close_reason = reason
        error = ConnectionLost(f"connection to {self.url} lost: {reason}")
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)
        self._subscriptions.clear()
        self._closed.set_result(reason)

    # Reader and keepalive -----------------------------------------------------------------

    async def _read_loop(self) -> None:
        reason = "connection closed"
        try:
            while True:
                frame = await self._websocket.recv()
                try:
                    payload = json.loads(frame)
                except ValueError:
                    _logger.warning(
                        "Malformed JSON frame (%d bytes) from %s; dropping the connection",
                        len(frame),
                        self.url,
                    )
                    reason = "malformed JSON frame from Home Assistant"
                    break
                batch = payload if isinstance(payload, list) else [payload]
                for message in batch:
                    if not isinstance(message, dict):
                        raise ProtocolError(f"unexpected message {type(message).__name__}")
                    self._dispatch(message)
        except ConnectionClosed as error:
            reason = self._describe_close(error)
            _logger.warning("Connection to %s lost: %s", self.url, reason)
        except ProtocolError as error:
            _logger.warning("Protocol error from %s: %s; dropping the connection", self.url, error)
            reason = f"protocol error: {error}"
        except asyncio.CancelledError:
            # Only close() cancels the reader, and it closes the socket itself.
            self._finish(self.close_reason or "closed by the client")
            raise
        except Exception as error:
            _logger.exception("Reader of %s failed", self.url)
            reason = f"reader failed: {error}"
        self._finish(reason)
        if self._keepalive is not None:
            self._keepalive.cancel()
        await _abort(self._websocket)

    def _describe_close(self, error: ConnectionClosed) -> str:
        sent, received = error.sent, error.rcvd
        if sent is not None and sent.code == CLOSE_CODE_MESSAGE_TOO_BIG:
            return f"a message exceeded the frame limit of {self.max_frame_bytes} bytes"
        if received is not None:
            detail = f": {received.reason}" if received.reason else ""
            return f"Home Assistant closed the connection (code {received.code}{detail})"
        if sent is not None:
            return f"connection closed (code {sent.code} {sent.reason})".strip()
        return "connection dropped without a close frame"

    def _dispatch(self, message: messages.Message) -> None:
        # Whatever HA sent: an id that is not one of ours matches nothing below.
        message_id: Any = message.get("id")
        message_type = message.get("type")
        if message_type == messages.EVENT:
            callback = self._subscriptions.get(message_id)
            if callback is None:
                return
            try:
                callback(message.get("event"))
            except Exception:
                _logger.exception("Subscription callback for %s failed", self.url)
            return
        future = self._pending.get(message_id)
        if future is None or future.done():
            return
        if message_type == messages.PONG:
            future.set_result(None)
        elif message_type == messages.RESULT:
            if message.get("success"):
                future.set_result(message.get("result"))
            else:
                error = message.get("error") or {}
                future.set_exception(
                    CommandFailed(
                        error.get("code", "unknown_error"), error.get("message", "command failed")
                    )
                )

    async def _keepalive_loop(self, interval_s: float) -> None:
        while not self.closed:
            await asyncio.sleep(interval_s)
            try:
                await self.ping(timeout_s=self.ping_timeout_s)
            except RequestTimeout:
                _logger.warning(
                    "No pong from %s within %g s; dropping the connection",
                    self.url,
                    self.ping_timeout_s,
                )
                await self.close(f"no pong within {self.ping_timeout_s:g} s", peer_is_dead=True)
                return
            except HAError:
                return


async def _open_websocket(
    url: str, endpoint: str, max_frame_bytes: int, open_timeout_s: float, verify_ssl: bool
) -> ClientConnection:
    options: dict[str, Any] = {}
    if endpoint.startswith("wss:") and not verify_ssl:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        options["ssl"] = context
    try:
        websocket = await _ConnectWithoutRedirects(
            endpoint,
            max_size=max_frame_bytes,
            ping_interval=None,
            open_timeout=open_timeout_s,
            close_timeout=CLOSE_TIMEOUT_S,
            user_agent_header=USER_AGENT,
            **options,
        )
    except (InvalidHandshake, InvalidURI, OSError) as error:
        raise _open_failure(error, url, endpoint, open_timeout_s) from None
    _open_websockets.add(websocket)
    return websocket


def _open_failure(  # noqa: PLR0911 (one case per cause)
    error: InvalidHandshake | InvalidURI | OSError, url: str, endpoint: str, open_timeout_s: float
) -> HAError:
    """The typed error, with a one-line message, for a failed websocket opening."""
    if isinstance(error, InvalidStatus):
        status = error.response.status_code
        if 300 <= status < 400:
            location = error.response.headers.get("Location", "")[:MAX_QUOTED_LOCATION_CHARS]
            return CannotConnect(
                f"cannot connect to {url}: it answered HTTP {status} to {location or '?'} "
                "(a redirect, not followed so that the access token only goes to this URL; "
                "enter the final address instead)"
            )
        if status >= 500:
            return CannotConnect(f"cannot reach {url}: HTTP {status}")
        return NotHomeAssistant(
            f"{url} is not a Home Assistant server (HTTP {status} at {endpoint})"
        )
    if isinstance(error, InvalidMessage):
        if isinstance(error.__cause__, (EOFError, ConnectionError)):
            return CannotConnect(f"cannot reach {url}: connection closed during handshake")
        return NotHomeAssistant(f"{url} is not a Home Assistant server (no valid HTTP answer)")
    if isinstance(error, InvalidURI):
        return CannotConnect(f"invalid Home Assistant URL {url}: {error}")
    if isinstance(error, InvalidHandshake):
        return NotHomeAssistant(f"{url} is not a Home Assistant server ({error})")
    if isinstance(error, ssl.SSLCertVerificationError):
        return CannotConnect(
            f"cannot reach {url}: TLS certificate not trusted ({error.verify_message})"
        )
    if isinstance(error, ssl.SSLError):
        return CannotConnect(f"cannot reach {url}: TLS error ({error.reason or error})")
    if isinstance(error, ConnectionRefusedError):
        return CannotConnect(f"cannot reach {url}: connection refused")
    if isinstance(error, socket.gaierror):
        return CannotConnect(f"cannot reach {url}: host not found ({error.strerror})")
    if isinstance(error, TimeoutError):
        return CannotConnect(f"cannot reach {url}: no answer within {open_timeout_s:g} s")
    return CannotConnect(f"cannot reach {url}: {error.strerror or error}")


async def _authenticate(
    websocket: ClientConnection, url: str, token: str, timeout_s: float
) -> str | None:
    """Run the auth handshake; return HA's version from ``auth_ok``."""
    try:
        async with asyncio.timeout(timeout_s):
            first = _decode_handshake(await websocket.recv(), url)
            if first.get("type") != messages.AUTH_REQUIRED:
                raise NotHomeAssistant(
                    f"{url} is not a Home Assistant server (no auth_required message)"
                )
            await websocket.send(json.dumps(messages.auth_message(token)))
            answer = _decode_handshake(await websocket.recv(), url)
    except TimeoutError:
        raise CannotConnect(
            f"cannot reach {url}: no authentication answer within {timeout_s:g} s"
        ) from None
    except ConnectionClosed:
        raise CannotConnect(
            f"cannot reach {url}: connection closed during authentication"
        ) from None
    answer_type = answer.get("type")
    if answer_type == messages.AUTH_OK:
        return answer.get("ha_version")
    if answer_type == messages.AUTH_INVALID:
        detail = answer.get("message") or "invalid access token"
        raise AuthenticationFailed(f"Home Assistant at {url} rejected the access token: {detail}")
    raise ProtocolError(f"unexpected answer to authentication: {answer_type!r}")


def _decode_handshake(frame: str | bytes, url: str) -> messages.Message:
    try:
        message = json.loads(frame)
    except ValueError:
        raise NotHomeAssistant(f"{url} is not a Home Assistant server (not JSON)") from None
    if not isinstance(message, dict):
        raise NotHomeAssistant(f"{url} is not a Home Assistant server (unexpected message)")
    return message


async def _abort(websocket: ClientConnection) -> None:
    """Close politely if the peer answers quickly, otherwise drop the socket."""
    try:
        await asyncio.wait_for(websocket.close(), CLOSE_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - the socket is dropped below whatever went wrong
        pass
    finally:
        _drop_transport(websocket)


def _drop_transport(websocket: ClientConnection) -> None:
    transport = getattr(websocket, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.abort()


def _release_inherited_sockets() -> None:
    """In a forked child (e.g. an Odoo prefork worker): let go of the parent's HA sockets,
    which its event loop did not survive the fork to use (see forking.py)."""
    websockets = list(_open_websockets)
    _open_websockets.clear()
    descriptors: list[int] = []
    for websocket in websockets:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            descriptors.append(websocket.transport.get_extra_info("socket").fileno())
    release_descriptors(descriptors)


os.register_at_fork(after_in_child=_release_inherited_sockets)
