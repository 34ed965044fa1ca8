"""One-shot set-up of the docker-compose-18.yml demo: Home Assistant -> token -> Odoo.

1. Waits until Home Assistant answers and, if it was never onboarded, onboards it with
   hass.onboarding.onboard (first user from HA_USERNAME / HA_PASSWORD), which returns a
   long-lived access token. The token is kept in TOKEN_FILE (a volume) so a rerun, or a
   rerun after the Odoo database was reset, can use it again.
2. Waits until Odoo's database exists and odoo_ha_addon is installed, then creates the
   ha.instance "Demo Home Assistant" through JSON-RPC as the admin user, unless an
   instance of that name exists already.

Every step is idempotent: `docker compose -f docker-compose-18.yml up` may run it again.
The token is never printed.
"""

import os
import sys
import time
from pathlib import Path

import requests

# The addon checkout is mounted read-only; hass/ is importable without Odoo.
ADDON_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ADDON_DIR))

from hass.onboarding import onboard  # noqa: E402

ADDON_NAME = "odoo_ha_addon"
INSTANCE_NAME = "Demo Home Assistant"
# ha.instance fields written here.
INSTANCE_URL_FIELD = "url"
INSTANCE_TOKEN_FIELD = "token"

WAIT_TIMEOUT_S = 900
POLL_INTERVAL_S = 3
HTTP_TIMEOUT_S = 30

HA_URL = os.environ.get("HA_URL", "http://homeassistant:8123").rstrip("/")
HA_USERNAME = os.environ.get("HA_USERNAME", "admin")
HA_PASSWORD = os.environ.get("HA_PASSWORD", "admin")
ODOO_URL = os.environ.get("ODOO_URL", "http://odoo:8069").rstrip("/")
ODOO_DB = os.environ.get("ODOO_DB", "odoo")
ODOO_LOGIN = os.environ.get("ODOO_LOGIN", "admin")
ODOO_PASSWORD = os.environ.get("ODOO_PASSWORD", "admin")
INSTANCE_URL = os.environ.get("INSTANCE_URL", HA_URL)
TOKEN_FILE = Path(os.environ.get("TOKEN_FILE", "/var/lib/ha-bootstrap/token"))


class OdooRPCError(Exception):
    """An error answered by Odoo's /jsonrpc endpoint."""


def say(message):
    print(f"[ha-bootstrap] {message}", flush=True)


def wait_for(description, probe):
    """Call probe() until it returns a truthy value; give up after WAIT_TIMEOUT_S."""
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    last_error = None
    say(f"waiting for {description}")
    while time.monotonic() < deadline:
        try:
            result = probe()
        except (requests.RequestException, OdooRPCError) as exc:
            result, last_error = None, exc
        if result:
            return result
        time.sleep(POLL_INTERVAL_S)
    sys.exit(f"[ha-bootstrap] gave up waiting for {description}: {last_error}")


# ---------------------------------------------------------------- Home Assistant


def ha_onboarding_steps():
    """{step: done} from HA's onboarding API; {} once onboarding is over."""
    response = requests.get(f"{HA_URL}/api/onboarding", timeout=HTTP_TIMEOUT_S)
    if response.status_code == 404:
        return {}
    response.raise_for_status()
    return {step["step"]: step["done"] for step in response.json()}


def ha_token_works(token):
    response = requests.get(
        f"{HA_URL}/api/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
    )
    return response.status_code == 200


def ha_token():
    """A working long-lived token: onboard a fresh HA, or reuse the stored token."""
    (steps,) = wait_for(f"Home Assistant at {HA_URL}", lambda: (ha_onboarding_steps(),))
    if steps.get("user") is False:
        say(f"onboarding Home Assistant (user {HA_USERNAME})")
        token = onboard(HA_URL, HA_USERNAME, HA_PASSWORD, name="Administrator")
        TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
        TOKEN_FILE.write_text(token, encoding="utf-8")
        TOKEN_FILE.chmod(0o600)
        return token
    if TOKEN_FILE.is_file():
        token = TOKEN_FILE.read_text(encoding="utf-8").strip()
        if ha_token_works(token):
            say("Home Assistant already onboarded; reusing the stored token")
            return token
    sys.exit(
        "[ha-bootstrap] Home Assistant is onboarded but no working token is stored. Create a "
        "long-lived access token in Home Assistant (profile page, Security) and enter it in "
        "Odoo under Settings > Home Assistant, or start over with `docker compose "
        "-f docker-compose-18.yml down -v`."
    )


# ---------------------------------------------------------------- Odoo


def odoo_call(service, method, *args):
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": service, "method": method, "args": args},
        "id": 1,
    }
    response = requests.post(f"{ODOO_URL}/jsonrpc", json=payload, timeout=HTTP_TIMEOUT_S)
    response.raise_for_status()
    body = response.json()
    if "error" in body:
        error = body["error"]
        raise OdooRPCError(error.get("data", {}).get("message") or error.get("message"))
    return body["result"]


def odoo_execute(uid, model, method, *args, **kwargs):
    return odoo_call(
        "object", "execute_kw", ODOO_DB, uid, ODOO_PASSWORD, model, method, list(args), kwargs
    )


def odoo_uid_when_addon_installed():
    uid = odoo_call("common", "login", ODOO_DB, ODOO_LOGIN, ODOO_PASSWORD)
    if not uid:
        return None
    modules = odoo_execute(
        uid, "ir.module.module", "search_read", [("name", "=", ADDON_NAME)], fields=["state"]
    )
    return uid if modules and modules[0]["state"] == "installed" else None


def register_instance(token):
    uid = wait_for(
        f"Odoo database {ODOO_DB!r} with {ADDON_NAME} installed", odoo_uid_when_addon_installed
    )
    existing = odoo_execute(
        uid,
        "ha.instance",
        "search",
        [("name", "=", INSTANCE_NAME)],
        context={"active_test": False},
    )
    if existing:
        say(f"Odoo already has the instance {INSTANCE_NAME!r} (id {existing[0]})")
        return
    values = {
        "name": INSTANCE_NAME,
        INSTANCE_URL_FIELD: INSTANCE_URL,
        INSTANCE_TOKEN_FIELD: token,
    }
    instance_id = odoo_execute(uid, "ha.instance", "create", values)
    say(f"created the instance {INSTANCE_NAME!r} (id {instance_id}) for {INSTANCE_URL}")


def main():
    token = ha_token()
    register_instance(token)
    say("done: open http://localhost:8069 and log in as admin / admin")


if __name__ == "__main__":
    main()
