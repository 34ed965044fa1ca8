"""Benchmark of the history route over long ranges: raw states against rolled-up statistics.

Not a test: it prints figures. Run it with Odoo's interpreter on a database where
``odoo_ha_addon`` is installed (see bench/README.md)::

    python3 bench/history_bench.py --db bench_db -c /tmp/odoo-dev.conf

Set-up
    An ``ha.instance`` (its URL refuses connections: nothing here talks to Home Assistant) with
    ``--entities`` sensors ``sensor.history_bench_<n>``, a Home Assistant user (not a manager)
    in an entity group holding them, and ``--days`` of one state per second per sensor, written
    with set-based SQL in the order the state writer writes them (second by second, every
    sensor), each a new numeric value, with the 5-minute marks the writer leaves. The first
    sensor also gets hourly statistics as an import of Home Assistant's long-term statistics
    leaves them (source ``ha``) back to ``--year-days``, so a year's chart has a year of data.
    The raw states end ``STEADY_ROUNDS`` x 5 minutes before the start.

What is measured
    Roll-up
        The initial roll-up of everything filled, as the cron does it (the steps of
        ``history_rollups.roll_up_in_transactions``, each its own committed transaction, until
        nothing is left; with ``--reuse --roll-up-again``, of a kept instance whose statistics
        are deleted first, as after an upgrade), then ``STEADY_ROUNDS`` steady-state rounds: 5
        more minutes of states for every sensor, stored by the writer's own statement
        (``insert_history_rows``), then the roll-up. Afterwards the states are topped up to the
        present and rolled up, so the route reads a tail of raw states of less than 5 minutes,
        as it would with the cron running.
    The route ``/odoo_ha_addon/entity_history``
        On a real Odoo server process (``tests/odoo_server.py``, threaded), over HTTP, logged
        in as the Home Assistant user; best of ``--rounds`` calls with ``max_points`` 500,
        after one untimed call: 1 sensor over each of ``--ranges`` days, and every sensor over
        ``--multi-days`` days, ending now. "after": with the statistics. "before": with the
        bench sensors' statistics and cursors moved aside (committed, so the server sees none)
        the route reads the raw states; with ``--previous-addons-path`` also a second server
        running that code (the previous release) on the same rows.

Everything created is removed at the end (the rows with their instance; then ``VACUUM`` of
the history table), unless ``--keep``; ``--reuse ID`` measures a kept instance again.
"""

import argparse
import contextlib
import json
import math
import os
import secrets
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg2
from benchlib import call_route, load_by_path, log_in, require_database

from odoo.modules.registry import Registry
from odoo.sql_db import connection_info_for
from odoo.tools import config

ADDON_DIR = Path(__file__).resolve().parent.parent
SENSOR_PREFIX = "sensor.history_bench_"
# Refuses connections at once: the server's connector retries quietly and reads nothing.
UNREACHABLE_URL = "http://127.0.0.1:9"
FIVE_MINUTES = 300
DAY_S = 86_400
STEADY_ROUNDS = 3
# Raw states per statement of the fill (one hour of every sensor), committed every day.
FILL_CHUNK = timedelta(hours=1)
# ha_entity_history with its four indexes, measured on this table (about 175 bytes a row),
# with room for the statistics and the write-ahead log.
BYTES_PER_ROW = 250
ROUTE_TIMEOUT_S = 900
TARGETS_MS = {("1", 30): 150, ("1", 365): 300, ("all", 30): 1000}


# Its helpers (Odoo access, the database check) are shared.
common = load_by_path("connector_bench", ADDON_DIR / "bench" / "connector_bench.py")

# One state per second of every sensor, second by second as the writer stores them: a daily
# curve with noise, two decimals, so each state is a new value.
FILL_SQL = """
    INSERT INTO ha_entity_history
        (entity_id, instance_id, state, num_value, is_numeric, unit, last_changed, last_updated,
         create_uid, write_uid, create_date, write_date)
    SELECT reading.id, %(instance)s, reading.value::text, reading.value::float8, TRUE, '°C',
           at, at, 1, 1, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
      FROM generate_series(%(t0)s::timestamp, %(t1)s::timestamp - interval '1 second',
                           interval '1 second') AS at
     CROSS JOIN LATERAL (
         SELECT sensor.id,
                round((15 + sensor.n + 4 * sin(2 * pi() * extract(epoch FROM at) / 86400)
                       + random() - 0.5)::numeric, 2) AS value
           FROM unnest(%(ids)s::int[]) WITH ORDINALITY AS sensor(id, n)) AS reading
"""

