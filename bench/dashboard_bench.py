"""Benchmark of the live dashboard where users feel it: in a real browser.

Not a test: it prints figures. Run it with Odoo's interpreter on a database where
``odoo_ha_addon`` is installed (see bench/README.md)::

    HA_PYTHON=... python3 bench/dashboard_bench.py --db bench_db -c /tmp/odoo-dev.conf

Set-up
    For each scenario, a source of states: a real Home Assistant 2024.3.3
    (``tests/ha_server.py``) given N sensors through its REST API, or the scripted Home
    Assistant (``tests/scripted_ha.py``, on a thread of this process) holding N sensors. Five
    probe sensors, named to sort first, are always on the first page of cards. An
    ``ha.instance`` for the source is committed, and a real Odoo server process
    (``tests/odoo_server.py``, threaded, on this database; with ``--workers N`` prefork with
    its gevent process, behind ``tests/front_router.py`` as behind the production proxy)
    hosts its connection and serves the web client. Headless Chromium (Debian's
    ``chromium``) is driven over the DevTools protocol, logged in as the administrator, on
    the dashboard of that instance.

What is measured
    First render
        From navigation start to the moment the page shows the instance with its entity
        count and a first page of cards; then DOM nodes (every element of the document) and
        the JS heap in use after a garbage collection (``Runtime.getHeapUsage``).
    Storms
        ``rate`` state changes per second spread round-robin over all the non-probe entities
        for ``--storm-seconds``, while every 0.2 s one probe gets a new value. In the page:
        frames per second (``requestAnimationFrame`` callbacks), the share of wall time in
        long tasks (``PerformanceObserver`` "longtask", over 50 ms), and for each probe value
        the moment its card's text shows it (``MutationObserver``); the latency is that moment
        minus the moment the value was sent to Home Assistant (same machine, same clock).
        The JS heap is read again after the storm.
"""

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import requests
from benchlib import load_by_path

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

ADDON = "odoo_ha_addon"
ADDON_DIR = Path(__file__).resolve().parent.parent
PROBES = 5
PROBE_PREFIX = "sensor.aaa_probe_"
PROBE_INTERVAL_S = 0.2
MIRROR_TIMEOUT_S = 300.0
RENDER_TIMEOUT_S = 120.0

# In the page: waits for the dashboard to show ``total`` entities and its first cards, and
# answers performance.now() at that moment (navigation start is 0).
FIRST_RENDER_JS = """
new Promise((resolve, reject) => {
    const deadline = performance.now() + %(timeout_ms)d;
    const check = () => {
        const summary = document.querySelector(".o_ha_summary");
        const cards = document.querySelectorAll(".o_ha_entity_card").length;
        if (summary && summary.textContent.includes("%(total)d entities") && cards > 0) {
            return resolve(performance.now());
        }
        if (performance.now() > deadline) {
            return reject(new Error(`not rendered: ${summary?.textContent} ${cards} cards`));
        }
        requestAnimationFrame(check);
    };
    check();
})
"""
# In the page: scrolls the dashboard to its end and answers how long the next cards took to
# show (null when every card is shown already).
SCROLL_JS = """
new Promise((resolve, reject) => {
    const before = document.querySelectorAll(".o_ha_entity_card").length;
    if (!document.querySelector(".o_ha_more")) {
        return resolve(null);
    }
    const started = performance.now();
    const root = document.querySelector(".o_ha_dashboard");
    root.scrollTop = root.scrollHeight;
    const check = () => {
        if (document.querySelectorAll(".o_ha_entity_card").length > before) {
            root.scrollTop = 0;
            return resolve(performance.now() - started);
        }
        if (performance.now() - started > 10000) {
            return reject(new Error("scrolling to the end showed no more cards"));
        }
        requestAnimationFrame(check);
    };
    check();
})
"""
# In the page: starts counting frames and long tasks, and timing probe card texts.
INSTRUMENT_JS = """
(() => {
    const m = { frames: 0, longTasks: 0, seen: {}, started: performance.now() };
    window.__haBench = m;
    const frame = () => { m.frames++; m.raf = requestAnimationFrame(frame); };
    m.raf = requestAnimationFrame(frame);
    m.observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) { m.longTasks += entry.duration; }
    });
    m.observer.observe({ type: "longtask" });
    m.mutations = new MutationObserver(() => {
        for (const card of document.querySelectorAll("[data-entity-id^='%(prefix)s']")) {
            const text = card.querySelector(".o_ha_entity_value")?.textContent.trim();
            if (text && !(text in m.seen)) { m.seen[text] = Date.now(); }
        }
    });
    m.mutations.observe(document.querySelector(".o_ha_entity_cards"), {
        subtree: true, childList: true, characterData: true,
    });
    return true;
})()
"""
COLLECT_JS = """
(() => {
    const m = window.__haBench;
    cancelAnimationFrame(m.raf);
    m.observer.disconnect();
    m.mutations.disconnect();
    return { frames: m.frames, longTasks: m.longTasks, seen: m.seen,
             elapsed: performance.now() - m.started };
})()
"""


