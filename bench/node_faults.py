"""Fault suite across several Odoo nodes on one database: kill, join, PostgreSQL restart, cut.

Not a test: it prints one line of figures per fault (see bench/README.md). The multi-node part
of the fault suite (``fault_suite.py`` covers one instance against a real Home Assistant, whose
private PostgreSQL cluster and Odoo node runner it borrows). Everything runs on 127.0.0.1 in
private copies removed at the end:

* a private PostgreSQL cluster (``initdb``, own port), so restarting it hurts nobody else;
* ``--nodes`` Odoo servers, threaded (``odoo-bin --workers 0``) or with ``--workers N``
  prefork (their connectors in the master), each its own ``--http-port``, each reaching
  PostgreSQL through its own ``PgProxy`` (``tests/pg_proxy.py``) that can cut it off;
* ``--instances`` scripted Home Assistants (``tests/scripted_ha.py``) in this process, one per
  ``ha.instance``, each counting the authenticated connections it holds at once.

Faults (``--faults kill,join,pg_restart,cut`` runs them in this order; each starts from every
instance served once), each during a storm of state changes on every Home Assistant:

kill        SIGKILL of one node; its instances must connect again elsewhere.
join        the killed node started again; its share is handed back to it.
pg_restart  the private PostgreSQL restarted (``pg_ctl restart -m fast``).
cut         one node's proxy black-holed for ``--cut`` seconds, then restored. PostgreSQL's
            keepalive on sessions that ask for it is played by the proxy (tests/pg_proxy.py).

Per fault: the instances it moved, their takeover time (fault to a new authenticated,
subscribed connection), their gap (no connection at all), duplicates (Home Assistants that saw
two authenticated connections at once), and mismatches (entities whose state in Odoo differs
from the Home Assistant's once everything settled).
"""

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import fault_suite
from benchlib import load_by_path
from fault_suite import DB, DB_USER, Db, OdooNode, PrivateCluster, free_port

ADDON = "odoo_ha_addon"
ADDON_DIR = Path(__file__).resolve().parent.parent
NODE_NAME_PREFIX = "odoo_ha_node:"
LOCK_NAMESPACE = 0x6841
SENSOR_PREFIX = "sensor.nf_"

POLL_INTERVAL_S = 0.05
SETTLE_TIMEOUT_S = 120.0
TAKEOVER_TIMEOUT_S = 60.0
STORM_TICK_S = 0.2
# A fault's storm lasts at least this, even when the fault moved nothing.
STORM_MIN_S = 5.0
# PostgreSQL keeps a session without keepalives of its own for the server default (2 h idle
# plus 9 probes of 75 s): effectively never within a benchmark.
DEFAULT_SERVER_KEEPALIVE_S = 7200 + 9 * 75
FAULTS = ("kill", "join", "pg_restart", "cut")


def stats(values):
    """(p50, max) of ``values`` or (None, None)."""
    if not values:
        return None, None
    return statistics.median(values), max(values)


def fmt(value):
    return "-" if value is None else f"{value:.2f}"


class BigCluster(PrivateCluster):
    """The fault suite's private cluster with room for every node's connectors."""

    def _server_options(self):
        return super()._server_options().replace("max_connections=200", "max_connections=400")


class Storm(threading.Thread):
    """State changes on every scripted Home Assistant, ``rate`` per second each, until stopped."""

    def __init__(self, has, rate):
        super().__init__(daemon=True)
        self.has = has
        self.per_tick = max(1, round(rate * STORM_TICK_S))
        self._stopping = threading.Event()
        self.changes = 0

    def run(self):
        while not self._stopping.wait(STORM_TICK_S):
            for ha in self.has:
                ha.stream(self.per_tick, timeout_s=5)
                self.changes += self.per_tick

    def stop(self):
        self._stopping.set()
        self.join(10)