# The marks the writer leaves: every 5-minute bucket it inserted states into.
MARK_SQL = """
    INSERT INTO ha_entity_history_rollup_mark (entity_id, bucket)
    SELECT sensor.id, bucket
      FROM unnest(%(ids)s::int[]) AS sensor(id)
     CROSS JOIN generate_series(%(t0)s::timestamp, %(t1)s::timestamp - interval '1 second',
                                interval '300 seconds') AS bucket
    ON CONFLICT (entity_id, bucket) DO NOTHING
"""

# Hourly statistics as an import of Home Assistant's long-term statistics leaves them.
IMPORT_SQL = """
    INSERT INTO ha_entity_history_rollup
        (entity_id, instance_id, period, start, minimum, maximum, mean, state_count, seconds,
         source)
    SELECT %(entity)s, %(instance)s, 'hour', hour, stat.mean - stat.spread,
           stat.mean + stat.spread, stat.mean, 0, 3600, 'ha'
      FROM generate_series(%(t0)s::timestamp, %(t1)s::timestamp - interval '1 hour',
                           interval '1 hour') AS hour
     CROSS JOIN LATERAL (
         SELECT 16 + 4 * sin(2 * pi() * extract(epoch FROM hour) / 86400) + random() AS mean,
                0.5 + random() AS spread) AS stat
"""


def floor_5min(value):
    return value - timedelta(
        seconds=value.minute % 5 * 60 + value.second, microseconds=value.microsecond
    )


def utcnow():
    """Now, as Odoo stores it: naive UTC."""
    return datetime.utcnow().replace(microsecond=0)


def load_text(load):
    return " ".join(f"{value:.2f}" for value in load)


