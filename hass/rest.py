"""A small client for HA's REST API, on ``requests``, with the package's typed errors."""

import requests

from .const import HTTP_TIMEOUT_S
from .errors import (
    AuthenticationFailed,
    CannotConnect,
    CommandFailed,
    NotHomeAssistant,
    RequestTimeout,
)
from .urls import api_url, base_url

# How much of an unexpected body to quote in an error message.
ERROR_BODY_CHARS = 200


class HARestClient:
    """Blocking REST calls to one HA server (``/api/...``); for scripts and tools.

    The live integration uses the websocket (``HAClient``); this is for one-off reads
    and checks where a connection would be overkill.
    """

    def __init__(self, url, token, *, timeout_s=HTTP_TIMEOUT_S, verify_ssl=True, session=None):
        self.url = base_url(url)
        self._token = token
        self.timeout_s = timeout_s
        self.verify_ssl = verify_ssl
        self._session = session or requests.Session()

    def __repr__(self):
        return f"<HARestClient {self.url}>"

    def close(self):
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def request(self, method, path, *, json=None, params=None):
        """Send one request and return the decoded JSON body."""
        url = api_url(self.url, path)
        try:
            response = self._session.request(
                method,
                url,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout_s,
                verify=self.verify_ssl,
                allow_redirects=False,
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
        return self._decode(response, method, path)

    def _decode(self, response, method, path):
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

    def get(self, path, **params):
        return self.request("GET", path, params=params or None)

    def post(self, path, data=None):
        return self.request("POST", path, json=data if data is not None else {})

    def api_status(self):
        """``{"message": "API running."}`` when the URL and token are right."""
        return self.get("/api/")

    def get_config(self):
        return self.get("/api/config")

    def get_states(self):
        return self.get("/api/states")

    def get_state(self, entity_id):
        return self.get(f"/api/states/{entity_id}")

    def call_service(self, domain, service, data=None):
        """Call a service; returns the states that changed while it ran."""
        return self.post(f"/api/services/{domain}/{service}", data)


def describe_connection_error(error):
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
