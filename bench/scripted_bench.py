"""Benchmark of the connector's own limits, against a scripted Home Assistant.

Not a test: it prints figures. Run it with Odoo's interpreter on a database where
``odoo_ha_addon`` is installed (see bench/README.md)::

    python3 bench/scripted_bench.py --db bench_db -c /tmp/odoo-dev.conf

A real Home Assistant emits about 2,300 state changes/s on a 2-core machine and takes minutes
to hold 10,000 entities, so it hides the connector's limits (``connector_bench.py`` measures
the connector with it). Here ``tests/scripted_ha.py`` stands in for it, in a process of its own
(no shared interpreter with Odoo): it answers the commands the connector sends, sends a
snapshot of N sensors and then diffs as fast as the socket takes them.

Measured, each with a fresh ``ha.instance`` hosted in this process by
``ConnectorSupervisor(db, [ids])`` as an Odoo server process does, deleted afterwards:

    Ceiling
        ``--stream`` diffs round-robin over ``--sensors`` sensors, sent as fast as possible.
        Persisted changes/s: history rows committed (one per change: every change has its own
        ``last_updated`` and sensors record history) divided by the time from the first diff
        sent to the last row committed. Lost finals: sensors whose ``ha.entity.state`` is not
        the last value sent.
    Paced ingest (``--paced``, off by default)
        For each rate R: R diffs/s for ``--paced-seconds`` over ``--sensors`` sensors, on the
        scripted server's schedule. Missing: diffs without a history row; lost finals as above;
        latency from each diff's ``last_updated`` (the scripted server's clock when it sent it)
        to the commit of its row as another session sees it (``connector_bench.Observer``).
    Rules (``--rules N``, off by default)
        N active ``ha.automation.rule`` on the sensors of the ceiling and paced runs, "above"
        thresholds the rising values cross once per sensor, each scheduling an activity: the
        ceiling with them against the ceiling without (run the benchmark twice), and the
        latency from Home Assistant's change to the commit of each firing's actions.
    Initial sync
        For each ``--sizes`` N: from the supervisor's start to the instance being "connected"
        (written once the snapshot is committed) with N active ``ha.entity`` rows.
    Memory per connection
        RSS of this process with 1 hosted connection, then with ``--instances`` (each of
        ``--memory-entities`` sensors): (RSS_n - RSS_1) / (n - 1).
    ws_call round trip
        ``ping`` through ``ha.ws.request.queue`` (LISTEN/NOTIFY, the path of every process that
        does not host the connection), on the hosting process's direct path, and on a
        websocket connection of our own (the floor), ``--pings`` each, interleaved.
"""

import argparse
import contextlib
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
from benchlib import load_by_path, require_database

from odoo import SUPERUSER_ID, Command, api
from odoo.modules.registry import Registry
from odoo.tools import config

ADDON_DIR = Path(__file__).resolve().parent.parent
SCRIPTED_HA = ADDON_DIR / "tests" / "scripted_ha.py"
CONNECT_TIMEOUT_S = 300.0
SETTLE_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.02
# After the stream, time for the last firings of the rules to run their actions.
RULES_SETTLE_S = 3.0
# Time for a new connection's backfill and first allocations to settle before RSS is read.
MEMORY_SETTLE_S = 3.0
TARGETS = {
    "ceiling": 2000,
    "sync_10000": 10.0,
    "memory_mb": 50.0,
    # Rules evaluated and their actions run within a second, at 100 changes/s.
    "rule_p50_ms": 1000,
}


# Its helpers (Odoo access, percentiles, the direct websocket client) are shared.
common = load_by_path("connector_bench", ADDON_DIR / "bench" / "connector_bench.py")


# ``tests/scripted_ha.py``'s command loop with a rate: "stream <count> <rate>" sends <count>
# diffs at <rate> per second (its own loop takes no rate). argv: the module's path, entities.
PACED_SERVER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("scripted_ha", sys.argv[1])
scripted = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scripted)
server = scripted.ScriptedHA(scripted.make_sensors(int(sys.argv[2]))).start()
print(f"url {server.url} token {server.token}", flush=True)
for line in sys.stdin:
    command, *rest = line.split()
    if command == "stream":
        seconds = server.stream(int(rest[0]), rate=float(rest[1]))
        print(f"streamed {rest[0]} {seconds:.6f}", flush=True)
    elif command == "quit":
        break
