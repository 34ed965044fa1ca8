from odoo import api, fields, models

# Domains whose states are measurements worth charting: history is on by default for them.
HISTORY_BY_DEFAULT_DOMAINS = ("sensor", "binary_sensor")


class HaEntity(models.Model):
    """A Home Assistant entity as mirrored in Odoo.

    Columns fall in two groups that never overlap, so the connector's state writer and a
    person editing the record never fight over the same values:

    - HA-owned (written only by the connector, read-only in the UI): ``entity_id``,
      ``name``, ``state``, ``attributes``, ``last_changed``, ``last_updated``, ``area_id``,
      ``device_id``, ``unit_of_measurement``, ``ha_removed``;
    - Odoo-owned (edited by people): ``record_history``, ``group_ids``, ``note``, ``active``.
    """

    _name = "ha.entity"
    _description = "Home Assistant Entity"
    _order = "instance_id, entity_id"
    _rec_names_search = ["name", "entity_id"]

    instance_id = fields.Many2one(
        "ha.instance", string="Instance", required=True, ondelete="cascade", index=True
    )
    entity_id = fields.Char(string="Entity ID", required=True, index=True, readonly=True)
    domain = fields.Char(compute="_compute_domain", store=True, index=True)
    name = fields.Char(readonly=True, help="Friendly name in Home Assistant.")
    state = fields.Char(readonly=True)
    attributes = fields.Json(readonly=True)
    last_changed = fields.Datetime(readonly=True, help="When the state last changed (HA time).")
    last_updated = fields.Datetime(
        readonly=True, help="When the state or its attributes last changed (HA time)."
    )
    area_id = fields.Many2one("ha.area", string="Area", ondelete="set null", readonly=True)
    device_id = fields.Many2one("ha.device", string="Device", ondelete="set null", readonly=True)
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
        help="Keep every state change of this entity for charts.",
    )
    group_ids = fields.Many2many(
        "ha.entity.group",
        "ha_entity_group_entity_rel",
        "entity_id",
        "group_id",
        string="Groups",
    )
    note = fields.Text()
    active = fields.Boolean(default=True)

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
        for entity in self:
            entity.record_history = entity.domain in HISTORY_BY_DEFAULT_DOMAINS

    @api.depends("name", "entity_id")
    def _compute_display_name(self):
        for entity in self:
            entity.display_name = entity.name or entity.entity_id

    def _controllable_by(self, user):
        """The entities of ``self`` that ``user`` may operate: all for managers, otherwise
        those in a "View and control" group the user belongs to."""
        if user.has_group("odoo_ha_addon.group_ha_manager"):
            return self
        # sudo: group membership of other users is not readable by plain users.
        return self.filtered(
            lambda entity: any(
                group.access_level == "control" and user in group.user_ids
                for group in entity.sudo().group_ids
            )
        )

    def _api_data(self, user):
        """What the JSON API and the web client show of each entity (never more)."""
        controllable = self._controllable_by(user)
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
                "record_history": entity.record_history,
                "can_control": entity in controllable,
            }
            for entity in self
        ]
