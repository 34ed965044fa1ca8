"""Service data that must not outlive the call: alarm and lock codes, passwords, tokens.

A command's payload waits in ``ha.ws.request.queue`` for the process that holds the
connection. Once the request is answered (or timed out, or abandoned), the stored copy keeps
everything an auditor needs (domain, service, target, which fields were given) but each
secret value becomes ``REDACTED``, in the same statement that stores the answer. Anything
that shows or logs a payload goes through ``redact_secrets`` too.

Secrets are found by field name, at any depth: ``script.turn_on`` passes its ``variables``
as a nested object, and managers may send raw commands of any shape.

Pure Python: no Odoo import, tested in the standalone tier.
"""

from collections.abc import Iterator
from typing import Any

# Field names (compared lower-cased) whose values are secrets, from Home Assistant services.
SECRET_SERVICE_DATA_KEYS = frozenset(
    {
        # alarm_control_panel.alarm_arm_* / alarm_disarm / alarm_trigger, lock.lock / unlock
        # / open: the panel's or lock's code.
        "code",
        # Lock user codes set through integrations: zwave_js.set_lock_usercode (usercode),
        # zha.set_lock_user_code (user_code), PIN-named fields of others.
        "usercode",
        "user_code",
        "pin",
        "pin_code",
        "passcode",
        # hassio.backup_full / backup_partial / restore_*: the backup's encryption password.
        "password",
        "passphrase",
        # Credentials some integrations' services take (notify targets, cloud APIs).
        "token",
        "access_token",
        "api_key",
        "secret",
        "client_secret",
    }
)

REDACTED = "***"

# Secret values shorter than this are not searched for in free text (an error message):
# a one- or two-character value would blank out unrelated digits of the message.
MIN_SEARCHED_SECRET_CHARS = 3


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower() in SECRET_SERVICE_DATA_KEYS


def redact_secrets(value: Any) -> Any:
    """A copy of the JSON-like ``value`` with every secret field's value replaced by
    ``REDACTED`` (a field set to null stays null: there was nothing to hide)."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if is_secret_key(key) and item is not None else redact_secrets(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_secrets(item) for item in value]
    return value


def _secret_values(value: Any, inside_secret: bool = False) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_values(item, inside_secret or is_secret_key(key))
    elif isinstance(value, list):
        for item in value:
            yield from _secret_values(item, inside_secret)
    elif inside_secret and value is not None and not isinstance(value, bool):
        yield str(value)


def redact_text(text: str | None, payload: Any) -> str | None:
    """``text`` (e.g. an error message about the call) without the secret values of
    ``payload``: a validation error may quote the value it refused."""
    if not text:
        return text
    secrets = {s for s in _secret_values(payload) if len(s) >= MIN_SEARCHED_SECRET_CHARS}
    # Longest first, so a secret that contains another is replaced whole.
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text
