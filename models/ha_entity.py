import json
import re

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..connector import history_rollups
from ..connector.settings import split_domains
from . import target_members
from .ha_entity_share import SHARE_NOW_KEY
from .res_groups import MANAGER_GROUP, USER_GROUP

# The entity groups that may hold an entity through an area, floor or label, as paths from
# the entity (what ha.entity.group._membership_sql reads): dependencies of the computes of who
# is given the entity.
TARGET_GROUP_PATHS = (
    "area_id.entity_group_ids.",
    "area_id.floor_id.entity_group_ids.",
    "label_ids.entity_group_ids.",
    "device_id.label_ids.entity_group_ids.",
    "area_id.label_ids.entity_group_ids.",
)
# What an entity domain looks like in Home Assistant ("sensor", "input_number").
DOMAIN_PATTERN = re.compile(r"^[a-z0-9_]+$")


def check_domain_list(env, text):
    """Raise ValidationError unless ``text`` lists entity domains ("sensor, binary_sensor")."""
    invalid = [domain for domain in split_domains(text) if not DOMAIN_PATTERN.match(domain)]
    if invalid:
        raise ValidationError(
            env._(
                "“%(domains)s” is not a list of entity domains: use lowercase names such as "
                "sensor, binary_sensor, separated by commas.",
                domains=", ".join(invalid),
            )
        )


