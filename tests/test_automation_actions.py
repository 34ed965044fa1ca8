"""The actions of rules (ha.automation.action ``_run``), each run as the rule's owner on a
firing built here (the engine that makes firings is tested apart): what each kind does, and
that Odoo's rights and the Home Assistant service policy refuse what the owner may not do.

The service calls go to the real Home Assistant of the test run (``ApiCase``)."""

from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..models.ha_automation_action import render
from .api_common import LIGHT, OTHER_LIGHT, ApiCase
from .common import HaTestCommon

EVENT_AT = datetime(2026, 3, 1, 7, 30, 5)
PLACEHOLDER_VALUES = {
    "rule": "Freezer watch",
    "entity": "Kitchen light",
    "entity_id": "light.kitchen",
    "state": "on",
    "previous_state": "off",
    "time": "2026-03-01 07:30:05",
}


class RuleActionsMixin:
    def make_action(self, owner, instance, entity, **values):
        rule = self.env["ha.automation.rule"].create(
            {
                "name": "Freezer watch",
                "instance_id": instance.id,
                "owner_id": owner.id,
                "entity_ids": [Command.link(entity.id)],
                "trigger": "state_to",
                "trigger_state": "on",
            }
        )
        return self.env["ha.automation.action"].create({"rule_id": rule.id, **values})

    def make_firing(self, action, entity, state="on", previous_state="off"):
        return self.env["ha.automation.firing"].create(
            {
                "rule_id": action.rule_id.id,
                "entity_id": entity.id,
                "key": f"{entity.entity_id}@{self.firing_count()}",
                "event_state": state,
                "previous_state": previous_state,
                "event_at": EVENT_AT,
            }
        )

    def firing_count(self):
        self._firings = getattr(self, "_firings", 0) + 1
        return self._firings

    def run_as(self, user, action, firing):
        """What the engine does: the action as the owner, in a savepoint."""
        with self.env.cr.savepoint():
            return action.with_user(user)._run(firing)


