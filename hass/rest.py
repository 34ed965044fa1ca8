"""A small client for HA's REST API, on ``requests``, with the package's typed errors."""

import time
from collections.abc import Collection
from typing import Any, Self

import requests

from .const import HTTP_TIMEOUT_S
from .errors import (
    AuthenticationFailed,
    CannotConnect,
    CommandFailed,
    NotHomeAssistant,
    RequestTimeout,
    ResponseTooLarge,
)
from .urls import api_url, base_url

# How much of an unexpected body to quote in an error message.
ERROR_BODY_CHARS = 200
# Binary bodies (camera images) are read in pieces this large, so that the size limit and
# the overall deadline are checked while the body arrives, not after.
BINARY_CHUNK_BYTES = 64 * 1024


class HARestClient:
    """Blocking REST calls to one HA server (``/api/...``); for scripts and tools.

    The live integration uses the websocket (``HAClient``); this is for one-off reads
    and checks where a connection would be overkill.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_s: float = HTTP_TIMEOUT_S,
        verify_ssl: bool = True,
        session: requests.Session | None = None,
    ) -> None:
        self.url = base_url(url)
        self._token = token
        self.timeout_s = timeout_s
        self.verify_ssl = verify_ssl
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"<HARestClient {self.url}>"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Send one request and return the decoded JSON body."""
        response = self._send(method, path, json=json, params=params)
        return self._decode(response, method, path)

    def get_binary(
        self, path: str, *, max_bytes: int, content_types: Collection[str]
    ) -> tuple[str, bytes]:
        """GET a body that is not JSON, e.g. a camera image: ``(content type, bytes)``.

        Only a body whose media type is in ``content_types`` is accepted (``CommandFailed``
        ``unexpected_content_type`` otherwise), of at most ``max_bytes`` (``ResponseTooLarge``).
        The whole download must end within ``timeout_s``: the deadline is checked between
        chunks, each read waiting at most ``timeout_s`` itself, so a server that trickles
        bytes holds the caller for about twice ``timeout_s`` at worst. An HTTP error is
        ``CommandFailed`` with the code ``http_<status>`` (``http_404``: no such thing).
        """
        deadline = time.monotonic() + self.timeout_s
        response = self._send("GET", path, stream=True)
        # Closing a half-read response drops its connection instead of reusing it.
        with response:
            status = response.status_code
            if status == 401:
                raise AuthenticationFailed(
                    f"Home Assistant at {self.url} rejected the access token"
                )
            if status >= 400:
                raise CommandFailed(f"http_{status}", f"GET {path}: HTTP {status}")
            content_type = response.headers.get("Content-Type", "")
            if content_type.split(";")[0].strip().lower() not in content_types:
                raise CommandFailed(
                    "unexpected_content_type",
                    f"GET {path} answered {content_type[:80] or 'no content type'}",
                )
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ResponseTooLarge(f"GET {path}: {declared} bytes, more than {max_bytes}")
            body = bytearray()
            try:
                for chunk in response.iter_content(BINARY_CHUNK_BYTES):
                    body += chunk
                    if len(body) > max_bytes:
                        raise ResponseTooLarge(f"GET {path}: more than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise RequestTimeout(
                            f"GET {path} from {self.url} took more than {self.timeout_s:g} s"
                        )
            except requests.exceptions.RequestException as error:
                # requests reports a read timeout inside the body as a ConnectionError.
                if "timed out" in str(error).lower():
                    raise RequestTimeout(
                        f"no answer to GET {path} from {self.url} within {self.timeout_s:g} s"
                    ) from None
                raise CannotConnect(
                    f"cannot reach {self.url}: {describe_connection_error(error)}"
                ) from None
        return content_type, bytes(body)

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        url = api_url(self.url, path)
        try:
            return self._session.request(
                method,
                url,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout_s,
                verify=self.verify_ssl,
                allow_redirects=False,
                stream=stream,
            )
        except requests.exceptions.SSLError as error:
            raise CannotConnect(
                f"cannot reach {self.url}: TLS error ({describe_connection_error(error)})"
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise CannotConnect(
                f"cannot reach {self.url}: no answer within {self.timeout_s:g} s"
            ) from None
        except requests.exceptions.ReadTimeout:
            raise RequestTimeout(
                f"no answer to {method} {path} from {self.url} within {self.timeout_s:g} s"
            ) from None
        except requests.exceptions.ConnectionError as error:
            raise CannotConnect(
                f"cannot reach {self.url}: {describe_connection_error(error)}"
            ) from None

    def _decode(self, response: requests.Response, method: str, path: str) -> Any:
        status = response.status_code
        if status == 401:
            raise AuthenticationFailed(f"Home Assistant at {self.url} rejected the access token")
        if status >= 500:
            raise CommandFailed(f"http_{status}", f"{method} {path} failed: HTTP {status}")
        content_type = response.headers.get("Content-Type", "")
        if not content_type.startswith("application/json"):
            raise NotHomeAssistant(
                f"{self.url} is not a Home Assistant server "
                f"(HTTP {status}, {content_type or 'no content type'} at {path})"
            )
        try:
            body = response.json()
        except ValueError:
            raise NotHomeAssistant(
                f"{self.url} is not a Home Assistant server (invalid JSON at {path})"
            ) from None
        if status >= 400:
            message = body.get("message") if isinstance(body, dict) else None
            raise CommandFailed(f"http_{status}", message or f"{method} {path}: HTTP {status}")
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, data: dict[str, Any] | None = None) -> Any:
        return self.request("POST", path, json=data if data is not None else {})

    def api_status(self) -> dict[str, Any]:
        """``{"message": "API running."}`` when the URL and token are right."""
        return self.get("/api/")

    def get_config(self) -> dict[str, Any]:
        return self.get("/api/config")

    def get_states(self) -> list[dict[str, Any]]:
        return self.get("/api/states")

    def get_state(self, entity_id: str) -> dict[str, Any]:
        return self.get(f"/api/states/{entity_id}")

    def call_service(
        self, domain: str, service: str, data: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Call a service; returns the states that changed while it ran."""
        return self.post(f"/api/services/{domain}/{service}", data)


def describe_connection_error(error: BaseException) -> str:
    """A one-line cause for a requests connection error, without its object reprs."""
    text = str(error)
    lowered = text.lower()
    if "connection refused" in lowered or "errno 111" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "host not found"
    if "certificate verify failed" in lowered:
        return "TLS certificate not trusted"
    if "timed out" in lowered:
        return "no answer"
    return text[:ERROR_BODY_CHARS]
