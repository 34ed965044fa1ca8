"""Checks of the docker-compose-18.yml try-out stack that need no Docker engine.

They catch the mistakes that make `docker compose -f docker-compose-18.yml up` fail for
a newcomer: a renamed mount path, a missing helper file, a port that does not match the
Odoo configuration, a Home Assistant configuration without the integrations the addon uses.
"""

import ast
import configparser
import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PATH = REPO_ROOT / "docker-compose-18.yml"
ADDON_MOUNT = "/mnt/extra-addons/odoo_ha_addon"
HA_IMAGES = {
    "ghcr.io/home-assistant/home-assistant:2024.3.3",
    "homeassistant/home-assistant:2024.3.3",
}
# What the addon and the bootstrap use: REST and websocket APIs, the registries (config),
# history, and onboarding to create the first user and its token.
HA_REQUIRED_INTEGRATIONS = {
    "demo",
    "api",
    "websocket_api",
    "config",
    "history",
    "recorder",
    "onboarding",
    "http",
}


@pytest.fixture(scope="module")
def compose():
    with COMPOSE_PATH.open(encoding="utf-8") as compose_file:
        return yaml.safe_load(compose_file)


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def _published_container_ports(service):
    ports = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).rsplit(":", 1)[-1].split("/")[0]))
    return ports


def _bind_mounts(service):
    """{container path: host path relative to the repo} of the service's bind mounts."""
    mounts = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            source, target = entry.get("source", ""), entry["target"]
        else:
            source, target = entry.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def _depends_on(service):
    depends = service.get("depends_on", [])
    return set(depends) if isinstance(depends, (list, dict)) else set()


def _odoo_image(service):
    """The base image of the odoo service: its image, or its Dockerfile's FROM."""
    build = service.get("build")
    if build is None:
        return service["image"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    text = (REPO_ROOT / context / dockerfile).read_text(encoding="utf-8")
    return re.search(r"^FROM\s+(\S+)", text, re.MULTILINE).group(1)


def _odoo_conf(services):
    conf_host_path = _bind_mounts(services["odoo"]).get("/etc/odoo/odoo.conf")
    assert conf_host_path, "odoo.conf is not mounted at /etc/odoo/odoo.conf"
    parser = configparser.ConfigParser()
    assert parser.read(REPO_ROOT / conf_host_path), f"{conf_host_path} does not exist"
    return parser["options"]


def test_services_present(services):
    assert {"db", "homeassistant", "odoo", "ha-bootstrap"} <= set(services)


def test_database_service(services):
    db = services["db"]
    assert db["image"].startswith("postgres:")
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD"} <= set(db["environment"])
    assert db["environment"]["POSTGRES_USER"] != "postgres", "Odoo refuses the role postgres"
    assert "healthcheck" in db
    assert any(str(volume).endswith("/var/lib/postgresql/data") for volume in db["volumes"])


def test_home_assistant_service(services):
    ha = services["homeassistant"]
    assert ha["image"] in HA_IMAGES
    assert 8123 in _published_container_ports(ha)
    conf = _bind_mounts(ha).get("/config/configuration.yaml")
    assert conf, "no configuration.yaml mounted into /config"
    assert (REPO_ROOT / conf).is_file()


def test_home_assistant_configuration_loads_required_integrations(services):
    conf = REPO_ROOT / _bind_mounts(services["homeassistant"])["/config/configuration.yaml"]
    config = yaml.safe_load(conf.read_text(encoding="utf-8"))
    missing = HA_REQUIRED_INTEGRATIONS - set(config)
    assert not missing, f"configuration.yaml lacks {sorted(missing)}"
    # default_config pulls integrations that want the internet (cloud, met, ...).
    assert "default_config" not in config
    assert config["http"].get("server_port", 8123) == 8123


def test_odoo_service(services):
    odoo = services["odoo"]
    assert _odoo_image(odoo) == "odoo:18.0"
    mounts = _bind_mounts(odoo)
    assert mounts.get(ADDON_MOUNT) == ".", f"the repository must be mounted at {ADDON_MOUNT}"
    assert "db" in _depends_on(odoo)
    command = " ".join(map(str, odoo.get("command", [])))
    assert re.search(r"(^|\s)(-i|--init)[ =]?\S*odoo_ha_addon", command), (
        "the odoo command must install odoo_ha_addon on first start"
    )


def test_odoo_configuration_matches_published_ports(services):
    options = _odoo_conf(services)
    assert "/mnt/extra-addons" in options["addons_path"].split(",")
    ports = _published_container_ports(services["odoo"])
    assert int(options.get("http_port", 8069)) in ports
    assert 8069 in ports
    gevent_port = int(options.get("gevent_port", 8072))
    assert gevent_port in ports, "the gevent (/websocket) port must be published"
    assert options.get("db_user", "odoo") == services["db"]["environment"]["POSTGRES_USER"]


def test_odoo_image_installs_addon_requirements(services):
    build = services["odoo"].get("build")
    assert build, "the odoo service must build an image with requirements.txt installed"
    dockerfile = REPO_ROOT / build["context"] / build["dockerfile"]
    text = dockerfile.read_text(encoding="utf-8")
    assert re.search(r"pip3? install .*-r \S*requirements", text)
    assert re.search(r"^COPY\s+requirements\.txt\s", text, re.MULTILINE)


def test_bootstrap_service(services):
    bootstrap = services["ha-bootstrap"]
    assert {"homeassistant", "odoo"} <= _depends_on(bootstrap)
    assert _bind_mounts(bootstrap).get(ADDON_MOUNT) == "."
    command = list(map(str, bootstrap["command"]))
    script = next(part for part in command if part.endswith(".py"))
    assert script.startswith(ADDON_MOUNT + "/")
    assert (REPO_ROOT / script.removeprefix(ADDON_MOUNT + "/")).is_file()
    environment = bootstrap["environment"]
    assert environment["INSTANCE_URL"] == "http://homeassistant:8123"


def _assigned_strings(tree):
    return {
        target.id: node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_bootstrap_uses_existing_onboarding_and_instance_fields():
    """The bootstrap script calls hass.onboarding.onboard and writes real ha.instance fields."""
    script = ast.parse((REPO_ROOT / "docker" / "bootstrap_demo.py").read_text(encoding="utf-8"))
    imports = {
        (node.module, alias.name)
        for node in ast.walk(script)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert ("hass.onboarding", "onboard") in imports
    onboarding = ast.parse((REPO_ROOT / "hass" / "onboarding.py").read_text(encoding="utf-8"))
    assert any(
        isinstance(node, ast.FunctionDef) and node.name == "onboard" for node in onboarding.body
    ), "hass/onboarding.py defines no onboard()"

    constants = _assigned_strings(script)
    written_fields = {constants["INSTANCE_URL_FIELD"], constants["INSTANCE_TOKEN_FIELD"], "name"}
    instance_fields = set()
    for path in REPO_ROOT.glob("models/*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            if _assigned_strings(ast.Module(body=node.body, type_ignores=[])).get("_name") != (
                "ha.instance"
            ):
                continue
            instance_fields |= {
                target.id
                for statement in node.body
                if isinstance(statement, ast.Assign)
                and isinstance(statement.value, ast.Call)
                and isinstance(statement.value.func, ast.Attribute)
                and isinstance(statement.value.func.value, ast.Name)
                and statement.value.func.value.id == "fields"
                for target in statement.targets
                if isinstance(target, ast.Name)
            }
    assert instance_fields, "no model declares _name = 'ha.instance' in models/"
    missing = written_fields - instance_fields
    assert not missing, f"bootstrap writes ha.instance fields that do not exist: {missing}"
