"""Addresses derived from the base URL an administrator types in."""

from urllib.parse import SplitResult, urlsplit, urlunsplit

WEBSOCKET_PATH = "/api/websocket"

_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_HTTP_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def _split(url: str | None) -> SplitResult:
    parts = urlsplit((url or "").strip())
    if parts.scheme.lower() not in _WEBSOCKET_SCHEMES or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts


def base_url(url: str | None) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash or websocket path.

    Accepts what people paste: a trailing slash, a ws(s) URL, the websocket endpoint itself.
    """
    parts = _split(url)
    path = parts.path.rstrip("/")
    if path.endswith(WEBSOCKET_PATH):
        path = path[: -len(WEBSOCKET_PATH)]
    scheme = _HTTP_SCHEMES[parts.scheme.lower()]
    return urlunsplit((scheme, parts.netloc, path.rstrip("/"), "", ""))


def websocket_url(url: str | None) -> str:
    """The websocket endpoint for a base URL: http -> ws, https -> wss, + /api/websocket."""
    parts = urlsplit(base_url(url))
    scheme = _WEBSOCKET_SCHEMES[parts.scheme]
    return urlunsplit((scheme, parts.netloc, parts.path + WEBSOCKET_PATH, "", ""))


def api_url(url: str | None, path: str) -> str:
    """An HTTP endpoint below the base URL, e.g. ``api_url(url, "/api/states")``."""
    return base_url(url) + "/" + path.lstrip("/")
