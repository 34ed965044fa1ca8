"""Connector nodes as PostgreSQL sees them: who is live, and who hosts which instance.

A node announces itself by naming its supervisor's session (``placement/node_names.py``); the
live nodes of a database are the sessions so named, and the node hosting an instance is the
session holding that instance's advisory lock (``locks.py``). Both are read from
``pg_stat_activity`` and ``pg_locks``, which every role may read (``application_name`` is shown
even for other roles' sessions).
"""

from ..placement.node_names import NODE_NAME_PREFIX, parse_node_name
from .locks import LOCK_NAMESPACE


def announce(connection, node_name):
    """Name the supervisor's session ``node_name`` (autocommit: the setting stays)."""
    with connection.cursor() as cr:
        cr.execute("SELECT set_config('application_name', %s, false)", (node_name,))


def live_nodes(cr):
    """The ``Node``s announced on the current database."""
    cr.execute(
        """
        SELECT application_name FROM pg_stat_activity
         WHERE datname = current_database() AND starts_with(application_name, %s)
        """,
        (NODE_NAME_PREFIX + ":",),
    )
    return {node for (name,) in cr.fetchall() if (node := parse_node_name(name)) is not None}


def instance_hosts(cr, instance_ids):
    """instance id -> ``Node`` holding its lock, for those of ``instance_ids`` that are hosted."""
    if not instance_ids:
        return {}
    cr.execute(
        """
        SELECT l.objid::int, a.application_name
          FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.classid = %s::oid AND l.objid = ANY(%s::oid[])
        """,
        (LOCK_NAMESPACE, list(instance_ids)),
    )
    return {
        instance_id: node
        for instance_id, name in cr.fetchall()
        if (node := parse_node_name(name)) is not None
    }
