"""Connector supervisor: hosts the Home Assistant connections of one database in this process.

What it guarantees
    Exactly one live Home Assistant connection per active, configured ``ha.instance``, across
    every Odoo process and every Odoo node on the same database, and the instances shared out
    between the nodes.

How
    Every Odoo process that loads a database's registry (threaded server, prefork master with a
    preloaded database, HTTP and cron workers that load it lazily) runs one supervisor thread
    for that database, a *node*; never the gevent ``/websocket`` process, and never during
    installs or test runs unless a test starts one. The supervisor owns one dedicated
    PostgreSQL session (autocommit, outside Odoo's pool), named after the node
    (``placement/node_names.py``), on which it

    * holds ``pg_try_advisory_lock`` for each instance it hosts. The lock is the only authority:
      whoever holds it hosts the connection, and it lives as long as that session, so when the
      process dies its instances are free at once;
    * runs an election round every ``ELECTION_INTERVAL_S``: it reads the configured instances,
      the live nodes (the sessions so named: a node is live exactly as long as its locks can
      be) and the held locks, and ``placement.planner`` tells it which instances are its share
      (rendezvous hashing over the live nodes). It tries the locks of its unhosted share, and of
      any instance nobody has hosted for ``UNHOSTED_GRACE_S``; it hands off hosted instances
      that are now another node's share (a node joined): stop the connection, release the lock,
      NOTIFY, and the preferred node takes it on that signal, so one instance never has two
      connections and changes host with one reconnect;
    * LISTENs on the control channel (an instance was created, changed, archived, deleted,
      released or asked to restart, or some of its entities started recording history: act at
      once, in whichever process hosts it) and on the request channel (``ha.ws.request.queue``
      rows for the instances it hosts);
    * stops every connector it hosts as soon as that session fails, because the locks went with
      it and another process may already be connecting; and when that session stops answering
      (network cut), stops them before PostgreSQL can drop it and free the locks
      (``session_watch.py`` explains the timers and their order).

    Each hosted instance runs in an ``InstanceConnector`` (its own thread and asyncio loop); the
    supervisor only starts, stops and restarts them and forwards requests.
"""

import contextlib
import json
import logging
import os
import secrets
import select
import socket
import threading
import time

import psycopg2
import psycopg2.errors

from ..hass.backoff import Backoff
from ..placement.node_names import node_name, parse_node_name
from ..placement.planner import HostingPlanner
from . import channels, locks, nodes
from .database import open_raw_connection
from .instance_connector import InstanceConnector
from .session_watch import (
    ELECTION_INTERVAL_S,
    FENCE_STOP_TIMEOUT_S,
    SessionWatch,
    ask_server_keepalives,
)
from .shared import shared_for, thread_stack

_logger = logging.getLogger(__name__)

# ELECTION_INTERVAL_S (session_watch.py): how often a process retries the locks of instances
# nobody hosts; the takeover delay after the hosting process dies is at most that plus the new
# connection's handshake.
# An instance nobody has hosted for this long is tried by every node, not only its preferred
# one: a few rounds, so that a hand-off or a takeover by the preferred node comes first.
UNHOSTED_GRACE_S = 3 * ELECTION_INTERVAL_S
# Waiting for a connector thread to finish when stopping it.
CONNECTOR_STOP_TIMEOUT_S = 10.0
# Reconnecting the supervisor's own PostgreSQL session after it failed.
DB_RETRY_INITIAL_S = 0.5
DB_RETRY_MAX_S = 15.0

_ACTIVE_INSTANCES_QUERY = """
    SELECT id, url, token FROM ha_instance
     WHERE active AND COALESCE(url, '') <> '' AND COALESCE(token, '') <> ''
"""


