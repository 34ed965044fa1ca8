"""Benchmark of what record rules cost the people who are not managers: the dashboard's
``entities`` route over HTTP, as a Home Assistant user and as a portal user with a share.

Not a test: it prints figures. Run it with Odoo's interpreter on a database where
``odoo_ha_addon`` is installed (see bench/README.md)::

    python3 bench/access_bench.py --db bench_db -c /tmp/odoo-dev.conf

Set-up (committed, removed at the end)
    An ``ha.instance`` (its URL refuses connections: nothing here talks to Home Assistant)
    with ``--floors`` floors of ``--areas-per-floor`` areas, ``--entities`` sensors spread
    over the areas, ``--labels`` labels (each on every ``--labels``-th sensor), then
    ``ANALYZE`` of the addon's tables, as autovacuum leaves a live database. People:

    - ``member``: a Home Assistant user in an entity group that picked every sensor;
    - ``resident`` (when the addon has entity groups of floors): a Home Assistant user in a
      group of the first floor;
    - ``tenant``: a portal user with a share of the first label (with entities added later).

What is measured
    On a real Odoo server process (``tests/odoo_server.py``, threaded): the ``entities``
    route, logged in as each person, best and median of ``--rounds`` calls after one untimed
    call; and the number of entities each got. To compare with other code, run the script
    again with ``--addons-path`` naming that code, on a database installed with it: record
    rules are rows of the database.
"""

import argparse
import contextlib
import os
import secrets
import shutil
import statistics
import sys
import time
from pathlib import Path

from benchlib import call_route, load_by_path, log_in

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

ADDON_DIR = Path(__file__).resolve().parent.parent
UNREACHABLE_URL = "http://127.0.0.1:9"
ROUTE_TIMEOUT_S = 300


class AccessBench:
    def __init__(self, dbname, args):
        self.dbname = dbname
        self.args = args
        self.registry = Registry(dbname)
        self.password = secrets.token_urlsafe(12)
        self.people = {}
        self.user_ids = []
        self._cleanups = contextlib.ExitStack()

    def run(self):
        with self._cleanups:
            self.fill()
            print(
                f"Access benchmark  db={self.dbname}  cpus={os.cpu_count()}  "
                f"entities={self.args.entities}  floors={self.args.floors}x"
                f"{self.args.areas_per_floor} areas  labels={self.args.labels}"
            )
            self.measure(self.start_server())

    def _env(self, cr):
        return api.Environment(cr, SUPERUSER_ID, {"active_test": False})

    def fill(self):
        args = self.args
        tag = secrets.token_hex(3)
        with self.registry.cursor() as cr:
            env = self._env(cr)
            instance = env["ha.instance"].create(
                {"name": f"Access bench {tag}", "url": UNREACHABLE_URL, "token": "unused"}
            )
            self.instance_id = instance.id
            floors = env["ha.floor"].create(
                [
                    {"instance_id": instance.id, "floor_id": f"f{n}", "name": f"Floor {n}"}
                    for n in range(args.floors)
                ]
            )
            areas = env["ha.area"].create(
                [
                    {
                        "instance_id": instance.id,
                        "area_id": f"a{floor_n}_{n}",
                        "name": f"Area {floor_n}.{n}",
                        "floor_id": floor.id,
                    }
                    for floor_n, floor in enumerate(floors)
                    for n in range(args.areas_per_floor)
                ]
            )
            labels = env["ha.label"].create(
                [
                    {"instance_id": instance.id, "label_id": f"l{n}", "name": f"Label {n}"}
                    for n in range(args.labels)
                ]
            )
            entities = env["ha.entity"].create(
                [
                    {
                        "instance_id": instance.id,
                        "entity_id": f"sensor.access_bench_{n}",
                        "state": str(n),
                        "area_id": areas[n % len(areas)].id,
                        "label_ids": [(6, 0, [labels[n % len(labels)].id])],
                    }
                    for n in range(args.entities)
                ]
            )
            users = env["res.users"].with_context(no_reset_password=True)
            ha_user = env.ref("odoo_ha_addon.group_ha_user")
            portal = env.ref("base.group_portal")

            def person(name, group):
                user = users.create(
                    {
                        "name": f"Access bench {name}",
                        "login": f"access_bench_{name}_{tag}",
                        "password": self.password,
                        "groups_id": [(6, 0, [group.id])],
                    }
                )
                self.people[name] = user.login
                self.user_ids.append(user.id)
                return user

            member = person("member", ha_user)
            env["ha.entity.group"].create(
                {
                    "name": "Everything",
                    "instance_id": instance.id,
                    "entity_ids": [(6, 0, entities.ids)],
                    "user_ids": [(6, 0, member.ids)],
                }
            )
            if "floor_ids" in env["ha.entity.group"]._fields:
                resident = person("resident", ha_user)
                env["ha.entity.group"].create(
                    {
                        "name": "First floor",
                        "instance_id": instance.id,
                        "floor_ids": [(6, 0, floors[:1].ids)],
                        "user_ids": [(6, 0, resident.ids)],
                    }
                )
            tenant = person("tenant", portal)
            env["ha.entity.share"].create(
                {"label_id": labels[0].id, "user_id": tenant.id, "include_later": True}
            )
            env.flush_all()
            cr.commit()
        self._cleanups.callback(self.remove)
        with self.registry.cursor() as cr:
            cr.execute("ANALYZE")

    def remove(self):
        with self.registry.cursor() as cr:
            env = self._env(cr)
            env["ha.instance"].browse(self.instance_id).unlink()
            env["res.users"].browse(self.user_ids).unlink()
            cr.commit()

    def start_server(self):
        module = load_by_path("access_bench_odoo_server", ADDON_DIR / "tests" / "odoo_server.py")
        server = module.OdooServer(self.dbname)
        server.start()
        self._cleanups.callback(shutil.rmtree, server._workdir, True)
        self._cleanups.callback(server.stop)
        return server

    def measure(self, server):
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("  person      entities   best ms  median ms")
        for name, login in self.people.items():
            session = log_in(server.url, self.dbname, login, self.password)
            self.call(session, server)  # untimed: the session's first request
            timings, count = [], 0
            for _round in range(self.args.rounds):
                started = time.perf_counter()
                count = len(self.call(session, server)["entities"])
                timings.append((time.perf_counter() - started) * 1000)
            print(
                f"  {name:<10} {count:>9} {min(timings):>9,.0f} "
                f"{statistics.median(timings):>10,.0f}",
                flush=True,
            )

    def call(self, session, server):
        return call_route(
            session, server, "entities", {"ha_instance_id": self.instance_id}, ROUTE_TIMEOUT_S
        )


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="database with odoo_ha_addon installed")
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--floors", type=int, default=10)
    parser.add_argument("--areas-per-floor", type=int, default=10)
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="timed calls per person")
    return parser.parse_known_args()


def main():
    args, odoo_args = parse_args()
    config.parse_config(["--log-level=warn", *odoo_args, "-d", args.db])
    AccessBench(args.db, args).run()


if __name__ == "__main__":
    sys.exit(main())
