"""Alarm and lock codes do not stay in ``ha.ws.request.queue`` once a call is answered.

Calls go through the queue (the supervisor these tests start is not registered in this
process, so ``ws_call`` takes the path of every other Odoo process) to the real Home
Assistant of the test run, whose demo alarm panel has the code ``1234``. After each call the
table is searched with SQL for the code: every way a request ends (answered, refused by Home
Assistant, timed out, abandoned) must leave the payload redacted.
"""

from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from ..hass import errors
from ..policy.secret_fields import REDACTED
from .common import HaTestCommon
from .connector_common import ConnectorCase

ALARM = "alarm_control_panel.security"
ALARM_CODE = "1234"  # the demo alarm panel's
WRONG_CODE = "odoo-wrong-code-5931"


def alarm_call(service, code):
    return {
        "domain": "alarm_control_panel",
        "service": service,
        "service_data": {"code": code},
        "target": {"entity_id": ALARM},
    }


@tagged("post_install", "-at_install")
class TestRequestQueueSecrets(ConnectorCase):
    def setUp(self):
        super().setUp()
        self.rest.call_service(
            "alarm_control_panel", "alarm_disarm", {"entity_id": ALARM, "code": ALARM_CODE}
        )
        self.wait_alarm(lambda s: s["state"] == "disarmed", "disarmed")
        self.instance_id = self.create_instance()
        self.start_supervisor(self.instance_id)
        self.wait_status(self.instance_id, "connected")

    def wait_alarm(self, predicate, what):
        self.wait_until(
            lambda: predicate(self.rest.get_state(ALARM)), f"{ALARM} never became {what}"
        )

    def rows_quoting(self, secret):
        """Queue rows of this test's instance that hold ``secret`` anywhere: payload, error,
        result (as a whole JSON string there: its random ids may contain any digits)."""
        return self.query(
            """
            SELECT id, state FROM ha_ws_request_queue
             WHERE instance_id = %s
               AND (payload::text LIKE %s OR COALESCE(error, '') LIKE %s
                    OR COALESCE(error_code, '') LIKE %s OR COALESCE(result::text, '') LIKE %s)
            """,
            (self.instance_id, f"%{secret}%", f"%{secret}%", f"%{secret}%", f'%"{secret}"%'),
        )

    def stored_requests(self):
        return self.query(
            "SELECT state, payload, error_type FROM ha_ws_request_queue"
            " WHERE instance_id = %s ORDER BY id",
            (self.instance_id,),
        )

    def test_an_answered_alarm_call_leaves_no_code_in_the_queue(self):
        self.ws_call(self.instance_id, "call_service", alarm_call("alarm_arm_home", ALARM_CODE))
        self.wait_alarm(
            lambda s: (
                s["state"] == "armed_home"
                or (s["state"] == "arming" and s["attributes"].get("next_state") == "armed_home")
            ),
            "armed_home",
        )
        self.ws_call(self.instance_id, "call_service", alarm_call("alarm_disarm", ALARM_CODE))
        self.wait_alarm(lambda s: s["state"] == "disarmed", "disarmed")

        self.assertEqual(self.rows_quoting(ALARM_CODE), [])
        requests = self.stored_requests()
        self.assertEqual([state for state, _payload, _type in requests], ["done", "done"])
        # Everything but the code is kept for auditing, and shows that a code was given.
        self.assertEqual(
            requests[1][1],
            {**alarm_call("alarm_disarm", ALARM_CODE), "service_data": {"code": REDACTED}},
        )

    def test_a_refused_code_is_redacted_from_the_payload_and_the_error(self):
        with self.assertRaises(errors.CommandFailed) as refused:
            self.ws_call(self.instance_id, "call_service", alarm_call("alarm_disarm", WRONG_CODE))
        self.assertIn("Invalid alarm code", str(refused.exception))
        self.assertEqual(self.rows_quoting(WRONG_CODE), [])
        self.assertEqual(
            [(state, error_type) for state, _payload, error_type in self.stored_requests()],
            [("error", "command_failed")],
        )

    def test_a_timed_out_call_is_redacted_by_the_caller(self):
        # A frozen Home Assistant never answers: the caller closes the row at its deadline.
        self.ha.pause()
        self.addCleanup(lambda: self.ha.paused and self.ha.resume())
        with self.assertRaises(errors.RequestTimeout):
            self.ws_call(
                self.instance_id,
                "call_service",
                alarm_call("alarm_disarm", ALARM_CODE),
                timeout=1,
            )
        self.assertEqual(self.rows_quoting(ALARM_CODE), [])
        self.assertEqual(
            [(state, error_type) for state, _payload, error_type in self.stored_requests()],
            [("timeout", "timeout")],
        )
        self.ha.resume()
        # The host's late answer, whenever it comes, finds the row closed and changes nothing.
        self.wait_status(self.instance_id, "connected")
        self.assertEqual(self.rows_quoting(ALARM_CODE), [])


@tagged("post_install", "-at_install")
class TestRequestQueueSecretsAtRest(HaTestCommon):
    """Rows no connector answers: shown while open, closed by the autovacuum."""

    def test_an_abandoned_request_is_closed_redacted_and_never_shown(self):
        Queue = self.env["ha.ws.request.queue"]
        row = Queue.create(
            {
                "instance_id": self.instance.id,
                "message_type": "call_service",
                "payload": alarm_call("alarm_disarm", ALARM_CODE),
                "requested_at": fields.Datetime.now() - timedelta(days=1),
                "timeout_s": 10,
            }
        )
        # Even while a call runs, the form shows no code.
        self.assertNotIn(ALARM_CODE, row.payload_text)
        self.assertIn(REDACTED, row.payload_text)
        Queue._gc_finished_requests()
        self.env.cr.execute(
            "SELECT state, payload::text FROM ha_ws_request_queue WHERE id = %s", (row.id,)
        )
        state, payload = self.env.cr.fetchone()
        self.assertEqual(state, "timeout")
        self.assertNotIn(ALARM_CODE, payload)
