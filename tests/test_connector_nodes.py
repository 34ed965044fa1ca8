"""Home Assistant connections shared out between several Odoo nodes on one database.

Two real Odoo servers (``OdooServer``, threaded) run on the test database and host the
connections of instances to scripted Home Assistants, which count the authenticated
connections they hold: the instances are split between the servers, a server killed with
SIGKILL has its instances taken over by the other, and a server that comes back gets its share
handed back, one connection per Home Assistant at every moment. A server cut off PostgreSQL
by a black-holed proxy (``pg_proxy.py``) closes its Home Assistant connections before
PostgreSQL drops its session (the proxy plays PostgreSQL's keepalive), and only then does the
other take its instances over. Takeover and rebalance times are logged, not asserted (they are
benchmark figures): the limits below only bound how long a failing test waits.
"""

import logging
import os
import signal
import time

from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from ..connector import nodes
from ..connector.session_watch import SERVER_GIVES_UP_S
from ..placement.node_names import NODE_NAME_PREFIX, parse_node_name
from .odoo_server import OdooServer
from .pg_proxy import PgProxy
from .scripted_ha import ScriptedHA, make_sensors
from .test_dashboard import _committed

_logger = logging.getLogger(__name__)

INSTANCES = 6
SPREAD_TIMEOUT_S = 60.0
TAKEOVER_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05


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

    def supervisor_ports(self, server):
        """client_port of the server's supervisor session(s), as PostgreSQL sees them."""
        with self.registry.cursor() as cr:
            cr.execute(
                "SELECT client_port, application_name FROM pg_stat_activity"
                " WHERE datname = current_database() AND starts_with(application_name, %s)",
                [NODE_NAME_PREFIX + ":"],
            )
            return {
                port
                for port, name in cr.fetchall()
                if (node := parse_node_name(name)) and node.pid == server.process.pid
            }

    def test_server_cut_off_postgres_lets_go_before_takeover(self):
        proxy = PgProxy(int(config.get("db_port") or 5432), config.get("db_host") or "127.0.0.1")
        proxy.start()
        self.addCleanup(proxy.stop)
        first = self.start_server()
        cut = self.start_server(OdooServer(self.dbname, db_port=proxy.port))
        both = (first, cut)
        self.wait_for(
            self.split_between(first, cut),
            "the instances were never split between the two servers",
            SPREAD_TIMEOUT_S,
            both,
        )
        hosts = self.hosts()
        cut_off = [
            ha
            for ha, instance_id in zip(self.has, self.instance_ids, strict=True)
            if hosts[instance_id] == cut.process.pid
        ]
        sessions = self.supervisor_ports(cut)
        self.assertTrue(cut_off and sessions)

        started = time.monotonic()
        proxy.cut()
        let_go_s = dropped_s = None
        while time.monotonic() - started < TAKEOVER_TIMEOUT_S:
            now = time.monotonic() - started
            if let_go_s is None and all(ha.authenticated_count() == 0 for ha in cut_off):
                let_go_s = now
            # PostgreSQL's kernel would give up on the session by now (its keepalives).
            if dropped_s is None and proxy.expire_silent(sessions, SERVER_GIVES_UP_S):
                dropped_s = now
            if dropped_s is not None and self.split_between(first)():
                break
            time.sleep(POLL_INTERVAL_S)
        takeover_s = time.monotonic() - started
        _logger.info(
            "Node cut off PostgreSQL: its connections closed after %s s, its session dropped"
            " after %s s, its instances connected on the other after %.2f s",
            let_go_s and round(let_go_s, 2),
            dropped_s and round(dropped_s, 2),
            takeover_s,
        )
        self.assertIsNotNone(let_go_s, "the cut-off server kept talking to Home Assistant")
        self.assertIsNotNone(dropped_s, "the cut-off server's session was never dropped")
        self.assertLess(let_go_s, dropped_s, "connections closed after the locks were freed")
        self.assertTrue(self.split_between(first)(), "the other server never took over")

        proxy.restore()
        self.wait_for(
            self.split_between(first, cut),
            "the instances were never shared out again after the cut",
            SPREAD_TIMEOUT_S,
            both,
        )
        self.assertEqual(
            [ha.max_concurrent_authenticated for ha in self.has],
            [1] * INSTANCES,
            "a Home Assistant saw two connections of one instance at once",
        )
