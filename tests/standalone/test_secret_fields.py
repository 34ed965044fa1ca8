"""Which service data fields are secrets, and how a stored payload loses them."""

from policy.secret_fields import (
    REDACTED,
    SECRET_SERVICE_DATA_KEYS,
    redact_secrets,
    redact_text,
)
from policy.services import ENTITY_SERVICES


def test_an_alarm_disarm_keeps_everything_but_the_code():
    payload = {
        "domain": "alarm_control_panel",
        "service": "alarm_disarm",
        "service_data": {"code": "1234"},
        "target": {"entity_id": ["alarm_control_panel.security"]},
    }
    assert redact_secrets(payload) == {
        "domain": "alarm_control_panel",
        "service": "alarm_disarm",
        "service_data": {"code": REDACTED},
        "target": {"entity_id": ["alarm_control_panel.security"]},
    }
    assert payload["service_data"]["code"] == "1234", "the original is left as it was"


def test_secrets_are_found_at_any_depth_whatever_their_case_and_type():
    payload = {
        "domain": "script",
        "service": "turn_on",
        "service_data": {
            "variables": {"PIN": 4321, "steps": [{"password": "hunter2", "keep": "x"}]},
            "Code": {"nested": "whole value hidden"},
            "user_code": None,
        },
    }
    assert redact_secrets(payload)["service_data"] == {
        "variables": {"PIN": REDACTED, "steps": [{"password": REDACTED, "keep": "x"}]},
        "Code": REDACTED,
        "user_code": None,
    }


def test_payloads_without_secrets_are_unchanged():
    for payload in (None, {}, [], "text", 3, {"domain": "light", "service_data": {"a": [1]}}):
        assert redact_secrets(payload) == payload


def test_error_text_loses_the_secret_values_it_quotes():
    payload = {"service_data": {"code": 987654, "pin": "12", "password": "s3cret-pass"}}
    text = "expected int for code, got 987654 (pin 12, password s3cret-pass) within 10 s"
    assert redact_text(text, payload) == (
        "expected int for code, got *** (pin 12, password ***) within 10 s"
    )
    assert redact_text(None, payload) is None
    assert redact_text("no answer within 10 s", None) == "no answer within 10 s"


def test_every_code_field_the_controls_send_is_a_secret():
    # The per-domain controls send alarm and lock codes; each must be in the secret list.
    code_fields = {
        field
        for services in ENTITY_SERVICES.values()
        for fields in services.values()
        for field in (fields or {})
        if "code" in field.lower() or "pin" in field.lower() or "password" in field.lower()
    }
    assert code_fields, "the controls send at least the alarm panel's code"
    assert code_fields <= SECRET_SERVICE_DATA_KEYS
