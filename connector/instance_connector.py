"""One hosted Home Assistant connection: a thread running an asyncio loop.

The loop runs the reconnecting ``HAClient`` and everything that must react to it without
blocking it: the state writer (its SQL runs in its own lane of the writers' pool), registry
syncs and request handling (their SQL runs in a lane of the bookkeeping pool). Those pools and
their PostgreSQL connections are shared by the connectors of a database in the process
(``shared.py``). Other threads talk to the loop only through
``call_soon_threadsafe``/``run_coroutine_threadsafe``.

On every (re)connect: read the area, device and entity registries (and the floor, label and
category registries of the servers that have them), write them, subscribe to their update
events, then take the ``subscribe_entities`` snapshot, which the writer
reconciles against Odoo (entities missing from it are marked unavailable and archived).
Once connected, and whenever entities start recording, the history backfill fetches their
recent past from Home Assistant (``history_backfill.py``).
"""

import asyncio
import contextlib
import functools
import logging
import threading

from ..hass import errors
from ..hass.client import HAClient
from . import registry_floors_labels, registry_sync, request_queue
from .automation_events import RuleEvaluations
from .history_backfill import HistoryBackfill
from .orm import InstanceOrm
from .shared import LaneExecutor, LanePool
from .state_writer import EntityStateWriter

_logger = logging.getLogger(__name__)

# Registry update events often come in bursts (an integration adding many entities):
# wait this long for the burst to end before reading the registries again.
REGISTRY_RESYNC_DELAY_S = 1.0
# Bookkeeping jobs of one instance that may run at once: requests run concurrently on the
# socket, and each needs two short statements, while a registry sync may take seconds.
BOOKKEEPING_LANE_WIDTH = 2

# How long a stopping connector waits for its last status writes.
FINAL_WRITES_TIMEOUT_S = 5.0


