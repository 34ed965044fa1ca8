"""Runtime that keeps each ``ha.instance`` connected to its Home Assistant.

``supervisor.py`` explains the process model; this module is the per-process registry of
supervisors, one per database, that the models start and stop.
"""

import logging
import os
import sys
import threading

import odoo
from odoo.tools import config

_logger = logging.getLogger(__name__)

_supervisors = {}
_supervisors_lock = threading.Lock()
# odoo-bin commands that run a server. The others (shell, db, neutralize, populate...) load
# registries too, and a connector started there could win an instance's election from the
# server for as long as the command runs.
SERVER_COMMANDS = ("server", "start")


def autostart_allowed():
    """Whether this process may host connections when its registry loads.

    Not in the gevent ``/websocket`` process (its event loop must never block on a connector),
    not during ``--stop-after-init`` runs (installs, upgrades, test runs: tests start what they
    need themselves) and not in ``odoo shell`` or other commands, which run no server (the
    shell starts a ThreadedServer with ``stop=True`` before its registry loads: the command's
    name tells it apart). The option ``ha_connector_autostart = False`` in the Odoo
    configuration turns it off for a node.
    """
    from odoo.service import server  # noqa: PLC0415 - the server module imports the registry

    if odoo.evented or server.server is None or config.get("stop_after_init"):
        return False
    # Set by odoo-bin (odoo.cli.command.main); absent when Odoo is embedded (WSGI).
    command = getattr(sys.modules.get("odoo.cli"), "COMMAND", None)
    if command is not None and command not in SERVER_COMMANDS:
        return False
    return str(config.get("ha_connector_autostart", True)).lower() not in ("0", "false", "no")


def ensure_supervisor(dbname, instance_ids=None):
    """Start this process's supervisor for ``dbname`` unless one is running.

    ``instance_ids`` limits what a new supervisor may host (tests); default: every instance.
    """
    from .supervisor import ConnectorSupervisor  # noqa: PLC0415 - keeps model imports light

    with _supervisors_lock:
        supervisor = _supervisors.get(dbname)
        if supervisor is None or not supervisor.is_alive():
            supervisor = _supervisors[dbname] = ConnectorSupervisor(dbname, instance_ids)
            supervisor.start()
            _logger.debug("Started connector supervisor for %s in pid %s", dbname, os.getpid())
        return supervisor


def get_supervisor(dbname):
    supervisor = _supervisors.get(dbname)
    return supervisor if supervisor is not None and supervisor.is_alive() else None


def hosted_connector(dbname, instance_id):
    """This process's live connector of ``instance_id``, or None when another process (or
    nobody) hosts it."""
    supervisor = get_supervisor(dbname)
    if supervisor is None:
        return None
    hosted = supervisor.connectors.get(instance_id)
    if hosted is None or not hosted.is_alive() or hosted.loop is None:
        return None
    return hosted


def stop_supervisor(dbname):
    with _supervisors_lock:
        supervisor = _supervisors.pop(dbname, None)
    if supervisor is not None:
        supervisor.stop()


def _forget_inherited_supervisors():
    # Threads do not survive fork(): the child starts its own supervisor if it loads a
    # registry, and must not wait on a lock some parent thread held at fork time.
    global _supervisors_lock  # noqa: PLW0603
    _supervisors.clear()
    _supervisors_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_inherited_supervisors)
