"""What the benchmarks share: loading the test helpers by path, the database check, committed
work on a registry, percentiles.

The scripts are run as ``python3 bench/<name>.py``: this folder is then first on
``sys.path``, and they ``import benchlib``.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import requests

from odoo import SUPERUSER_ID, api
from odoo.sql_db import connection_info_for

ADDON = "odoo_ha_addon"
# The load generator: POSTs sensor states to Home Assistant at a rate (its aiohttp: run with
# HA_PYTHON, Home Assistant's interpreter).
LOAD_SCRIPT = Path(__file__).resolve().parent / "ha_load.py"


def load_by_path(name, path):
    """The module of the file ``path``, registered as ``name`` (a spawned process can then
    unpickle the functions it defines)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def database_ready(dbname):
    """Whether ``dbname`` exists and has the addon installed (Odoo's configuration parsed)."""
    _name, params = connection_info_for(dbname)
    try:
        connection = psycopg2.connect(**params)
    except psycopg2.OperationalError:
        return False
    try:
        with connection.cursor() as cr:
            cr.execute(
                "SELECT state FROM ir_module_module WHERE name = %s"
                " AND EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'ha_instance')",
                (ADDON,),
            )
            row = cr.fetchone()
    except psycopg2.Error:
        return False
    finally:
        connection.close()
    return row is not None and row[0] == "installed"


def require_database(dbname, odoo_args):
    """Exit with how to make ``dbname`` unless ``database_ready``."""
    if not database_ready(dbname):
        sys.exit(
            f"Database {dbname!r} does not exist or does not have {ADDON} installed. Create it"
            f" first, e.g.:\n  python3 -m odoo {' '.join(odoo_args)} -d {dbname} -i {ADDON}"
            " --stop-after-init"
        )


def run_committed(registry, function):
    """``function(env)`` as superuser on a cursor of its own, committed: the connector's
    sessions see only committed rows."""
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"active_test": False})
        result = function(env)
        env.flush_all()
        cr.commit()
        return result


def query(registry, sql, params=()):
    with registry.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall()


def percentiles(values, fractions=(0.5, 0.9, 0.99)):
    """``{"p50": ..., "p90": ..., "max": ...}`` of ``values`` (one key per fraction); Nones
    when there are none."""
    keys = [f"p{round(fraction * 100)}" for fraction in fractions]
    if not values:
        return dict.fromkeys([*keys, "max"])
    ordered = sorted(values)
    picked = {
        key: ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
        for key, fraction in zip(keys, fractions, strict=True)
    }
    picked["max"] = ordered[-1]
    return picked


def run_ha_load(job):
    """Run ``ha_load.py`` on ``job`` (its JSON input) and return its JSON result."""
    completed = subprocess.run(
        [os.environ["HA_PYTHON"], str(LOAD_SCRIPT)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode:
        raise RuntimeError(f"ha_load.py failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout)


def log_in(url, dbname, login, password, timeout_s=60):
    """A ``requests`` session logged in as ``login`` on the Odoo server at ``url``."""
    session = requests.Session()
    response = session.post(
        f"{url}/web/session/authenticate",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"db": dbname, "login": login, "password": password},
        },
        timeout=timeout_s,
    )
    response.raise_for_status()
    if not (response.json().get("result") or {}).get("uid"):
        raise RuntimeError(f"login of {login} refused: {response.text[:500]}")
    return session


def call_route(session, server, route, params, timeout_s):
    """The ``data`` of the addon's JSON route ``route`` called with ``params`` on ``server``
    (a ``tests/odoo_server.py`` server, whose log ends the error if the route fails)."""
    response = session.post(
        f"{server.url}/odoo_ha_addon/{route}",
        json={"jsonrpc": "2.0", "method": "call", "params": params},
        timeout=timeout_s,
    )
    response.raise_for_status()
    result = response.json().get("result") or {}
    if not result.get("success"):
        raise RuntimeError(f"the route failed: {response.text[:500]}\n{server.log_tail()}")
    return result["data"]