def addon_module(name):
    return importlib.import_module(f"odoo.addons.{ADDON}.{name}")


def run_committed(registry, function):
    with registry.cursor() as cr:
        result = function(api.Environment(cr, SUPERUSER_ID, {"active_test": False}))
        cr.commit()
        return result


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else None


# Sources of states -------------------------------------------------------------------------


class ScriptedSource:
    """The scripted Home Assistant with ``count`` sensors and the probes."""

    label = "scripted HA"

    def __init__(self, count):
        scripted = load_by_path("ha_bench_scripted", ADDON_DIR / "tests" / "scripted_ha.py")
        sensors = scripted.make_sensors(count)
        for n in range(PROBES):
            sensors[f"{PROBE_PREFIX}{n}"] = {
                "s": "0",
                "a": {"friendly_name": f"AAA probe {n}"},
                "c": f"probe-{n}",
                "lc": time.time(),
            }
        self.server = scripted.ScriptedHA(sensors).start()
        self.url, self.token = self.server.url, self.server.token
        self.total = count + PROBES

    def storm(self, rate, seconds):
        probes = [f"{PROBE_PREFIX}{n}" for n in range(PROBES)]
        self.server.stream(int(rate * seconds), rate=rate, exclude=probes, timeout_s=seconds * 3)

    def set_probe(self, n, value):
        self.server.set_state(f"{PROBE_PREFIX}{n}", value, {"friendly_name": f"AAA probe {n}"})

    def close(self):
        self.server.stop()


class RealSource:
    """A real Home Assistant given ``count`` sensors through its REST API, and the probes."""

    label = "real HA"

    def __init__(self, count):
        # Named inside the addon's package: ha_server imports hass/ relatively.
        ha_server = load_by_path(
            f"odoo.addons.{ADDON}.tests.ha_server", ADDON_DIR / "tests" / "ha_server.py"
        )
        self.ha = ha_server.HomeAssistantServer().start()
        self.url, self.token = self.ha.url, self.ha.token
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.count = count
        self.session = requests.Session()
        self._load({"rate": 0, "count": count, "concurrency": 32})
        for n in range(PROBES):
            self.set_probe(n, "0")
        states = self.session.get(f"{self.url}/api/states", headers=self.headers, timeout=60)
        self.total = len(states.json())

    def _load(self, job):
        job = {"url": self.url, "token": self.token, "sensors": self.count, "prefix": "bench_",
               "first_value": int(time.time()), **job}  # fmt: skip
        subprocess.run(
            [self.ha.python, str(ADDON_DIR / "bench" / "ha_load.py")],
            input=json.dumps(job),
            text=True,
            capture_output=True,
            check=True,
        )

    def storm(self, rate, seconds):
        self._load({"rate": rate, "duration_s": seconds, "concurrency": 64})

    def set_probe(self, n, value):
        self.session.post(
            f"{self.url}/api/states/{PROBE_PREFIX}{n}",
            json={"state": value, "attributes": {"friendly_name": f"AAA probe {n}"}},
            headers=self.headers,
            timeout=10,
        ).raise_for_status()

    def close(self):
        self.ha.stop(remove_config=True)


