"""Who receives what over Odoo's bus: the access scopes of Home Assistant data.

Every Home Assistant notification travels on a *scope channel*, never on a channel that all
readers of an instance share:

- ``(ha.instance, "ha_all/<generation>")``: every entity of the instance. Only Home Assistant
  managers join it.
- ``(ha.entity.group, "ha_group/<generation>")``: the entities of one entity group. Only the
  group's members (Home Assistant users who are not managers) join it.

``ir.websocket`` joins a session to the scopes of its user, found with the domains of the
record rules, so a session never joins more than its user may read. A flush of entity changes makes
one bus row per affected scope (the instance's, plus one per group holding a changed
entity), whatever the number of users.

A scope's *generation* is part of its channel name. When someone loses access to a scope
(removed from a group, no longer a manager or an HA user, archived), the generation goes
up: the old channel is never used again, so an open socket that still listens to it
receives nothing more, whatever its client does. Members who keep their access are told
(``access_changed``) to subscribe again and read their data anew; so are users who gained a
scope.
"""

from odoo import api, models

# Notification types the web client listens to.
ENTITY_CHANGES = "odoo_ha_addon/entity_changes"
ENTITIES_RELOAD = "odoo_ha_addon/entities_reload"
INSTANCE_STATUS = "odoo_ha_addon/instance_status"
ACCESS_CHANGED = "odoo_ha_addon/access_changed"
REGISTRY_CHANGED = "odoo_ha_addon/registry_changed"
# More entity changes than this in one message: browsers are told to read the instance again.
BUS_MAX_CHANGES = 200
# Fields of ha.instance the web client shows live; never the token.
INSTANCE_STATUS_FIELDS = (
    "status",
    "status_since",
    "last_event_at",
    "ha_version",
    "entity_count",
    "last_error",
)
MANAGER_GROUP = "odoo_ha_addon.group_ha_manager"
USER_GROUP = "odoo_ha_addon.group_ha_user"
INSTANCE_SCOPE_PREFIX = "ha_all"
GROUP_SCOPE_PREFIX = "ha_group"


def scope_channel(scope):
    """The bus channel of ``scope`` (an ha.instance or ha.entity.group record) today."""
    prefix = INSTANCE_SCOPE_PREFIX if scope._name == "ha.instance" else GROUP_SCOPE_PREFIX
    return (scope, f"{prefix}/{scope.bus_generation}")


