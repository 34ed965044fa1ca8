"""Who receives what over Odoo's bus: the access scopes of Home Assistant data.

Every Home Assistant notification travels on a *scope channel*, never on a channel that all
readers of an instance share:

- ``(ha.instance, "ha_all/<generation>")``: every entity of the instance. Only Home Assistant
  managers join it.
- ``(ha.entity.group, "ha_group/<generation>")``: the entities of one entity group. Only the
  group's members (Home Assistant users who are not managers) join it.
- ``(ha.entity.share, "ha_share/<generation>")``: the entities of one share. Only the person
  it is shared with joins it, and only while the share is current; a flush sends to a share
  only while it is current, so delivery stops at its expiry to the second.

``ir.websocket`` joins a session to the scopes of its user, found with the domains of the
record rules, so a session never joins more than its user may read. A flush of entity changes makes
one bus row per affected scope (the instance's, plus one per group or current share holding
a changed entity), whatever the number of users.

A scope's *generation* is part of its channel name. When someone loses access to a scope
(removed from a group, no longer a manager or an HA user, archived), the generation goes
up: the old channel is never used again, so an open socket that still listens to it
receives nothing more, whatever its client does. Members who keep their access are told
(``access_changed``) to subscribe again and read their data anew; so are users who gained a
scope.
"""

import contextlib
import hashlib

from odoo import api, models
from odoo.tools import SQL

from ..connector.orm import BUS_MAX_CHANGES
from . import target_members
from .res_groups import MANAGER_GROUP, USER_GROUP

# Notification types the web client listens to.
ENTITY_CHANGES = "odoo_ha_addon/entity_changes"
ENTITIES_RELOAD = "odoo_ha_addon/entities_reload"
INSTANCE_STATUS = "odoo_ha_addon/instance_status"
ACCESS_CHANGED = "odoo_ha_addon/access_changed"
REGISTRY_CHANGED = "odoo_ha_addon/registry_changed"
MACHINE_STATES = "odoo_ha_addon/machine_states"
# Fields of ha.instance the web client shows live; never the token.
INSTANCE_STATUS_FIELDS = (
    "status",
    "status_since",
    "last_event_at",
    "ha_version",
    "entity_count",
    "last_error",
)
# Status fields for Home Assistant users only (ha.instance field groups): not sent to shares.
USER_ONLY_STATUS_FIELDS = ("ha_version", "entity_count", "last_error")
SCOPE_PREFIXES = {
    "ha.instance": "ha_all",
    "ha.entity.group": "ha_group",
    "ha.entity.share": "ha_share",
}


def user_channel(user):
    """The channel of ``user``'s own Home Assistant events (instance switched, access
    changed): every session of the user joins it, browser tabs and device-key apps alike."""
    return (user, "odoo_ha_addon")


def scope_channel(scope):
    """The bus channel of ``scope`` (an ha.instance, ha.entity.group or ha.entity.share
    record) today."""
    return (scope, f"{SCOPE_PREFIXES[scope._name]}/{scope.bus_generation}")


