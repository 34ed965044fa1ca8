"""Rules on several Odoo processes sharing one database: each crossing runs its actions once.

Two real Odoo servers (``OdooServer``, threaded, then prefork) host the connections of the
test database; one of them holds the instance of a scripted Home Assistant and evaluates its
rules after each flush. The node holding the instance is then killed with SIGKILL; while no
node hosts it, the sensor crosses the threshold and falls back. The other node takes the
connection over, records the current state again from its snapshot (which must not fire the
rule a second time), fires once the crossing it finds in Home Assistant's history, then the
next one. A second rule watches an attribute of the same sensor, which changes only while no
node hosts the instance: the history's attributes fire it once. Each firing creates a
contact, so the contacts count the actions that really ran.
(Two evaluations racing for one rule in two transactions: ``test_automation_rules.py``.)
"""

import json
import os
import signal
import time

from odoo import Command
from odoo.tests import TransactionCase, new_test_user, tagged

from ..connector import nodes
from .odoo_server import OdooServer
from .scripted_ha import ScriptedHA, make_sensors
from .test_dashboard import _committed

SENSOR = "sensor.s_1"
CONTACT_NAME = "Rule on two nodes"
MODE_CONTACT_NAME = "Mode rule on two nodes"
WAIT_TIMEOUT_S = 60.0