server.stop()
"""


class ScriptedProcess:
    """``tests/scripted_ha.py`` in a process of its own, driven over its stdin/stdout;
    ``paced``: its ``stream`` command takes a rate (``PACED_SERVER``)."""

    def __init__(self, entities, paced=False):
        self.process = subprocess.Popen(
            [sys.executable, "-c", PACED_SERVER, str(SCRIPTED_HA), str(entities)]
            if paced
            else [sys.executable, str(SCRIPTED_HA), "--entities", str(entities)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        _url, self.url, _token, self.token = self.process.stdout.readline().split()

    def command(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().split()

    def stop(self):
        with contextlib.suppress(OSError):
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def rss_mb():
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


class ScriptedBench:
    def __init__(self, dbname, args):
        self.dbname = dbname
        self.args = args
        self.registry = Registry(dbname)
        self.results = {"load_average_at_start": os.getloadavg()}
        self._cleanups = contextlib.ExitStack()

    def run(self):
        with self._cleanups:
            # First, while this process's heap has not grown for the other measurements.
            self.measure_memory()
            self.measure_ws_call()
            for size in self.args.sizes:
                self.results.setdefault("sync", []).append(self.measure_sync(size))
            self.measure_ceiling()
            for rate in self.args.paced:
                self.results.setdefault("paced", []).append(self.measure_paced(rate))
        self.results["load_average_at_end"] = os.getloadavg()
        self.print_report()
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(self.results, indent=2))

    # Set-up ------------------------------------------------------------------------------

    def server(self, entities, paced=False):
        server = ScriptedProcess(entities, paced)
        self._cleanups.callback(server.stop)
        return server

    def create_instances(self, server, count):
        def create(env):
            values = [
                {"name": f"Scripted benchmark {n}", "url": server.url, "token": server.token}
                for n in range(count)
            ]
            return env["ha.instance"].create(values).ids

        ids = common.run_committed(self.registry, create)
        self._cleanups.callback(self.delete_instances, ids)
        return ids

    def create_rules(self, instance_id, count, first_threshold, step):
        """``count`` active rules on the instance's sensors (each watching every
        ``count``-th sensor), "above" thresholds from ``first_threshold`` on, ``step`` apart,
        each with one activity to schedule: the streamed values rise, so each rule fires once
        per sensor it watches. Deleted with the instance."""
        if not count:
            return []

        def create(env):
            sensors = env["ha.entity"].search([("instance_id", "=", instance_id)], order="id")
            # Actions run as a Home Assistant manager; the superuser is no rule owner.
            owner = env.ref("base.user_admin")
            owner.groups_id = [Command.link(env.ref("odoo_ha_addon.group_ha_manager").id)]
            values = []
            for n in range(count):
                watched = sensors[n::count] or sensors[:1]
                values.append(
                    {
                        "name": f"Benchmark rule {n}",
                        "instance_id": instance_id,
                        "owner_id": owner.id,
                        "entity_ids": [Command.set(watched.ids)],
                        "trigger": "above",
                        "threshold": first_threshold + n * step,
                        "action_ids": [
                            Command.create(
                                {"kind": "activity", "activity_summary": "{entity} at {state}"}
                            )
                        ],
                    }
                )
            return env["ha.automation.rule"].create(values).ids

        return common.run_committed(self.registry, create)

    def firing_latencies(self, rule_ids):
        """Per firing of ``rule_ids`` whose actions ran: ms from Home Assistant's change to
        the commit of the firing's result (its write_date), and the firings not done."""
        rows = common.query(
            self.registry,
            "SELECT state, EXTRACT(EPOCH FROM (write_date - event_at)) * 1000"
            " FROM ha_automation_firing WHERE rule_id = ANY(%s)",
            (list(rule_ids),),
        )
        done = [ms for state, ms in rows if state == "done"]
        return common.percentiles(done), len(done), len(rows) - len(done)

    def delete_instances(self, ids):
        common.run_committed(
            self.registry, lambda env: env["ha.instance"].browse(ids).exists().unlink()
        )

    def host(self, instance_ids):
        supervisor_module = common.addon_module("connector.supervisor")
        supervisor = supervisor_module.ConnectorSupervisor(self.dbname, instance_ids)
        supervisor.start()
        self._cleanups.callback(supervisor.stop)
        return supervisor

    def wait_connected(self, instance_ids, entities):
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            rows = common.query(
                self.registry,
                "SELECT i.status, (SELECT count(*) FROM ha_entity e"
                "                   WHERE e.instance_id = i.id AND e.active)"
                " FROM ha_instance i WHERE i.id = ANY(%s)",
                (list(instance_ids),),
            )
            if all(status == "connected" and count >= entities for status, count in rows):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"instances did not connect: {rows}")
            time.sleep(POLL_INTERVAL_S)

    # Measurements ------------------------------------------------------------------------

    def measure_ceiling(self):
        sensors, count = self.args.sensors, self.args.stream
        print(f"Ceiling: {count} diffs over {sensors} sensors, as fast as they go ...")
        server = self.server(sensors)
        (instance_id,) = self.create_instances(server, 1)
        supervisor = self.host([instance_id])
        self.wait_connected([instance_id], sensors)
        rule_ids = self.create_rules(
            instance_id, self.args.rules, 10**6 + count // 2, max(1, count // (4 * sensors))
        )
        time.sleep(1.0)  # the backfill of the new sensors, which is not what is measured
        first_row = common.query(
            self.registry, "SELECT COALESCE(max(id), 0) FROM ha_entity_history"
        )
        first_row = first_row[0][0]
        flushes_before = supervisor.connectors[instance_id].writer.flush_count
        cpu = psutil.Process()
        cpu_before = sum(cpu.cpu_times()[:2])
        started = time.monotonic()
        _word, _count, sent_s = server.command(f"stream {count}")
        stored, last_change = 0, None
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            stored = common.query(
                self.registry,
                "SELECT count(*) FROM ha_entity_history WHERE instance_id = %s AND id > %s",
                (instance_id, first_row),
            )[0][0]
            if stored >= count:
                last_change = time.monotonic()
                break
            time.sleep(POLL_INTERVAL_S)
        elapsed = (last_change or time.monotonic()) - started
        cpu_used = sum(cpu.cpu_times()[:2]) - cpu_before
        states = dict(
            common.query(
                self.registry,
                "SELECT entity_id, state FROM ha_entity WHERE instance_id = %s",
                (instance_id,),
            )
        )
        last_value = {}
        for n in range(count):
            last_value[f"sensor.s_{n % sensors}"] = str(10**6 + n)
        lost = sum(1 for eid, value in last_value.items() if states.get(eid) != value)
        flushes = supervisor.connectors[instance_id].writer.flush_count - flushes_before
        self.results["ceiling"] = {
            "changes": count,
            "sensors": sensors,
            "sent_per_s": count / float(sent_s),
            "stored": stored,
            "stored_per_s": stored / elapsed,
            "seconds": elapsed,
            "lost_finals": lost,
            "flushes": flushes,
            "odoo_cpu_percent": 100 * cpu_used / elapsed,
            "rules": len(rule_ids),
        }
        if rule_ids:
            time.sleep(RULES_SETTLE_S)
            latency, done, not_done = self.firing_latencies(rule_ids)
            self.results["ceiling"].update(
                firings_done=done, firings_not_done=not_done, firing_latency_ms=latency
            )
        supervisor.stop()

    def measure_paced(self, rate):
        sensors, count = self.args.sensors, round(rate * self.args.paced_seconds)
        print(f"Paced: {count} diffs at {rate:g}/s over {sensors} sensors ...")
        server = self.server(sensors, paced=True)
        (instance_id,) = self.create_instances(server, 1)
        # Listening before the instance's first flush: see connector_bench.CommitClock.
        observer = common.Observer(self.dbname, instance_id)
        self._cleanups.callback(observer.stop)
        supervisor = self.host([instance_id])
        self.wait_connected([instance_id], sensors)
        rule_ids = self.create_rules(
            instance_id, self.args.rules, 10**6 + count // 4, max(1, count // (2 * sensors))
        )
        time.sleep(1.0)  # the backfill of the new sensors, which is not what is measured
        observer.collect()
        first_row = common.query(
            self.registry, "SELECT COALESCE(max(id), 0) FROM ha_entity_history"
        )[0][0]
        flushes_before = supervisor.connectors[instance_id].writer.flush_count
        roll_up_job = None
        if self.args.roll_up_every:
            roll_up_job = common.RollUpJob(self.registry, self.args.roll_up_every)
            self._cleanups.callback(roll_up_job.stop)
        _word, _count, sent_s = server.command(f"stream {count} {rate}")
        stored, samples = 0, []
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline and (stored < count or len(samples) < stored):
            stored = common.query(
                self.registry,
                "SELECT count(*) FROM ha_entity_history WHERE instance_id = %s AND id > %s",
                (instance_id, first_row),
            )[0][0]
            samples += [sample for sample in observer.collect() if sample[0] > first_row]
            time.sleep(POLL_INTERVAL_S)
        states = dict(
            common.query(
                self.registry,
                "SELECT entity_id, state FROM ha_entity WHERE instance_id = %s",
                (instance_id,),
            )
        )
        last_value = {f"sensor.s_{n % sensors}": str(10**6 + n) for n in range(count)}
        flushes = supervisor.connectors[instance_id].writer.flush_count - flushes_before
        if roll_up_job is not None:
            roll_up_job.stop()
        firings = {}
        if rule_ids:
            time.sleep(RULES_SETTLE_S)
            latency, done, not_done = self.firing_latencies(rule_ids)
            firings = {
                "rules": len(rule_ids),
                "firings_done": done,
                "firings_not_done": not_done,
                "firing_latency_ms": latency,
            }
        supervisor.stop()
        return {
            **firings,
            "rate": rate,
            "changes": count,
            "sent_per_s": count / float(sent_s),
            "stored": stored,
            "missing": count - stored,
            "lost_finals": sum(1 for eid, value in last_value.items() if states.get(eid) != value),
            "flushes": flushes,
            "latency_ms": common.percentiles(
                [(seen - changed) * 1000 for _h, _e, changed, seen in samples]
            ),
            "timed_rows": len(samples),
            "roll_up_calls_ms": [] if roll_up_job is None else roll_up_job.calls,
        }

    def measure_sync(self, size):
        print(f"Initial sync of {size} entities ...")
        server = self.server(size)
        (instance_id,) = self.create_instances(server, 1)
        started = time.monotonic()
        supervisor = self.host([instance_id])
        self.wait_connected([instance_id], size)
        elapsed = time.monotonic() - started
        supervisor.stop()
        return {"entities": size, "seconds": elapsed}

    def measure_memory(self):
        count, entities = self.args.instances, self.args.memory_entities
        print(f"Memory: 1 then {count} hosted connections of {entities} entities each ...")
        server = self.server(entities)
        ids = self.create_instances(server, count)
        baseline = rss_mb()
        supervisor = self.host(ids[:1])
        self.wait_connected(ids[:1], entities)
        time.sleep(MEMORY_SETTLE_S)
        one = rss_mb()
        supervisor.stop()
        supervisor = self.host(ids)
        self.wait_connected(ids, entities)
        time.sleep(MEMORY_SETTLE_S)
        many = rss_mb()
        supervisor.stop()
        self.results["memory"] = {
            "entities": entities,
            "instances": count,
            "rss_mb_before": baseline,
            "rss_mb_one": one,
            "rss_mb_all": many,
            "per_connection_mb": (many - one) / (count - 1),
            "first_connection_mb": one - baseline,
        }

    def measure_ws_call(self):
        pings = self.args.pings
        print(f"ws_call round trips ({pings} of each, interleaved) ...")
        server = self.server(10)
        (instance_id,) = self.create_instances(server, 1)
        supervisor = self.host([instance_id])
        self.wait_connected([instance_id], 10)
        hosted = supervisor.connectors[instance_id]
        direct = common.DirectHA(server.url, server.token)
        timings = {"direct": [], "queue": [], "hosted": []}
        try:
            with self.registry.cursor() as cr:
                instance = api.Environment(cr, SUPERUSER_ID, {})["ha.instance"].browse(instance_id)
                calls = {
                    "direct": direct.ping,
                    "queue": lambda: instance.ws_call("ping", timeout=5),
                    "hosted": lambda: instance._ws_call_direct(hosted, "ping", {}, 5),
                }
                for _round in range(pings):
                    for name, call in calls.items():
                        started = time.perf_counter()
                        call()
                        timings[name].append((time.perf_counter() - started) * 1000)
        finally:
            direct.close()
            supervisor.stop()
        self.results["ws_call"] = {
            name: common.percentiles(values) for name, values in timings.items()
        }

    # Report ------------------------------------------------------------------------------

    @staticmethod
    def rule_rows(figures, target_p50_ms=None):
        """Report rows of the rules' firings in a run, if it had rules."""
        if not figures.get("rules"):
            return []
        latency = figures["firing_latency_ms"]
        p50 = latency["p50"]
        return [
            (
                f"  {figures['rules']} rules: firings done / not done",
                f"{figures['firings_done']} / {figures['firings_not_done']}",
                "",
                None,
            ),
            (
                "  firing latency p50/p99/max, HA's change -> actions committed",
                f"{p50 or 0:.0f} / {latency['p99'] or 0:.0f} / {latency['max'] or 0:.0f} ms",
                f"p50 <= {target_p50_ms} ms" if target_p50_ms else "",
                None if target_p50_ms is None else p50 is not None and p50 <= target_p50_ms,
            ),
        ]

    def print_report(self):
        r = self.results
        start = " ".join(f"{x:.2f}" for x in r["load_average_at_start"])
        end = " ".join(f"{x:.2f}" for x in r["load_average_at_end"])
        print()
        print(
            f"Scripted-HA benchmark  db={self.dbname}  cpus={os.cpu_count()}"
            f"  load average at start {start}, at end {end}"
        )
        rows = []
        c = r["ceiling"]
        rows.append(
            (
                f"Ceiling: changes/s persisted ({c['changes']} diffs, {c['sensors']} sensors)",
                f"{c['stored_per_s']:.0f}/s",
                f">= {TARGETS['ceiling']}/s",
                c["stored_per_s"] >= TARGETS["ceiling"] and c["lost_finals"] == 0,
            )
        )
        rows.append(
            (
                "  sent by the scripted server",
                f"{c['sent_per_s']:.0f}/s",
                "",
                None,
            )
        )
        rows.append(
            (
                "  stored / lost finals / flushes / Odoo CPU %",
                f"{c['stored']} / {c['lost_finals']} / {c['flushes']}"
                f" / {c['odoo_cpu_percent']:.0f}",
                "",
                None,
            )
        )
        rows += self.rule_rows(c)
        for paced in r.get("paced", ()):
            latency = paced["latency_ms"]
            rows.append(
                (
                    f"Paced {paced['rate']:g}/s ({paced['changes']} diffs): missing / lost finals",
                    f"{paced['missing']} / {paced['lost_finals']}",
                    "0 / 0",
                    not paced["missing"] and not paced["lost_finals"],
                )
            )
            rows.append(
                (
                    "  latency p50/p99/max, diff's last_updated -> commit",
                    f"{latency['p50'] or 0:.0f} / {latency['p99'] or 0:.0f}"
                    f" / {latency['max'] or 0:.0f} ms",
                    "",
                    None,
                )
            )
            rows.append(
                (
                    "  sent/s / flushes / rows timed",
                    f"{paced['sent_per_s']:.0f} / {paced['flushes']} / {paced['timed_rows']}",
                    "",
                    None,
                )
            )
            rows += self.rule_rows(paced, target_p50_ms=TARGETS["rule_p50_ms"])
            calls = paced["roll_up_calls_ms"]
            if calls:
                rows.append(
                    (
                        f"  roll-up job every {self.args.roll_up_every:g} s: calls / 5-min rows"
                        " / longest",
                        f"{len(calls)} / {sum(written for _ms, written in calls)}"
                        f" / {max(ms for ms, _written in calls):.0f} ms",
                        "",
                        None,
                    )
                )
        for sync in r["sync"]:
            target = TARGETS["sync_10000"] if sync["entities"] >= 10_000 else None
            rows.append(
                (
                    f"Initial sync of {sync['entities']:,} entities",
                    f"{sync['seconds']:.2f} s",
                    f"<= {target:g} s" if target else "",
                    sync["seconds"] <= target if target else None,
                )
            )
        m = r["memory"]
        rows.append(
            (
                f"Memory per hosted connection ({m['entities']:,} entities;"
                f" 1 vs {m['instances']} connections)",
                f"{m['per_connection_mb']:.1f} MB",
                f"<= {TARGETS['memory_mb']:g} MB",
                m["per_connection_mb"] <= TARGETS["memory_mb"],
            )
        )
        rows.append(
            (
                f"  RSS before / 1 / {m['instances']} connections",
                f"{m['rss_mb_before']:.0f} / {m['rss_mb_one']:.0f} / {m['rss_mb_all']:.0f} MB",
                "",
                None,
            )
        )
        w = r["ws_call"]
        for name, label in (
            ("direct", "ping, own websocket (floor)"),
            ("queue", "ha.instance.ws_call via request queue"),
            ("hosted", "ha.instance.ws_call, hosting process"),
        ):
            t = w[name]
            rows.append(
                (
                    f"ws_call p50/p99: {label}",
                    f"{t['p50']:.2f} / {t['p99']:.2f} ms",
                    "",
                    None,
                )
            )
        rows.append(
            (
                "  queue overhead over direct, p50",
                f"+{w['queue']['p50'] - w['direct']['p50']:.2f} ms",
                "",
                None,
            )
        )
        width = max(len(row[0]) for row in rows)
        print(f"{'measure':<{width}}  {'value':>22}  {'target':>12}  met")
        for label, value, target, met in rows:
            verdict = "" if met is None else ("yes" if met else "NO")
            print(f"{label:<{width}}  {value:>22}  {target:>12}  {verdict}")


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        epilog="Other options (e.g. -c odoo.conf, --addons-path, --db_host) go to Odoo.",
    )
    parser.add_argument("--db", required=True, help="database with odoo_ha_addon installed")
    parser.add_argument("--stream", type=int, default=100_000, help="diffs sent for the ceiling")
    parser.add_argument("--sensors", type=int, default=200, help="sensors the diffs go to")
    parser.add_argument(
        "--sizes",
        default="1000,10000",
        type=lambda text: [int(size) for size in text.split(",")],
        help="snapshot sizes for the initial sync (default: %(default)s)",
    )
    parser.add_argument("--instances", type=int, default=5, help="connections for the memory")
    parser.add_argument("--memory-entities", type=int, default=1000, help="entities each")
    parser.add_argument("--pings", type=int, default=200, help="ws_call round trips measured")
    parser.add_argument(
        "--paced",
        default="",
        type=lambda text: [float(rate) for rate in text.split(",") if rate],
        help="also stream at these rates (diffs/s), measuring latency (default: none)",
    )
    parser.add_argument("--paced-seconds", type=float, default=10.0, help="seconds per rate")
    parser.add_argument(
        "--roll-up-every",
        type=float,
        default=0,
        metavar="SECONDS",
        help="during the paced runs, run the history statistics' cron job (_cron_roll_up) this"
        " often (default: never; the cron runs every 5 minutes)",
    )
    parser.add_argument(
        "--rules",
        type=int,
        default=0,
        help="active Home Assistant rules on the ceiling's and the paced runs' sensors"
        " (default: none); their firings' latency is reported",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    return parser.parse_known_args()


def main():
    args, odoo_args = parse_args()
    config.parse_config(["--log-level=warn", *odoo_args, "-d", args.db])
    require_database(args.db, odoo_args)
    ScriptedBench(args.db, args).run()


if __name__ == "__main__":
    main()