class HaRealtimeUpdate(models.AbstractModel):
    """The one place that decides which bus channels carry Home Assistant data, who joins
    them, and that sends notifications on them (see the module docstring)."""

    _name = "ha.realtime.update"
    _description = "Home Assistant Realtime Updates"

    # Sending ------------------------------------------------------------------------------

    @api.model
    def _notify_entity_changes(self, instance, changes):
        """Send one batch of entity changes of ``instance``: all of it to the instance's
        scope, and to each entity group's and current share's scope the part about its
        entities.

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
        for scope, entity_ids in self._scopes_holding(instance, list(changes)).items():
            part = {entity_id: changes[entity_id] for entity_id in entity_ids}
            send(
                scope_channel(scope), ENTITY_CHANGES, {"instance_id": instance.id, "changes": part}
            )

    @api.model
    def _notify_machine_states(self, instance, machine_ids):
        """Send the health of machines of ``instance`` that changed: all to the instance's
        scope, and to each entity group's scope the machines metered by its entities (the
        machines its members may read). Shares carry no machines."""
        machines = self.env["ha.machine"].sudo().browse(machine_ids).exists()
        if not machines:
            return
        payload = machines._health_payload()
        send = self.env["bus.bus"]._sendone
        send(
            scope_channel(instance),
            MACHINE_STATES,
            {"instance_id": instance.id, "machines": payload},
        )
        by_sensor = {}
        for machine in machines:
            by_sensor.setdefault(machine.sensor_id.entity_id, []).append(machine.id)
        for scope, entity_ids in self._scopes_holding(instance, list(by_sensor)).items():
            if scope._name != "ha.entity.group":
                continue
            part = {
                machine_id: payload[machine_id]
                for entity_id in entity_ids
                for machine_id in by_sensor[entity_id]
            }
            send(
                scope_channel(scope),
                MACHINE_STATES,
                {"instance_id": instance.id, "machines": part},
            )

    @api.model
    def _notify_entities_reload(self, instance):
        """Tell browsers to read the instance's entities again: too many changed at once
        (a snapshot after a reconnect) for one message to carry them all."""
        self._send_to_instance_scopes(instance, ENTITIES_RELOAD, {"instance_id": instance.id})

    @api.model
    def _notify_instance_status(self, instances):
        """Send the connection status of each of ``instances`` to the scopes that may read it."""
        # sudo: the status fields include the last error, which only HA users may read.
        for instance in instances.sudo():
            payload = {"instance_id": instance.id}
            payload.update((name, instance[name]) for name in INSTANCE_STATUS_FIELDS)
            shared = {
                **payload,
                **dict.fromkeys(USER_ONLY_STATUS_FIELDS),
            }
            self._send_to_instance_scopes(
                instance, INSTANCE_STATUS, payload, shares=(INSTANCE_STATUS, shared)
            )

    @api.model
    def _notify_registry_changes(self, instance, changes, before=None):
        """Registry updates open pages show at once: the instance's floors, labels, areas and
        devices (renamed, added, removed, moved) and entities moved to another area or device
        or labelled anew (``RegistryChanges``). ``before``: ``_scope_members`` of the instance
        before the update; the scopes that lost entities move to new channels."""
        if before is not None:
            self._retire_shrunk_scopes(instance, before)
        if changes.registry_changed:
            self._notify_registry_lists(instance)
        elif changes.entity_labels:
            # People a share grants read only the labels of their entities: one they could
            # not read before is read with the rest.
            self._notify_shares_reload(instance, changes.entity_labels)
        diffs = {
            entity_id: {"area_id": area_id, "device_id": device_id}
            for entity_id, (area_id, device_id) in changes.entity_links.items()
        }
        for entity_id, label_ids in changes.entity_labels.items():
            diffs.setdefault(entity_id, {})["label_ids"] = list(label_ids)
        if len(diffs) > BUS_MAX_CHANGES:
            self._notify_entities_reload(instance)
        elif diffs:
            self._notify_entity_changes(instance, diffs)

    def _notify_shares_reload(self, instance, entity_ids):
        """Tell the current shares holding any of ``entity_ids`` to read their data again."""
        send = self.env["bus.bus"]._sendone
        for scope in self._scopes_holding(instance, entity_ids):
            if scope._name == "ha.entity.share":
                send(scope_channel(scope), ENTITIES_RELOAD, {"instance_id": instance.id})

    @api.model
    def _notify_registry_lists(self, instance):
        """The instance's floors, labels, areas and devices, as they are now, to every scope
        of the instance (after a registry sync or an edit from Odoo changed them). People a
        share grants may read only those of their entities: they are told to read again."""
        payload = {"instance_id": instance.id, **self.sudo()._registry_payload(instance)}
        self._send_to_instance_scopes(
            instance,
            REGISTRY_CHANGED,
            payload,
            shares=(ENTITIES_RELOAD, {"instance_id": instance.id}),
        )

    @api.model
    def _registry_payload(self, instance):
        """The instance's floors, labels, areas and devices as pages show them, those the
        environment's user may read through the ORM (Home Assistant users: all of the
        instance; people a share grants entities: those of the shared entities)."""
        domain = [("instance_id", "=", instance.id)]
        floors = self.env["ha.floor"].search(domain)
        areas = self.env["ha.area"].search(domain)
        devices = self.env["ha.device"].search(domain)
        labels = self.env["ha.label"].search(domain)
        return {
            "floors": [
                {
                    "id": f.id,
                    "floor_id": f.floor_id,
                    "name": f.name,
                    "level": f.level if f.has_level else None,
                    "icon": f.icon or None,
                }
                for f in floors
            ],
            "areas": [
                {
                    "id": a.id,
                    "area_id": a.area_id,
                    "name": a.name,
                    "icon": a.icon or None,
                    "floor_id": a.floor_id.id if a.floor_id in floors else None,
                }
                for a in areas
            ],
            "devices": [
                {"id": d.id, "name": d.display_name, "area_id": d.area_id.id or None}
                for d in devices
            ],
            "labels": [
                {
                    "id": label.id,
                    "label_id": label.label_id,
                    "name": label.name,
                    "color": label.color or None,
                    "icon": label.icon or None,
                }
                for label in labels
            ],
        }

    @api.model
    def _notify_user(self, user, notification_type, payload):
        """Send ``payload`` to the sessions of ``user`` only (browser tabs and outside apps)."""
        self.env["bus.bus"]._sendone(user_channel(user), notification_type, payload)

    def _send_to_instance_scopes(self, instance, notification_type, payload, shares=None):
        """Instance-level facts (status, reload) go to the instance's scope and to every scope
        of its groups and current shares: every reader of the instance may read them through
        the ORM. ``shares``: another (notification type, payload) for the shares' scopes."""
        send = self.env["bus.bus"]._sendone
        send(scope_channel(instance), notification_type, payload)
        for group in self._watched_groups(instance):
            send(scope_channel(group), notification_type, payload)
        share_type, share_payload = shares or (notification_type, payload)
        for share in self._current_shares(instance):
            send(scope_channel(share), share_type, share_payload)

    def _scopes_holding(self, instance, entity_ids):
        """Entity group (with members) or current share -> the entity ids among
        ``entity_ids`` it holds (a share: what it covers now, ha.entity.share._coverage_sql)."""
        self.env["ha.entity"].flush_model(["entity_id", "instance_id"])
        self.env["ha.entity.group"].flush_model(["user_ids"])
        rows = target_members.execute_without_jit(
            self.env,
            SQL(
                """
                SELECT 'ha.entity.group', rel.group_id,
                       array_agg(DISTINCT entity.entity_id ORDER BY entity.entity_id)
                  FROM ha_entity entity
                  JOIN (%(membership)s) rel ON rel.entity_id = entity.id
                 WHERE entity.instance_id = %(instance)s AND entity.entity_id = ANY(%(ids)s)
                   AND EXISTS (SELECT 1 FROM ha_entity_group_res_users_rel member
                                WHERE member.group_id = rel.group_id)
                 GROUP BY rel.group_id
                 UNION ALL
                SELECT 'ha.entity.share', coverage.share_id,
                       array_agg(DISTINCT entity.entity_id ORDER BY entity.entity_id)
                  FROM (%(coverage)s) coverage
                  JOIN ha_entity entity ON entity.id = coverage.entity_id
                 WHERE entity.instance_id = %(instance)s AND entity.entity_id = ANY(%(ids)s)
                 GROUP BY coverage.share_id
                 ORDER BY 1, 2
                """,
                instance=instance.id,
                ids=list(entity_ids),
                coverage=self.env["ha.entity.share"]._coverage_sql(),
                membership=self.env["ha.entity.group"]._membership_sql(),
            ),
        )
        return {self.env[model].sudo().browse(scope_id): ids for model, scope_id, ids in rows}

    def _watched_groups(self, instance):
        return (
            self.env["ha.entity.group"]
            .sudo()
            .search([("instance_id", "=", instance.id), ("user_ids", "!=", False)])
        )

    def _current_shares(self, instance):
        return (
            self.env["ha.entity.share"]
            .sudo()
            .search([("instance_id", "=", instance.id), ("is_current", "=", True)])
        )

    # Joining ------------------------------------------------------------------------------

    @api.model
    def _user_scopes(self, user):
        """The scopes ``user`` may join (a list of records): every instance for a manager;
        otherwise the user's current shares (portal and internal users alike) and, for a Home
        Assistant user, the user's entity groups. The domains are those of the record rules
        of ha.instance, ha.entity.group and ha.entity.share (a test holds them equal); they
        run as superuser because access changes are computed while groups and rules are
        being written, e.g. during the module's own installation."""
        if not user or not user.active or user._is_public():
            return []
        env = self.sudo().env
        internal = user._is_internal()
        if internal and user.has_group(MANAGER_GROUP):
            # A manager's scopes are every instance: a handful, not a table to page through.
            return list(
                env["ha.instance"].with_context(active_test=False).search([])  # pylint: disable=no-search-all
            )
        scopes = list(
            env["ha.entity.share"].search([("user_id", "=", user.id), ("is_current", "=", True)])
        )
        if internal and user.has_group(USER_GROUP):
            scopes = list(env["ha.entity.group"].search([("user_ids", "in", user.id)])) + scopes
        return scopes

    @api.model
    def _user_channels(self, user):
        return [scope_channel(scope) for scope in self._user_scopes(user)]

    @api.model
    def _session_channels(self, user):
        """The Home Assistant channels a session of ``user`` joins: the user's own and the
        user's scopes."""
        if not user or user._is_public():
            return []
        return [user_channel(user), *self._user_channels(user)]

    @api.model
    def _channels_version(self, user):
        """A fingerprint of the channels ``user``'s sessions join: an outside client that
        was offline compares it to know whether its access changed meanwhile (the
        ``access_changed`` telling it went to a channel it no longer listens to)."""
        names = sorted(
            f"{scope._name}/{scope.id}/{name}" for scope, name in self._user_channels(user)
        )
        return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]

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
    def _scope_members(self, instance):
        """(model, id) -> set of entity ids, for the scopes of ``instance`` whose entities
        follow Home Assistant's registries: its entity groups and its current shares of a
        device, group, area, floor or label."""
        rows = target_members.execute_without_jit(
            self.env,
            SQL(
                """
                SELECT 'ha.entity.group', member.group_id, array_agg(DISTINCT member.entity_id)
                  FROM (%(membership)s) member
                  JOIN ha_entity_group grp ON grp.id = member.group_id
                 WHERE grp.instance_id = %(instance)s
                 GROUP BY member.group_id
                 UNION ALL
                SELECT 'ha.entity.share', coverage.share_id, array_agg(DISTINCT coverage.entity_id)
                  FROM (%(coverage)s) coverage
                  JOIN ha_entity_share share ON share.id = coverage.share_id
                 WHERE share.instance_id = %(instance)s AND share.entity_id IS NULL
                 GROUP BY coverage.share_id
                """,
                instance=instance.id,
                membership=self.env["ha.entity.group"]._membership_sql(),
                coverage=self.env["ha.entity.share"]._coverage_sql(),
            ),
        )
        return {(model, scope_id): set(ids) for model, scope_id, ids in rows}

    @api.model
    def _retire_shrunk_scopes(self, instance, before):
        """Move to new channels the scopes of ``instance`` that hold fewer entities than in
        ``before`` (``_scope_members``): their readers must not replay the rows of entities
        they lost (an entity moved out of a shared area, a label taken off)."""
        after = self._scope_members(instance)
        self._retire_scopes({key for key, ids in before.items() if ids - after.get(key, set())})

    @contextlib.contextmanager
    def _retiring_shrunk_scopes(self, instances):
        """Around a change of the registries of ``instances`` made through the ORM: the
        scopes it shrinks move to new channels."""
        before = {instance: self._scope_members(instance) for instance in instances}
        yield
        for instance, members in before.items():
            self._retire_shrunk_scopes(instance, members)

    @api.model
    def _notify_scopes_changed(self, scopes):
        """Members of ``scopes`` read different data now (entities added to or removed from
        a group): they are told to read it again; nobody lost a channel."""
        for scope in scopes.sudo():
            self.env["bus.bus"]._sendone(scope_channel(scope), ACCESS_CHANGED, {})
