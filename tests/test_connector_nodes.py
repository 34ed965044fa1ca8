"""Home Assistant connections shared out between several Odoo nodes on one database.

Two real Odoo servers (``OdooServer``, threaded) run on the test database and host the
connections of instances to scripted Home Assistants, which count the authenticated
connections they hold: the instances are split between the servers, a server killed with
SIGKILL has its instances taken over by the other, and a server that comes back gets its share
handed back, one connection per Home Assistant at every moment. Takeover and rebalance times
are logged, not asserted (they are benchmark figures): the limits below only bound how long a
failing test waits.
"""

import logging
import os
import signal
import time

from odoo.tests import TransactionCase, tagged

from ..connector import nodes
from .odoo_server import OdooServer
from .scripted_ha import ScriptedHA, make_sensors
from .test_dashboard import _committed

_logger = logging.getLogger(__name__)

INSTANCES = 6
SPREAD_TIMEOUT_S = 60.0
TAKEOVER_TIMEOUT_S = 30.0


@tagged("post_install", "-at_install")
class TestConnectorNodes(TransactionCase):
    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        self.has = []
        for _n in range(INSTANCES):
            ha = ScriptedHA(make_sensors(3)).start()
            self.addCleanup(ha.stop)
            self.has.append(ha)
        self.instance_ids = _committed(
            self.dbname,
            lambda env: (
                env["ha.instance"]
                .create(
                    [
                        {"name": f"Node test {n}", "url": ha.url, "token": ha.token}
                        for n, ha in enumerate(self.has)
                    ]
                )
                .ids
            ),
        )
        self.addCleanup(
            _committed,
            self.dbname,
            lambda env: env["ha.instance"].browse(self.instance_ids).exists().unlink(),
        )

    def start_server(self, server=None):
        server = server or OdooServer(self.dbname)
        server.start()
        self.addCleanup(server.stop)
        return server

    def hosts(self):
        """instance id -> pid of the Odoo process holding its connection."""
        with self.registry.cursor() as cr:
            return {
                instance_id: node.pid
                for instance_id, node in nodes.instance_hosts(cr, self.instance_ids).items()
            }

    def statuses(self):
        with self.registry.cursor() as cr:
            cr.execute("SELECT status FROM ha_instance WHERE id = ANY(%s)", [self.instance_ids])
            return {status for (status,) in cr.fetchall()}

    def served_once(self):
        """Whether every scripted Home Assistant has one subscribed connection, and one only."""
        return all(ha.authenticated_count() == 1 == ha.subscriber_count() for ha in self.has)

    def wait_for(self, predicate, message, timeout_s, servers):
        """Seconds until ``predicate()`` held; fails with the servers' logs after ``timeout_s``."""
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout_s:
                logs = "\n".join(f"--- pid {s.process.pid}\n{s.log_tail()}" for s in servers)
                self.fail(f"{message} (not within {timeout_s:g} s); hosts {self.hosts()}\n{logs}")
            time.sleep(0.1)
        return time.monotonic() - started

    def split_between(self, *servers):
        pids = [server.process.pid for server in servers]

        def split():
            hosts = self.hosts()
            shares = [sum(1 for pid in hosts.values() if pid == p) for p in pids]
            # Exactly a fair share each (placement/rendezvous.py caps every node's load).
            fair = -(-INSTANCES // len(pids))
            return len(hosts) == INSTANCES and max(shares) <= fair and self.served_once()

        return split

    def test_instances_split_taken_over_and_handed_back(self):
        first = self.start_server()
        second = self.start_server()
        both = (first, second)
        joined_s = self.wait_for(
            self.split_between(first, second),
            "the instances were never split between the two servers",
            SPREAD_TIMEOUT_S,
            both,
        )
        _logger.info("Instances split between 2 nodes %.2f s after the second started", joined_s)

        os.killpg(second.process.pid, signal.SIGKILL)
        second.process.wait()
        takeover_s = self.wait_for(
            self.split_between(first),
            "the surviving server never took the killed one's instances over",
            TAKEOVER_TIMEOUT_S,
            both,
        )
        _logger.info(
            "Node killed: its instances connected again on the other in %.2f s", takeover_s
        )

        self.start_server(second)
        rebalance_s = self.wait_for(
            self.split_between(first, second),
            "the instances were never handed back to the restarted server",
            SPREAD_TIMEOUT_S,
            both,
        )
        _logger.info("Node back: instances shared out again %.2f s after it started", rebalance_s)

        self.wait_for(
            lambda: self.statuses() == {"connected"},
            f"not every instance is connected: {self.statuses()}",
            TAKEOVER_TIMEOUT_S,
            both,
        )
        self.assertEqual(
            [ha.max_concurrent_authenticated for ha in self.has],
            [1] * INSTANCES,
            "a Home Assistant saw two connections of one instance at once",
        )
