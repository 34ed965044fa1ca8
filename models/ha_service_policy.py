"""Which Home Assistant service calls a user may make: one check for every caller.

The JSON API's ``call_service`` (controllers/main.py) and the rules' "Call a Home Assistant
service" action (ha.automation.action) both build the call through
``ha.service.policy._service_call_payload`` in the environment of the user the call is made
for: managers may call any service of the instance, with any target; anyone else only on
entities they control and only what their controls do (policy/services.py).
"""

from odoo import _, api, models
from odoo import _ as odoo_translate
from odoo.exceptions import AccessError, UserError

from ..policy.services import ACCESS_DENIED, GENERIC_DOMAIN, ServiceRefused, check_user_call
from .res_groups import MANAGER_GROUP

# How long a service call may wait for Home Assistant's answer.
SERVICE_CALL_TIMEOUT_S = 10.0


def refusal_message(refusal, env=None):
    """The sentence for a refusal of policy/services.py, in the language of ``env`` (of the
    request when ``env`` is None)."""
    # env._ where an environment is given: outside a request, Odoo's _() finds no language.
    _ = env._ if env is not None else odoo_translate
    params = refusal.params
    messages = {
        "no_entities": lambda: _(
            "%(service)s needs the entities it acts on in “entity_id”.", **params
        ),
        "target_in_data": lambda: _("Name the entities in “entity_id”, not in the service data."),
        "service_not_allowed": lambda: _(
            "You may not call %(service)s on these entities: only managers may.", **params
        ),
        "other_domain": lambda: _(
            "%(service)s may only act on entities of the domain %(domain)s.", **params
        ),
        "own_service_only": lambda: _(
            "%(service)s runs a script of its own: you may call it on that script only.", **params
        ),
        "field_not_allowed": lambda: _(
            "You may not send “%(field)s” with %(service)s: only managers may.", **params
        ),
        "bad_number": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be a number.", **params
        ),
        "bad_number_range": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be a number from %(minimum)s to "
            "%(maximum)s.",
            **params,
        ),
        "bad_boolean": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be true or false.", **params
        ),
        "bad_rgb": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be three integers from 0 to 255.",
            **params,
        ),
        "bad_one_of": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be one of its %(attribute)s.",
            **params,
        ),
        "bad_choice": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be one of: %(choices)s.", **params
        ),
        "bad_text": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be a text of %(minimum)s to "
            "%(maximum)s characters.",
            **params,
        ),
        "bad_date": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be a date (YYYY-MM-DD).", **params
        ),
        "bad_time": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be a time (HH:MM or HH:MM:SS).",
            **params,
        ),
        "bad_datetime": lambda: _(
            "“%(field)s” of %(service)s for %(entity)s must be a date and time "
            "(YYYY-MM-DDTHH:MM:SS and its offset).",
            **params,
        ),
    }
    return messages[refusal.reason]()


def _refused(message, error_type):
    """The exception of a refusal: ``AccessError`` for ``access_denied``, else ``UserError``
    (the JSON API answers them with these error types, see controllers/main.py)."""
    return AccessError(message) if error_type == ACCESS_DENIED else UserError(message)


class HaServicePolicy(models.AbstractModel):
    _name = "ha.service.policy"
    _description = "Home Assistant Service Call Policy"

    @api.model
    def _readable_entities(self, instance, entity_ids):
        """The entities among ``entity_ids`` of ``instance`` that the user of ``self.env`` may
        read, in the order of ``entity_ids``: what the record rules allow (managers all, Home
        Assistant users their groups' entities, anyone a current share's)."""
        Entity = self.env["ha.entity"]
        found = Entity.search([("instance_id", "=", instance.id), ("entity_id", "in", entity_ids)])
        by_id = {entity.entity_id: entity for entity in found}
        return Entity.union(*(by_id[e] for e in entity_ids if e in by_id))

    @api.model
    def _service_call_payload(self, instance, domain, service, entity_ids, service_data):
        """The ``call_service`` payload of ``domain.service`` on ``entity_ids`` (a list of
        entity ids, may be empty) with ``service_data`` (a dict) that the user of
        ``self.env`` may send to ``instance``; ``AccessError`` (access denied) or
        ``UserError`` (invalid input) with the reason otherwise.

        The caller has already checked that the user may use ``instance``; the payload is
        meant for ``instance.sudo().ws_call("call_service", payload, ...)``.
        """
        if self.env.user.has_group(MANAGER_GROUP):
            # Managers may call any service of their instance, with any target.
            payload = {"domain": domain, "service": service, "service_data": service_data}
            if entity_ids:
                payload["target"] = {"entity_id": entity_ids}
            return payload
        return self._checked_user_service_call(instance, domain, service, entity_ids, service_data)

    @api.model
    def _checked_user_service_call(self, instance, domain, service, entity_ids, service_data):
        """The call a user who is not a manager may make: only on entities they control, only
        what their controls do (policy/services.py)."""
        # The label apart: the translation extractor reads literal arguments only.
        label = f"{domain}.{service}"
        denied = AccessError(_("You may not call %(service)s on these entities.", service=label))
        entities = self._readable_entities(instance, entity_ids)
        if len(entities) != len(entity_ids):
            raise denied
        user = self.env.user
        if entities._controllable_by(user) != entities:
            raise denied
        if domain == GENERIC_DOMAIN and entities._controllable_by(user, shares=False) != entities:
            # A share grants its entities' own services only (light.turn_on, not
            # homeassistant.turn_on): what the person may do is what the portal shows.
            raise AccessError(
                refusal_message(
                    ServiceRefused("other_domain", service=label, domain=entities[0].domain),
                    self.env,
                )
            )
        try:
            check_user_call(
                domain,
                service,
                [(entity.entity_id, entity.attributes or {}) for entity in entities],
                service_data,
            )
        except ServiceRefused as refusal:
            raise _refused(refusal_message(refusal, self.env), refusal.error_type) from None
        return {
            "domain": domain,
            "service": service,
            "service_data": service_data,
            "target": {"entity_id": entity_ids},
        }
