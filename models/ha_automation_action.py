import json
import math
import string
from datetime import timedelta

from odoo import _, api, fields, models
from odoo import _ as odoo_translate
from odoo.exceptions import UserError, ValidationError
from odoo.tools import plaintext2html

from ..policy.services import SLUG_RE
from .ha_service_policy import SERVICE_CALL_TIMEOUT_S

ACTION_KINDS = [
    ("activity", "Schedule an activity"),
    ("message", "Post a message"),
    ("server_action", "Run a server action"),
    ("service", "Call a Home Assistant service"),
    ("create_record", "Create a record"),
]
# As the JSON API (controllers/params.py): a service call's data is a handful of values.
MAX_SERVICE_DATA_BYTES = 16 * 1024
DEFAULT_ACTIVITY_TYPE = "mail.mail_activity_data_todo"


def _is_finite_json(value):
    """Whether ``value`` (parsed JSON) holds no NaN or Infinity."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_finite_json(item) for item in value)
    if isinstance(value, dict):
        return all(_is_finite_json(item) for item in value.values())
    return True


class _LeaveUnknown(dict):
    """Placeholder values for ``str.format_map``: an unknown ``{name}`` stays as it is."""

    def __missing__(self, key):
        return "{" + key + "}"


def render(text, values, env=None):
    """``text`` with its placeholders ``{name}`` filled from ``values`` (strings), unknown
    ones left as they are. Only plain names: ``{state.upper}`` or ``{0}`` are refused
    (``UserError``, in the language of ``env``), so a text can never reach anything but the
    values' own strings."""
    # env._ where an environment is given: outside a request, Odoo's _() finds no language.
    _ = env._ if env is not None else odoo_translate
    if not text:
        return text or ""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise UserError(
            _(
                "The text “%(text)s” has a brace without its pair: write {{ and }} for the "
                "braces themselves.",
                text=text[:200],
            )
        ) from None
    for _literal, name, _spec, _conversion in parsed:
        if name is not None and not name.isidentifier():
            raise UserError(
                _(
                    "“{%(name)s}” is not a placeholder: use {rule}, {entity}, {entity_id}, "
                    "{state}, {previous_state} or {time}, and {{ and }} for the braces "
                    "themselves.",
                    name=name[:100],
                )
            )
    return text.format_map(_LeaveUnknown(values))


def _render_values(value, values, env):
    """A JSON value with the placeholders of its strings (not of its keys) filled."""
    if isinstance(value, str):
        return render(value, values, env)
    if isinstance(value, list):
        return [_render_values(item, values, env) for item in value]
    if isinstance(value, dict):
        return {key: _render_values(item, values, env) for key, item in value.items()}
    return value


def _refuse_constant(name):
    raise ValueError(name)


def parse_json_object(text, label, env):
    """The JSON object of ``text`` (``{}`` when empty); ``ValidationError`` naming ``label``
    (in the language of ``env``) when it is not JSON, not an object or holds NaN or
    Infinity."""
    _ = env._
    if not (text or "").strip():
        return {}
    try:
        # NaN and Infinity are not JSON: Home Assistant closes the connection on them.
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise ValidationError(
            _("%(label)s is not valid JSON: %(error)s", label=label, error=str(error)[:200])
        ) from None
    if not isinstance(value, dict):
        raise ValidationError(
            _('%(label)s must be a JSON object, e.g. {"name": "value"}.', label=label)
        )
    if not _is_finite_json(value):
        raise ValidationError(
            _("%(label)s holds a number JSON cannot carry (NaN or Infinity).", label=label)
        )
    return value


