"""Exceptions raised by the client.

A port keeps these four names: callers branch on them to decide whether to ask for a new
device key (AuthenticationError, SessionExpired), show an error (ApiError) or try later
(ConnectionFailed).
"""


class OdooHaError(Exception):
    """Base class of every error the client raises."""


class AuthenticationError(OdooHaError):
    """The server refused the login or the device key. Never retried: the key must change."""


class SessionExpired(OdooHaError):
    """The server ended the session (device key revoked, logout, expiry). Never retried."""


class ConnectionFailed(OdooHaError):
    """The server could not be reached, or did not answer JSON-RPC, after the retries."""


class ApiError(OdooHaError):
    """A route answered ``success: false``; ``error_type`` says why (e.g. ``access_denied``)."""

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