@tagged("post_install", "-at_install")
class TestRulesOnTwoNodes(TransactionCase):
    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        # With a recorder: what it recorded while no node hosted the instance is caught up.
        self.ha = ScriptedHA(make_sensors(3), keeps_history=True).start()
        self.addCleanup(self.ha.stop)

        def create(env):
            owner = new_test_user(
                env,
                login="rule_nodes_owner",
                groups="base.group_user,base.group_partner_manager,odoo_ha_addon.group_ha_manager",
            )
            instance = env["ha.instance"].create(
                {"name": "Rules on two nodes", "url": self.ha.url, "token": self.ha.token}
            )
            return owner.id, instance.id

        self.owner_id, self.instance_id = _committed(self.dbname, create)
        self.addCleanup(self._clean_up)

    def _clean_up(self):
        def clean(env):
            env["res.partner"].search(
                ["|", ("name", "like", CONTACT_NAME), ("name", "like", MODE_CONTACT_NAME)]
            ).unlink()
            env["ha.automation.rule"].with_context(active_test=False).search(
                [("instance_id", "=", self.instance_id)]
            ).unlink()
            env["ha.instance"].browse(self.instance_id).exists().unlink()
            env["res.users"].browse(self.owner_id).unlink()

        _committed(self.dbname, clean)

    def _start_server(self, workers=0):
        server = OdooServer(self.dbname, workers=workers)
        server.start()
        self.addCleanup(server.stop)
        return server

    def _query(self, sql, params=()):
        with self.registry.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall()

    def _host_pid(self):
        with self.registry.cursor() as cr:
            node = nodes.instance_hosts(cr, [self.instance_id]).get(self.instance_id)
        return node.pid if node else None

    def _connected_with(self, state):
        rows = self._query(
            "SELECT i.status, e.state FROM ha_instance i JOIN ha_entity e"
            " ON e.instance_id = i.id AND e.entity_id = %s WHERE i.id = %s",
            (SENSOR, self.instance_id),
        )
        return bool(rows) and rows[0] == ("connected", state)

    def _contacts(self, name=CONTACT_NAME):
        (count,) = self._query(
            "SELECT count(*) FROM res_partner WHERE name LIKE %s", (f"{name}%",)
        )[0]
        return count

    def _firings(self):
        return self._query(
            "SELECT f.state, count(*) FROM ha_automation_firing f"
            " JOIN ha_automation_rule r ON r.id = f.rule_id"
            " WHERE r.instance_id = %s GROUP BY f.state",
            (self.instance_id,),
        )

    def _wait_for(self, predicate, message, servers):
        deadline = time.monotonic() + WAIT_TIMEOUT_S
        while not predicate():
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- pid {s.process.pid}\n{s.log_tail()}" for s in servers)
                seen = self._query(
                    "SELECT e.id, e.state, e.changed_at FROM ha_automation_event e"
                    " WHERE e.instance_id = %s ORDER BY e.id",
                    (self.instance_id,),
                )
                watches = self._query(
                    "SELECT s.last_state, s.holds, s.fired, r.last_event_id"
                    " FROM ha_automation_rule_state s JOIN ha_automation_rule r"
                    " ON r.id = s.rule_id WHERE r.instance_id = %s",
                    (self.instance_id,),
                )
                self.fail(
                    f"{message} (not within {WAIT_TIMEOUT_S:g} s); firings {self._firings()},"
                    f" events {seen}, rule states {watches}\n{logs}"
                )
            time.sleep(0.1)

    def _create_rule(self, contact_name=CONTACT_NAME, **trigger):
        """A rule on SENSOR (``trigger``: its trigger's values) whose action creates a contact
        named ``contact_name`` and the state."""

        def create(env):
            sensor = env["ha.entity"].search(
                [("instance_id", "=", self.instance_id), ("entity_id", "=", SENSOR)]
            )
            return (
                env["ha.automation.rule"]
                .create(
                    {
                        "name": contact_name,
                        "instance_id": self.instance_id,
                        "owner_id": self.owner_id,
                        "entity_ids": [Command.set(sensor.ids)],
                        **trigger,
                        "action_ids": [
                            Command.create(
                                {
                                    "kind": "create_record",
                                    "create_model_id": env["ir.model"]._get_id("res.partner"),
                                    "create_values": json.dumps(
                                        {"name": f"{contact_name} {{state}}"}
                                    ),
                                }
                            )
                        ],
                    }
                )
                .id
            )

        return _committed(self.dbname, create)

    def test_each_crossing_runs_its_actions_once_across_nodes_and_a_takeover(self):
        self._crossings_act_once_across_nodes_and_a_takeover(workers=0)

    def test_the_same_on_prefork_nodes(self):
        """As production runs Odoo: HTTP workers, the gevent process and cron workers, any
        of which may host the instance and evaluate its rules."""
        self._crossings_act_once_across_nodes_and_a_takeover(workers=2)

    def _crossings_act_once_across_nodes_and_a_takeover(self, workers):
        self.ha.set_state(SENSOR, "10")
        first, second = self._start_server(workers), self._start_server(workers)
        servers = (first, second)
        self._wait_for(lambda: self._connected_with("10"), "the instance never connected", servers)
        self._create_rule(trigger="above", threshold=50)
        self._create_rule(
            MODE_CONTACT_NAME, trigger="attribute", attribute="mode", attribute_value="boost"
        )

        # Two crossings; repeats above the threshold fire nothing.
        for value in ("60", "70", "20", "80"):
            self.ha.set_state(SENSOR, value)
            self._wait_for(
                lambda value=value: self._connected_with(value), "a state was lost", servers
            )
        self._wait_for(lambda: self._contacts() == 2, "the two crossings did not act", servers)

        # The node holding the connection dies (the whole server, its workers too).
        host = self._host_pid()
        killed = next(server for server in servers if server.process.pid == os.getpgid(host))
        os.killpg(killed.process.pid, signal.SIGKILL)
        killed.process.wait()
        survivor = second if killed is first else first
        # While no node hosts the instance, the sensor falls, crosses again and falls back:
        # the survivor's snapshot shows 40 (and 80 replayed must not fire again); Home
        # Assistant's history gives the crossing at 85. The mode goes to boost with it and back
        # to eco: only the history's attributes show it.
        attributes = dict(self.ha.entities[SENSOR]["a"])
        for value, mode in (("30", "eco"), ("85", "boost"), ("40", "eco")):
            self.ha.set_state(SENSOR, value, {**attributes, "mode": mode})
        self._wait_for(
            lambda: (
                self._host_pid() is not None
                and os.getpgid(self._host_pid()) == survivor.process.pid
                and self._connected_with("40")
            ),
            "the surviving node never took the instance over",
            servers,
        )
        self._wait_for(
            lambda: self._contacts() == 3, "the crossing while no node hosted did not act", servers
        )
        self._wait_for(
            lambda: self._contacts(MODE_CONTACT_NAME) == 1,
            "the mode's change while no node hosted did not act",
            servers,
        )
        self.ha.set_state(SENSOR, "90")
        self._wait_for(lambda: self._connected_with("90"), "a state was lost", servers)
        self._wait_for(
            lambda: self._contacts() == 4, "the crossing after the takeover did not act", servers
        )
        time.sleep(1.0)  # anything that would run twice has had time to
        self.assertEqual(self._contacts(), 4)
        self.assertEqual(self._contacts(MODE_CONTACT_NAME), 1)
        self.assertEqual(dict(self._firings()), {"done": 5})
        names = {
            name
            for (name,) in self._query(
                "SELECT name FROM res_partner WHERE name LIKE %s", (f"{CONTACT_NAME}%",)
            )
        }
        self.assertEqual(names, {f"{CONTACT_NAME} {value}" for value in ("60", "80", "85", "90")})
