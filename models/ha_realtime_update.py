from odoo import api, models

# Notification types the web client listens to.
ENTITY_CHANGES = "odoo_ha_addon/entity_changes"
ENTITIES_RELOAD = "odoo_ha_addon/entities_reload"
INSTANCE_STATUS = "odoo_ha_addon/instance_status"
# Fields of ha.instance the web client shows live; never the token.
INSTANCE_STATUS_FIELDS = (
    "status",
    "status_since",
    "last_event_at",
    "ha_version",
    "entity_count",
    "last_error",
)


class HaRealtimeUpdate(models.AbstractModel):
    """The one place that sends Home Assistant notifications to browsers over the bus.

    Instance-wide events go to the instance's own channel, which ``ir.websocket`` lets only
    the users who may see that instance join: one bus row per event, however many users
    watch. Events that concern one user (their current instance changed...) go to that
    user's own channel.
    """

    _name = "ha.realtime.update"
    _description = "Home Assistant Realtime Updates"

    @api.model
    def _notify_entity_changes(self, instance, changes):
        """Send one batch of entity changes of ``instance``.

        :param changes: compact diffs keyed by HA entity id, e.g.
            ``{"light.kitchen": {"state": "on", "last_updated": "..."}}``; ``None`` for an
            entity that is gone from Home Assistant (archived in Odoo)
        """
        if changes:
            instance._bus_send(ENTITY_CHANGES, {"instance_id": instance.id, "changes": changes})

    @api.model
    def _notify_entities_reload(self, instance):
        """Tell browsers to read the instance's entities again: too many changed at once
        (a snapshot after a reconnect) for one message to carry them all."""
        instance._bus_send(ENTITIES_RELOAD, {"instance_id": instance.id})

    @api.model
    def _notify_instance_status(self, instances):
        """Send the connection status of each of ``instances`` to its channel."""
        for instance in instances:
            payload = {name: instance[name] for name in INSTANCE_STATUS_FIELDS}
            instance._bus_send(INSTANCE_STATUS, {"instance_id": instance.id, **payload})

    @api.model
    def _notify_user(self, user, notification_type, payload):
        """Send ``payload`` to the browser tabs of ``user`` only."""
        user._bus_send(notification_type, payload)