class HaEntity(models.Model):
    """A Home Assistant entity as mirrored in Odoo.

    Columns fall in two groups that never overlap, so the connector's state writer and a
    person editing the record never fight over the same values:

    - HA-owned (written only by the connector, read-only in the UI): ``entity_id``,
      ``name``, ``state``, ``attributes``, ``last_changed``, ``last_updated``, ``area_id``,
      ``device_id``, ``unit_of_measurement``, ``ha_removed``;
    - Odoo-owned (edited by people): ``record_history``, ``group_ids``, ``note``, ``active``.

    ``history_backfill_pending`` is the one shared column: set when recording starts (a
    person turned it on, or the writer inserted a new entity that records by default) and
    cleared by the connector once it has fetched the recent past from Home Assistant.
    """

    _name = "ha.entity"
    _inherit = ["ha.registry.mirror"]
    _description = "Home Assistant Entity"
    # A manager's edit of these is made in Home Assistant's entity registry (ha.registry.mirror).
    _registry_fields = ("name", "area_id", "label_ids")
    _order = "instance_id, entity_id"
    _rec_names_search = ["name", "entity_id"]

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    entity_id = fields.Char(string="Entity ID", required=True, index=True, readonly=True)
    domain = fields.Char(compute="_compute_domain", store=True, index=True)
    name = fields.Char(
        readonly=True,
        help="Friendly name in Home Assistant. A manager's change renames the entity in Home "
        "Assistant; emptied, the entity takes its integration's name again.",
    )
    state = fields.Char(readonly=True)
    attributes = fields.Json(readonly=True)
    last_changed = fields.Datetime(readonly=True, help="When the state last changed (HA time).")
    last_updated = fields.Datetime(
        readonly=True, help="When the state or its attributes last changed (HA time)."
    )
    area_id = fields.Many2one(
        "ha.area",
        string="Area",
        ondelete="set null",
        readonly=True,
        domain="[('instance_id', '=', instance_id)]",
        help="The entity's area, its own or else its device's. A manager's change moves the "
        "entity in Home Assistant; emptied, the entity follows its device's area.",
    )
    device_id = fields.Many2one("ha.device", string="Device", ondelete="set null", readonly=True)
    floor_id = fields.Many2one(related="area_id.floor_id", string="Floor")
    label_ids = fields.Many2many(
        "ha.label",
        "ha_entity_label_rel",
        "entity_id",
        "label_id",
        string="Labels",
        domain="[('instance_id', '=', instance_id)]",
        help="The entity's own labels in Home Assistant (its device's and area's are theirs). "
        "A manager's change labels the entity in Home Assistant (2024.4 and later).",
    )
    # Categories sort automations, scripts, scenes and helpers in Home Assistant: the team's
    # business, not that of people a share grants the entity.
    category_ids = fields.Many2many(
        "ha.category",
        "ha_entity_category_rel",
        "entity_id",
        "category_id",
        string="Categories",
        readonly=True,
        groups=USER_GROUP,
    )
    unit_of_measurement = fields.Char(readonly=True)
    ha_removed = fields.Boolean(
        string="Removed from Home Assistant",
        readonly=True,
        help="Home Assistant no longer has this entity: it was archived, not deleted, so its "
        "history and groups survive; it comes back if the entity reappears.",
    )

    record_history = fields.Boolean(
        compute="_compute_record_history",
        store=True,
        readonly=False,
        help="Keep every state change of this entity for charts. New entities record by "
        "default when their domain is listed on their instance.",
    )
    history_backfill_pending = fields.Boolean(
        readonly=True,
        copy=False,
        help="Recording started and the recent past has not been fetched from Home Assistant "
        "yet; the connector does it as soon as the instance is connected.",
    )
    group_ids = fields.Many2many(
        "ha.entity.group",
        "ha_entity_group_entity_rel",
        "entity_id",
        "group_id",
        string="Groups",
    )
    # Who an entity group gives this entity to now: a group that picked it, or holds it
    # through one of its areas, floors or labels (ha.entity.group._membership_sql). The record
    # rules of Home Assistant users search it.
    group_user_ids = fields.Many2many(
        "res.users",
        string="Given By Entity Groups To",
        compute="_compute_group_user_ids",
        search="_search_group_user_ids",
        groups=MANAGER_GROUP,
    )
    # Shares of this entity itself; its device's and groups' shares may cover it too
    # (``shared_with_ids``).
    share_ids = fields.One2many(
        "ha.entity.share",
        "entity_id",
        string="Shares",
        readonly=True,
        groups=MANAGER_GROUP,
    )
    # Who a current share gives this entity to now: a share of the entity, its device, one of
    # its groups, its area or floor, or a label of it, its device or its area
    # (ha.entity.share._coverage_sql). The record rules of shares search it: its search
    # compares with the time of each query.
    shared_with_ids = fields.Many2many(
        "res.users",
        string="Currently Shared With",
        compute="_compute_shared_with_ids",
        search="_search_shared_with_ids",
        groups=MANAGER_GROUP,
    )
    # Notes are the team's (Home Assistant users and managers), not shown to people a share
    # grants the entity.
    note = fields.Text(groups=USER_GROUP)
    active = fields.Boolean(default=True)
    attributes_text = fields.Text(
        string="Attributes (JSON)",
        compute="_compute_attributes_text",
        help="The attributes as JSON.",
    )
    can_control = fields.Boolean(
        compute="_compute_can_control",
        help="Whether the current user may operate this entity (a control group or manager).",
    )

    _sql_constraints = [
        (
            "entity_id_instance_unique",
            "UNIQUE(instance_id, entity_id)",
            "An entity ID must be unique per Home Assistant instance.",
        ),
    ]

    @api.depends("entity_id")
    def _compute_domain(self):
        for entity in self:
            entity.domain = (entity.entity_id or "").partition(".")[0] or False

    @api.depends("domain")
    def _compute_record_history(self):
        # Not a dependency on the instance's list on purpose: changing it sets the default of
        # entities that appear later, never the choices already made for existing ones.
        for entity in self:
            entity.record_history = entity.domain in split_domains(
                entity.instance_id.sudo().history_domains
            )

    @api.depends("attributes")
    def _compute_attributes_text(self):
        for entity in self:
            entity.attributes_text = json.dumps(
                entity.attributes or {}, indent=2, sort_keys=True, ensure_ascii=False
            )

    @api.depends_context("uid", SHARE_NOW_KEY)
    def _compute_can_control(self):
        controllable = self._controllable_by(self.env.user)
        for entity in self:
            entity.can_control = entity in controllable

    @api.depends(
        *(
            f"{path}share_ids.{name}"
            for path in (
                "",
                "device_id.",
                "group_ids.",
                "area_id.",
                "area_id.floor_id.",
                "label_ids.",
                "device_id.label_ids.",
                "area_id.label_ids.",
                # shares of the groups that hold the entity through an area, floor or label
                *TARGET_GROUP_PATHS,
            )
            for name in (
                "user_id",
                "active",
                "date_start",
                "date_end",
                "include_later",
                "granted_entity_ids",
            )
        ),
        "device_id",
        "group_ids",
        "area_id.floor_id",
        "label_ids",
        "device_id.label_ids",
        "area_id.label_ids",
    )
    @api.depends_context(SHARE_NOW_KEY)
    def _compute_shared_with_ids(self):
        # The record rules' check of given records (filtered_domain) reads this value: the
        # dependencies keep it from outliving a change of a share, device or group.
        self._compute_users("shared_with_ids", self._shared_rows)

    def _search_shared_with_ids(self, operator, value):
        if operator not in ("in", "=") or not value:
            raise UserError(self.env._("Search entities by “shared with” with = or in a user."))
        return self._search_users(self._shared_rows, value)

    @api.depends(
        *(
            f"{path}{name}"
            for path in TARGET_GROUP_PATHS
            for name in ("user_ids", "include_later", "granted_entity_ids")
        ),
        "group_ids.user_ids",
        "area_id.floor_id",
        "label_ids",
        "device_id.label_ids",
        "area_id.label_ids",
    )
    def _compute_group_user_ids(self):
        # The record rules' check of given records (filtered_domain) reads this value: the
        # dependencies keep it from outliving a change of a group or of what it holds.
        self._compute_users("group_user_ids", self._group_rows)

    def _search_group_user_ids(self, operator, value):
        if operator not in ("in", "=") or not value:
            raise UserError(self.env._("Search entities by group users with = or in a user."))
        return self._search_users(self._group_rows, value)

    def _compute_users(self, field_name, rows_of):
        """Set ``field_name`` of each entity to the users ``rows_of`` gives it to."""
        users = {}
        for entity_id, user_id, _control in rows_of(entity_ids=self.ids) if self.ids else ():
            users.setdefault(entity_id, []).append(user_id)
        # One cache update for all: the record rules' check of every entity a page reads
        # computes both fields, and assigning 10,000 many2many values one by one took 1.8 s.
        self.env.cache.update(
            self, self._fields[field_name], [tuple(users.get(id_, ())) for id_ in self._ids]
        )

    @api.model
    def _search_users(self, rows_of, value):
        """The domain of the entities ``rows_of`` gives to the user(s) ``value``: their ids,
        not the query. Embedded in the record rules of every model that follows entities
        (three times in a label's), the share coverage made each query's plan so large that
        PostgreSQL's JIT spent seconds compiling it."""
        user_ids = [value] if isinstance(value, int) else list(value)
        return [("id", "in", list({entity_id for entity_id, _u, _c in rows_of(user_ids=user_ids)}))]

    @api.model
    def _group_rows(self, entity_ids=None, user_ids=None):
        """``(entity id, user id, control)`` of what entity groups give their users now, for
        the entities ``entity_ids`` and/or the users ``user_ids``."""
        self.env["ha.entity.group"].flush_model(["user_ids"])
        source = SQL(
            "SELECT member.entity_id, grp_user.user_id, member.control"
            "  FROM (%s) member"
            "  JOIN ha_entity_group_res_users_rel grp_user"
            "    ON grp_user.group_id = member.group_id",
            self.env["ha.entity.group"]._membership_sql(),
        )
        return self._access_rows(source, entity_ids, user_ids)

    @api.model
    def _shared_rows(self, entity_ids=None, user_ids=None):
        """``(entity id, user id, control)`` of what current shares grant now, for the
        entities ``entity_ids`` and/or the users ``user_ids``."""
        return self._access_rows(self.env["ha.entity.share"]._coverage_sql(), entity_ids, user_ids)

    @api.model
    def _access_rows(self, source, entity_ids, user_ids):
        """The distinct rows ``(entity_id, user_id, control)`` of ``source`` for the entities
        ``entity_ids`` and/or the users ``user_ids`` (None: all)."""
        conditions = []
        if entity_ids is not None:
            conditions.append(SQL("access.entity_id = ANY(%s::int[])", list(entity_ids)))
        if user_ids is not None:
            conditions.append(SQL("access.user_id = ANY(%s::int[])", list(user_ids)))
        return target_members.execute_without_jit(
            self.env,
            SQL(
                "SELECT DISTINCT access.entity_id, access.user_id, access.control"
                "  FROM (%s) access WHERE %s",
                source,
                SQL(" AND ").join(conditions) if conditions else SQL("TRUE"),
            ),
        )

    @api.depends("name", "entity_id")
    def _compute_display_name(self):
        for entity in self:
            entity.display_name = entity.name or entity.entity_id

    @api.model_create_multi
    def create(self, vals_list):
        entities = super().create(vals_list)
        entities.filtered("record_history")._request_history_backfill()
        return entities

    def write(self, vals):
        if "record_history" not in vals:
            return super().write(vals)
        starting = self.browse()
        if vals["record_history"]:
            starting = self.filtered(lambda entity: not entity.record_history)
        else:
            vals = dict(vals, history_backfill_pending=False)
        result = super().write(vals)
        starting._request_history_backfill()
        if not vals["record_history"]:
            # A stopped entity's last state must not be carried on through the time nothing
            # was recorded.
            self.env["ha.entity.history.rollup"].flush_model()
            history_rollups.forget_cursors(self.env.cr, self.ids)
        return result

    def _registry_send_edit(self, edited):
        payload = {"entity_id": self.entity_id}
        if "name" in edited:
            payload["name"] = self._registry_text(edited["name"])
        if "area_id" in edited:
            payload["area_id"] = self._registry_area_id(edited["area_id"])
        if "label_ids" in edited:
            payload["labels"] = self._registry_label_ids(edited["label_ids"])
        answer = self._registry_call("config/entity_registry/update", **payload)
        entry = (answer or {}).get("entity_entry") or {}
        stored = {}
        if "name" in edited:
            stored["name"] = entry.get("name") or entry.get("original_name") or self.entity_id
        if "area_id" in edited:
            area = self._registry_area_record(self.instance_id, entry.get("area_id"))
            stored["area_id"] = (area or self.device_id.area_id).id
        if "label_ids" in edited:
            stored["label_ids"] = self._registry_label_records(
                self.instance_id, entry.get("labels")
            )
        return stored

    def _registry_notify(self, stored):
        change = {}
        if "name" in stored:
            change["name"] = stored["name"]
        if "area_id" in stored:
            change["area_id"] = stored["area_id"] or None
        if "label_ids" in stored:
            change["label_ids"] = sorted(self.label_ids.ids)
            self.env["ha.realtime.update"]._notify_shares_reload(self.instance_id, [self.entity_id])
        if change:
            self.env["ha.realtime.update"]._notify_entity_changes(
                self.instance_id, {self.entity_id: change}
            )

    def _request_history_backfill(self):
        """Have the connector fetch the recent past of these entities from Home Assistant
        (see connector/history_backfill.py); it is told when this transaction commits."""
        if not self:
            return
        entities = self.sudo()
        entities.write({"history_backfill_pending": True})
        entities.instance_id._notify_connection_change("backfill")

    def action_record_history(self):
        """Bulk action: start recording these entities' states (their recent past included)."""
        self.check_access("write")
        self.filtered(lambda entity: not entity.record_history).record_history = True

    def action_stop_recording(self):
        """Bulk action: stop recording; what was recorded stays until the retention ends."""
        self.check_access("write")
        self.filtered("record_history").record_history = False

    def action_open_history(self):
        """The History client action, showing this entity's history."""
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id("odoo_ha_addon.ha_history_action")
        action["params"] = {"entity_ids": [self.entity_id], "ha_instance_id": self.instance_id.id}
        return action

    def _controllable_by(self, user, shares=True):
        """The entities of ``self`` that ``user`` may operate: all for managers, otherwise
        those a "View and control" group of the user gives control of (picked, or granted
        through its areas, floors and labels) or (unless ``shares`` is False) a current "View
        and control" share with the user does."""
        if user._is_internal() and user.has_group(MANAGER_GROUP):
            return self
        shared = self.browse()
        if shares:
            shared = self._shared_for_control(user)
        if not (user._is_internal() and user.has_group(USER_GROUP)) or not self.ids:
            return self & shared
        rows = self._group_rows(entity_ids=self.ids, user_ids=[user.id])
        controlled = {entity_id for entity_id, _user_id, control in rows if control}
        return self.filtered(lambda entity: entity in shared or entity.id in controlled)

    def _history_readable_by(self, user):
        """The entities of ``self`` whose history ``user`` may read: what the record rules of
        ha.entity.history allow (all for managers, the entities the user's groups give for
        Home Assistant users; shares grant no history)."""
        if not user._is_internal() or not user.has_group(USER_GROUP):
            return self.browse()
        if user.has_group(MANAGER_GROUP) or not self.ids:
            return self
        given = {entity_id for entity_id, _u, _c in self._group_rows(self.ids, [user.id])}
        return self.filtered(lambda entity: entity.id in given)

    def _shared_for_control(self, user):
        """The entities of ``self`` a current "View and control" share grants ``user`` control
        of (a device's or group's entities added later are never among them unless a manager
        granted them)."""
        if not self.ids:
            return self.browse()
        rows = self._shared_rows(entity_ids=self.ids, user_ids=[user.id])
        controlled = {entity_id for entity_id, _user_id, control in rows if control}
        return self.filtered(lambda entity: entity.id in controlled)

    def _api_data(self, user):
        """What the JSON API and the web client show of each entity (never more)."""
        controllable = self._controllable_by(user)
        # The labels ``user`` may read (people a share grants: those of the shared entities);
        # each entity's label ids are sorted, as the bus's entity diffs carry them.
        readable_labels = set(self.label_ids.with_user(user)._filtered_access("read").ids)
        return [
            {
                "id": entity.id,
                "entity_id": entity.entity_id,
                "name": entity.name or entity.entity_id,
                "domain": entity.domain,
                "state": entity.state,
                "attributes": entity.attributes or {},
                "unit_of_measurement": entity.unit_of_measurement or None,
                "last_changed": entity.last_changed and entity.last_changed.isoformat() + "Z",
                "last_updated": entity.last_updated and entity.last_updated.isoformat() + "Z",
                "area_id": entity.area_id.id or None,
                "device_id": entity.device_id.id or None,
                "label_ids": sorted(i for i in entity.label_ids.ids if i in readable_labels),
                "record_history": entity.record_history,
                "can_control": entity in controllable,
            }
            for entity in self
        ]