# The benchmark -----------------------------------------------------------------------------


class DashboardBench:
    def __init__(self, dbname, args):
        self.dbname = dbname
        self.args = args
        self.registry = Registry(dbname)
        self.results = []

    def run(self):
        for source_name, count in self.args.scenarios:
            self.results.append(self.scenario(source_name, count))
        self.print_report()

    def scenario(self, source_name, count):
        print(f"Scenario: {count} entities from the {source_name} Home Assistant ...", flush=True)
        odoo_server = load_by_path("ha_bench_odoo_server", ADDON_DIR / "tests" / "odoo_server.py")
        with contextlib.ExitStack() as stack:
            source = (ScriptedSource if source_name == "scripted" else RealSource)(count)
            stack.callback(source.close)
            instance_id = run_committed(
                self.registry, lambda env: self.create_instance(env, source, count)
            )
            stack.callback(self.delete_instance, instance_id)
            server = odoo_server.OdooServer(self.dbname, workers=self.args.workers).start()
            stack.callback(server.stop)
            if self.args.workers:
                # The browser reaches both processes through one address, as behind nginx.
                router = load_by_path(
                    "ha_bench_front_router", ADDON_DIR / "tests" / "front_router.py"
                ).FrontRouter(server.http_port, server.gevent_port)
                stack.callback(router.stop)
                server.url = router.start().url
            self.wait_mirrored(instance_id, source.total)
            browser = load_by_path(
                "ha_bench_cdp_browser", ADDON_DIR / "tests" / "cdp_browser.py"
            ).Chromium()
            stack.callback(browser.close)
            result = {"source": source.label, "entities": source.total}
            result.update(self.first_render(browser, server, instance_id, source.total))
            result["storms"] = [self.storm(browser, source, rate) for rate in self.args.rates]
            result["heap_after_mb"] = browser.heap_mb()
            return result

    @staticmethod
    def create_instance(env, source, count):
        instance = env["ha.instance"].create(
            {"name": f"Dashboard bench {count}", "url": source.url, "token": source.token}
        )
        # The dashboard opens on the administrator's current instance.
        env.ref("base.user_admin").current_ha_instance_id = instance
        return instance.id

    def delete_instance(self, instance_id):
        run_committed(
            self.registry, lambda env: env["ha.instance"].browse(instance_id).exists().unlink()
        )

    def wait_mirrored(self, instance_id, total):
        deadline = time.monotonic() + MIRROR_TIMEOUT_S
        while True:
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT count(*) FROM ha_entity WHERE instance_id = %s AND active",
                    (instance_id,),
                )
                mirrored = cr.fetchone()[0]
            if mirrored >= total:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {mirrored} of {total} entities mirrored")
            time.sleep(0.5)

    def first_render(self, browser, server, instance_id, total):
        session = requests.post(
            f"{server.url}/web/session/authenticate",
            json={"params": {"db": self.dbname, "login": "admin", "password": self.args.password}},
            timeout=60,
        )
        if not session.json().get("result"):
            raise RuntimeError(f"cannot log in as admin: {session.text[:300]}")
        browser.send("Network.enable")
        browser.send(
            "Network.setCookie",
            name="session_id",
            value=session.cookies["session_id"],
            url=server.url,
        )
        browser.send("Page.navigate", url=f"{server.url}/odoo/action-{ADDON}.ha_dashboard_action")
        time.sleep(0.5)
        rendered_ms = browser.evaluate(
            FIRST_RENDER_JS % {"total": total, "timeout_ms": RENDER_TIMEOUT_S * 1000}
        )
        time.sleep(1.0)
        measured = {
            "first_render_ms": rendered_ms,
            "dom_nodes": browser.evaluate("document.getElementsByTagName('*').length"),
            "heap_mb": browser.heap_mb(),
        }
        measured["next_page_ms"] = browser.evaluate(SCROLL_JS)
        return measured

    def storm(self, browser, source, rate):
        seconds = self.args.storm_seconds
        print(f"  storm of {rate} changes/s for {seconds:g} s ...", flush=True)
        browser.evaluate(INSTRUMENT_JS % {"prefix": PROBE_PREFIX})
        sent = {}
        stop = threading.Event()

        def probe():
            n = 0
            while not stop.is_set():
                # Not a number: the card shows it as it is, without digit grouping.
                value = f"p{int(time.time() * 1000) % 10**7}n{n}"
                sent[value] = time.time() * 1000
                source.set_probe(n % PROBES, value)
                n += 1
                stop.wait(PROBE_INTERVAL_S)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            source.storm(rate, seconds)
        finally:
            stop.set()
            prober.join()
        time.sleep(1.0)  # the last probes reach the page
        page = browser.evaluate(COLLECT_JS)
        latencies = [page["seen"][v] - t for v, t in sent.items() if v in page["seen"]]
        elapsed_s = page["elapsed"] / 1000
        return {
            "rate": rate,
            "fps": page["frames"] / elapsed_s,
            "long_task_share": page["longTasks"] / page["elapsed"],
            "probes_sent": len(sent),
            "probes_seen": len(latencies),
            "latency_p50_ms": percentile(latencies, 0.5),
            "latency_p99_ms": percentile(latencies, 0.99),
            "latency_max_ms": max(latencies) if latencies else None,
        }

    def print_report(self):
        print()
        layout = (
            f"prefork, --workers {self.args.workers}, /websocket on the gevent port"
            if self.args.workers
            else "threaded"
        )
        print(f"Dashboard benchmark  db={self.dbname}  cpus={os.cpu_count()}"
              f"  storms of {self.args.storm_seconds:g} s  Odoo {layout}"
              f"  load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        for result in self.results:
            print()
            print(
                f"{result['entities']} entities ({result['source']}): first render"
                f" {result['first_render_ms']:.0f} ms, {result['dom_nodes']} DOM nodes,"
                f" JS heap {result['heap_mb']:.1f} MB (after the storms"
                f" {result['heap_after_mb']:.1f} MB)"
            )
            if result["next_page_ms"] is not None:
                print(
                    "  scrolled to the end: the next cards showed in"
                    f" {result['next_page_ms']:.0f} ms"
                )
            print("  changes/s  frames/s  long tasks  probes seen  HA->card p50 ms  p99 ms  max ms")
            for storm in result["storms"]:
                p50, p99, worst = (
                    f"{storm[k]:.0f}" if storm[k] is not None else "-"
                    for k in ("latency_p50_ms", "latency_p99_ms", "latency_max_ms")
                )
                print(
                    f"  {storm['rate']:>9}  {storm['fps']:>8.1f}  {storm['long_task_share']:>9.1%}"
                    f"  {storm['probes_seen']:>5}/{storm['probes_sent']:<5}  {p50:>15}"
                    f"  {p99:>6}  {worst:>6}"
                )
        if any(s["probes_seen"] < s["probes_sent"] for r in self.results for s in r["storms"]):
            print("\nSome probe values never showed: a later value replaced them within a frame,"
                  " or the page fell behind.")  # fmt: skip


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        epilog="Other options (e.g. -c odoo.conf, --addons-path, --db_host) go to Odoo.",
    )
    parser.add_argument("--db", required=True, help="database with odoo_ha_addon installed")
    parser.add_argument(
        "--scenarios",
        default="real:1000,scripted:10000",
        type=lambda text: [(s.split(":")[0], int(s.split(":")[1])) for s in text.split(",")],
        help="source:entities, in turn (default: %(default)s)",
    )
    parser.add_argument(
        "--rates",
        default="200,1000",
        type=lambda text: [int(rate) for rate in text.split(",")],
        help="storm rates in changes per second (default: %(default)s)",
    )
    parser.add_argument("--storm-seconds", type=float, default=10.0)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run Odoo prefork with this many HTTP workers and its gevent process for "
        "/websocket, behind a router like the production proxy (default: threaded)",
    )
    parser.add_argument("--password", default="admin", help="the admin user's password")
    return parser.parse_known_args()


def main():
    args, odoo_args = parse_args()
    config.parse_config(["--log-level=warn", *odoo_args, "-d", args.db])
    DashboardBench(args.db, args).run()


if __name__ == "__main__":
    main()
