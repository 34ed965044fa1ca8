"""Advisory locks that elect the one process hosting each instance's connection.

The two-key form ``pg_try_advisory_lock(namespace, instance_id)`` is used: the namespace keeps
these locks apart from other addons' advisory locks, and advisory locks are scoped to the
current database, so instance ids of different databases never collide. The lock is
session-level: PostgreSQL releases it when the holder's session ends, whatever the reason
(process killed, node lost, connection dropped), which is what lets another process take over.
"""

# First key of every lock taken here; the second key is the ha.instance id.
LOCK_NAMESPACE = 0x6841


def try_acquire_instance_lock(connection, instance_id):
    with connection.cursor() as cr:
        cr.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, instance_id))
        return cr.fetchone()[0]


def release_instance_lock(connection, instance_id):
    with connection.cursor() as cr:
        cr.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, instance_id))
        return cr.fetchone()[0]


def held_instance_locks(cr):
    """Ids of the instances whose lock some session of the current database holds."""
    cr.execute(
        """
        SELECT objid::int FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 2
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND classid = %s::oid
        """,
        (LOCK_NAMESPACE,),
    )
    return {instance_id for (instance_id,) in cr.fetchall()}


def instance_lock_is_held(cr, instance_id):
    """Whether any session of the current database hosts this instance's connection."""
    cr.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM pg_locks
             WHERE locktype = 'advisory' AND granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = %s::oid AND objid = %s::oid AND objsubid = 2
        )
        """,
        (LOCK_NAMESPACE, instance_id),
    )
    return cr.fetchone()[0]


# First key of the transaction lock that serialises, per instance, the registry syncs of the
# connector with registry edits made from Odoo (models/ha_registry_mirror.py): a sync never
# runs between Home Assistant's answer to an edit and the commit that stores it.
REGISTRY_LOCK_NAMESPACE = 0x6842


def lock_instance_registry(cr, instance_id):
    """Hold the instance's registry lock until the transaction of ``cr`` ends."""
    cr.execute("SELECT pg_advisory_xact_lock(%s, %s)", (REGISTRY_LOCK_NAMESPACE, instance_id))
