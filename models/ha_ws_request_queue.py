import json
from datetime import timedelta

from odoo import api, fields, models

from ..policy.secret_fields import redact_secrets

# Finished requests are kept this long for auditing and debugging, then deleted.
FINISHED_REQUEST_RETENTION_DAYS = 7


class HaWsRequestQueue(models.Model):
    """A command from an Odoo process to the process holding an instance's connection.

    Rows are written by system code only (the request API and the connector), on a cursor of
    their own; people can only read them (managers) to see what was asked and what happened.
    Secret service data (alarm and lock codes...) is redacted from ``payload`` when the row is
    closed (connector/request_queue.py) and never shown, even while the call runs.
    """

    _name = "ha.ws.request.queue"
    _description = "Home Assistant Request Queue"
    _order = "id desc"
    _rec_name = "message_type"

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    user_id = fields.Many2one(
        "res.users", string="Requested By", ondelete="set null", help="Who asked for it."
    )
    message_type = fields.Char(required=True, help="Websocket command, e.g. call_service.")
    payload = fields.Json()
    state = fields.Selection(
        [
            ("pending", "Pending"),
            ("running", "Running"),
            ("done", "Done"),
            ("error", "Error"),
            ("timeout", "Timed Out"),
        ],
        default="pending",
        required=True,
        index=True,
    )
    result = fields.Json()
    error = fields.Text()
    error_type = fields.Char(help="Machine-readable error kind, e.g. not_connected, timeout.")
    error_code = fields.Char(help="Home Assistant's error code when it refused the command.")
    timeout_s = fields.Float(string="Timeout (s)", help="How long the caller waits for the answer.")
    requested_at = fields.Datetime(default=fields.Datetime.now, required=True)
    done_at = fields.Datetime()
    payload_text = fields.Text(string="Payload (JSON)", compute="_compute_json_texts")
    result_text = fields.Text(string="Result (JSON)", compute="_compute_json_texts")

    @api.depends("payload", "result")
    def _compute_json_texts(self):
        for request in self:
            request.payload_text = json.dumps(
                redact_secrets(request.payload), indent=2, ensure_ascii=False
            )
            request.result_text = json.dumps(request.result, indent=2, ensure_ascii=False)

    @api.autovacuum
    def _gc_finished_requests(self):
        """Delete finished requests after the retention period, and close requests left open
        by a caller that died (its process was killed before it could mark them timed out)."""
        now = fields.Datetime.now()
        cutoff = now - timedelta(days=FINISHED_REQUEST_RETENTION_DAYS)
        self.flush_model()
        self.env.cr.execute(
            """
            SELECT id, payload FROM ha_ws_request_queue
             WHERE state IN ('pending', 'running')
               AND requested_at + make_interval(secs => COALESCE(timeout_s, 0) + 3600) < %s
            """,
            (now,),
        )
        for request_id, payload in self.env.cr.fetchall():
            # Closed with its secrets redacted, like every answered request.
            self.env.cr.execute(
                """
                UPDATE ha_ws_request_queue
                   SET state = 'timeout', error_type = 'timeout', done_at = %s, payload = %s,
                       error = 'abandoned: nobody was waiting for the answer any more'
                 WHERE id = %s AND state IN ('pending', 'running')
                """,
                (now, None if payload is None else json.dumps(redact_secrets(payload)), request_id),
            )
        self.env.cr.execute(
            "DELETE FROM ha_ws_request_queue"
            " WHERE state IN ('done', 'error', 'timeout') AND done_at < %s",
            (cutoff,),
        )
        self.invalidate_model()
