"""The connector's one way into Odoo's ORM.

The connector writes what Home Assistant sends with SQL, on cursors of its own
(``database.ConnectorDatabase``). What it asks of Odoo's models, it asks through
``InstanceOrm``, inside those same transactions: tell browsers what a flush changed
(``ha.realtime.update``), record an instance's connection status (``ha.instance``) and
evaluate its rules (``ha.automation.rule``).
Models are reached by name through the registry at run time, never imported: ``connector/``
loads without ``models/``, which imports the connector.
"""

# More entity changes than this in one message: browsers are told to read the instance again.
BUS_MAX_CHANGES = 200


class InstanceOrm:
    """``ha.instance`` ``instance_id`` and the model methods the connector calls, in the
    transaction of ``cr``, a cursor of ``db`` (superuser environment)."""

    def __init__(self, db, cr, instance_id):
        self.env = db.environment(cr)
        self.instance = self.env["ha.instance"].browse(instance_id)

    def notify_machine_states(self, machine_ids):
        """Machines whose usage state or sessions changed."""
        self.env["ha.realtime.update"]._notify_machine_states(self.instance, machine_ids)

    def notify_entity_changes(self, changes):
        """``{entity_id: values or None (removed)}``, at most ``BUS_MAX_CHANGES`` of them."""
        self.env["ha.realtime.update"]._notify_entity_changes(self.instance, changes)

    def notify_entities_reload(self):
        """Too many changes for one message: browsers read the instance's entities again."""
        self.env["ha.realtime.update"]._notify_entities_reload(self.instance)

    def scope_members(self):
        """What the instance's groups and shares hold, before a registry sync: pass it to
        ``notify_registry_changes``."""
        return self.env["ha.realtime.update"]._scope_members(self.instance)

    def notify_registry_changes(self, changes, before=None):
        """Areas, devices and entity links changed (``registry_sync.RegistryChanges``);
        ``before``: ``scope_members()`` from before the sync."""
        # The sync wrote with SQL on this cursor: nothing cached before it holds.
        self.env.invalidate_all()
        self.env["ha.realtime.update"]._notify_registry_changes(self.instance, changes, before)

    def set_connection_status(self, status, error=None, ha_version=None):
        """Record the connection's status on the instance, unless it was deleted meanwhile."""
        instance = self.instance.exists()
        if instance:
            instance._set_connection_status(status, error=error, ha_version=ha_version)

    def evaluate_rules(self):
        """Evaluate the instance's active rules; ``(next_due, busy)`` of
        ``ha.automation.rule._evaluate_instance``."""
        return self.env["ha.automation.rule"]._evaluate_instance(self.instance.id)
