"""Validation of the parameters the JSON routes accept.

Every route receives its JSON params as a dict and reads them through these helpers, so a
wrong type, an out-of-range number or an unexpected name becomes an ``ApiError`` with
``error_type = "invalid_input"`` and a sentence saying what was wrong, never a traceback.
"""

import json
import re
from datetime import UTC, datetime

from odoo import _

# A client's id of one command (a UUID, a counter...): see call_service.
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
ENTITY_ID_RE = re.compile(r"^[a-z0-9_]{1,64}\.[a-z0-9_]{1,255}$")
# A service call's data is a handful of values (brightness, temperature, options...).
MAX_SERVICE_DATA_BYTES = 16 * 1024
MAX_LIST_ITEMS = 500


class ApiError(Exception):
    """A request the API refuses or cannot serve; becomes ``{success: false, ...}``."""

    def __init__(self, message, error_type):
        super().__init__(message)
        self.error_type = error_type


def invalid(message):
    return ApiError(message, "invalid_input")


class Params:
    """The params of one call; ``done()`` refuses names the route did not read."""

    def __init__(self, params):
        if not isinstance(params, dict):
            raise invalid(_("Parameters must be a JSON object."))
        self._params = params
        self._read = set()

    def _get(self, name, required):
        self._read.add(name)
        value = self._params.get(name)
        if value is None and required:
            raise invalid(_("Missing parameter “%(name)s”.", name=name))
        return value

    def record_id(self, name, *, required=False):
        value = self._get(name, required)
        if value is None or value is False:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
            raise invalid(_("“%(name)s” must be a positive integer id.", name=name))
        return value

    def integer(self, name, *, default, minimum, maximum):
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise invalid(
                _(
                    "“%(name)s” must be an integer from %(min)s to %(max)s.",
                    name=name,
                    min=minimum,
                    max=maximum,
                )
            )
        return value

    def string(self, name, *, required=False, pattern=None, max_length=255):
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value or len(value) > max_length:
            raise invalid(_("“%(name)s” must be a non-empty string.", name=name))
        if pattern is not None and not pattern.match(value):
            raise invalid(
                _("“%(name)s” has an invalid value: %(value)s", name=name, value=value[:80])
            )
        return value

    def entity_ids(self, name, *, required=False, max_items=MAX_LIST_ITEMS):
        """A list of Home Assistant entity ids (a single string is accepted too)."""
        value = self._get(name, required)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or len(value) > max_items:
            raise invalid(
                _(
                    "“%(name)s” must be a list of at most %(max)s entity ids.",
                    name=name,
                    max=max_items,
                )
            )
        for entity_id in value:
            if not isinstance(entity_id, str) or not ENTITY_ID_RE.match(entity_id):
                raise invalid(
                    _(
                        "“%(value)s” is not an entity id like light.kitchen.",
                        value=str(entity_id)[:80],
                    )
                )
        return list(dict.fromkeys(value))

    def datetime(self, name):
        """An ISO-8601 date-time as naive UTC (Odoo's storage); a naive value is taken as UTC."""
        value = self._get(name, False)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise invalid(_("“%(name)s” must be an ISO 8601 date-time.", name=name))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed

    def service_data(self, name):
        value = self._get(name, False)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise invalid(_("“%(name)s” must be a JSON object.", name=name))
        try:
            # NaN and Infinity are not JSON: Home Assistant closes the connection on them.
            encoded = json.dumps(value, allow_nan=False)
        except ValueError:
            raise invalid(
                _("“%(name)s” holds a number JSON cannot carry (NaN or Infinity).", name=name)
            ) from None
        if len(encoded) > MAX_SERVICE_DATA_BYTES:
            raise invalid(
                _("“%(name)s” is larger than %(max)s bytes.", name=name, max=MAX_SERVICE_DATA_BYTES)
            )
        return value

    def done(self):
        unknown = sorted(set(self._params) - self._read)
        if unknown:
            raise invalid(_("Unknown parameter(s): %(names)s", names=", ".join(unknown)[:200]))
