"""States made storable: what Python's JSON reads but PostgreSQL refuses.

Python's ``json`` accepts NUL characters (``\\u0000``), unpaired surrogates (``\\ud800``) and
the tokens ``NaN``/``Infinity``. PostgreSQL's text columns refuse NUL, ``jsonb`` refuses NUL,
unpaired surrogates and non-finite numbers, and browsers cannot parse those tokens. One such
value in a batch would fail every retry of the writer's transaction and hold back every later
change of the instance, so they are replaced on the way in: characters by U+FFFD, non-finite
numbers by null. Clean values, nearly all of them, are returned as they are, not copied.
"""

import json
import math
from datetime import UTC, datetime

REPLACEMENT = "\ufffd"


def storable_text(text):
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = "".join(REPLACEMENT if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def storable(value):
    """``value`` (decoded JSON) with every unstorable string or number replaced."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        clean = all(storable(k) is k and storable(v) is v for k, v in value.items())
        return value if clean else {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        clean = all(storable(item) is item for item in value)
        return value if clean else [storable(item) for item in value]
    return value


# Attributes through which Home Assistant hands out credentials: a camera's or a media
# player's ``access_token``, also in its ``entity_picture`` proxy URL. Odoo never stores them,
# so they never reach a browser, the bus or an export; the camera image comes through Odoo.
CREDENTIAL_ATTRIBUTES = ("access_token",)
CREDENTIAL_URL_ATTRIBUTES = ("entity_picture",)


def without_credentials(attributes):
    """``attributes`` without the credentials Home Assistant puts in some of them."""
    if not isinstance(attributes, dict) or not any(
        key in attributes for key in CREDENTIAL_ATTRIBUTES + CREDENTIAL_URL_ATTRIBUTES
    ):
        return attributes
    return {
        key: value
        for key, value in attributes.items()
        if key not in CREDENTIAL_ATTRIBUTES
        and not (key in CREDENTIAL_URL_ATTRIBUTES and isinstance(value, str) and "token=" in value)
    }


def storable_state(state):
    """A ``get_states``-shaped state, storable and without credentials; a state that is not
    text (never from Home Assistant itself) is stored as its JSON text."""
    state = storable(state)
    attributes = state.get("attributes")
    clean = without_credentials(attributes)
    if clean is not attributes:
        state = {**state, "attributes": clean}
    value = state.get("state")
    if value is not None and not isinstance(value, str):
        state = {**state, "state": json.dumps(value, ensure_ascii=False)}
    return state


def text_or_none(value):
    """A text column's value from an attribute that should be text (a name, a unit)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_ha_time(value):
    """HA's ISO-8601 timestamp as the naive UTC datetime Odoo stores."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(UTC).replace(tzinfo=None)
