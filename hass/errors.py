"""Typed errors of the Home Assistant client.

Every message is meant to be shown to an administrator as is: it names the URL or the
command concerned and never carries a token or a traceback.
"""


class HAError(Exception):
    """Base of every error raised by this package."""


class CannotConnect(HAError):
    """The server could not be reached: refused, unknown host, TLS failure, no answer."""


class NotHomeAssistant(HAError):
    """Something answered, but it does not speak Home Assistant's protocol."""


class AuthenticationFailed(HAError):
    """Home Assistant rejected the access token (``auth_invalid`` or HTTP 401).

    Never retried automatically: HA logs every failed login and may ban the address.
    """


class CommandFailed(HAError):
    """Home Assistant answered a command with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class NotConnected(HAError):
    """No live connection to send the command on."""


class RequestTimeout(HAError, TimeoutError):
    """No answer to a command within its timeout; the connection itself may be fine."""


class ConnectionLost(HAError):
    """The connection closed while a command was waiting for its answer."""


class ResponseTooLarge(HAError):
    """A REST answer (e.g. a camera image) is larger than the caller accepts."""


class ProtocolError(HAError):
    """The peer sent something the protocol does not allow (e.g. a malformed frame)."""