class InstanceConnector(threading.Thread):
    def __init__(self, dbname, instance_id, url, token, shared):
        """``shared``: the process's ``ConnectorShared`` of ``dbname`` (``shared_for``)."""
        super().__init__(name=f"odoo_ha_addon.connector.{dbname}.{instance_id}", daemon=True)
        self.shared = shared
        self.db = self.shared.db
        self.instance_id = instance_id
        self.url = url
        self._token = token
        self.loop = None
        self.client = None
        self.writer = None
        self.backfill = None
        self.rules = None
        self._ready = threading.Event()
        self._bookkeeping = LaneExecutor(self.shared.bookkeeping, BOOKKEEPING_LANE_WIDTH)
        self._resync_handle = None
        # The last entity registry read: its labels and categories are applied again once the
        # snapshot created the entities Odoo did not have yet.
        self._entity_registry = []
        self._tasks = set()
        self._status_lock = None
        # The client's last status; "auth_failed" when it gave up on a rejected token.
        self.final_status = None

    # Called from other threads ------------------------------------------------------------

    def stop(self, timeout_s):
        self.request_stop()
        self.join(timeout_s)
        if self.is_alive():
            _logger.warning("Connector of instance %s did not stop in time", self.instance_id)

    def request_stop(self):
        """Close the Home Assistant connection and end the thread, without waiting for it."""
        if self.loop is not None and self.client is not None and self.is_alive():
            self.loop.call_soon_threadsafe(self.client.stop)

    def restart(self):
        """Drop the current Home Assistant connection; the client reconnects at once."""
        if self.loop is not None and self.client is not None:
            self.loop.call_soon_threadsafe(self._spawn, self.client.reconnect())

    def submit_request(self, request_id):
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._spawn, self._handle_request(request_id))

    def request_backfill(self):
        """Fetch the recent past of entities that started recording (see history_backfill)."""
        if self.loop is not None and self.backfill is not None:
            # The loop may have closed since the caller saw the thread alive: nothing to do then.
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.backfill.request)

    def wait_ready(self, timeout_s):
        return self._ready.wait(timeout_s)

    # Thread body --------------------------------------------------------------------------

    def run(self):
        try:
            asyncio.run(self._main())
        except Exception:
            _logger.exception("Connector of instance %s crashed", self.instance_id)
        finally:
            # The final statuses had their chance (FINAL_WRITES_TIMEOUT_S); what is still
            # queued would only delay the stop, and the next host writes its own.
            self._bookkeeping.shutdown(wait=True, cancel_futures=True)

    async def _main(self):
        self.loop = asyncio.get_running_loop()
        # Host name lookups (asyncio's default executor would start threads per loop); the
        # lane is shut down with the loop, the shared pool is not.
        self.loop.set_default_executor(LanePool(self.shared.resolver))
        self._status_lock = asyncio.Lock()
        # Rules are evaluated on the bookkeeping lane once the writer committed their events.
        self.rules = RuleEvaluations(self.db, self.instance_id, self._bookkeeping)
        self.writer = EntityStateWriter(
            self.db,
            self.instance_id,
            LaneExecutor(self.shared.writers),
            on_new_recording=self._on_new_recording,
            on_rule_events=self.rules.request,
        )
        self.rules.writer = self.writer
        self.client = HAClient(
            self.url,
            self._token,
            on_connect=self._on_connect,
            on_states=self._on_states,
            on_status=self._on_status,
        )
        self.backfill = HistoryBackfill(
            self.instance_id,
            self.client,
            self.db,
            self._bookkeep,
            self.writer.wait_snapshot_committed,
            on_machine_deadline=self.writer.wake_at,
            on_gap_filled=self.rules.request,
        )
        writer_task = asyncio.create_task(self.writer.run())
        rules_task = asyncio.create_task(self.rules.run())
        self._ready.set()
        try:
            await self.client.run()
        finally:
            self.final_status = self.client.status
            writer_task.cancel()
            rules_task.cancel()
            self.backfill.cancel()
            try:
                await self.writer.flush()
            except Exception:
                _logger.exception("Final flush of instance %s failed", self.instance_id)
            self.writer.close()
            # The last status ("stopped", "auth_failed") must reach the database.
            pending = [task for task in self._tasks if not task.done()]
            if pending:
                await asyncio.wait(pending, timeout=FINAL_WRITES_TIMEOUT_S)

    def _spawn(self, coroutine):
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task):
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _logger.error(
                "Background task of instance %s failed",
                self.instance_id,
                exc_info=task.exception(),
            )

    async def _bookkeep(self, function, *args):
        return await self.loop.run_in_executor(self._bookkeeping, function, *args)

    # HAClient hooks -----------------------------------------------------------------------

    async def _on_connect(self, connection):
        await self.backfill.mark_gap_start()
        organised = await self._sync_registries(connection)
        missing = registry_floors_labels.describe_missing(organised)
        if missing:
            _logger.info(
                "Home Assistant %s of instance %s does not have these registries, not mirrored: %s",
                connection.ha_version,
                self.instance_id,
                missing,
            )
        for event_type in registry_sync.REGISTRY_UPDATE_EVENTS:
            await connection.subscribe_events(self._on_registry_event, event_type)
        for registry, event_type in registry_floors_labels.UPDATE_EVENTS.items():
            if organised[registry] is not None:
                await self._subscribe_registry_event(connection, event_type)

    async def _subscribe_registry_event(self, connection, event_type):
        try:
            await connection.subscribe_events(self._on_registry_event, event_type)
        except errors.CommandFailed as error:
            # Home Assistant 2024.4 lets only administrators subscribe to these events (later
            # releases let every user): the registry then follows the area, device and entity
            # events and each reconnect.
            _logger.info(
                "Instance %s cannot follow %s live (%s); it is read again on the other "
                "registry events",
                self.instance_id,
                event_type,
                error,
            )

    def _on_states(self, changes, snapshot=False):
        if snapshot:
            self.writer.replace_all(dict(changes))
        else:
            self.writer.add_changes(changes)

    def _on_status(self, status, error=None):
        self._spawn(self._record_status(status, error))
        if status != "connected":
            self.writer.set_listening(False)
        if status == "connected":
            # Resumes backfills cut short by a lost connection or requested while there was
            # none, and fills in what HA recorded while this instance had no connection.
            self.backfill.request(gap=True)

    def _on_new_recording(self):
        self.backfill.request()

    async def _record_status(self, status, error):
        # Tasks take the (FIFO) lock in the order the client reported, so statuses are
        # written in that order. "connected" is written once the snapshot is committed: from
        # then on Odoo's mirror matches Home Assistant.
        async with self._status_lock:
            if status == "connected":
                await self.writer.wait_snapshot_committed()
                # Machines' silence and debounces are judged by the clock from now on.
                self.writer.set_listening(self.client.status == "connected")
            await self._bookkeep(self._write_status, status, error)
            if status == "connected" and self._entity_registry:
                await self._bookkeep(self._write_entity_links, self._entity_registry)

    def _on_registry_event(self, _event):
        if self._resync_handle is not None:
            self._resync_handle.cancel()
        self._resync_handle = self.loop.call_later(
            REGISTRY_RESYNC_DELAY_S, lambda: self._spawn(self._resync_registries())
        )

    async def _resync_registries(self):
        connection = self.client.connection
        if connection is not None:
            try:
                await self._sync_registries(connection)
            except errors.HAError as error:
                _logger.warning(
                    "Registry resync of instance %s failed: %s", self.instance_id, error
                )

    async def _sync_registries(self, connection):
        """Read and write every registry; returns the floors, labels and categories read
        (``registry_floors_labels.read_registries``)."""
        results = {}
        for key, command in registry_sync.REGISTRY_COMMANDS.items():
            results[key] = await connection.call(command)
        results["organised"] = await registry_floors_labels.read_registries(connection)
        links = await self._bookkeep(self._write_registries, results)
        self.writer.set_entity_links(links)
        self._entity_registry = results["entities"]
        return results["organised"]

    # Requests from other processes --------------------------------------------------------

    async def _handle_request(self, request_id):
        claimed = await self._bookkeep(self._run_sql, request_queue.claim_request, request_id)
        if claimed is None:
            return
        _instance_id, message_type, payload, timeout_s = claimed
        outcome = {}
        try:
            outcome["result"] = await asyncio.wait_for(
                self.client.call(message_type, **(payload or {})), timeout_s or None
            )
        except errors.NotConnected as error:
            outcome.update(error=str(error), error_type="not_connected")
        except errors.CommandFailed as error:
            outcome.update(error=error.message, error_type="command_failed", error_code=error.code)
        except (TimeoutError, errors.RequestTimeout):
            outcome.update(error=f"no answer within {timeout_s:g} s", error_type="timeout")
        except errors.HAError as error:
            outcome.update(error=str(error), error_type="connection_lost")
        except Exception as error:
            _logger.exception("Request %s of instance %s failed", request_id, self.instance_id)
            outcome.update(error=f"{type(error).__name__}: {error}", error_type="error")
        finish = functools.partial(request_queue.finish_request, request_id=request_id, **outcome)
        await self._bookkeep(self._run_sql, finish)

    # Bookkeeping thread -------------------------------------------------------------------

    def _run_sql(self, function, *args, **kwargs):
        with self.shared.raw_connection().cursor() as cr:
            return function(cr, *args, **kwargs)

    def _write_registries(self, results):
        def write(cr):
            orm = InstanceOrm(self.db, cr, self.instance_id)
            before = orm.scope_members()
            links, changes = registry_sync.sync_registries(
                cr,
                self.instance_id,
                results["areas"],
                results["devices"],
                results["entities"],
                results["organised"],
            )
            orm.notify_registry_changes(changes, before)
            return links

        return self.db.run_transaction(write)

    def _write_entity_links(self, entities):
        def write(cr):
            orm = InstanceOrm(self.db, cr, self.instance_id)
            before = orm.scope_members()
            labelled = registry_floors_labels.sync_entity_links(cr, self.instance_id, entities)
            if labelled:
                changes = registry_sync.RegistryChanges(False, {}, labelled)
                orm.notify_registry_changes(changes, before)

        self.db.run_transaction(write)

    def _write_status(self, status, error):
        ha_version = self.client.ha_version if self.client is not None else None

        def write(cr):
            InstanceOrm(self.db, cr, self.instance_id).set_connection_status(
                status, error=error, ha_version=ha_version
            )

        try:
            self.db.run_transaction(write)
        except Exception as exc:  # noqa: BLE001 - PostgreSQL may be down; the next status retries
            _logger.warning(
                "Could not record status %r of instance %s: %s", status, self.instance_id, exc
            )