@tagged("post_install", "-at_install")
class TestAutomationActions(RuleActionsMixin, HaTestCommon):
    """``alice`` manages Home Assistant and partners; ``manager`` manages Home Assistant only
    (may not write partners); ``user_member`` controls light.kitchen."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice = new_test_user(
            cls.env,
            login="rule_alice",
            name="Alice",
            tz="UTC",
            groups="odoo_ha_addon.group_ha_manager,base.group_partner_manager",
        )
        cls.colleague = new_test_user(cls.env, login="rule_colleague", name="Colleague")
        cls.freezer_room = cls.env["res.partner"].create({"name": "Freezer room"})
        cls.todo = cls.env.ref("mail.mail_activity_data_todo")

    def action(self, owner=None, **values):
        return self.make_action(owner or self.alice, self.instance, self.light_kitchen, **values)

    def fire(self, action):
        return self.make_firing(action, self.light_kitchen)

    # Placeholders ---------------------------------------------------------------------------

    def test_placeholders_fill_known_names_and_leave_the_rest(self):
        self.assertEqual(
            render(
                "{rule}: {entity} ({entity_id}) {previous_state} -> {state} at {time}; "
                "{unknown} and {{braces}}",
                PLACEHOLDER_VALUES,
                self.env,
            ),
            "Freezer watch: Kitchen light (light.kitchen) off -> on at 2026-03-01 07:30:05; "
            "{unknown} and {braces}",
        )
        # Nothing but the values' own strings: no attribute, index or positional field.
        for text in ("{state.__class__}", "{state[0]}", "{0}", "{}", "a { b", "a } b"):
            with self.subTest(text=text), self.assertRaises(UserError):
                render(text, PLACEHOLDER_VALUES, self.env)

    # Activity --------------------------------------------------------------------------------

    def test_activity_on_a_record_for_the_assigned_user(self):
        action = self.action(
            kind="activity",
            record_ref=f"res.partner,{self.freezer_room.id}",
            activity_summary="Check {entity}",
            body="{entity_id} went from {previous_state} to {state} at {time} ({unknown})",
            activity_user_id=self.colleague.id,
            activity_deadline_days=2,
        )
        result = self.run_as(self.alice, action, self.fire(action))
        activity = self.freezer_room.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.summary, "Check Kitchen light")
        self.assertEqual(activity.user_id, self.colleague)
        self.assertEqual(activity.create_uid, self.alice)
        self.assertEqual(activity.activity_type_id, self.todo)
        self.assertEqual(activity.date_deadline, fields.Date.today() + timedelta(days=2))
        self.assertIn(
            "light.kitchen went from off to on at 2026-03-01 07:30:05 ({unknown})",
            str(activity.note),
        )
        self.assertIn("Check Kitchen light", result)
        self.assertIn("Colleague", result)

    def test_activity_without_a_record_goes_on_the_rule_for_the_owner(self):
        action = self.action(kind="activity", activity_summary="Look at {entity}")
        self.run_as(self.alice, action, self.fire(action))
        activity = action.rule_id.activity_ids
        self.assertEqual(activity.mapped("summary"), ["Look at Kitchen light"])
        self.assertEqual(activity.user_id, self.alice)

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule")
    def test_activity_is_refused_on_a_record_the_owner_may_not_write(self):
        action = self.action(
            self.manager,
            kind="activity",
            record_ref=f"res.partner,{self.freezer_room.id}",
            activity_summary="Check {entity}",
        )
        with self.assertRaises(AccessError):
            self.run_as(self.manager, action, self.fire(action))
        self.assertFalse(self.freezer_room.activity_ids)

    # Message ---------------------------------------------------------------------------------

    def test_message_on_a_record_and_in_a_channel(self):
        action = self.action(
            kind="message",
            record_ref=f"res.partner,{self.freezer_room.id}",
            body="{entity} is {state}",
        )
        result = self.run_as(self.alice, action, self.fire(action))
        message = self.freezer_room.message_ids.filtered(lambda m: m.message_type == "comment")
        self.assertEqual(len(message), 1)
        self.assertIn("Kitchen light is on", str(message.body))
        self.assertEqual(message.author_id, self.alice.partner_id)
        self.assertEqual(message.subtype_id, self.env.ref("mail.mt_comment"))
        self.assertIn("Freezer room", result)

        channel = self.env["discuss.channel"].create(
            {"name": "Freezers", "channel_type": "channel"}
        )
        channel.add_members(partner_ids=self.alice.partner_id.ids)
        action = self.action(kind="message", channel_id=channel.id, body="{entity_id}: {state}")
        self.run_as(self.alice, action, self.fire(action))
        message = channel.message_ids.filtered(lambda m: m.message_type == "comment")
        self.assertEqual(len(message), 1)
        self.assertIn("light.kitchen: on", str(message.body))
        self.assertEqual(message.author_id, self.alice.partner_id)

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule")
    def test_message_is_refused_where_the_owner_may_not_post(self):
        admins = self.env["discuss.channel"].create(
            {
                "name": "Administrators",
                "channel_type": "channel",
                "group_public_id": self.env.ref("base.group_system").id,
            }
        )
        action = self.action(kind="message", channel_id=admins.id, body="{entity}")
        with self.assertRaises(AccessError):
            self.run_as(self.alice, action, self.fire(action))
        self.assertFalse(admins.message_ids.filtered(lambda m: m.message_type == "comment"))
        action = self.action(
            self.manager,
            kind="message",
            record_ref=f"res.partner,{self.freezer_room.id}",
            body="{entity}",
        )
        with self.assertRaises(AccessError):
            self.run_as(self.manager, action, self.fire(action))
        self.assertFalse(
            self.freezer_room.message_ids.filtered(lambda m: m.message_type == "comment")
        )

    # Server action ----------------------------------------------------------------------------

    def server_action(self):
        return self.env["ir.actions.server"].create(
            {
                "name": "Note the event",
                "model_id": self.env.ref("odoo_ha_addon.model_ha_entity").id,
                "state": "code",
                "groups_id": [Command.link(self.env.ref("odoo_ha_addon.group_ha_manager").id)],
                "code": (
                    "event = env.context['ha_event']\n"
                    "env['res.partner'].create({'name': 'ran as %s on %s: %s %s -> %s (%s)' % (\n"
                    "    env.uid, record.entity_id, event['entity_id'],\n"
                    "    event['previous_state'], event['state'], event['rule'])})\n"
                ),
            }
        )

    def test_server_action_runs_as_the_owner_with_the_event(self):
        action = self.action(kind="server_action", server_action_id=self.server_action().id)
        result = self.run_as(self.alice, action, self.fire(action))
        expected = (
            f"ran as {self.alice.id} on light.kitchen: light.kitchen off -> on "
            f"({action.rule_id.id})"
        )
        ran = self.env["res.partner"].search([("name", "=", expected)])
        self.assertEqual(len(ran), 1)
        self.assertEqual(ran.create_uid, self.alice)
        self.assertIn("Note the event", result)

    @mute_logger("odoo.addons.base.models.ir_actions")
    def test_server_action_is_refused_to_an_owner_outside_its_groups(self):
        action = self.action(
            self.user_member, kind="server_action", server_action_id=self.server_action().id
        )
        with self.assertRaises(AccessError):
            self.run_as(self.user_member, action, self.fire(action))
        self.assertFalse(self.env["res.partner"].search([("name", "like", "ran as %")]))

    # Record creation ---------------------------------------------------------------------------

    def test_record_is_created_with_rendered_values(self):
        action = self.action(
            kind="create_record",
            create_model_id=self.env.ref("base.model_res_partner").id,
            create_values='{"name": "{entity}: {state}", "function": "was {previous_state}", '
            '"is_company": true}',
        )
        result = self.run_as(self.alice, action, self.fire(action))
        partner = self.env["res.partner"].search([("name", "=", "Kitchen light: on")])
        self.assertEqual(len(partner), 1)
        self.assertEqual(partner.function, "was off")
        self.assertTrue(partner.is_company)
        self.assertEqual(partner.create_uid, self.alice)
        self.assertIn("Kitchen light: on", result)

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_record_creation_is_refused_without_create_rights(self):
        action = self.action(
            self.manager,
            kind="create_record",
            create_model_id=self.env.ref("base.model_res_partner").id,
            create_values='{"name": "{entity}: {state}"}',
        )
        with self.assertRaises(AccessError):
            self.run_as(self.manager, action, self.fire(action))
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Kitchen light: on")]))

    # Service (the payload; the calls themselves: TestAutomationServiceActions) ---------------

    def test_service_data_is_rendered_into_the_payload(self):
        action = self.action(
            kind="service",
            service_domain="notify",
            service_name="send_message",
            service_data='{"message": "{entity} is {state} ({unknown})", '
            '"data": {"n": [1, "{rule}"]}}',
        )
        calls = []
        Instance = type(self.env["ha.instance"])
        with patch.object(Instance, "ws_call", lambda self, *args, **kw: calls.append(args)):
            result = self.run_as(self.alice, action, self.fire(action))
        self.assertEqual(
            calls,
            [
                (
                    "call_service",
                    {
                        "domain": "notify",
                        "service": "send_message",
                        "service_data": {
                            "message": "Kitchen light is on ({unknown})",
                            "data": {"n": [1, "Freezer watch"]},
                        },
                        "target": {"entity_id": ["light.kitchen"]},
                    },
                )
            ],
        )
        self.assertIn("notify.send_message", result)

    def test_service_refusals_speak_the_owners_language(self):
        self.env["res.lang"]._activate_lang("de_DE")
        self.env["ir.module.module"]._load_module_terms(
            ["odoo_ha_addon"], ["de_DE"], overwrite=True
        )
        self.user_member.lang = "de_DE"
        action = self.action(
            self.user_member,
            kind="service",
            service_domain="light",
            service_name="turn_off",
            service_data='{"area_id": "kitchen"}',
        )
        german = self.env(context={"lang": "de_DE"})._(
            "Name the entities in “entity_id”, not in the service data."
        )
        self.assertNotIn("service data", german)
        # The engine's own language is not the owner's.
        action = action.with_context(lang="en_US")
        with self.assertRaises(UserError) as caught:
            self.run_as(self.user_member, action, self.fire(action))
        self.assertEqual(caught.exception.args[0], german)

    # Configuration -----------------------------------------------------------------------------

    def test_each_kind_needs_its_fields_and_json_objects(self):
        partner_model = self.env.ref("base.model_res_partner").id
        invalid = [
            {"kind": "message", "body": "text"},
            {"kind": "message", "record_ref": f"res.partner,{self.freezer_room.id}"},
            {"kind": "server_action"},
            {"kind": "service", "service_domain": "light"},
            {"kind": "service", "service_domain": "Light", "service_name": "turn_on"},
            {"kind": "service", "service_domain": "light", "service_name": "turn_on",
             "service_data": "{not json"},
            {"kind": "service", "service_domain": "light", "service_name": "turn_on",
             "service_data": "[1]"},
            {"kind": "service", "service_domain": "light", "service_name": "turn_on",
             "service_data": '{"brightness": NaN}'},
            {"kind": "service", "service_domain": "light", "service_name": "turn_on",
             "service_entity_ids": [Command.link(self.cabin_switch.id)]},
            {"kind": "create_record"},
            {"kind": "create_record", "create_model_id": partner_model, "create_values": "{"},
            {"kind": "create_record", "create_model_id": partner_model,
             "create_values": '{"no_such_field": 1}'},
            {"kind": "activity", "record_ref": f"res.users,{self.alice.id}",
             "activity_deadline_days": -1},
        ]  # fmt: skip
        for values in invalid:
            with (
                self.subTest(values=values),
                self.assertRaises(ValidationError),
                self.env.cr.savepoint(),
            ):
                self.action(**values)
        # Valid: an activity on no record, a service without data, a record without values.
        self.action(kind="activity")
        self.action(kind="service", service_domain="light", service_name="turn_on")
        self.action(kind="create_record", create_model_id=partner_model)


@tagged("post_install", "-at_install")
class TestAutomationServiceActions(RuleActionsMixin, ApiCase):
    """Service actions against the real Home Assistant: ``member`` controls LIGHT and views
    OTHER_LIGHT and SENSOR (see ApiCase)."""

    def action(self, owner, entity, **values):
        return self.make_action(owner, self.live, entity, kind="service", **values)

    def run_service(self, owner, entity, service, data=None, targets=None):
        action = self.action(
            owner,
            entity,
            service_domain=service.split(".")[0],
            service_name=service.split(".")[1],
            service_data=data,
            service_entity_ids=[Command.set(targets.ids)] if targets else False,
        )
        return self.run_as(owner, action, self.make_firing(action, entity))

    def test_a_manager_owner_turns_the_light_off_and_on(self):
        self.run_service(self.manager, self.light, "light.turn_off")
        self.wait_ha_state(LIGHT, "off")
        # The action's own targets rather than the firing's entity.
        result = self.run_service(
            self.manager, self.sensor, "light.turn_on", '{"brightness_pct": 47}', self.light
        )
        self.wait_ha_state(LIGHT, "on")
        self.assertEqual(self.rest.get_state(LIGHT)["attributes"]["brightness"], 120)
        self.assertIn(LIGHT, result)

    def test_a_member_owner_calls_what_their_controls_do(self):
        self.run_service(self.member, self.light, "light.turn_off")
        self.wait_ha_state(LIGHT, "off")
        self.run_service(self.member, self.light, "light.turn_on", data='{"brightness_pct": 47}')
        self.wait_ha_state(LIGHT, "on")

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule")
    def test_a_member_owner_is_refused_beyond_their_controls(self):
        self.rest.call_service("light", "turn_on", {"entity_id": OTHER_LIGHT})
        self.wait_ha_state(OTHER_LIGHT, "on")
        self.rest.call_service("light", "turn_on", {"entity_id": LIGHT})
        self.wait_ha_state(LIGHT, "on")
        refusals = [
            # An entity the member views but does not control.
            (AccessError, self.other_light, "light.turn_off", None, None),
            (AccessError, self.light, "light.turn_off", None, self.other_light),
            # Targets beyond the entities checked, in the data.
            (UserError, self.light, "light.turn_off", '{"area_id": "living_room"}', None),
            (UserError, self.light, "light.turn_off", '{"floor_id": "ground"}', None),
            (UserError, self.light, "light.turn_off", '{"label_id": "lights"}', None),
            (UserError, self.light, "light.turn_off", '{"device_id": "any"}', None),
            (UserError, self.light, "light.turn_off", f'{{"entity_id": "{OTHER_LIGHT}"}}', None),
            # What no control does.
            (AccessError, self.light, "light.turn_on", '{"profile": "relax"}', None),
            (AccessError, self.light, "homeassistant.reload_all", None, None),
        ]
        for error, entity, service, data, targets in refusals:
            with self.subTest(service=service, data=data), self.assertRaises(error):
                self.run_service(self.member, entity, service, data, targets)
        self.assertEqual(self.rest.get_state(OTHER_LIGHT)["state"], "on")
        self.assertEqual(self.rest.get_state(LIGHT)["state"], "on")
        # An outsider may not even read the entity the rule fired for.
        with self.assertRaises(AccessError):
            self.run_service(self.outsider, self.light, "light.turn_off")
        self.assertEqual(self.rest.get_state(LIGHT)["state"], "on")