class HaAutomationAction(models.Model):
    """One action of a rule, run once per firing as the rule's owner.

    ``_run(firing)`` is called on the action in the owner's environment
    (``action.with_user(rule.owner_id)``): what it does, it does with the owner's rights and
    Odoo's own checks (activities and messages on records the owner may write or post on,
    server actions the owner may run, records the owner may create, Home Assistant services
    through the same policy as the owner's own calls from the JSON API). The action's
    configuration itself (set by a manager) is read with sudo: the owner need not read rules.
    """

    _name = "ha.automation.action"
    _description = "Home Assistant Rule Action"
    _order = "sequence, id"

    rule_id = fields.Many2one("ha.automation.rule", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    kind = fields.Selection(ACTION_KINDS, required=True, default="activity")
    # Activity: on a record, for a user.
    activity_type_id = fields.Many2one("mail.activity.type", string="Activity type")
    activity_summary = fields.Char(string="Summary")
    activity_user_id = fields.Many2one("res.users", string="Assigned to")
    activity_deadline_days = fields.Integer(string="Due in (days)", default=0)
    # Activity and message: the record it goes on (a Discuss channel for a message too).
    record_ref = fields.Reference(
        selection="_record_models", string="On record", help="The record the action is about."
    )
    channel_id = fields.Many2one("discuss.channel", string="Channel")
    body = fields.Text(
        string="Text",
        help="Placeholders: {rule}, {entity}, {entity_id}, {state}, {previous_state}, {time}.",
    )
    # Server action.
    server_action_id = fields.Many2one("ir.actions.server", string="Server action")
    # Home Assistant service.
    service_domain = fields.Char(string="Service domain", help="e.g. light")
    service_name = fields.Char(string="Service", help="e.g. turn_on")
    service_entity_ids = fields.Many2many(
        "ha.entity",
        "ha_automation_action_entity_rel",
        "action_id",
        "entity_id",
        string="Target entities",
    )
    service_data = fields.Text(string="Service data (JSON)")
    # Record to create.
    create_model_id = fields.Many2one("ir.model", string="Model", ondelete="cascade")
    create_values = fields.Text(
        string="Values (JSON)",
        help='Field values of the new record, e.g. {"name": "Freezer {entity}: {state}"}.',
    )

    def _record_models(self):
        models_ = self.env["ir.model"].sudo().search([("transient", "=", False)])
        return [(model.model, model.name) for model in models_]

    # Constraints ---------------------------------------------------------------------------

    @api.constrains("kind", "record_ref", "activity_deadline_days")
    def _check_activity(self):
        for action in self.filtered(lambda a: a.kind == "activity"):
            record = action.record_ref
            if record and not hasattr(record, "activity_schedule"):
                raise ValidationError(
                    _(
                        "Activities cannot be scheduled on %(model)s records: choose a record "
                        "that has activities, or none for the rule itself.",
                        model=record._description,
                    )
                )
            if action.activity_deadline_days < 0:
                raise ValidationError(_("An activity cannot be due before the rule fires."))

    @api.constrains("kind", "record_ref", "channel_id", "body")
    def _check_message(self):
        for action in self.filtered(lambda a: a.kind == "message"):
            if bool(action.record_ref) == bool(action.channel_id):
                raise ValidationError(
                    _("A message goes either on a record or into a channel: choose one.")
                )
            if action.record_ref and not hasattr(action.record_ref, "message_post"):
                raise ValidationError(
                    _(
                        "Messages cannot be posted on %(model)s records: choose a record that "
                        "has a chatter.",
                        model=action.record_ref._description,
                    )
                )
            if not (action.body or "").strip():
                raise ValidationError(_("A message needs its text."))

    @api.constrains("kind", "server_action_id")
    def _check_server_action(self):
        for action in self.filtered(lambda a: a.kind == "server_action"):
            if not action.server_action_id:
                raise ValidationError(_("Choose the server action to run."))

    @api.constrains("kind", "service_domain", "service_name", "service_data", "service_entity_ids")
    def _check_service(self):
        for action in self.filtered(lambda a: a.kind == "service"):
            for value in (action.service_domain, action.service_name):
                if not value or not SLUG_RE.match(value):
                    raise ValidationError(
                        _(
                            "A service call needs its domain and service, in lowercase letters, "
                            "digits and underscores (e.g. light and turn_on)."
                        )
                    )
            data = parse_json_object(action.service_data, _("The service data"), self.env)
            if len(json.dumps(data)) > MAX_SERVICE_DATA_BYTES:
                raise ValidationError(
                    _(
                        "The service data is larger than %(max)s bytes.",
                        max=MAX_SERVICE_DATA_BYTES,
                    )
                )
            others = action.service_entity_ids.filtered(
                lambda entity, action=action: entity.instance_id != action.rule_id.instance_id
            )
            if others:
                raise ValidationError(
                    _(
                        "The target entities must be of the rule's instance: %(entities)s is not.",
                        entities=others[0].entity_id,
                    )
                )

    @api.constrains("kind", "create_model_id", "create_values")
    def _check_create_record(self):
        for action in self.filtered(lambda a: a.kind == "create_record"):
            if not action.create_model_id:
                raise ValidationError(_("Choose the model of the record to create."))
            model = action.create_model_id.model
            if model not in self.env:
                raise ValidationError(_("The model %(model)s is not installed.", model=model))
            values = parse_json_object(action.create_values, _("The values"), self.env)
            unknown = sorted(set(values) - set(self.env[model]._fields))
            if unknown:
                raise ValidationError(
                    _(
                        "%(model)s has no field %(fields)s.",
                        model=action.create_model_id.name,
                        fields=", ".join(unknown)[:200],
                    )
                )

    # Running -------------------------------------------------------------------------------

    def _run(self, firing):
        """Do what this action does for ``firing`` (an ``ha.automation.firing``), as the user
        of ``self.env`` (the rule's owner); return what it did in a short sentence.

        Raises ``AccessError`` when the owner may not do it, ``UserError`` (or
        ``ValidationError``) when it cannot be done as configured, and the ``hass.errors``
        of the call for a service Home Assistant does not answer or refuses
        (``NotConnected`` and ``RequestTimeout`` may succeed later).
        """
        self.ensure_one()
        owner = self.env.user
        # The owner's language and time zone: for the texts, the dates and the messages.
        action = self.with_context(lang=owner.lang, tz=owner.tz)
        # sudo: the configuration and the firing are the manager's and the engine's records;
        # everything done below is done in the owner's environment (action.env).
        config = self.sudo()
        firing = firing.sudo()
        entity = firing.entity_id
        if entity:
            # The engine fires only for entities the owner may read; checked again here.
            entity.with_env(action.env).check_access("read")
        values = action._placeholders(config.rule_id, firing)
        runner = getattr(action, f"_run_{config.kind}")
        return runner(config, firing, values)

    def _placeholders(self, rule, firing):
        """The placeholder values of ``firing`` (in the owner's language and time zone)."""
        entity = firing.entity_id
        moment = ""
        if firing.event_at:
            moment = fields.Datetime.context_timestamp(self, firing.event_at).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
        return {
            "rule": rule.name or "",
            "entity": (entity.name or entity.entity_id) if entity else "",
            "entity_id": (entity.entity_id or "") if entity else "",
            "state": firing.event_state or "",
            "previous_state": firing.previous_state or "",
            "time": moment,
        }

    def _owner_record(self, config):
        """The action's record in the owner's environment; ``UserError`` if it was deleted."""
        reference = config.record_ref
        if not reference:
            return None
        if not reference.exists():
            raise UserError(
                _(
                    "The record of this action (%(model)s %(id)s) no longer exists.",
                    model=reference._description,
                    id=reference.id,
                )
            )
        return self.env[reference._name].browse(reference.id)

    def _run_activity(self, config, firing, values):
        record = self._owner_record(config) or self.env["ha.automation.rule"].browse(
            config.rule_id.id
        )
        if not hasattr(record, "activity_schedule"):
            raise UserError(
                _(
                    "Activities cannot be scheduled on %(model)s records.",
                    model=record._description,
                )
            )
        activity_type = config.activity_type_id or self.env.ref(
            DEFAULT_ACTIVITY_TYPE, raise_if_not_found=False
        )
        user = config.activity_user_id or self.env.user
        summary = render(config.activity_summary, values, self.env)
        body = render(config.body, values, self.env)
        deadline = fields.Date.context_today(self) + timedelta(
            days=max(config.activity_deadline_days, 0)
        )
        extra = {"note": plaintext2html(body)} if body else {}
        # Odoo checks that the owner may write (or post on) the record.
        activity = record.activity_schedule(
            activity_type_id=activity_type.id if activity_type else False,
            summary=summary,
            date_deadline=deadline,
            user_id=user.id,
            **extra,
        )
        return _(
            "Activity “%(summary)s” on %(record)s for %(user)s",
            summary=activity.summary or activity.activity_type_id.name,
            record=record.display_name,
            user=user.sudo().name,
        )

    def _run_message(self, config, firing, values):
        body = plaintext2html(render(config.body, values, self.env))
        if config.channel_id:
            # Odoo checks that the owner may post in the channel.
            channel = self.env["discuss.channel"].browse(config.channel_id.id)
            channel.message_post(body=body, message_type="comment", subtype_xmlid="mail.mt_comment")
            return _("Message in %(channel)s", channel=channel.name)
        record = self._owner_record(config)
        if record is None or not hasattr(record, "message_post"):
            raise UserError(_("This message has no record or channel to go to."))
        # Odoo checks that the owner may post on the record.
        record.message_post(body=body, message_type="comment", subtype_xmlid="mail.mt_comment")
        return _("Message on %(record)s", record=record.display_name)

    def _run_server_action(self, config, firing, values):
        if not config.server_action_id:
            raise UserError(_("Choose the server action to run."))
        entity = firing.entity_id
        server_action = self.env["ir.actions.server"].browse(config.server_action_id.id)
        event = {
            "rule": config.rule_id.id,
            "entity_id": entity.entity_id or False,
            "state": firing.event_state or False,
            "previous_state": firing.previous_state or False,
            "time": fields.Datetime.to_string(firing.event_at) if firing.event_at else False,
        }
        # Odoo's run() refuses an owner outside the action's groups (or, for an action without
        # groups, one who may not write its model's records) and runs it as the owner.
        server_action.with_context(
            active_model="ha.entity",
            active_id=entity.id or False,
            active_ids=entity.ids,
            ha_event=event,
        ).run()
        return _("Server action “%(name)s” ran", name=config.server_action_id.name)

    def _run_service(self, config, firing, values):
        domain, service = config.service_domain, config.service_name
        if not (domain and service):
            raise UserError(_("A service call needs its domain and service."))
        label = f"{domain}.{service}"
        instance = self.env["ha.instance"].browse(config.rule_id.instance_id.id)
        # The owner must be allowed the instance, as for their own calls from the JSON API.
        instance.check_access("read")
        if not instance.active:
            raise UserError(
                _("The instance %(name)s is archived.", name=config.rule_id.instance_id.name)
            )
        targets = config.service_entity_ids or firing.entity_id
        entity_ids = targets.mapped("entity_id")
        service_data = _render_values(
            parse_json_object(config.service_data, _("The service data"), self.env),
            values,
            self.env,
        )
        # The same check as the owner's own calls from the JSON API (ha.service.policy).
        payload = self.env["ha.service.policy"]._service_call_payload(
            instance, domain, service, entity_ids, service_data
        )
        # sudo: ws_call is reserved to managers and system code; the owner's call was checked
        # above (entities they control, what their controls do).
        instance.sudo().ws_call("call_service", payload, timeout=SERVICE_CALL_TIMEOUT_S)
        if entity_ids:
            return _(
                "Called %(service)s on %(entities)s", service=label, entities=", ".join(entity_ids)
            )
        return _("Called %(service)s", service=label)

    def _run_create_record(self, config, firing, values):
        if not config.create_model_id:
            raise UserError(_("Choose the model of the record to create."))
        model_name = config.create_model_id.model
        if model_name not in self.env:
            raise UserError(_("The model %(model)s is not installed.", model=model_name))
        Model = self.env[model_name]
        field_values = _render_values(
            parse_json_object(config.create_values, _("The values"), self.env), values, self.env
        )
        unknown = sorted(set(field_values) - set(Model._fields))
        if unknown:
            raise UserError(
                _(
                    "%(model)s has no field %(fields)s.",
                    model=config.create_model_id.name,
                    fields=", ".join(unknown)[:200],
                )
            )
        # As the owner: Odoo's access rights and record rules apply, and fields reserved to
        # groups the owner is not in are refused as in the web client.
        Model.check_access("create")
        Model.check_field_access_rights("create", list(field_values))
        record = Model.create(field_values)
        return _(
            "Created %(model)s “%(record)s”",
            model=config.create_model_id.name,
            record=record.display_name,
        )
