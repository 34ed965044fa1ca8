"""Rules as managers make them: the checks of the rule form, who may see rules and their
history (managers only), and a manager making a rule and reading its history in the web client
(headless Chromium)."""

from odoo import Command, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import Form, HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import HaTestCommon
from .test_shares import ShareCommon

RULE_MODELS = (
    "ha.automation.rule",
    "ha.automation.action",
    "ha.automation.firing",
    "ha.automation.event",
)
RULE_MENUS = ("odoo_ha_addon.ha_automation_rule_menu", "odoo_ha_addon.ha_automation_firing_menu")


class RuleCommon(HaTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Rule = cls.env["ha.automation.rule"].with_user(cls.manager)

    def _values(self, **values):
        return {
            "name": "Kitchen light on",
            "instance_id": self.instance.id,
            "entity_ids": [Command.set(self.light_kitchen.ids)],
            "trigger": "state_to",
            "trigger_state": "on",
            **values,
        }

    def _rule(self, **values):
        return self.Rule.create(self._values(**values))

    def _firing(self, rule, key, **values):
        # sudo: firings are written by the rule engine only.
        return (
            self.env["ha.automation.firing"]
            .sudo()
            .create(
                {
                    "rule_id": rule.id,
                    "key": key,
                    "entity_id": self.light_kitchen.id,
                    "previous_state": "off",
                    "event_state": "on",
                    **values,
                }
            )
        )


@tagged("post_install", "-at_install")
class TestRuleChecks(RuleCommon):
    def test_a_rule_runs_as_its_maker_and_says_when_it_fires(self):
        rule = self._rule()
        self.assertEqual(rule.owner_id, self.manager)
        self.assertEqual(rule.trigger_summary, "becomes on")
        rule.for_seconds = 30
        self.assertEqual(rule.trigger_summary, "becomes on for 30 s")
        rule.write({"trigger": "above", "threshold": 25})
        self.assertEqual(rule.trigger_summary, "rises above 25 for 30 s")
        rule.write({"trigger": "attribute", "attribute": "brightness", "for_seconds": 0})
        self.assertEqual(rule.trigger_summary, "brightness changes")

    def test_the_default_instance_is_proposed(self):
        self.assertEqual(
            self.Rule.default_get(["instance_id"])["instance_id"],
            self.env["ha.instance"]._default_instance().id,
        )

    def test_a_trigger_needs_its_value(self):
        for values in (
            {"trigger": "state_to", "trigger_state": False},
            {"trigger": "state_from", "trigger_state": "  "},
            {"trigger": "attribute", "attribute": False},
        ):
            with self.subTest(**values), self.assertRaises(ValidationError):
                self._rule(**values)
        # A number or unavailability needs no state; an attribute without a value: any change.
        self._rule(trigger="above", trigger_state=False, threshold=25)
        self._rule(trigger="unavailable", trigger_state=False)
        rule = self._rule(trigger="attribute", attribute="brightness")
        with self.assertRaises(ValidationError):
            rule.attribute = ""
        with self.assertRaises(ValidationError):
            rule.write({"trigger": "state_from", "trigger_state": False})

    def test_the_state_must_hold_zero_seconds_or_more(self):
        with self.assertRaises(ValidationError):
            self._rule(for_seconds=-1)
        self.assertEqual(self._rule(for_seconds=0).for_seconds, 0)

    def test_times_of_day_run_from_0_to_24(self):
        for values in ({"time_from": -0.5}, {"time_from": 24.5}, {"time_to": 25}):
            with self.subTest(**values), self.assertRaises(ValidationError):
                self._rule(**values)
        self._rule(time_from=0, time_to=24)
        self._rule(time_from=22, time_to=6)  # overnight

    def test_a_rule_runs_on_one_day_at_least(self):
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        with self.assertRaisesRegex(ValidationError, "at least one day"):
            self._rule(**{f"weekday_{day}": False for day in days})
        rule = self._rule(**{f"weekday_{day}": False for day in days[:-1]})
        with self.assertRaisesRegex(ValidationError, "at least one day"):
            rule.weekday_sun = False

    def test_the_entities_are_of_the_rules_instance(self):
        with self.assertRaisesRegex(ValidationError, "watches entities of Home only"):
            self._rule(entity_ids=[Command.set((self.light_kitchen | self.cabin_switch).ids)])
        with self.assertRaisesRegex(ValidationError, "the entity of the condition"):
            self._rule(condition_entity_id=self.cabin_switch.id, condition_state="on")
        with self.assertRaisesRegex(ValidationError, "choose the entities"):
            self._rule(entity_ids=[])
        rule = self._rule(condition_entity_id=self.sensor_outside.id, condition_state="12.5")
        # Moving the rule to the other instance without its entities is refused too.
        with self.assertRaises(ValidationError):
            rule.instance_id = self.other_instance

    def test_a_condition_entity_needs_its_state(self):
        with self.assertRaisesRegex(ValidationError, "say which state Outside temperature"):
            self._rule(condition_entity_id=self.sensor_outside.id)

    def test_the_owner_is_a_home_assistant_user(self):
        employee = new_test_user(self.env, login="rule_employee", groups="base.group_user")
        portal = new_test_user(self.env, login="rule_portal", groups="base.group_portal")
        for user in (employee, portal):
            with (
                self.subTest(user=user.login),
                self.assertRaisesRegex(ValidationError, "not a Home Assistant user or manager"),
            ):
                self._rule(owner_id=user.id)
        self.assertEqual(self._rule(owner_id=self.user_member.id).owner_id, self.user_member)
        # The Run as field offers Home Assistant users only.
        owners = self.env["res.users"].search(
            self.Rule._fields["owner_id"].get_domain_list(self.Rule)
        )
        self.assertIn(self.user_member, owners)
        self.assertIn(self.manager, owners)
        self.assertNotIn(employee, owners)
        self.assertNotIn(portal, owners)

    def test_the_form_shows_the_fields_of_the_chosen_trigger(self):
        form = Form(self.Rule)
        form.name = "Freezer too warm"
        form.entity_ids.add(self.sensor_outside)
        form.trigger = "above"
        with self.assertRaisesRegex(AssertionError, "invisible field 'trigger_state'"):
            form.trigger_state = "on"
        with self.assertRaisesRegex(AssertionError, "invisible field 'attribute'"):
            form.attribute = "brightness"
        form.threshold = -5
        form.for_seconds = 600
        form.trigger = "attribute"
        with self.assertRaisesRegex(AssertionError, "invisible field 'threshold'"):
            form.threshold = 3
        form.trigger = "state_from"
        # Required as soon as the trigger is a state.
        with self.assertRaisesRegex(AssertionError, "trigger_state"):
            form.save()
        form.trigger = "above"
        rule = form.save()
        self.assertEqual(
            (rule.trigger, rule.threshold, rule.for_seconds, rule.entity_ids),
            ("above", -5, 600, self.sensor_outside),
        )

    def test_the_condition_asks_for_a_state_once_an_entity_is_chosen(self):
        form = Form(self.Rule)
        form.name = "Hall light"
        form.entity_ids.add(self.light_kitchen)
        form.trigger_state = "on"
        with self.assertRaisesRegex(AssertionError, "invisible field 'condition_state'"):
            form.condition_state = "on"
        form.condition_entity_id = self.sensor_outside
        with self.assertRaisesRegex(AssertionError, "condition_state"):
            form.save()
        form.condition_state = "12.5"
        self.assertEqual(form.save().condition_state, "12.5")

    def test_another_instance_takes_the_entities_of_the_first_away(self):
        form = Form(self.Rule)
        form.name = "Pump"
        form.instance_id = self.instance
        form.entity_ids.add(self.light_kitchen)
        form.condition_entity_id = self.sensor_outside
        form.condition_state = "12.5"
        form.instance_id = self.other_instance
        self.assertFalse(form.entity_ids)
        self.assertFalse(form.condition_entity_id)
        form.entity_ids.add(self.cabin_switch)
        form.trigger_state = "on"
        rule = form.save()
        self.assertEqual(rule.entity_ids, self.cabin_switch)

    def test_the_form_shows_the_fields_of_each_kind_of_action(self):
        todo = self.env.ref("mail.mail_activity_data_todo")
        form = Form(self.Rule)
        form.name = "Door open"
        form.entity_ids.add(self.light_kitchen)
        form.trigger_state = "on"
        with form.action_ids.new() as action:
            self.assertEqual(action.kind, "activity")
            with self.assertRaisesRegex(AssertionError, "invisible field 'service_name'"):
                action.service_name = "turn_on"
            action.activity_type_id = todo
            action.activity_summary = "Close the door"
        with form.action_ids.new() as action:
            action.kind = "message"
            with self.assertRaisesRegex(AssertionError, "invisible field 'activity_summary'"):
                action.activity_summary = "Close the door"
            action.channel_id = self.env["discuss.channel"].create({"name": "Facilities"})
            # A message goes on a channel or on a record, not both.
            with self.assertRaisesRegex(AssertionError, "invisible field 'record_ref'"):
                action.record_ref = f"res.partner,{self.manager.partner_id.id}"
            action.body = "{entity} is {state}"
        with form.action_ids.new() as action:
            action.kind = "service"
            action.service_domain = "light"
            action.service_name = "turn_off"
            action.service_entity_ids.add(self.light_kitchen)
            action.service_data = '{"transition": 2}'
        rule = form.save()
        self.assertEqual(rule.action_ids.mapped("kind"), ["activity", "message", "service"])
        self.assertEqual(rule.action_ids[0].activity_type_id, todo)
        self.assertEqual(rule.action_ids[2].service_entity_ids, self.light_kitchen)

    def test_the_history_button_opens_the_rules_firings(self):
        rule = self._rule()
        other = self._rule(name="Other")
        firings = self._firing(rule, "a", state="done") | self._firing(rule, "b", state="failed")
        self._firing(other, "a")
        rule.invalidate_recordset(["firing_count"])
        self.assertEqual(rule.firing_count, 2)
        action = rule.action_view_firings()
        self.assertEqual(action["res_model"], "ha.automation.firing")
        found = self.env["ha.automation.firing"].with_user(self.manager).search(action["domain"])
        self.assertEqual(found, firings)
        # The history's search: failed firings and retries, grouped by rule.
        Firing = self.env["ha.automation.firing"].with_user(self.manager)
        failed = Firing.search([("id", "in", firings.ids), ("state", "=", "failed")], order="id")
        self.assertEqual(failed.mapped("key"), ["b"])
        groups = Firing.read_group([], ["rule_id"], ["rule_id"])
        self.assertEqual({g["rule_id"][0]: g["rule_id_count"] for g in groups}[rule.id], 2)


@tagged("post_install", "-at_install")
class TestRuleAccess(ShareCommon, RuleCommon):
    """Only managers see and make rules, their actions, firings and events: Home Assistant
    users, internal users and portal users a share grants entities to get nothing, not even
    the menus."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rule = (
            cls.env["ha.automation.rule"]
            .with_user(cls.manager)
            .create(
                {
                    "name": "Kitchen light on",
                    "instance_id": cls.instance.id,
                    "entity_ids": [Command.set(cls.light_kitchen.ids)],
                    "trigger_state": "on",
                    "action_ids": [
                        Command.create({"kind": "activity", "activity_summary": "Look"})
                    ],
                }
            )
        )
        cls.firing = (
            cls.env["ha.automation.firing"]
            .sudo()
            .create({"rule_id": cls.rule.id, "key": "k", "error": "Home Assistant is gone"})
        )
        cls.event = (
            cls.env["ha.automation.event"]
            .sudo()
            .create(
                {
                    "instance_id": cls.instance.id,
                    "entity_id": cls.light_kitchen.id,
                    "state": "on",
                    "recorded_at": fields.Datetime.now(),
                }
            )
        )
        cls.records = {
            "ha.automation.rule": cls.rule,
            "ha.automation.action": cls.rule.action_ids,
            "ha.automation.firing": cls.firing,
            "ha.automation.event": cls.event,
        }
        cls.new_values = {
            "ha.automation.rule": {
                "name": "Mine",
                "instance_id": cls.instance.id,
                "entity_ids": [Command.set(cls.light_kitchen.ids)],
                "trigger_state": "on",
            },
            "ha.automation.action": {"rule_id": cls.rule.id, "kind": "activity"},
            "ha.automation.firing": {"rule_id": cls.rule.id, "key": "mine"},
            "ha.automation.event": {
                "instance_id": cls.instance.id,
                "entity_id": cls.light_kitchen.id,
            },
        }

    def _others(self):
        """Everyone but managers: a Home Assistant user with entities, one without, a portal
        user and an internal user, both with shares."""
        return (self.user_member, self.user_outsider, self.portal, self.employee)

    def test_managers_see_rules_and_their_history(self):
        for model, record in self.records.items():
            with self.subTest(model=model):
                self.assertIn(record, self.env[model].with_user(self.manager).search([]))
        self.assertEqual(self.firing.with_user(self.manager).error, "Home Assistant is gone")
        rule = (
            self.env["ha.automation.rule"]
            .with_user(self.manager)
            .create(self.new_values["ha.automation.rule"])
        )
        self.env["ha.automation.action"].with_user(self.manager).create(
            {"rule_id": rule.id, "kind": "activity", "activity_summary": "{state}"}
        )
        # Firings and events are the engine's and the state writer's to write, not anyone's.
        for model in ("ha.automation.firing", "ha.automation.event"):
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env[model].with_user(self.manager).create(self.new_values[model])

    @mute_logger(
        "odoo.models", "odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule"
    )
    def test_nobody_else_reads_or_makes_them(self):
        for user in self._others():
            for model, record in self.records.items():
                with self.subTest(user=user.login, model=model):
                    Model = self.env[model].with_user(user)
                    with self.assertRaises(AccessError):
                        Model.search([])
                    with self.assertRaises(AccessError):
                        record.with_user(user).read(["id"])
                    with self.assertRaises(AccessError):
                        Model.create(self.new_values[model])
                    with self.assertRaises(AccessError):
                        record.with_user(user).unlink()
        self.assertTrue(self.rule.exists() and self.firing.exists())

    @mute_logger("odoo.addons.base.models.ir_model")
    def test_the_menus_are_for_managers(self):
        Menu = self.env["ir.ui.menu"]
        menus = [self.env.ref(xmlid) for xmlid in RULE_MENUS]
        visible = Menu.with_user(self.manager)._visible_menu_ids()
        for menu in menus:
            self.assertIn(menu.id, visible)
        for user in (self.user_member, self.user_outsider, self.employee):
            visible = Menu.with_user(user)._visible_menu_ids()
            for menu in menus:
                with self.subTest(user=user.login, menu=menu.name):
                    self.assertNotIn(menu.id, visible)
        # A portal user has no backend menus at all.
        with self.assertRaises(AccessError):
            Menu.with_user(self.portal)._visible_menu_ids()

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_model")
    def test_the_rules_action_is_refused_too(self):
        """The actions behind the menus, opened by URL: the web client's first call (the
        list's search) is refused."""
        for xmlid in ("ha_automation_rule_action", "ha_automation_firing_action"):
            action = self.env.ref(f"odoo_ha_addon.{xmlid}")
            for user in self._others():
                with self.subTest(user=user.login, action=xmlid), self.assertRaises(AccessError):
                    self.env[action.res_model].with_user(user).web_search_read(
                        [], {"display_name": {}}
                    )


@tagged("post_install", "-at_install")
class TestRuleInTheBrowser(HttpCase, RuleCommon):
    """A manager makes a rule from Configuration > Rules and reads its history, in the web
    client (static/tests/tours/automation_rule_tour.js)."""

    def test_a_manager_makes_a_rule_and_reads_its_history(self):
        self.start_tour(
            "/odoo/action-odoo_ha_addon.ha_instance_action",
            "odoo_ha_addon_automation_rule",
            login="ha_test_manager",
        )
        rule = self.env["ha.automation.rule"].search([("name", "=", "Kitchen light on")])
        self.assertEqual(len(rule), 1)
        self.assertEqual(
            (
                rule.instance_id,
                rule.entity_ids,
                rule.owner_id,
                rule.trigger,
                rule.trigger_state,
                rule.for_seconds,
                rule.time_from,
                rule.time_to,
            ),
            (self.instance, self.light_kitchen, self.manager, "state_to", "on", 0, 7.5, 22.0),
        )
        self.assertEqual(
            [rule[f"weekday_{day}"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")],
            [True] * 6 + [False],
        )
        (action,) = rule.action_ids
        self.assertEqual(
            (
                action.kind,
                action.activity_type_id,
                action.activity_summary,
                action.activity_deadline_days,
                action.service_name,
            ),
            (
                "activity",
                self.env.ref("mail.mail_activity_data_todo"),
                "Check the kitchen light",
                2,
                False,
            ),
        )
        # The engine fires the rule twice: once done, once failed for good.
        self._firing(rule, "done", state="done", attempts=1, result="Activity scheduled")
        self._firing(
            rule,
            "failed",
            state="failed",
            attempts=3,
            error="No activity type To-Do: it was archived.",
        )
        self.start_tour(
            f"/odoo/action-odoo_ha_addon.ha_automation_rule_action/{rule.id}",
            "odoo_ha_addon_automation_rule_history",
            login="ha_test_manager",
        )
