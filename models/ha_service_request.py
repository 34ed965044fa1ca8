"""Idempotent service calls: ``call_service`` with a client ``request_id`` runs once.

An outside app that lost its answer (a timeout, a dropped connection, an offline queue
flushed twice) sends the same call again with the same ``request_id``; the first one to
claim the id runs, every repeat answers what it answered. Claims and answers are committed
at once on their own cursor, so a repeat sees them whatever the first request's transaction
does, and a repeat that arrives while the first is still running waits for its answer.
"""

import time
from datetime import timedelta

from psycopg2.errors import SerializationFailure
from psycopg2.extras import Json

from odoo import _, api, fields, models

# Answers are kept this long: far longer than any client retries the same command.
KEEP = timedelta(days=1)
# A claim still unanswered this long after it was made was abandoned (its request's call
# times out after 10 s).
ABANDONED_AFTER = timedelta(seconds=60)
WAIT_POLL_S = 0.05


class RepeatedError(Exception):
    """What a repeat answers when the first request failed, or has not finished in time:
    its message and error type (``{success: false, error, error_type}``)."""

    def __init__(self, message, error_type):
        super().__init__(message)
        self.error_type = error_type


class HaServiceRequest(models.Model):
    _name = "ha.service.request"
    _description = "Home Assistant Service Call Request"
    _log_access = False

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade")
    request_id = fields.Char(required=True)
    created = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    answered = fields.Boolean()
    # The envelope's data, or its error and error type, of the first request.
    data = fields.Json()
    error = fields.Char()
    error_type = fields.Char()

    _sql_constraints = [
        ("request_unique", "UNIQUE(user_id, request_id)", "A request id is used once per user.")
    ]

    @api.model
    def _call_once(self, request_id, call, describe_failure, wait_s):
        """``call()`` once per (current user, ``request_id``).

        The first request with the id runs ``call()`` and records what it returns (JSON-able
        data, returned as is) or, when it raises, ``describe_failure(error)`` (a message and
        an error type) before raising the error again. A repeat runs nothing: it returns the
        first one's data with ``repeated`` true, or raises ``RepeatedError`` with its message
        and error type; it waits up to ``wait_s`` for the first one to finish (else
        ``RepeatedError`` "timeout").
        """
        uid = self.env.uid
        if not self._claim(uid, request_id):
            first = self._first_answer(uid, request_id, wait_s)
            if first is None:
                raise RepeatedError(
                    _("The first request %(id)s has not finished yet.", id=request_id), "timeout"
                )
            data, error, error_type = first
            if error:
                raise RepeatedError(error, error_type)
            return {**data, "repeated": True}
        try:
            data = call()
        except Exception as error:
            # Repeats answer the same failure: a timeout may have reached Home Assistant.
            message, error_type = describe_failure(error)
            self._answer(uid, request_id, error=message, error_type=error_type)
            raise
        self._answer(uid, request_id, data=data)
        return data

    @api.model
    def _claim(self, user_id, request_id):
        """True if this request is the first with ``request_id``; it must then ``_answer``."""
        with self.env.registry.cursor() as cr:
            try:
                # A claim never answered long after any call would have ended belongs to a
                # request whose process died: a repeat takes it over rather than answering
                # "timeout" for a day.
                cr.execute(
                    """
                    INSERT INTO ha_service_request (user_id, request_id, created, answered)
                    VALUES (%s, %s, now() at time zone 'utc', false)
                    ON CONFLICT (user_id, request_id) DO UPDATE
                       SET created = EXCLUDED.created
                     WHERE NOT ha_service_request.answered
                       AND ha_service_request.created < EXCLUDED.created - %s
                    RETURNING id
                    """,
                    (user_id, request_id, ABANDONED_AFTER),
                )
            except SerializationFailure:
                # Another request inserted the same id since this transaction began (Odoo's
                # cursors are repeatable read): that one claimed it.
                cr.rollback()
                return False
            claimed = bool(cr.fetchone())
            # Its own cursor: the claim and the answer must be seen by the other requests now.
            cr.commit()  # pylint: disable=invalid-commit
        return claimed

    @api.model
    def _answer(self, user_id, request_id, data=None, error=None, error_type=None):
        with self.env.registry.cursor() as cr:
            cr.execute(
                """
                UPDATE ha_service_request
                   SET answered = true, data = %s, error = %s, error_type = %s
                 WHERE user_id = %s AND request_id = %s
                """,
                (
                    Json(data) if data is not None else None,
                    error,
                    error_type,
                    user_id,
                    request_id,
                ),
            )
            # Its own cursor: the claim and the answer must be seen by the other requests now.
            cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _first_answer(self, user_id, request_id, timeout_s):
        """(data, error, error_type) of the first request, waiting up to ``timeout_s`` for it
        to finish; None if it did not finish in time."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self.env.registry.cursor() as cr:
                cr.execute(
                    "SELECT answered, data, error, error_type FROM ha_service_request"
                    " WHERE user_id = %s AND request_id = %s",
                    (user_id, request_id),
                )
                row = cr.fetchone()
            if row and row[0]:
                return row[1], row[2], row[3]
            if time.monotonic() > deadline:
                return None
            time.sleep(WAIT_POLL_S)

    @api.model
    def _gc(self):
        """Forget old request ids (daily job)."""
        self.search([("created", "<", fields.Datetime.now() - KEEP)]).unlink()
