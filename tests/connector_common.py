"""Fixtures of the connector tests: committed instances, live supervisors, a REST peer.

The connector works on its own database sessions and sees only committed rows, so these
tests commit what they create on cursors they open themselves (never the test's cursor),
read back through fresh cursors, and delete everything they committed when they end.
"""

import json
import time

from odoo import SUPERUSER_ID, api
from odoo.service.model import retrying
from odoo.tools import mute_logger

from ..connector.storable import without_credentials
from ..connector.supervisor import ConnectorSupervisor
from ..hass.rest import HARestClient
from ..models.ha_realtime_update import SCOPE_PREFIXES
from .common import HaServerCase

# Everything the connector does here takes well under a second; these limits only bound how
# long a failing test waits before it reports what it saw.
WAIT_TIMEOUT_S = 20.0
POLL_INTERVAL_S = 0.05


class ConnectorCase(HaServerCase):
    """A real Home Assistant (``cls.ha``) plus helpers to run supervisors against it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dbname = cls.env.cr.dbname
        cls.rest = HARestClient(cls.ha.url, cls.ha.token)
        cls.addClassCleanup(cls.rest.close)

    # Committed data -----------------------------------------------------------------------

    def run_committed(self, function):
        """``function(env)`` in a transaction of its own, committed; returns its result.

        The connector writes the same rows all along: a serialization failure is answered
        as Odoo answers it for a web request, by trying again (the failed query's log line
        is muted, the retry is logged)."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})

            def attempt():
                result = function(env)
                env.flush_all()
                return result

            with mute_logger("odoo.sql_db"):
                result = retrying(attempt, env)
            # Committed on purpose: connector threads only see committed rows.
            cr.commit()
            return result

    def create_instance(self, **values):
        vals = {"name": "Connector test", "url": self.ha.url, "token": self.ha.token, **values}
        instance_id = self.run_committed(lambda env: env["ha.instance"].create(vals).id)
        self.addCleanup(self.delete_instance, instance_id)
        return instance_id

    def delete_instance(self, instance_id):
        self.run_committed(
            lambda env: (
                env["ha.instance"]
                .with_context(active_test=False)
                .browse(instance_id)
                .exists()
                .unlink()
            )
        )

    def ws_call(self, instance_id, message_type, payload=None, **kwargs):
        """``ha.instance.ws_call`` from a fresh transaction, which sees the committed instance
        (the test's own transaction started before it existed)."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"active_test": False})
            return env["ha.instance"].browse(instance_id).ws_call(message_type, payload, **kwargs)

    def write_instance(self, instance_id, values):
        self.run_committed(lambda env: env["ha.instance"].browse(instance_id).write(values))

    def query(self, sql, params=()):
        """Rows of ``sql`` as committed right now."""
        with self.registry.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall()

    def instance_row(self, instance_id):
        rows = self.query(
            "SELECT status, last_error, ha_version, entity_count, last_event_at"
            " FROM ha_instance WHERE id = %s",
            (instance_id,),
        )
        status, last_error, ha_version, entity_count, last_event_at = rows[0]
        return {
            "status": status,
            "last_error": last_error,
            "ha_version": ha_version,
            "entity_count": entity_count,
            "last_event_at": last_event_at,
        }

    def entity_rows(self, instance_id):
        """entity_id -> {state, attributes, name, active, ha_removed, area_id, device_id}."""
        rows = self.query(
            "SELECT entity_id, state, attributes, name, active, ha_removed, area_id, device_id"
            " FROM ha_entity WHERE instance_id = %s",
            (instance_id,),
        )
        keys = ("state", "attributes", "name", "active", "ha_removed", "area_id", "device_id")
        return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}

    def bus_messages(self, instance_id, after_id, message_type):
        """Payloads of bus rows sent on the channel of all the instance's entities (the
        managers' scope) after bus row ``after_id``."""
        (generation,) = self.query(
            "SELECT bus_generation FROM ha_instance WHERE id = %s", (instance_id,)
        )[0]
        channel = json.dumps(
            [
                self.dbname,
                "ha.instance",
                instance_id,
                f"{SCOPE_PREFIXES['ha.instance']}/{generation}",
            ],
            separators=(",", ":"),
        )
        rows = self.query(
            "SELECT message FROM bus_bus WHERE id > %s AND channel = %s ORDER BY id",
            (after_id, channel),
        )
        messages = [json.loads(message) for (message,) in rows]
        return [m["payload"] for m in messages if m["type"] == message_type]

    def last_bus_id(self):
        return self.query("SELECT COALESCE(max(id), 0) FROM bus_bus")[0][0]

    # Supervisors ---------------------------------------------------------------------------

    def start_supervisor(self, *instance_ids):
        """A supervisor like the one each Odoo process runs, hosting only ``instance_ids``
        (this test's: the database may hold instances of other runs), stopped at the end."""
        supervisor = ConnectorSupervisor(self.dbname, instance_ids)
        supervisor.start()
        self.addCleanup(supervisor.stop)
        return supervisor

    # Waiting and comparing -----------------------------------------------------------------

    def wait_until(self, predicate, message, timeout_s=WAIT_TIMEOUT_S):
        """Poll ``predicate()`` until it returns something truthy, which is returned."""
        deadline = time.monotonic() + timeout_s
        while True:
            outcome = predicate()
            if outcome:
                return outcome
            if time.monotonic() > deadline:
                self.fail(f"{message} (not within {timeout_s:g} s)")
            time.sleep(POLL_INTERVAL_S)

    def wait_status(self, instance_id, *statuses, timeout_s=WAIT_TIMEOUT_S):
        seen = []

        def reached():
            status = self.instance_row(instance_id)["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            return status in statuses

        self.wait_until(reached, f"instance status never became {statuses}; saw {seen}", timeout_s)
        return seen

    def mismatches(self, instance_id):
        """Differences between HA's states (REST) and the active ha.entity rows."""
        ha_states = {state["entity_id"]: state for state in self.rest.get_states()}
        rows = {eid: row for eid, row in self.entity_rows(instance_id).items() if row["active"]}
        problems = [f"missing in Odoo: {eid}" for eid in sorted(ha_states.keys() - rows.keys())]
        problems += [f"not in HA: {eid}" for eid in sorted(rows.keys() - ha_states.keys())]
        for entity_id in sorted(ha_states.keys() & rows.keys()):
            state, row = ha_states[entity_id], rows[entity_id]
            friendly_name = state["attributes"].get("friendly_name") or entity_id
            # Odoo keeps everything but the credentials HA hands out (camera tokens).
            if (row["state"], row["attributes"], row["name"]) != (
                state["state"],
                without_credentials(state["attributes"]),
                friendly_name,
            ):
                problems.append(f"{entity_id}: Odoo {row['state']!r}, HA {state['state']!r}")
        return problems

    def wait_in_sync(self, instance_id, timeout_s=WAIT_TIMEOUT_S):
        found = []

        def in_sync():
            found[:] = self.mismatches(instance_id)
            return not found

        self.wait_until(in_sync, f"Odoo differs from HA: {found[:10]}", timeout_s)

    def connected_clients(self):
        """Websocket clients HA counts (its websocket_api sensor); REST calls are not counted."""
        return int(self.rest.get_state("sensor.connected_clients")["state"])
