"""Connectors of one database share their process's threads and PostgreSQL connections
(connector/shared.py): a node hosting many instances holds a bounded number of both, and each
instance's writes still run one at a time, in order."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2

from odoo.sql_db import connection_info_for
from odoo.tests import BaseCase, get_db_name, tagged
from odoo.tools import config

from ..connector import shared
from ..connector.database import ConnectorPool
from ..connector.shared import LaneExecutor
from .connector_common import ConnectorCase
from .pg_proxy import PgProxy

INSTANCES = 16


@tagged("post_install", "-at_install")
class TestLanes(BaseCase):
    def setUp(self):
        super().setUp()
        self.pool = ThreadPoolExecutor(4)
        self.addCleanup(self.pool.shutdown)

    def test_a_lane_of_width_one_runs_its_jobs_one_at_a_time_in_order(self):
        lane = LaneExecutor(self.pool)
        ran, running, overlaps = [], [0], []
        lock = threading.Lock()

        def job(number):
            with lock:
                running[0] += 1
                overlaps.append(running[0])
            time.sleep(0.002)
            with lock:
                running[0] -= 1
            ran.append(number)
            return number

        futures = [lane.submit(job, number) for number in range(20)]
        self.assertEqual([future.result(5) for future in futures], list(range(20)))
        self.assertEqual(ran, list(range(20)))
        self.assertEqual(max(overlaps), 1)

    def test_a_wider_lane_runs_that_many_at_once_and_no_more(self):
        lane = LaneExecutor(self.pool, width=2)
        gate = threading.Barrier(2, timeout=5)
        running, peak = [0], [0]
        lock = threading.Lock()

        def job():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            gate.wait()  # only passes if two jobs run at the same time
            time.sleep(0.01)
            with lock:
                running[0] -= 1

        for future in [lane.submit(job) for _ in range(6)]:
            future.result(5)
        self.assertEqual(peak[0], 2)

    def test_shutting_a_lane_down_waits_for_its_own_jobs_only(self):
        lane, other = LaneExecutor(self.pool), LaneExecutor(self.pool)
        release = threading.Event()
        blocked = other.submit(release.wait, 5)
        done = lane.submit(time.sleep, 0.05)
        lane.shutdown(wait=True)
        self.assertTrue(done.done())
        self.assertFalse(blocked.done(), "the other lane's job is still waiting")
        with self.assertRaises(RuntimeError):
            lane.submit(time.sleep, 0)
        release.set()
        blocked.result(5)

    def test_an_error_reaches_the_caller_and_the_lane_goes_on(self):
        lane = LaneExecutor(self.pool)
        failed = lane.submit(lambda: 1 / 0)
        with self.assertRaises(ZeroDivisionError):
            failed.result(5)
        self.assertEqual(lane.submit(lambda: 42).result(5), 42)


@tagged("post_install", "-at_install")
class TestManyInstancesOnOneNode(ConnectorCase):
    def _connector_connections(self):
        """PostgreSQL sessions of this process on the test database."""
        return self.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (self.dbname, f"odoo-{os.getpid()}"),
        )[0][0]

    def _connector_threads(self):
        return [
            thread
            for thread in threading.enumerate()
            if thread.name.startswith(("ha-", "odoo_ha_addon.connector."))
        ]

    def test_sixteen_instances_share_a_bounded_number_of_connections_and_threads(self):
        before = self._connector_connections()
        instance_ids = [self.create_instance(name=f"Node load {n}") for n in range(INSTANCES)]
        self.start_supervisor(*instance_ids)
        for instance_id in instance_ids:
            self.wait_status(instance_id, "connected")
        for instance_id in instance_ids:
            self.wait_in_sync(instance_id)
        # Every instance is live: a change in Home Assistant reaches all of them.
        state = self.rest.get_state("sensor.outside_temperature")
        self.rest.post(
            "/api/states/sensor.outside_temperature",
            {"state": "21.5", "attributes": state["attributes"]},
        )
        for instance_id in instance_ids:
            self.wait_until(
                lambda i=instance_id: (
                    self.entity_rows(i)["sensor.outside_temperature"]["state"] == "21.5"
                ),
                f"instance {instance_id} never got the change",
            )
        # One loop thread per instance; the shared pools add a fixed number, whatever the
        # number of instances (four threads or more per instance before).
        loops = [t for t in self._connector_threads() if t.name.startswith("odoo_ha_addon.")]
        self.assertEqual(len(loops), INSTANCES)
        shared_bound = shared.WRITER_THREADS + shared.BOOKKEEPING_THREADS + shared.RESOLVER_THREADS
        self.assertLessEqual(len(self._connector_threads()), INSTANCES + shared_bound)
        # The supervisor's session, the shared pool, one autocommit connection per
        # bookkeeping thread and the bus announcements: at least two per instance before.
        bound = 1 + (shared.WRITER_THREADS + shared.BOOKKEEPING_THREADS + 1)
        bound += shared.BOOKKEEPING_THREADS
        self.assertLessEqual(self._connector_connections() - before, bound)


@tagged("post_install", "-at_install")
class TestConnectorPool(BaseCase):
    """The pool the connectors of a node share, against the test's PostgreSQL."""

    def setUp(self):
        super().setUp()
        _name, self.params = connection_info_for(get_db_name())
        self.pool = ConnectorPool(3)
        self.addCleanup(self.pool.close_all)

    def test_a_connection_attempt_that_hangs_does_not_hold_up_the_others(self):
        proxy = PgProxy(int(config["db_port"] or 5432), config["db_host"] or "127.0.0.1")
        proxy.start()
        self.addCleanup(proxy.stop)
        proxy.cut()  # new connections are accepted by the kernel and never answered
        hanging = threading.Thread(
            target=lambda: self.assertRaises(
                psycopg2.Error,
                self.pool.borrow,
                {**self.params, "host": "127.0.0.1", "port": proxy.port, "connect_timeout": 3},
            ),
            daemon=True,
        )
        hanging.start()
        time.sleep(0.3)
        self.assertTrue(hanging.is_alive(), "the attempt through the cut link is waiting")
        started = time.monotonic()
        connection = self.pool.borrow(self.params)
        self.assertLess(time.monotonic() - started, 1.0, "Odoo's pool would wait for it")
        self.pool.give_back(connection)
        hanging.join(10)

    def test_connections_broken_in_use_do_not_fill_the_pool(self):
        borrowed = [self.pool.borrow(self.params) for _ in range(3)]
        with psycopg2.connect(**self.params) as admin, admin.cursor() as cr:
            cr.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)",
                ([connection.get_backend_pid() for connection in borrowed],),
            )
        for connection in borrowed:
            with self.assertRaises(psycopg2.OperationalError):
                connection.cursor().execute("SELECT 1")
        # Their cursors never gave them back (the rollback on close failed): the pool
        # forgets them instead of reporting itself full for good.
        again = [self.pool.borrow(self.params) for _ in range(3)]
        for connection in again:
            with connection.cursor() as cr:
                cr.execute("SELECT 1")
            self.pool.give_back(connection)