class HistoryBench:
    def __init__(self, dbname, args):
        self.dbname = dbname
        self.args = args
        self.registry = Registry(dbname)
        self.instance_id = args.reuse
        self.entity_ids = []
        self.login = self.password = None
        self.results = {"load_average_at_start": os.getloadavg(), "route": []}
        # Plans of the statistics' statements are costed high enough to be JIT-compiled.
        self.results["postgres"] = common.query(
            self.registry, "SELECT current_setting('server_version'), current_setting('jit')"
        )[0]
        self._cleanups = contextlib.ExitStack()

    def run(self):
        with self._cleanups:
            if self.instance_id:
                self.find_instance()
            else:
                self.create_instance()
                self.fill()
            self.create_user()
            if not self.args.reuse:
                fill = self.results["fill"]
                self.measure_initial_roll_up(fill["last"], fill["rows"])
            elif self.args.roll_up_again:
                self.measure_initial_roll_up(*self.forget_statistics())
            self.measure_steady_roll_up()
            self.catch_up()
            self.measure_route("after", self.start_server())
            with self.statistics_set_aside():
                self.measure_route("before", self.start_server())
                if self.args.previous_addons_path:
                    self.measure_route(
                        "previous", self.start_server(self.args.previous_addons_path)
                    )
        self.results["load_average_at_end"] = os.getloadavg()
        self.print_report()
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(self.results, indent=2, default=str))

    # Set-up ------------------------------------------------------------------------------

    def create_instance(self):
        entities = self.args.entities

        def create(env):
            instance = env["ha.instance"].create(
                {"name": "History benchmark", "url": UNREACHABLE_URL, "token": "history-bench"}
            )
            records = env["ha.entity"].create(
                [
                    {
                        "instance_id": instance.id,
                        "entity_id": f"{SENSOR_PREFIX}{n:02d}",
                        "name": f"History bench {n:02d}",
                        "state": "20.0",
                        "unit_of_measurement": "°C",
                    }
                    for n in range(entities)
                ]
            )
            if not all(records.mapped("record_history")):
                raise RuntimeError("sensors do not record history on a new instance")
            return instance.id, records.ids

        self.instance_id, self.entity_ids = common.run_committed(self.registry, create)
        if not self.args.keep:
            self._cleanups.callback(self.delete_instance)
        print(f"Instance {self.instance_id}: {entities} sensors {SENSOR_PREFIX}NN")

    def find_instance(self):
        self.entity_ids = [
            row[0]
            for row in common.query(
                self.registry,
                "SELECT id FROM ha_entity WHERE instance_id = %s AND entity_id LIKE %s"
                " ORDER BY entity_id",
                (self.instance_id, f"{SENSOR_PREFIX}%"),
            )
        ]
        if not self.entity_ids:
            sys.exit(f"Instance {self.instance_id} has no {SENSOR_PREFIX}* sensors to measure.")
        if not self.args.keep:
            self._cleanups.callback(self.delete_instance)
        print(f"Reusing instance {self.instance_id}: {len(self.entity_ids)} sensors")

    def create_user(self):
        """A Home Assistant user (not a manager) in a group holding the bench sensors."""
        self.login = f"history_bench_{self.instance_id}_{os.getpid()}"
        self.password = secrets.token_urlsafe(16)

        def create(env):
            user = env["res.users"].create(
                {
                    "name": "History benchmark user",
                    "login": self.login,
                    "password": self.password,
                    "groups_id": [(6, 0, [env.ref("odoo_ha_addon.group_ha_user").id])],
                }
            )
            group = env["ha.entity.group"].create(
                {
                    "name": "History benchmark",
                    "instance_id": self.instance_id,
                    "entity_ids": [(6, 0, self.entity_ids)],
                    "user_ids": [(6, 0, user.ids)],
                }
            )
            return user.id, group.id

        user_id, group_id = common.run_committed(self.registry, create)
        self._cleanups.callback(self.delete_records, "res.users", [user_id])
        self._cleanups.callback(self.delete_records, "ha.entity.group", [group_id])

    def fill(self):
        args = self.args
        rows = args.entities * args.days * DAY_S
        self.check_disk(rows)
        t_end = floor_5min(utcnow()) - timedelta(seconds=STEADY_ROUNDS * FIVE_MINUTES)
        t_start = t_end - timedelta(days=args.days)
        print(
            f"Filling {rows:,} states ({args.entities} sensors x {args.days} days x 1/s),"
            f" {t_start} to {t_end} ..."
        )
        started = time.monotonic()
        day_started, at = started, t_start
        while at < t_end:
            day_end = min(at + timedelta(days=1), t_end)
            with self.registry.cursor() as cr:
                self.insert_states(cr, at, day_end)
                cr.commit()
            at = day_end
            done = (at - t_start).total_seconds() * args.entities
            now = time.monotonic()
            print(
                f"  {at}: {done:,.0f} states, {args.entities * DAY_S / (now - day_started):,.0f}"
                f"/s, load {load_text(os.getloadavg())}",
                flush=True,
            )
            day_started = now
        fill_s = time.monotonic() - started
        imported = 0
        if args.year_days > args.days:
            imported = self.import_statistics(t_end - timedelta(days=args.year_days), t_start)
        started = time.monotonic()
        self.vacuum_analyze("ha_entity_history", "ha_entity_history_rollup_mark")
        self.results["fill"] = {
            "entities": args.entities,
            "days": args.days,
            "rows": rows,
            "first": t_start,
            "last": t_end,
            "seconds": fill_s,
            "vacuum_s": time.monotonic() - started,
            "imported_hours": imported,
            "table_bytes": common.query(
                self.registry, "SELECT pg_total_relation_size('ha_entity_history')"
            )[0][0],
        }

    def insert_states(self, cr, t0, t1):
        """1 Hz states of every bench sensor over [t0, t1), with the writer's marks."""
        at = t0
        while at < t1:
            chunk_end = min(at + FILL_CHUNK, t1)
            cr.execute(
                FILL_SQL,
                {"instance": self.instance_id, "ids": self.entity_ids, "t0": at, "t1": chunk_end},
            )
            at = chunk_end
        cr.execute(MARK_SQL, {"ids": self.entity_ids, "t0": floor_5min(t0), "t1": t1})

    def import_statistics(self, t0, t1):
        with self.registry.cursor() as cr:
            cr.execute(
                IMPORT_SQL,
                {"entity": self.entity_ids[0], "instance": self.instance_id, "t0": t0, "t1": t1},
            )
            count = cr.rowcount
            cr.commit()
        print(f"Imported {count:,} hourly statistics (source 'ha') of the first sensor, {t0} on")
        return count

    def check_disk(self, rows):
        needed = rows * BYTES_PER_ROW
        directory = common.query(self.registry, "SELECT current_setting('data_directory', true)")
        directory = directory[0][0]
        if directory and Path(directory).exists():
            free = shutil.disk_usage(directory).free
            print(
                f"About {needed / 2**30:.1f} GiB needed; {free / 2**30:.1f} GiB free where"
                f" PostgreSQL keeps its data ({directory})"
            )
            if free < 1.5 * needed:
                sys.exit("Not enough disk space: scale down with --entities or --days.")
        else:
            print(
                f"About {needed / 2**30:.1f} GiB needed; PostgreSQL's data directory is not"
                " readable from here: check its free space (df -h) first."
            )

    def vacuum_analyze(self, *tables):
        """What autovacuum would have done to the tables by the time a chart reads them (it
        would otherwise start during the measurements)."""
        _name, params = connection_info_for(self.dbname)
        connection = psycopg2.connect(**params)
        connection.autocommit = True
        try:
            with connection.cursor() as cr:
                for table in tables:
                    cr.execute(f"VACUUM (ANALYZE) {table}")
        finally:
            connection.close()

    # Roll-up -----------------------------------------------------------------------------

    def roll_up_until_done(self, now):
        """Roll up as the cron does, one step (one committed transaction, up to
        ``ENTITIES_PER_CHUNK`` entities over up to ``MAX_SPAN``) at a time, until nothing is
        left; return (seconds, steps, longest step in seconds, 5-minute rows written)."""
        rollups = common.addon_module("connector.history_rollups")
        started, steps, longest, written = time.monotonic(), 0, 0.0, 0
        more = True
        while more:
            step_started = time.monotonic()
            rows, more = rollups.roll_up_in_transactions(self.registry.cursor, now, max_chunks=1)
            steps += 1
            written += rows
            longest = max(longest, time.monotonic() - step_started)
        return time.monotonic() - started, steps, longest, written

    def measure_initial_roll_up(self, until, states):
        """The roll-up of every state up to ``until`` (``states`` of them), as after the
        fill, or after an upgrade from a release without statistics."""
        settle = common.addon_module("connector.history_rollups").SETTLE
        print("Initial roll-up ...")
        load_before = os.getloadavg()
        seconds, steps, longest, written = self.roll_up_until_done(until + settle)
        self.results["initial_roll_up"] = {
            "seconds": seconds,
            "steps": steps,
            "longest_step_s": longest,
            "rows_5min": written,
            "states_per_s": states / seconds,
            "load": (load_before, os.getloadavg()),
        }
        self.vacuum_analyze("ha_entity_history_rollup", "ha_entity_history_rollup_cursor")

    def measure_steady_roll_up(self):
        """``STEADY_ROUNDS`` times: 5 minutes of states of every sensor, then the roll-up. A
        reused instance is first topped up to where those rounds start."""
        settle = common.addon_module("connector.history_rollups").SETTLE
        t_end = floor_5min(utcnow()) - timedelta(seconds=STEADY_ROUNDS * FIVE_MINUTES)
        newest = self.newest_state() + timedelta(seconds=1)
        if newest > t_end:
            print("Steady-state roll-up skipped: the states already reach its rounds' time")
            return
        if newest < t_end:
            with self.registry.cursor() as cr:
                self.insert_states(cr, newest, t_end)
                cr.commit()
            self.roll_up_until_done(t_end + settle)
        history_rows = common.addon_module("connector.history_rows")
        steady = []
        for round_ in range(STEADY_ROUNDS):
            t0 = t_end + timedelta(seconds=round_ * FIVE_MINUTES)
            rows = [
                history_rows.history_row(entity_id, self.instance_id, state, "°C", at, at)
                for at, values in self.readings(t0, FIVE_MINUTES)
                for entity_id, state in zip(self.entity_ids, values, strict=True)
            ]
            with self.registry.cursor() as cr:
                history_rows.insert_history_rows(cr, rows)
                cr.commit()
            t1 = t0 + timedelta(seconds=FIVE_MINUTES)
            load_before = os.getloadavg()
            seconds, steps, _longest, written = self.roll_up_until_done(t1 + settle)
            steady.append(
                {
                    "states": len(rows),
                    "seconds": seconds,
                    "steps": steps,
                    "rows_5min": written,
                    "load": (load_before, os.getloadavg()),
                }
            )
            print(f"  steady round {round_ + 1}: {seconds * 1000:.0f} ms")
        self.results["steady_roll_up"] = steady

    def readings(self, t0, seconds):
        """(time, [state per sensor]) of ``seconds`` seconds from ``t0``, like the fill's."""
        for offset in range(seconds):
            at = t0 + timedelta(seconds=offset)
            daily = 4 * math.sin(2 * math.pi * (at - datetime(1970, 1, 1)).total_seconds() / DAY_S)
            yield (
                at,
                [
                    f"{15 + n + daily + secrets.randbelow(1000) / 1000 - 0.5:.2f}"
                    for n in range(1, len(self.entity_ids) + 1)
                ],
            )

    def catch_up(self):
        """States up to now and rolled up, so the route reads a short tail of raw states, as
        it does when the cron keeps up."""
        newest = self.newest_state()
        now = utcnow()
        started = time.monotonic()
        with self.registry.cursor() as cr:
            self.insert_states(cr, newest + timedelta(seconds=1), now)
            cr.commit()
        seconds, _calls, _longest, _written = self.roll_up_until_done(now)
        print(
            f"Caught up: states of the last {(now - newest).total_seconds():.0f} s added and"
            f" rolled up in {time.monotonic() - started:.1f} s (roll-up {seconds:.1f} s)"
        )
        self.results["span"] = common.query(
            self.registry,
            "SELECT min(last_updated), max(last_updated) FROM ha_entity_history"
            " WHERE entity_id = %s",
            (self.entity_ids[0],),
        )[0]

    def forget_statistics(self):
        """The bench sensors' own statistics, cursors and marks deleted, and each sensor marked
        at its first bucket, as an upgrade from a release without statistics leaves them;
        return (the newest state's time, the states to roll up)."""
        with self.registry.cursor() as cr:
            ids = (self.entity_ids,)
            cr.execute(
                "DELETE FROM ha_entity_history_rollup WHERE entity_id = ANY(%s)"
                " AND source = 'odoo'",
                ids,
            )
            for table in ("ha_entity_history_rollup_cursor", "ha_entity_history_rollup_mark"):
                cr.execute(f"DELETE FROM {table} WHERE entity_id = ANY(%s)", ids)
            cr.execute(
                """
                SELECT min(last_updated), max(last_updated) FROM ha_entity_history
                 WHERE entity_id = %s
                """,
                (self.entity_ids[0],),
            )
            first, newest = cr.fetchone()
            cr.execute(
                "INSERT INTO ha_entity_history_rollup_mark (entity_id, bucket)"
                " SELECT unnest(%s::int[]), %s",
                (self.entity_ids, floor_5min(first)),
            )
            cr.commit()
        self.vacuum_analyze("ha_entity_history_rollup")
        return newest, len(self.entity_ids) * int((newest - first).total_seconds())

    def newest_state(self):
        return common.query(
            self.registry,
            "SELECT max(last_updated) FROM ha_entity_history WHERE entity_id = %s",
            (self.entity_ids[0],),
        )[0][0]

    # The route ---------------------------------------------------------------------------

    def start_server(self, addons_path=None):
        module = load_by_path("history_bench_odoo_server", ADDON_DIR / "tests" / "odoo_server.py")
        server = module.OdooServer(self.dbname)
        if self.args.server_port:
            server.http_port = self.args.server_port
            server.url = f"http://127.0.0.1:{server.http_port}"
        default_path = config["addons_path"]
        config["addons_path"] = addons_path or default_path
        try:
            server.start()
        finally:
            config["addons_path"] = default_path
        self._cleanups.callback(shutil.rmtree, server._workdir, True)
        self._cleanups.callback(server.stop)
        return server

    def cases(self):
        cases = [(1, days) for days in self.args.ranges]
        if len(self.entity_ids) > 1:
            cases.append((len(self.entity_ids), self.args.multi_days))
        return cases

    def measure_route(self, label, server):
        print(f"Timing the route ({label}) on {server.url} ...")
        session = log_in(server.url, self.dbname, self.login, self.password)
        names = [f"{SENSOR_PREFIX}{n:02d}" for n in range(len(self.entity_ids))]
        self.call_route(session, server, names[:1], 1)  # the server's first request
        for count, days in self.cases():
            timings, answer = [], None
            load = os.getloadavg()
            for _round in range(self.args.rounds):
                started = time.perf_counter()
                answer = self.call_route(session, server, names[:count], days)
                timings.append((time.perf_counter() - started) * 1000)
            series = answer["series"]
            self.results["route"].append(
                {
                    "label": label,
                    "entities": count,
                    "days": days,
                    "best_ms": min(timings),
                    "timings_ms": timings,
                    "resolution": sorted({item.get("resolution", "raw") for item in series}),
                    "points": max(len(item.get("points") or ()) for item in series),
                    "load": load,
                }
            )
            print(
                f"  {count} sensor(s), {days} d: best {min(timings):,.0f} ms"
                f" ({', '.join(f'{t:,.0f}' for t in timings)}), load {load_text(load)}",
                flush=True,
            )

    def call_route(self, session, server, names, days):
        end = utcnow()
        params = {
            "ha_instance_id": self.instance_id,
            "entity_ids": names,
            "start": (end - timedelta(days=days)).isoformat(),
            "end": end.isoformat(),
            "max_points": self.args.max_points,
        }
        return call_route(session, server, "entity_history", params, ROUTE_TIMEOUT_S)

    @contextlib.contextmanager
    def statistics_set_aside(self):
        """The bench sensors without statistics and cursors (the route then reads raw states):
        moved to side tables, committed, and put back afterwards when they are kept."""
        stash = f"history_bench_stash_{self.instance_id}"
        ids = (self.entity_ids,)
        with self.registry.cursor() as cr:
            for table in ("ha_entity_history_rollup", "ha_entity_history_rollup_cursor"):
                cr.execute(
                    f"CREATE TABLE {stash}_{table} AS SELECT * FROM {table}"
                    " WHERE entity_id = ANY(%s)",
                    ids,
                )
                cr.execute(f"DELETE FROM {table} WHERE entity_id = ANY(%s)", ids)
            cr.commit()
        try:
            yield
        finally:
            with self.registry.cursor() as cr:
                for table in ("ha_entity_history_rollup", "ha_entity_history_rollup_cursor"):
                    if self.args.keep:
                        cr.execute(f"INSERT INTO {table} SELECT * FROM {stash}_{table}")
                    cr.execute(f"DROP TABLE {stash}_{table}")
                cr.commit()

    # Clean-up ----------------------------------------------------------------------------

    def delete_records(self, model, ids):
        common.run_committed(self.registry, lambda env: env[model].browse(ids).exists().unlink())

    def delete_instance(self):
        print("Deleting the instance and its rows ...")
        started = time.monotonic()
        with self.registry.cursor() as cr:
            # The rows first, in plain SQL: the same cascade, without the ORM around it.
            cr.execute(
                "DELETE FROM ha_entity_history WHERE entity_id = ANY(%s)", (self.entity_ids,)
            )
            cr.commit()
        self.delete_records("ha.instance", [self.instance_id])
        # The bench rows are the table's newest: VACUUM gives the table's space back (not
        # the indexes': later rows reuse their pages).
        self.vacuum_analyze("ha_entity_history", "ha_entity_history_rollup")
        print(f"  done in {time.monotonic() - started:.0f} s")

    # Report -------------------------------------------------------------------------------

    def print_report(self):
        r = self.results
        print()
        loads = load_text(r["load_average_at_start"]), load_text(r["load_average_at_end"])
        print(
            f"History benchmark  db={self.dbname}  cpus={os.cpu_count()}"
            f"  load average at start {loads[0]}, at end {loads[1]}"
        )
        print("PostgreSQL {} (jit {})".format(*r["postgres"]))
        fill = r.get("fill")
        if fill:
            print(
                f"Filled {fill['rows']:,} states ({fill['entities']} sensors x {fill['days']} days"
                f" x 1/s) in {fill['seconds']:.0f} s ({fill['rows'] / fill['seconds']:,.0f}/s),"
                f" VACUUM ANALYZE {fill['vacuum_s']:.0f} s; ha_entity_history now"
                f" {fill['table_bytes'] / 2**30:.1f} GiB; {fill['imported_hours']:,} imported"
                " hourly statistics of the first sensor"
            )
        span = r.get("span")
        if span:
            print(f"Raw states of each sensor from {span[0]} to {span[1]}")
        initial = r.get("initial_roll_up")
        if initial:
            print(
                f"Initial roll-up: {initial['seconds']:.1f} s ({initial['states_per_s']:,.0f}"
                f" states/s), {initial['steps']} steps (one transaction each), the longest"
                f" {initial['longest_step_s']:.1f} s, {initial['rows_5min']:,} 5-minute rows;"
                f" load {load_text(initial['load'][0])} -> {load_text(initial['load'][1])}"
            )
        for steady in r.get("steady_roll_up", ()):
            print(
                f"Steady state: {steady['states']:,} new states (5 min of every sensor),"
                f" roll-up {steady['seconds'] * 1000:.0f} ms ({steady['steps']} step(s),"
                f" {steady['rows_5min']} 5-minute rows); load {load_text(steady['load'][1])}"
            )
        rows = {}
        for run in r["route"]:
            rows.setdefault((run["entities"], run["days"]), {})[run["label"]] = run
        labels = [
            label
            for label in ("previous", "before", "after")
            if any(label in row for row in rows.values())
        ]
        headers = {"previous": "prev. release", "before": "before (raw)", "after": "after"}
        print()
        print(
            f"/odoo_ha_addon/entity_history as a Home Assistant user, max_points"
            f" {self.args.max_points}, best of {self.args.rounds} (ms):"
        )
        print(
            f"  {'sensors':>7} {'range':>6} "
            + " ".join(f"{headers[label]:>13}" for label in labels)
            + f" {'resolution':>10} {'points':>6} {'target':>7}   load (1 min) per column"
        )
        for (count, days), runs in rows.items():
            after = runs.get("after") or next(iter(runs.values()))
            key = ("1" if count == 1 else "all", days)
            target = TARGETS_MS.get(key) if count in (1, 20) else None
            print(
                f"  {count:>7} {days:>5}d "
                + " ".join(
                    f"{runs[label]['best_ms']:>13,.0f}" if label in runs else f"{'-':>13}"
                    for label in labels
                )
                + f" {'/'.join(after['resolution']):>10} {after['points']:>6}"
                + f" {f'<= {target}' if target else '':>7}   "
                + " ".join(f"{runs[label]['load'][0]:.2f}" for label in labels if label in runs)
            )


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0],
        epilog="Other options (e.g. -c odoo.conf, --addons-path, --db_host) go to Odoo.",
    )

    def days_list(text):
        return [int(days) for days in text.split(",")]

    parser.add_argument("--db", required=True, help="database with odoo_ha_addon installed")
    parser.add_argument("--entities", type=int, default=20, help="sensors (at most 20)")
    parser.add_argument("--days", type=int, default=31, help="days of 1 Hz states per sensor")
    parser.add_argument(
        "--year-days",
        type=int,
        default=365,
        help="the first sensor's imported hourly statistics reach back this far (default:"
        " %(default)s; 0: none)",
    )
    parser.add_argument(
        "--ranges",
        type=days_list,
        default=[1, 7, 30, 365],
        help="chart ranges of one sensor, in days (default: 1,7,30,365)",
    )
    parser.add_argument(
        "--multi-days", type=int, default=30, help="chart range of all sensors, in days"
    )
    parser.add_argument("--max-points", type=int, default=500, help="the route's max_points")
    parser.add_argument("--rounds", type=int, default=3, help="calls per case, the best counts")
    parser.add_argument(
        "--previous-addons-path",
        help="also time the route on a server with this addons path (e.g. the previous"
        " release's worktree) over the same rows",
    )
    parser.add_argument(
        "--server-port", type=int, default=0, help="HTTP port of the servers (default: any free)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the instance and its rows")
    parser.add_argument(
        "--reuse", type=int, metavar="ID", help="measure the kept instance ID (no fill)"
    )
    parser.add_argument(
        "--roll-up-again",
        action="store_true",
        help="with --reuse: delete the statistics the roll-up made and time it again, as after"
        " an upgrade",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args, odoo_args = parser.parse_known_args()
    if not 1 <= args.entities <= 20:
        parser.error("--entities must be 1 to 20 (the route charts at most 20 entities)")
    return args, odoo_args


def main():
    args, odoo_args = parse_args()
    config.parse_config(["--log-level=warn", *odoo_args, "-d", args.db])
    require_database(args.db, odoo_args)
    HistoryBench(args.db, args).run()


if __name__ == "__main__":
    main()
