"""Edits of Home Assistant's registries made from Odoo, written through to Home Assistant.

Areas, floors, labels, devices, the names and areas of entities and the labels of entities,
devices and areas belong to Home Assistant: Odoo mirrors them (connector/registry_sync.py).
A manager who edits one of these values in Odoo edits it
in Home Assistant: the change is sent as the registry command it stands for, and what Home
Assistant answers is what Odoo stores, never the value as typed. When Home Assistant refuses
(instance not connected, unknown area, entity not in its registry) the user gets the reason
and Odoo changes nothing.

Who writes what:

- a user's write (a manager: the access rules keep everyone else out) of a registry field is
  sent to Home Assistant first;
- superuser writes are the mirror itself (the answers stored here, fixtures, system code)
  and are stored as they are; the connector writes the mirror with SQL of its own.

No loop: Home Assistant's registry event after an edit makes the connector read the
registries again, which stores the same values and sends nothing back.
"""

from odoo import Command, _, api, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..connector.locks import lock_instance_registry
from ..hass import errors

# Registry commands wait this long for Home Assistant.
REGISTRY_TIMEOUT_S = 10.0


class HaRegistryMirror(models.AbstractModel):
    _name = "ha.registry.mirror"
    _description = "Home Assistant Registry Mirror"

    # Fields whose edits are sent to Home Assistant; set by each model.
    _registry_fields = ()

    def write(self, vals):
        edited = {name: vals[name] for name in self._registry_fields if name in vals}
        if not edited or self.env.su:
            return super().write(vals)
        self.check_access("write")
        self._registry_lock()
        realtime = self.env["ha.realtime.update"].sudo()
        with realtime._retiring_shrunk_scopes(self.instance_id):
            for record in self:
                answered = record._registry_send_edit(edited)
                super(HaRegistryMirror, record.sudo()).write(answered)
                record.sudo()._registry_notify(answered)
        rest = {name: value for name, value in vals.items() if name not in edited}
        return super().write(rest) if rest else True

    def _registry_lock(self):
        """Keep the connector off these rows until this transaction ends: its registry sync
        waits for the instance's registry lock, its state writer for the rows' locks. Home
        Assistant's answer is then stored without a concurrent update making this
        transaction fail after Home Assistant already made the change."""
        for instance in self.instance_id:
            lock_instance_registry(self.env.cr, instance.id)
        if self.ids:
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM %s WHERE id IN %s FOR UPDATE",
                    SQL.identifier(self._table),
                    tuple(self.ids),
                )
            )

    def _registry_send_edit(self, edited):
        """Send ``edited`` (field -> new value) to Home Assistant; return the values to store,
        from Home Assistant's answer."""
        raise NotImplementedError

    def _registry_notify(self, stored):
        """Tell open pages what the edit changed (``stored``: the values written), when this
        transaction commits: they need not wait for Home Assistant's registry event."""
        self.env["ha.realtime.update"]._notify_registry_lists(self.instance_id)

    def _registry_call(self, message_type, **payload):
        """One registry command on this record's instance; Home Assistant's refusals become
        a ``UserError`` that says why."""
        instance = self.instance_id
        try:
            # sudo: ws_call is for managers and system code; the caller checked write access.
            return instance.sudo().ws_call(message_type, payload, timeout=REGISTRY_TIMEOUT_S)
        except errors.NotConnected as error:
            raise UserError(
                _(
                    "%(instance)s is not connected, so Home Assistant cannot be changed now: "
                    "%(reason)s",
                    instance=instance.name,
                    reason=error,
                )
            ) from None
        except errors.CommandFailed as error:
            raise UserError(
                _("Home Assistant refused the change: %(reason)s", reason=error.message)
            ) from None
        except errors.HAError as error:
            raise UserError(
                _("The change could not be made in Home Assistant: %(reason)s", reason=error)
            ) from None

    @staticmethod
    def _registry_text(value):
        """A name as Home Assistant takes it: trimmed, and None (its own default) when empty."""
        return (value or "").strip() or None

    def _registry_area_id(self, area_id):
        """The Home Assistant id of the ha.area ``area_id`` (False: none), which must belong
        to this record's instance, checked against Home Assistant's current areas: it accepts
        unknown area ids without a word."""
        area = self.env["ha.area"].browse(area_id or [])
        if not area:
            return None
        if area.instance_id != self.instance_id:
            raise UserError(_("The area must belong to the same Home Assistant instance."))
        known = {entry["area_id"] for entry in self._registry_call("config/area_registry/list")}
        if area.area_id not in known:
            raise UserError(
                _(
                    "The area %(area)s no longer exists in Home Assistant; choose another one.",
                    area=area.name,
                )
            )
        return area.area_id

    def _registry_floor_id(self, floor_id):
        """The Home Assistant id of the ha.floor ``floor_id`` (False: none), which must belong
        to this record's instance."""
        floor = self.env["ha.floor"].sudo().browse(floor_id or [])
        if not floor:
            return None
        if floor.instance_id != self.instance_id:
            raise UserError(_("The floor must belong to the same Home Assistant instance."))
        return floor.floor_id

    @api.model
    def _registry_floor_record(self, instance, ha_floor_id):
        """The ha.floor of ``instance`` for a Home Assistant floor id (empty if none)."""
        if not ha_floor_id:
            return self.env["ha.floor"]
        return (
            self.env["ha.floor"]
            .sudo()
            .search([("instance_id", "=", instance.id), ("floor_id", "=", ha_floor_id)], limit=1)
        )

    def _registry_label_ids(self, commands):
        """The Home Assistant ids of the labels that the x2many ``commands`` on ``label_ids``
        leave on this record; they must be labels of its instance."""
        ids = list(self.sudo().label_ids.ids)
        for command in commands:
            kind = command[0]
            if kind == Command.SET:
                ids = list(command[2])
            elif kind == Command.LINK:
                ids.append(command[1])
            elif kind == Command.UNLINK:
                ids = [label_id for label_id in ids if label_id != command[1]]
            elif kind == Command.CLEAR:
                ids = []
            else:
                raise UserError(_("Choose labels among the instance's labels."))
        labels = self.env["ha.label"].sudo().browse(dict.fromkeys(ids)).exists()
        if labels.instance_id - self.instance_id:
            raise UserError(_("The labels must belong to the same Home Assistant instance."))
        return labels.mapped("label_id")

    @api.model
    def _registry_label_records(self, instance, ha_label_ids):
        """``label_ids`` values: the ha.label of ``instance`` for Home Assistant label ids."""
        labels = (
            self.env["ha.label"]
            .sudo()
            .search([("instance_id", "=", instance.id), ("label_id", "in", ha_label_ids or [])])
        )
        return [Command.set(labels.ids)]

    @api.model
    def _registry_create(self, vals_list, create):
        """Records made in Home Assistant first (``_registry_send_create``), then stored with
        ``create`` (the model's own, as superuser) as Home Assistant answered."""
        self.check_access("create")
        answered = []
        for vals in vals_list:
            instance = self.env["ha.instance"].browse(vals.get("instance_id"))
            lock_instance_registry(self.env.cr, instance.id)
            stored = self.new({"instance_id": instance.id})._registry_send_create(vals)
            answered.append({**vals, **stored})
        records = create(answered)
        for instance in records.instance_id:
            self.env["ha.realtime.update"].sudo()._notify_registry_lists(instance)
        return records.sudo(False)

    def _registry_send_create(self, vals):
        """Create the record of ``vals`` in Home Assistant; return the values to store."""
        raise NotImplementedError

    def _registry_unlink(self, command, key, unlink):
        """Delete these records in Home Assistant (``command`` with ``key``: their Home
        Assistant id field), then here with ``unlink`` (the model's own)."""
        self.check_access("unlink")
        self._registry_lock()
        for record in self:
            record._registry_call(command, **{key: record[key]})
        instances = self.instance_id.sudo()
        with self.env["ha.realtime.update"].sudo()._retiring_shrunk_scopes(instances):
            result = unlink()
        for instance in instances:
            self.env["ha.realtime.update"].sudo()._notify_registry_lists(instance)
        return result

    @api.model
    def _registry_area_record(self, instance, ha_area_id):
        """The ha.area of ``instance`` for a Home Assistant area id (empty if none)."""
        if not ha_area_id:
            return self.env["ha.area"]
        return (
            self.env["ha.area"]
            .sudo()
            .search([("instance_id", "=", instance.id), ("area_id", "=", ha_area_id)], limit=1)
        )
