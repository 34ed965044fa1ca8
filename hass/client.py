"""A Home Assistant client that stays connected: reconnects, resubscribes, mirrors states.

``HAClient.run()`` loops until ``stop()``: open an ``HAConnection``, run the
``on_connect(connection)`` hook, re-establish the event subscriptions registered with
``subscribe_events``, subscribe to ``subscribe_entities`` and wait for its snapshot, then
report "connected" and wait for the connection to end. Failures are retried forever with
capped, jittered exponential backoff; the one exception is ``auth_invalid``: the client
reports "auth_failed" and ``run()`` returns, since retrying a rejected token only gets
the address banned by HA.

Everything runs on the event loop that runs ``run()``; callbacks are called on it and must
not block. ``stop()`` is a plain function so another thread can schedule it with
``loop.call_soon_threadsafe(client.stop)``.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypedDict

from .backoff import Backoff
from .connection import EventCallback, HAConnection, Unsubscribe
from .const import (
    AUTH_TIMEOUT_S,
    BACKOFF_INITIAL_S,
    BACKOFF_MAX_S,
    DEFAULT_COMMAND_TIMEOUT_S,
    MAX_FRAME_BYTES,
    MIN_MAX_FRAME_BYTES,
    OPEN_TIMEOUT_S,
    PING_INTERVAL_S,
    PING_TIMEOUT_S,
    SNAPSHOT_TIMEOUT_S,
)
from .errors import AuthenticationFailed, HAError, NotConnected, RequestTimeout
from .messages import EntityStates, Message, State

_logger = logging.getLogger(__name__)

STATUS_CONNECTING = "connecting"
STATUS_CONNECTED = "connected"
STATUS_DISCONNECTED = "disconnected"
STATUS_UNREACHABLE = "unreachable"
STATUS_AUTH_FAILED = "auth_failed"
STATUS_STOPPED = "stopped"

# The callbacks HAClient takes (see its docstring).
OnConnect = Callable[[HAConnection], Awaitable[object]]
StateChanges = Sequence[tuple[str, State | None]]
OnStates = Callable[..., object]  # on_states(changes: StateChanges, snapshot: bool)
OnStatus = Callable[[str, str | None], object]


class _EventListener(TypedDict):
    callback: EventCallback
    event_type: str | None
    # The subscription on the current connection, if any.
    unsubscribe: Unsubscribe | None


class HAClient:
    """Keeps one live connection to a Home Assistant server.

    Callbacks (all optional, called on the client's event loop):

    - ``async on_connect(connection)``: after each authentication, before the state
      subscription; read registries or subscribe here. An exception makes the attempt fail.
    - ``on_states(changes, snapshot)``: ``changes`` is ``[(entity_id, state_or_None)]``
      with full ``get_states``-shaped states (``None``: entity removed). ``snapshot`` is
      True for the complete list sent after each (re)connect, which replaces everything.
      Treat the states as read-only: they are the mirror's own objects.
    - ``on_status(status, error)``: one of the ``STATUS_*`` values and a message or None,
      reported only when either changes.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        on_connect: OnConnect | None = None,
        on_states: OnStates | None = None,
        on_status: OnStatus | None = None,
        subscribe_states: bool = True,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        open_timeout_s: float = OPEN_TIMEOUT_S,
        auth_timeout_s: float = AUTH_TIMEOUT_S,
        command_timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
        snapshot_timeout_s: float = SNAPSHOT_TIMEOUT_S,
        ping_interval_s: float | None = PING_INTERVAL_S,
        ping_timeout_s: float = PING_TIMEOUT_S,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        backoff: Backoff | None = None,
        verify_ssl: bool = True,
    ) -> None:
        if max_frame_bytes < MIN_MAX_FRAME_BYTES:
            raise ValueError(f"max_frame_bytes must be at least {MIN_MAX_FRAME_BYTES}")
        self.url = url
        self._token = token
        self.on_connect = on_connect
        self.on_states = on_states
        self.on_status = on_status
        self.subscribe_states = subscribe_states
        self._connection_options: dict[str, Any] = {
            "max_frame_bytes": max_frame_bytes,
            "open_timeout_s": open_timeout_s,
            "auth_timeout_s": auth_timeout_s,
            "command_timeout_s": command_timeout_s,
            "ping_interval_s": ping_interval_s,
            "ping_timeout_s": ping_timeout_s,
            "verify_ssl": verify_ssl,
        }
        self.snapshot_timeout_s = snapshot_timeout_s
        self.backoff = backoff or Backoff(backoff_initial_s, backoff_max_s)

        self.status: str | None = None
        self.status_message: str | None = None
        self.error: Exception | None = None
        self.connection: HAConnection | None = None
        self.ha_version: str | None = None
        self.states: dict[str, State] = {}
        self.connect_attempts = 0
        self._event_listeners: list[_EventListener] = []
        self._stop_requested = False
        self._supervisor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._status_changed = asyncio.Event()

    def __repr__(self) -> str:
        # Never show the token.
        return f"<HAClient {self.url} {self.status}>"

    @property
    def connected(self) -> bool:
        return self.status == STATUS_CONNECTED

    # Lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until ``stop()`` or an authentication failure."""
        if self._supervisor is not None:
            raise RuntimeError("HAClient.run() is already running")
        if self._stop_requested:
            self._set_status(STATUS_STOPPED)
            return
        self._supervisor = asyncio.create_task(self._supervise(), name=f"ha-client {self.url}")
        try:
            await self._supervisor
        except asyncio.CancelledError:
            if not self._stop_requested:
                raise
        finally:
            self._supervisor = None
            if self.status != STATUS_AUTH_FAILED:
                self._set_status(STATUS_STOPPED)

    def stop(self) -> None:
        """Ask ``run()`` to close the connection and return. Safe to call more than once."""
        self._stop_requested = True
        if self._supervisor is not None and not self._supervisor.done():
            self._supervisor.cancel()

    async def reconnect(self) -> None:
        """Drop the current connection (if any) and connect again without waiting."""
        self._wake.set()
        connection = self.connection
        if connection is not None:
            await connection.close("reconnect requested")

    async def wait_for_status(self, *statuses: str, timeout_s: float) -> str | None:
        """Wait until the status is one of ``statuses``; ``RequestTimeout`` otherwise."""
        try:
            async with asyncio.timeout(timeout_s):
                while self.status not in statuses:
                    await self._status_changed.wait()
        except TimeoutError:
            raise RequestTimeout(
                f"status still {self.status!r} after {timeout_s:g} s (error: {self.error})"
            ) from None
        return self.status

    async def wait_connected(self, timeout_s: float) -> None:
        """Wait for "connected" (states mirrored); raise the error if the client gave up."""
        status = await self.wait_for_status(
            STATUS_CONNECTED, STATUS_AUTH_FAILED, STATUS_STOPPED, timeout_s=timeout_s
        )
        if status != STATUS_CONNECTED:
            raise self.error or NotConnected(f"client for {self.url} is {status}")

    # Commands and subscriptions -----------------------------------------------------------

    async def call(self, message_type: str, /, **payload: Any) -> Any:
        """Run a command on the live connection; ``NotConnected`` when there is none."""
        return await self._live_connection().call(message_type, **payload)

    async def command(self, message: Message, *, timeout_s: float | None = None) -> Any:
        return await self._live_connection().command(message, timeout_s=timeout_s)

    async def subscribe_events(
        self, callback: EventCallback, event_type: str | None = None
    ) -> Unsubscribe:
        """Subscribe now (when connected) and again after every reconnect.

        Returns an async ``unsubscribe()`` that ends it for good.
        """
        listener: _EventListener = {
            "callback": callback,
            "event_type": event_type,
            "unsubscribe": None,
        }
        self._event_listeners.append(listener)
        if self.connected and self.connection is not None:
            listener["unsubscribe"] = await self.connection.subscribe_events(callback, event_type)

        async def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._event_listeners.remove(listener)
            if listener["unsubscribe"] is not None:
                await listener["unsubscribe"]()

        return unsubscribe

    def _live_connection(self) -> HAConnection:
        connection = self.connection
        if not self.connected or connection is None or connection.closed:
            raise NotConnected(f"not connected to Home Assistant at {self.url}")
        return connection

    # Supervisor ---------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            if self.status != STATUS_UNREACHABLE:
                self._set_status(STATUS_CONNECTING)
            self.connect_attempts += 1
            try:
                connection = await HAConnection.connect(
                    self.url, self._token, **self._connection_options
                )
            except AuthenticationFailed as error:
                _logger.error("%s; not retrying until the token is changed", error)
                self.error = error
                self._set_status(STATUS_AUTH_FAILED, str(error))
                return
            except Exception as error:
                if not isinstance(error, HAError):
                    # A bug or an unforeseen library error must not end the retry loop.
                    _logger.exception("Connecting to %s failed unexpectedly", self.url)
                self.error = error
                self._set_status(STATUS_UNREACHABLE, str(error))
                await self._pause(self.backoff.next_delay())
                continue
            try:
                await self._serve(connection)
            finally:
                self.connection = None
                await connection.close("client stopped" if self._stop_requested else "done")
            await self._pause(self.backoff.next_delay())

    async def _serve(self, connection: HAConnection) -> None:
        self.connection = connection
        self.ha_version = connection.ha_version
        try:
            await self._set_up(connection)
        except Exception as error:
            if not isinstance(error, HAError):
                _logger.exception("Setting up the connection to %s failed", self.url)
            message = f"connection setup failed: {error}"
            _logger.warning("%s: %s", self.url, message)
            self.error = error
            self._set_status(STATUS_DISCONNECTED, message)
            return
        self.backoff.reset()
        self.error = None
        self._set_status(STATUS_CONNECTED)
        reason = await connection.wait_closed()
        self._set_status(STATUS_DISCONNECTED, reason)

    async def _set_up(self, connection: HAConnection) -> None:
        if self.on_connect is not None:
            await self.on_connect(connection)
        for listener in list(self._event_listeners):
            listener["unsubscribe"] = await connection.subscribe_events(
                listener["callback"], listener["event_type"]
            )
        if self.subscribe_states:
            await self._subscribe_states(connection)

    async def _subscribe_states(self, connection: HAConnection) -> None:
        mirror = EntityStates()
        snapshot_received: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_event(event: Message) -> None:
            changes: StateChanges
            if not snapshot_received.done():
                changes = mirror.apply_snapshot(event)
                self.states = mirror.states
                snapshot_received.set_result(None)
                self._notify_states(changes, snapshot=True)
            else:
                changes = mirror.apply_event(event)
                if changes:
                    self._notify_states(changes, snapshot=False)

        await connection.subscribe_entities(on_event)
        closed = asyncio.ensure_future(connection.wait_closed())
        waited: set[asyncio.Future[Any]] = {snapshot_received, closed}
        try:
            done, _pending = await asyncio.wait(
                waited,
                timeout=self.snapshot_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            closed.cancel()
        if snapshot_received not in done:
            if connection.closed:
                raise NotConnected(
                    f"connection lost before the state snapshot: {connection.close_reason}"
                )
            raise RequestTimeout(f"no state snapshot within {self.snapshot_timeout_s:g} s")

    def _notify_states(self, changes: StateChanges, *, snapshot: bool) -> None:
        if self.on_states is None:
            return
        try:
            self.on_states(changes, snapshot=snapshot)
        except Exception:
            _logger.exception("on_states callback failed")

    async def _pause(self, delay_s: float) -> None:
        """Sleep before the next attempt; ``reconnect()`` cuts it short."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await self._wake.wait()
        self._wake.clear()

    def _set_status(self, status: str, error: str | None = None) -> None:
        if (status, error) == (self.status, self.status_message):
            return
        self.status = status
        self.status_message = error
        if error:
            _logger.warning("Home Assistant %s: %s (%s)", self.url, status, error)
        else:
            _logger.info("Home Assistant %s: %s", self.url, status)
        self._status_changed.set()
        self._status_changed = asyncio.Event()
        if self.on_status is not None:
            try:
                self.on_status(status, error)
            except Exception:
                _logger.exception("on_status callback failed")
