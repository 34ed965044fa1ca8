"""Requests answered before 18.0.1.2.0 kept their alarm and lock codes in ``payload`` (and
Home Assistant's error text) until the retention job deleted them: redact them now, as
answers are redacted from this release on."""

import json

from odoo.addons.odoo_ha_addon.policy.secret_fields import redact_secrets, redact_text


def migrate(cr, version):
    cr.execute(
        "SELECT id, payload, error FROM ha_ws_request_queue"
        " WHERE state IN ('done', 'error', 'timeout') AND payload IS NOT NULL"
    )
    for request_id, payload, error in cr.fetchall():
        redacted = redact_secrets(payload)
        error_text = redact_text(error, payload) if error else error
        if redacted == payload and error_text == error:
            continue
        cr.execute(
            "UPDATE ha_ws_request_queue SET payload = %s, error = %s WHERE id = %s",
            (json.dumps(redacted), error_text, request_id),
        )