class ConnectorSupervisor(threading.Thread):
    def __init__(self, dbname, instance_ids=None):
        """``instance_ids``: host only these instances (tests, benchmarks); default all."""
        super().__init__(name=f"odoo_ha_addon.supervisor.{dbname}", daemon=True)
        self.dbname = dbname
        self.instance_ids = set(instance_ids) if instance_ids is not None else None
        self.node = parse_node_name(
            node_name(
                socket.gethostname(),
                os.getpid(),
                secrets.token_hex(4),
                hosts_all=self.instance_ids is None,
            )
        )
        self._planner = HostingPlanner(self.node, UNHOSTED_GRACE_S)
        self.connectors = {}
        self._fingerprints = {}
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        self._session_watch = SessionWatch(f"{self.name}.watch", self._fence)

    # Thread API -------------------------------------------------------------------------

    def stop(self, timeout_s=CONNECTOR_STOP_TIMEOUT_S):
        self._stopping.set()
        self.wake()
        if self.is_alive():
            self.join(timeout_s)

    def wake(self):
        """Run an election round now (e.g. right after a local configuration change)."""
        with contextlib.suppress(OSError):  # the thread has ended and closed its pipe
            os.write(self._wake_write, b"x")

    def run(self):
        backoff = Backoff(initial_s=DB_RETRY_INITIAL_S, max_s=DB_RETRY_MAX_S)
        failures = 0
        self._session_watch.start()
        while not self._stopping.is_set():
            connection = None
            try:
                connection = open_raw_connection(self.dbname)
                self._session_watch.watch(connection)
                ask_server_keepalives(connection)
                nodes.announce(connection, self.node.name)
                with connection.cursor() as cr:
                    # Constant channel names; LISTEN takes no parameter.
                    cr.execute(  # pylint: disable=sql-injection
                        f"LISTEN {channels.CONTROL_CHANNEL}; LISTEN {channels.REQUEST_CHANNEL}"
                    )
                if failures:
                    _logger.info("Connector supervisor of %s is back on PostgreSQL", self.dbname)
                failures = 0
                backoff.reset()
                self._serve(connection)
            except psycopg2.errors.UndefinedTable:
                # The addon was uninstalled from this database: nothing left to host.
                _logger.info("Home Assistant addon gone from %s; supervisor ends", self.dbname)
                break
            except psycopg2.Error as error:
                # Our session, and every advisory lock it held, is gone: another process may
                # be taking the instances over right now, so ours must go silent at once.
                self._stop_all_connectors()
                failures += 1
                if failures == 1:
                    _logger.warning(
                        "Connector supervisor of %s lost PostgreSQL (%s); retrying",
                        self.dbname,
                        str(error).strip(),
                    )
                self._stopping.wait(backoff.next_delay())
            except Exception:
                self._stop_all_connectors()
                _logger.exception("Connector supervisor of %s failed; restarting it", self.dbname)
                self._stopping.wait(backoff.next_delay())
            finally:
                if connection is not None:
                    with contextlib.suppress(psycopg2.Error):
                        connection.close()
        self._session_watch.stop()
        self._stop_all_connectors()
        os.close(self._wake_read)
        os.close(self._wake_write)

    # Main loop --------------------------------------------------------------------------

    def _serve(self, connection):
        next_election = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_election:
                self._elect(connection)
                next_election = now + ELECTION_INTERVAL_S
            # psycopg2 reads the notifications that arrive while the election's queries run
            # into ``connection.notifies``: they are off the socket, so select would not wake
            # for them, and a request would wait for the next notification or its timeout.
            if not connection.notifies:
                readable, _w, _x = select.select(
                    [connection, self._wake_read], [], [], max(0.0, next_election - now)
                )
                if self._wake_read in readable:
                    os.read(self._wake_read, 4096)
                    next_election = 0.0
                if connection in readable:
                    connection.poll()
            notifications, connection.notifies[:] = list(connection.notifies), []
            for notification in notifications:
                if self._dispatch(notification):
                    next_election = 0.0

    def _dispatch(self, notification):
        """Handle one NOTIFY; return True when an election round should run now."""
        if notification.channel == channels.REQUEST_CHANNEL:
            instance_id, _sep, request_id = notification.payload.partition(":")
            connector = self.connectors.get(int(instance_id))
            if connector is not None:
                connector.submit_request(int(request_id))
            return False
        try:
            message = json.loads(notification.payload)
            instance_id = int(message["instance_id"])
        except (ValueError, KeyError, TypeError):
            _logger.warning("Ignoring malformed control notification %r", notification.payload)
            return False
        connector = self.connectors.get(instance_id)
        if message.get("action") == "backfill":
            if connector is not None and connector.is_alive():
                connector.request_backfill()
            return False
        if message.get("action") == "restart" and connector is not None:
            if connector.is_alive():
                connector.restart()
            else:
                # Parked after "authentication failed": a manager asked to try again.
                self._fingerprints.pop(instance_id, None)
        return True

    def _elect(self, connection):
        with connection.cursor() as cr:
            cr.execute(_ACTIVE_INSTANCES_QUERY)
            # Placement is computed over every configured instance, the same list on every
            # node, whatever this node is limited to.
            configs = {instance_id: (url, token) for instance_id, url, token in cr.fetchall()}
            live_nodes = nodes.live_nodes(cr)
            held = locks.held_instance_locks(cr)
        wanted = {
            instance_id: config
            for instance_id, config in configs.items()
            if self.instance_ids is None or instance_id in self.instance_ids
        }
        plan = self._planner.plan(time.monotonic(), live_nodes, configs, set(self.connectors), held)
        for instance_id in list(self.connectors):
            config = wanted.get(instance_id)
            connector = self.connectors[instance_id]
            if config is None:
                self._stop_connector(connection, instance_id)
            elif instance_id in plan.hand_off:
                self._hand_off(connection, instance_id, plan.preferred[instance_id])
            elif config != self._fingerprints.get(instance_id) or (
                not connector.is_alive() and connector.final_status != "auth_failed"
            ):
                # URL or token changed (possibly on another node), a restart was asked for,
                # or the thread died. A connector that ended on "authentication failed" stays
                # parked until then: retrying a rejected token gets the address banned by HA.
                connector.stop(CONNECTOR_STOP_TIMEOUT_S)
                self._start_connector(instance_id, config)
        for instance_id in sorted(plan.acquire & wanted.keys()):
            if instance_id in self.connectors:
                continue
            if locks.try_acquire_instance_lock(connection, instance_id):
                self._planner.acquired(instance_id)
                _logger.info(
                    "Hosting Home Assistant instance %s of %s on node %s",
                    instance_id,
                    self.dbname,
                    self.node.label,
                )
                self._start_connector(instance_id, wanted[instance_id])

    def _start_connector(self, instance_id, config):
        url, token = config
        connector = InstanceConnector(
            self.dbname, instance_id, url, token, shared=shared_for(self.dbname)
        )
        self.connectors[instance_id] = connector
        self._fingerprints[instance_id] = config
        with thread_stack():
            connector.start()

    def _stop_connector(self, connection, instance_id):
        connector = self.connectors.pop(instance_id)
        self._fingerprints.pop(instance_id, None)
        connector.stop(CONNECTOR_STOP_TIMEOUT_S)
        locks.release_instance_lock(connection, instance_id)
        _logger.info("Stopped hosting Home Assistant instance %s of %s", instance_id, self.dbname)

    def _hand_off(self, connection, instance_id, preferred):
        """Give an instance to its preferred node: its connection closes before the lock is
        released, so Home Assistant never sees two."""
        connector = self.connectors[instance_id]
        connector.stop(CONNECTOR_STOP_TIMEOUT_S)
        if connector.is_alive():
            return  # still closing: the lock stays until it has (next round)
        del self.connectors[instance_id]
        self._fingerprints.pop(instance_id, None)
        locks.release_instance_lock(connection, instance_id)
        with connection.cursor() as cr:
            # Wakes every supervisor for an election round now, the preferred node included.
            channels.notify(
                cr,
                channels.CONTROL_CHANNEL,
                json.dumps({"instance_id": instance_id, "action": "released"}),
            )
        _logger.info(
            "Handed Home Assistant instance %s of %s over to node %s",
            instance_id,
            self.dbname,
            parse_node_name(preferred).label,
        )

    def _stop_all_connectors(self):
        connectors, self.connectors = self.connectors, {}
        self._fingerprints.clear()
        _stop_together(connectors.values(), CONNECTOR_STOP_TIMEOUT_S)

    def _fence(self):
        """On the session watch's thread, while this thread waits for a lost session: close
        every Home Assistant connection this node has. This thread forgets them (and frees
        their locks, if the session is still there) when its call fails."""
        _stop_together(list(self.connectors.values()), FENCE_STOP_TIMEOUT_S)


def _stop_together(connectors, timeout_s):
    """Stop ``connectors`` at once and wait at most ``timeout_s`` in all for them to end."""
    for connector in connectors:
        connector.request_stop()
    deadline = time.monotonic() + timeout_s
    for connector in connectors:
        connector.join(max(0.0, deadline - time.monotonic()))
        if connector.is_alive():
            _logger.warning("Connector of instance %s did not stop in time", connector.instance_id)
