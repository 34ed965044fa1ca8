"""Install and uninstall hooks of the Home Assistant addon."""

import importlib.metadata

from odoo.exceptions import UserError

# (distribution, oldest usable version or None). websockets: hass/ uses the asyncio client
# API (websockets.asyncio.client), usable from 13.1 on.
PYTHON_REQUIREMENTS = (
    ("websockets", (13, 1)),
    ("requests", None),
)
CONFIG_PARAMETER_PREFIX = "odoo_ha_addon."


def _version_tuple(version):
    """(13, 1, 2) for "13.1.2"; stops at the first part that is not a plain number."""
    numbers = []
    for part in version.split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


def python_requirement_problems(env):
    """[(pip requirement, explanation)] for each unusable Python dependency, [] when all is well."""
    problems = []
    for distribution, minimum in PYTHON_REQUIREMENTS:
        wanted = f"{distribution}>={'.'.join(map(str, minimum))}" if minimum else distribution
        try:
            installed = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            problems.append((wanted, env._("%(package)s is not installed", package=distribution)))
            continue
        if minimum and _version_tuple(installed) < minimum:
            message = env._(
                "%(package)s %(installed)s is too old, %(wanted)s is required",
                package=distribution,
                installed=installed,
                wanted=wanted,
            )
            problems.append((wanted, message))
    return problems


def pre_init_hook(env):
    """Refuse the install with an actionable message when a Python dependency is unusable.

    Odoo itself only checks that the packages of ``external_dependencies`` exist; this also
    checks their versions and gives the exact command that fixes it. Installing packages from
    here would change the server's Python behind its operator's back.
    """
    problems = python_requirement_problems(env)
    if problems:
        details = "\n".join(f"- {message}" for _wanted, message in problems)
        command = "pip install " + " ".join(f"'{wanted}'" for wanted, _message in problems)
        raise UserError(
            env._(
                "Home Assistant cannot be installed:\n%(details)s\n"
                "Install them into the Python that runs Odoo, then restart Odoo:\n%(command)s",
                details=details,
                command=command,
            )
        )


def uninstall_hook(env):
    """Stop this process's connections and remove the addon's settings (Odoo keeps the
    ir.config_parameter rows it did not create). Supervisors of other processes stop by
    themselves once the addon's tables are gone."""
    from . import connector  # noqa: PLC0415 - the connector package imports odoo.service

    connector.stop_supervisor(env.cr.dbname)
    prefix_pattern = CONFIG_PARAMETER_PREFIX.replace("_", r"\_") + "%"  # "_" is a LIKE wildcard
    env["ir.config_parameter"].sudo().search([("key", "=like", prefix_pattern)]).unlink()