class HaRealtimeUpdate(models.AbstractModel):
    """The one place that decides which bus channels carry Home Assistant data, who joins
    them, and that sends notifications on them (see the module docstring)."""

    _name = "ha.realtime.update"
    _description = "Home Assistant Realtime Updates"

    # Sending ------------------------------------------------------------------------------

    @api.model
    def _notify_entity_changes(self, instance, changes):
        """Send one batch of entity changes of ``instance``: all of it to the instance's
        scope, and to each entity group's scope the part about that group's entities.

        :param changes: compact diffs keyed by HA entity id, e.g.
            ``{"light.kitchen": {"state": "on", "last_updated": "..."}}``; ``None`` for an
            entity that is gone from Home Assistant (archived in Odoo)
        """
        if not changes:
            return
        send = self.env["bus.bus"]._sendone
        send(
            scope_channel(instance),
            ENTITY_CHANGES,
            {"instance_id": instance.id, "changes": changes},
        )
        for group, entity_ids in self._groups_holding(instance, list(changes)).items():
            part = {entity_id: changes[entity_id] for entity_id in entity_ids}
            send(
                scope_channel(group), ENTITY_CHANGES, {"instance_id": instance.id, "changes": part}
            )

    @api.model
    def _notify_entities_reload(self, instance):
        """Tell browsers to read the instance's entities again: too many changed at once
        (a snapshot after a reconnect) for one message to carry them all."""
        self._send_to_instance_scopes(instance, ENTITIES_RELOAD, {"instance_id": instance.id})

    @api.model
    def _notify_instance_status(self, instances):
        """Send the connection status of each of ``instances`` to the scopes that may read it."""
        for instance in instances:
            payload = {name: instance[name] for name in INSTANCE_STATUS_FIELDS}
            self._send_to_instance_scopes(
                instance, INSTANCE_STATUS, {"instance_id": instance.id, **payload}
            )

    @api.model
    def _notify_registry_changes(self, instance, changes):
        """Registry updates open pages show at once: the instance's areas and devices
        (renamed, added, removed, moved) and entities moved to another area or device
        (``RegistryChanges``)."""
        if changes.registry_changed:
            self._notify_registry_lists(instance)
        links = changes.entity_links
        if len(links) > BUS_MAX_CHANGES:
            self._notify_entities_reload(instance)
        elif links:
            self._notify_entity_changes(
                instance,
                {
                    entity_id: {"area_id": area_id, "device_id": device_id}
                    for entity_id, (area_id, device_id) in links.items()
                },
            )

    @api.model
    def _notify_registry_lists(self, instance):
        """The instance's areas and devices, as they are now, to every scope of the instance
        (after a registry sync or an edit from Odoo changed them)."""
        payload = {"instance_id": instance.id, **self.sudo()._registry_payload(instance)}
        self._send_to_instance_scopes(instance, REGISTRY_CHANGED, payload)

    @api.model
    def _registry_payload(self, instance):
        """The instance's areas and devices as pages show them (every reader of the instance
        may read both through the ORM)."""
        areas = self.env["ha.area"].search([("instance_id", "=", instance.id)])
        devices = self.env["ha.device"].search([("instance_id", "=", instance.id)])
        return {
            "areas": [
                {"id": a.id, "area_id": a.area_id, "name": a.name, "icon": a.icon or None}
                for a in areas
            ],
            "devices": [
                {"id": d.id, "name": d.display_name, "area_id": d.area_id.id or None}
                for d in devices
            ],
        }

    @api.model
    def _notify_user(self, user, notification_type, payload):
        """Send ``payload`` to the browser tabs of ``user`` only."""
        user._bus_send(notification_type, payload)

    def _send_to_instance_scopes(self, instance, notification_type, payload):
        """Instance-level facts (status, reload) go to the instance's scope and to every scope
        of its groups: every reader of the instance may read them through the ORM."""
        send = self.env["bus.bus"]._sendone
        send(scope_channel(instance), notification_type, payload)
        for group in self._watched_groups(instance):
            send(scope_channel(group), notification_type, payload)

    def _groups_holding(self, instance, entity_ids):
        """ha.entity.group (with members) -> the entity ids among ``entity_ids`` it holds."""
        self.env["ha.entity"].flush_model(["entity_id", "instance_id"])
        self.env["ha.entity.group"].flush_model(["entity_ids", "user_ids", "instance_id"])
        self.env.cr.execute(
            """
            SELECT rel.group_id, array_agg(entity.entity_id ORDER BY entity.entity_id)
              FROM ha_entity entity
              JOIN ha_entity_group_entity_rel rel ON rel.entity_id = entity.id
             WHERE entity.instance_id = %s AND entity.entity_id = ANY(%s)
               AND EXISTS (SELECT 1 FROM ha_entity_group_res_users_rel member
                            WHERE member.group_id = rel.group_id)
             GROUP BY rel.group_id
             ORDER BY rel.group_id
            """,
            (instance.id, entity_ids),
        )
        rows = self.env.cr.fetchall()
        groups = self.env["ha.entity.group"].sudo().browse([group_id for group_id, _ids in rows])
        return {group: ids for group, (_group_id, ids) in zip(groups, rows, strict=True)}

    def _watched_groups(self, instance):
        return (
            self.env["ha.entity.group"]
            .sudo()
            .search([("instance_id", "=", instance.id), ("user_ids", "!=", False)])
        )

    # Joining ------------------------------------------------------------------------------

    @api.model
    def _user_scopes(self, user):
        """The scopes ``user`` may join: every instance for a manager, the user's entity
        groups for a Home Assistant user, nothing for anyone else. The domains are those of
        the record rules of ha.instance and ha.entity.group (a test holds them equal); they
        run as superuser because access changes are computed while groups and rules are
        being written, e.g. during the module's own installation."""
        if not user or not user.active or not user._is_internal():
            return self.env["ha.instance"]
        env = self.sudo().env
        if user.has_group(MANAGER_GROUP):
            return env["ha.instance"].with_context(active_test=False).search([])
        if user.has_group(USER_GROUP):
            return env["ha.entity.group"].search([("user_ids", "in", user.id)])
        return self.env["ha.instance"]

    @api.model
    def _user_channels(self, user):
        return [scope_channel(scope) for scope in self._user_scopes(user)]

    # Access changes -----------------------------------------------------------------------

    @api.model
    def _access_snapshot(self, users):
        """user id -> the set of (model, id) scopes the user may join."""
        return {
            user.id: {(scope._name, scope.id) for scope in self._user_scopes(user)}
            for user in users.with_context(active_test=False)
        }

    @api.model
    def _apply_access_change(self, before, newcomers=None):
        """After a change that may have moved people in or out of scopes (``before`` from
        ``_access_snapshot``; ``newcomers``: users who may have gained access and were not in
        it): retire the channels of every scope someone lost, and tell the users who gained
        one to subscribe again."""
        self.env.flush_all()
        users = self.env["res.users"].with_context(active_test=False).browse(list(before))
        if newcomers:
            users |= newcomers
        after = self._access_snapshot(users)
        lost = set()
        for user in users:
            old_scopes, new_scopes = before.get(user.id, set()), after[user.id]
            if not (user.active and user._is_internal() and user.has_group(MANAGER_GROUP)):
                # A user who became a manager reads everything: their old scopes lose no one.
                lost |= old_scopes - new_scopes
            if new_scopes - old_scopes:
                self._notify_user(user, ACCESS_CHANGED, {})
        self._retire_scopes(lost)

    @api.model
    def _retire_scopes(self, scope_keys):
        """Move each scope to a new channel; its old channel's listeners are told first."""
        for model, scope_id in sorted(scope_keys):
            scope = self.env[model].sudo().with_context(active_test=False).browse(scope_id).exists()
            if not scope:
                continue
            self.env["bus.bus"]._sendone(scope_channel(scope), ACCESS_CHANGED, {})
            scope.bus_generation += 1

    @api.model
    def _notify_scopes_changed(self, scopes):
        """Members of ``scopes`` read different data now (entities added to or removed from
        a group): they are told to read it again; nobody lost a channel."""
        for scope in scopes.sudo():
            self.env["bus.bus"]._sendone(scope_channel(scope), ACCESS_CHANGED, {})