class NodeFaultSuite:
    def __init__(self, args, root):
        self.args = args
        self.root = Path(root)
        self.cluster = None
        self.db = None
        self.nodes = []
        self.proxies = []
        self.has = []
        self.instance_ids = []
        self.results = []
        self.scripted = load_by_path("scripted_ha", ADDON_DIR / "tests" / "scripted_ha.py")
        self.pg_proxy = load_by_path("pg_proxy", ADDON_DIR / "tests" / "pg_proxy.py")
        self.load_before = os.getloadavg()
        # Whether the addon under test asks PostgreSQL for keepalives on the supervisor's session
        # (connector/session_watch.py), and how long they take to give up.
        watch_path = Path(args.addon_dir) / "connector" / "session_watch.py"
        self.server_keepalive_s = (
            load_by_path("session_watch", watch_path).SERVER_GIVES_UP_S
            if watch_path.exists()
            else DEFAULT_SERVER_KEEPALIVE_S
        )

    # Set-up and clean-up ---------------------------------------------------------------

    def set_up(self):
        args = self.args
        started = time.monotonic()
        self.cluster = BigCluster(args.pg_bindir, self.root)
        self.cluster.create()
        self.db = Db(self.cluster.params())
        data_dir = self.root / "data"
        base = (
            "[options]\n"
            f"addons_path = {args.addons_path}\n"
            "db_host = 127.0.0.1\n"
            f"db_user = {DB_USER}\n"
            f"data_dir = {data_dir}\n"
            "db_maxconn = 16\n"
            "without_demo = all\n"
        )
        install_conf = self.root / "install.conf"
        install_conf.write_text(base + f"db_port = {self.cluster.port}\n")
        print(f"PostgreSQL cluster on port {self.cluster.port}; installing {ADDON} ...")
        self._install(install_conf)
        for _n in range(args.instances):
            entities = self.scripted.make_sensors(args.sensors, prefix=SENSOR_PREFIX)
            self.has.append(self.scripted.ScriptedHA(entities).start())
        self._create_instances(install_conf)
        for n in range(args.nodes):
            proxy = self.pg_proxy.PgProxy(self.cluster.port).start()
            self.proxies.append(proxy)
            conf = self.root / f"node-{n}.conf"
            conf.write_text(base + f"db_port = {proxy.port}\n")
            self.nodes.append(
                OdooNode("ABCDEFGH"[n], args.workers, 0, args.odoo_bin, conf, self.root)
            )
        for node in self.nodes:
            node.start()
        settled, problems = self.wait_settled()
        if settled is None:
            raise RuntimeError(f"the instances never settled: {problems[:5]}")
        print(
            f"{args.nodes} nodes ({self.nodes[0].kind}), {args.instances} instances of"
            f" {args.sensors} sensors served; hosts per node {self.share_counts()};"
            f" set-up {time.monotonic() - started:.0f} s"
        )

    def _install(self, conf):
        log = self.root / "install.log"
        with subprocess.Popen(
            [sys.executable, str(self.args.odoo_bin), "-c", str(conf), "-d", DB, "-i", ADDON,
             "--stop-after-init", "--http-port", str(free_port()), "--gevent-port",
             str(free_port()), "--log-level=warn", "--logfile", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            cwd=self.root, start_new_session=True,
        ) as install:  # fmt: skip
            try:
                returncode = install.wait(fault_suite.INSTALL_TIMEOUT_S)
            finally:
                if install.poll() is None:
                    os.killpg(install.pid, signal.SIGKILL)
                    install.wait()
        if returncode:
            tail = log.read_text(errors="replace").splitlines()[-40:]
            raise RuntimeError(f"installing {ADDON} failed:\n" + "\n".join(tail))

    def _create_instances(self, conf):
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415 - odoo is configured here
        from odoo.modules.registry import Registry  # noqa: PLC0415
        from odoo.tools import config  # noqa: PLC0415

        config.parse_config(["-c", str(conf), "-d", DB, "--log-level=warn"])
        with Registry(DB).cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.instance_ids = (
                env["ha.instance"]
                .create(
                    [
                        {"name": f"Node faults {n}", "url": ha.url, "token": ha.token}
                        for n, ha in enumerate(self.has)
                    ]
                )
                .ids
            )
            cr.commit()  # our own cursor: the nodes must see the instances
        sys.modules["odoo.sql_db"].close_all()

    def clean_up(self):
        with contextlib.ExitStack() as stack:
            if not self.args.keep:
                stack.callback(__import__("shutil").rmtree, self.root, ignore_errors=True)
            if self.cluster is not None:
                stack.callback(self.cluster.stop)
            for proxy in self.proxies:
                stack.callback(proxy.stop)
            for ha in self.has:
                stack.callback(ha.stop)
            for node in self.nodes:
                stack.callback(node.stop)
            if self.db is not None:
                stack.callback(self.db.close)

    # Observations ----------------------------------------------------------------------

    def hosts(self):
        """instance id -> pid of the node process holding its lock."""
        rows = self.db.query(
            """
            SELECT l.objid::int, a.application_name
              FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.classid = %s::oid AND a.datname = %s
            """,
            (LOCK_NAMESPACE, DB),
        )
        return {instance_id: int(name.split(":")[3]) for instance_id, name in rows}

    def node_sessions(self, node):
        """client_port of the node's supervisor sessions as PostgreSQL sees them."""
        rows = self.db.query(
            "SELECT client_port, application_name FROM pg_stat_activity"
            " WHERE datname = %s AND starts_with(application_name, %s)",
            (DB, NODE_NAME_PREFIX),
        )
        return {port for port, name in rows if int(name.split(":")[3]) == node.process.pid}

    def share_counts(self):
        hosts = self.hosts()
        return [
            sum(1 for pid in hosts.values() if node.process and pid == node.process.pid)
            for node in self.nodes
        ]

    def balanced(self):
        """Every instance hosted, and shared out fairly over the running nodes."""
        running = [node for node in self.nodes if node.process is not None]
        fair = -(-len(self.has) // len(running))
        return len(self.hosts()) == len(self.has) and max(self.share_counts()) <= fair

    def served(self, ha):
        return ha.authenticated_count() == 1 == ha.subscriber_count()

    def mismatches(self):
        rows = self.db.query(
            "SELECT instance_id, entity_id, state FROM ha_entity"
            " WHERE instance_id = ANY(%s) AND active AND entity_id LIKE %s",
            (self.instance_ids, SENSOR_PREFIX + "%"),
        )
        odoo = {(instance_id, entity_id): state for instance_id, entity_id, state in rows}
        problems = []
        for instance_id, ha in zip(self.instance_ids, self.has, strict=True):
            for entity_id, compressed in list(ha.entities.items()):
                got = odoo.get((instance_id, entity_id))
                if got != compressed["s"]:
                    problems.append(
                        f"{instance_id} {entity_id}: Odoo {got!r}, HA {compressed['s']!r}"
                    )
        return problems

    def wait_settled(self, timeout_s=SETTLE_TIMEOUT_S):
        """(seconds, []) once every instance is hosted and served once and Odoo equals every
        Home Assistant; (None, last problems) after ``timeout_s``."""
        started = time.monotonic()
        problems = ["not checked"]
        while time.monotonic() - started < timeout_s:
            if all(self.served(ha) for ha in self.has) and self.balanced():
                problems = self.mismatches()
                if not problems:
                    return time.monotonic() - started, []
            time.sleep(0.25)
        return None, problems

    # Faults ------------------------------------------------------------------------------

    def run(self):
        for fault in self.args.faults:
            if self.wait_settled()[0] is None:
                print(f"skipping {fault}: not settled")
                continue
            for ha in self.has:  # duplicates are counted per fault
                ha.max_concurrent_authenticated = ha.authenticated_count()
            storm = Storm(self.has, self.args.rate)
            storm.start()
            started = time.monotonic()
            try:
                result = getattr(self, f"fault_{fault}")()
                time.sleep(max(0.0, started + STORM_MIN_S - time.monotonic()))
            finally:
                storm.stop()
            settled, problems = self.wait_settled()
            result.update(
                fault=fault,
                changes=storm.changes,
                duplicates=sum(1 for ha in self.has if ha.max_concurrent_authenticated > 1),
                mismatches=len(problems),
                settle_s=settled,
                load=os.getloadavg()[0],
            )
            self.results.append(result)
            self.print_row(result)
            if problems:
                print("   e.g. " + "; ".join(problems[:3]))

    def watch(self, moved, started, timeout_s=TAKEOVER_TIMEOUT_S, until=None):
        """For the Home Assistants ``moved`` (index -> connections counter before the fault):
        seconds from ``started`` to their first served new connection (takeover), to their
        connection closing (let go), and total time without any (gap)."""
        takeover, let_go, gap, down_since = {}, {}, dict.fromkeys(moved, 0.0), {}
        deadline = started + timeout_s
        while len(takeover) < len(moved) and time.monotonic() < deadline:
            now = time.monotonic()
            for index, connections_before in moved.items():
                ha = self.has[index]
                count = ha.authenticated_count()
                if count == 0 and index not in down_since and index not in takeover:
                    down_since[index] = now
                    let_go.setdefault(index, now - started)
                if index in down_since and count:
                    gap[index] += now - down_since.pop(index)
                if (
                    index not in takeover
                    and ha.connections > connections_before
                    and self.served(ha)
                ):
                    takeover[index] = now - started
            if until is not None:
                until(now)
            time.sleep(POLL_INTERVAL_S)
        return takeover, let_go, gap

    def before(self, indexes=None):
        indexes = range(len(self.has)) if indexes is None else indexes
        return {index: self.has[index].connections for index in indexes}

    def figures(self, moved, takeover, let_go, gap, **extra):
        result = {
            "moved": len(moved),
            "taken_over": len(takeover),
            "takeover": stats(list(takeover.values())),
            "let_go": stats(list(let_go.values())),
            "gap": stats([gap[i] for i in takeover]),
        }
        result.update(extra)
        return result

    def indexes_on(self, node):
        hosts = self.hosts()
        return [
            index
            for index, instance_id in enumerate(self.instance_ids)
            if hosts.get(instance_id) == node.process.pid
        ]

    def victim(self):
        """The last node: killed by ``kill`` and started again by ``join``."""
        return self.nodes[-1]

    def fault_kill(self):
        node = self.victim()
        moved = self.before(self.indexes_on(node))
        started = time.monotonic()
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait()
        node.process = None
        return self.figures(moved, *self.watch(moved, started))

    def fault_join(self):
        node = self.victim()
        everyone = self.before()
        node.start()  # returns once the node answers HTTP; its supervisor is live by then
        started = time.monotonic()
        deadline = started + TAKEOVER_TIMEOUT_S
        fair = -(-len(self.has) // len(self.nodes))
        while time.monotonic() < deadline and self.share_counts()[-1] < fair - 1:
            time.sleep(POLL_INTERVAL_S)
        moved = {index: everyone[index] for index in self.indexes_on(node)}
        # Times are counted from when the node answers HTTP: its supervisor starts with the
        # registry, a little before that.
        takeover, let_go, gap = self.watch(moved, started)
        return self.figures(moved, takeover, let_go, gap)

    def fault_pg_restart(self):
        moved = self.before()
        started = time.monotonic()
        self.cluster.restart()
        self.db.close()
        return self.figures(moved, *self.watch(moved, started))

    def fault_cut(self):
        index = len(self.nodes) // 2 if len(self.nodes) > 2 else 0
        node, proxy = self.nodes[index], self.proxies[index]
        sessions = self.node_sessions(node)
        moved = self.before(self.indexes_on(node))
        dropped = {}

        def server_keepalive(now):
            # PostgreSQL's kernel would end the sessions that asked for keepalives by now.
            if proxy.is_cut and proxy.expire_silent(sessions, self.server_keepalive_s):
                dropped.setdefault("at", now - started)

        started = time.monotonic()
        proxy.cut()
        try:
            takeover, let_go, gap = self.watch(
                moved, started, timeout_s=self.args.cut, until=server_keepalive
            )
            while time.monotonic() - started < self.args.cut:
                time.sleep(POLL_INTERVAL_S)
        finally:
            proxy.restore()
        return self.figures(
            moved,
            takeover,
            let_go,
            gap,
            session_dropped_s=dropped.get("at"),
            still_talking=len(moved) - len(let_go),
        )

    # Report ------------------------------------------------------------------------------

    def print_row(self, result):
        takeover_p50, takeover_max = result["takeover"]
        gap_p50, gap_max = result["gap"]
        let_go_p50, let_go_max = result["let_go"]
        extra = ""
        if result["fault"] == "cut":
            extra = (
                f"  node let go p50/max {fmt(let_go_p50)}/{fmt(let_go_max)} s,"
                f" PostgreSQL dropped its session at {fmt(result['session_dropped_s'])} s,"
                f" still talking to HA at the end of the cut: {result['still_talking']}"
            )
        print(
            f"{result['fault']:<10} moved {result['moved']:>3},"
            f" taken over {result['taken_over']:>3};"
            f" takeover p50/max {fmt(takeover_p50)}/{fmt(takeover_max)} s;"
            f" gap p50/max {fmt(gap_p50)}/{fmt(gap_max)} s; duplicates {result['duplicates']};"
            f" mismatches {result['mismatches']}; settled {fmt(result['settle_s'])} s after;"
            f" {result['changes']} changes; load {result['load']:.2f}{extra}",
            flush=True,
        )


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--addons-path", required=True, help="addons path with odoo_ha_addon")
    parser.add_argument("--nodes", type=int, default=3, help="Odoo nodes (default: %(default)s)")
    parser.add_argument("--instances", type=int, default=30, help="scripted Home Assistants")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="HTTP workers per node: > 0 runs each node prefork as production does, its "
        "connectors in the master (default: threaded)",
    )
    parser.add_argument("--sensors", type=int, default=10, help="sensors per Home Assistant")
    parser.add_argument("--rate", type=float, default=2.0, help="changes/s per Home Assistant")
    parser.add_argument("--cut", type=float, default=25.0, help="seconds a node stays cut off")
    parser.add_argument(
        "--faults",
        default=",".join(FAULTS),
        type=lambda text: text.split(","),
        help="faults to run, in this order (default: %(default)s)",
    )
    parser.add_argument(
        "--pg-bindir",
        default=max(
            (str(path) for path in Path("/usr/lib/postgresql").glob("*/bin")),
            default="/usr/lib/postgresql/15/bin",
        ),
    )
    parser.add_argument("--odoo-bin", help="odoo-bin to run the servers with (default: Odoo's)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    unknown = set(args.faults) - set(FAULTS)
    if unknown:
        sys.exit(f"unknown faults {sorted(unknown)}; known: {', '.join(FAULTS)}")
    args.addon_dir = next(
        (Path(p) / ADDON for p in args.addons_path.split(",") if (Path(p) / ADDON).is_dir()),
        ADDON_DIR,
    )
    args.odoo_bin = args.odoo_bin or fault_suite.default_odoo_bin()
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    root = tempfile.mkdtemp(prefix="odoo_ha_node_faults_")
    os.chmod(root, 0o755)  # the cluster directory inside belongs to the postgres user
    suite = NodeFaultSuite(args, root)
    print(f"Working directory {root}; load average {suite.load_before[0]:.2f} at the start")
    try:
        suite.set_up()
        suite.run()
    finally:
        if args.keep:
            for node in suite.nodes:
                print(f"node {node.name} logs: {[str(log) for log in node.logs]}")
        suite.clean_up()
    print(f"Load average {os.getloadavg()[0]:.2f} at the end (2 cores, shared)")


if __name__ == "__main__":
    main()
