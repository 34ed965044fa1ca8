"""Service plans of monitored machines: one activity per usage threshold crossed.

Sessions are data here: they are created as records, the way the connector leaves them
(completed or timed out with their end and hours, or running). ``TestServicePlanRace`` runs
two checks in two real transactions against committed rows. ``TestServicePlanInTheBrowser``
goes through the plans of the machine form in the web client (headless Chromium).
"""

import logging
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger

from ..models.ha_machine_service_plan import HaMachineServicePlan
from .common import HaTestCommon

T0 = datetime(2026, 3, 1, 8, 0, 0)
PLAN_MODULE = "odoo.addons.odoo_ha_addon.models.ha_machine_service_plan"


@tagged("post_install", "-at_install")
class TestMachineServicePlans(HaTestCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.meter = cls.env["ha.entity"].create(
            {
                "instance_id": cls.instance.id,
                "entity_id": "sensor.lathe_power",
                "name": "Lathe power",
                "state": "0",
                "unit_of_measurement": "W",
            }
        )
        cls.machine = cls.env["ha.machine"].create(
            {"name": "Lathe", "sensor_id": cls.meter.id, "monitor_since": T0 - timedelta(days=1)}
        )
        cls.Plan = cls.env["ha.machine.service.plan"]
        cls.todo = cls.env.ref("mail.mail_activity_data_todo")

    def setUp(self):
        super().setUp()
        self.next_start = T0

    def plan(self, **values):
        return self.Plan.create(
            {
                "name": "Oil change",
                "machine_id": self.machine.id,
                "start_at": T0 - timedelta(hours=1),
                "user_id": self.manager.id,
                **values,
            }
        )

    def session(self, working_hours, status="completed", machine=None):
        """A session of ``working_hours`` (plus half an hour of standby) after the last one."""
        started = self.next_start
        ended = started + timedelta(hours=working_hours + 0.5)
        self.next_start = ended + timedelta(hours=1)
        return self.env["ha.machine.session"].create(
            {
                "machine_id": (machine or self.machine).id,
                "status": status,
                "started_at": started,
                "ended_at": False if status == "running" else ended,
                "working_seconds": working_hours * 3600,
                "working_hours": working_hours,
                "standby_hours": 0.5,
                "total_hours": working_hours + 0.5,
            }
        )

    def activities(self, machine=None):
        return self.env["mail.activity"].search(
            [("res_model", "=", "ha.machine"), ("res_id", "=", (machine or self.machine).id)],
            order="id",
        )

    def check(self):
        self.env["ha.machine.service.plan"]._cron_check_service_plans()

    def test_each_working_hours_threshold_schedules_one_activity(self):
        plan = self.plan(every_working_hours=10, summary="Change the oil", due_days=3)
        self.session(6)
        self.check()
        self.assertFalse(self.activities(), "6 h: no threshold crossed")
        self.assertEqual(plan.next_service, "Next service at 10 h, now 6 h")

        self.session(5)
        self.check()
        activity = self.activities()
        self.assertEqual(len(activity), 1, "11 h: the 10 h threshold")
        self.assertEqual(activity.summary, "Change the oil")
        self.assertEqual(activity.activity_type_id, self.todo)
        self.assertEqual(activity.user_id, self.manager)
        self.assertEqual(
            activity.date_deadline,
            fields.Date.context_today(plan.with_user(self.manager)) + timedelta(days=3),
        )
        self.assertIn("Lathe has worked 11 h since", activity.note)
        self.assertIn("service due at 10 h.", activity.note)
        (due,) = plan.due_ids
        self.assertEqual((due.kind, due.number, due.threshold, due.usage), ("hours", 1, 10, 11))
        self.assertEqual(due.activity_id, activity)
        self.assertEqual(plan.next_service, "Next service at 20 h, now 11 h")

        for _again in range(3):
            self.check()
        self.assertEqual(len(self.activities()), 1, "checking again schedules nothing more")

        self.session(9.5)
        self.check()
        activities = self.activities()
        self.assertEqual(len(activities), 2, "20.5 h: the 20 h threshold")
        self.assertIn("service due at 20 h.", activities[1].note)
        self.assertEqual(plan.due_ids.mapped("number"), [2, 1])
        self.assertEqual((plan.last_threshold_hours, plan.next_threshold_hours), (20, 30))
        self.assertEqual(plan.next_service, "Next service at 30 h, now 20.5 h")

    def test_each_sessions_threshold_schedules_one_activity(self):
        plan = self.plan(every_sessions=3)
        self.session(0.1)
        self.session(0.1, status="timed_out")
        self.check()
        self.assertFalse(self.activities())
        self.session(0.1)
        self.check()
        self.check()
        activity = self.activities()
        self.assertEqual(len(activity), 1, "a timed-out session counts: 3 sessions")
        self.assertEqual(activity.summary, "Oil change", "the plan's name without a summary")
        self.assertIn("Lathe has run 3 sessions since", activity.note)
        self.assertIn("service due at 3 sessions.", activity.note)
        self.assertEqual(plan.next_service, "Next service at 6 sessions, now 3")
        self.session(0.1)
        self.session(0.1)
        self.check()
        self.assertEqual(len(self.activities()), 1, "5 sessions: nothing more")
        self.session(0.1)
        self.check()
        self.assertEqual(len(self.activities()), 2, "6 sessions: the next threshold")

    def test_a_running_session_counts_once_it_has_ended(self):
        self.plan(every_working_hours=10, every_sessions=1)
        running = self.session(12, status="running")
        self.check()
        self.assertFalse(self.activities(), "neither its hours nor the session count yet")
        running.write({"status": "completed", "ended_at": running.started_at + timedelta(hours=13)})
        self.check()
        activity = self.activities()
        self.assertEqual(len(activity), 1, "hours and sessions crossed together: one activity")
        self.assertIn("service due at 10 h.", activity.note)
        self.assertIn("service due at 1 sessions.", activity.note)

    def test_sessions_that_ended_before_the_start_do_not_count(self):
        self.session(30)
        plan = self.plan(every_working_hours=10, start_at=self.next_start)
        self.session(4)
        self.check()
        self.assertFalse(self.activities())
        self.assertEqual(plan.usage_hours, 4)
        self.assertEqual(plan.usage_sessions, 1)

    def test_thresholds_crossed_together_make_one_activity_naming_them_all(self):
        plan = self.plan(every_working_hours=10)
        self.session(35)
        self.check()
        activity = self.activities()
        self.assertEqual(len(activity), 1)
        self.assertIn("service due at 10 h, 20 h, and 30 h.", activity.note)
        self.assertEqual(sorted(plan.due_ids.mapped("threshold")), [10, 20, 30])
        self.assertEqual(plan.due_ids.activity_id, activity)
        self.assertEqual(plan.next_threshold_hours, 40)

        # A start far in the past with a short interval: a range, not a list.
        many = self.plan(every_working_hours=1, name="Lens cleaning")
        self.check()
        self.assertEqual(len(many.due_ids), 35)
        self.assertIn("service due at 1 h to 35 h (35 thresholds).", self.activities()[-1].note)

    def test_a_new_interval_counts_from_the_last_threshold_and_a_new_start_afresh(self):
        plan = self.plan(every_working_hours=10)
        self.session(12)
        self.check()
        plan.every_working_hours = 5
        self.assertEqual(plan.next_threshold_hours, 15, "the last service was due at 10 h")
        self.session(3)
        self.check()
        self.assertEqual(len(self.activities()), 2, "15 h")
        plan.start_at = self.next_start
        self.assertEqual((plan.usage_hours, plan.next_threshold_hours), (0, 5))
        self.session(5)
        self.check()
        self.assertEqual(len(self.activities()), 3, "5 h since the new start")
        self.assertEqual(len(plan.due_ids), 3, "the history of the earlier start stays")

    def test_inactive_plans_and_archived_machines_do_nothing(self):
        plan = self.plan(every_working_hours=10, active=False)
        self.session(12)
        self.check()
        self.assertFalse(self.activities())
        self.assertFalse(plan.due_ids)
        plan.active = True
        self.machine.active = False
        self.check()
        self.assertFalse(self.activities())
        self.machine.active = True
        self.check()
        self.assertEqual(len(self.activities()), 1)

    def test_a_check_that_missed_the_thresholds_already_recorded_schedules_nothing(self):
        """A second check computing from a snapshot without the first one's rows: the key
        in the database leaves it nothing to schedule."""
        plan = self.plan(every_working_hours=10)
        self.session(25)
        stale = plan._progress()
        self.check()
        self.assertEqual(len(self.activities()), 1)
        with patch.object(HaMachineServicePlan, "_progress", lambda plans: stale):
            plan._check_thresholds()
        self.assertEqual(len(self.activities()), 1)
        self.assertEqual(len(plan.due_ids), 2)

    def test_the_activity_is_for_the_plans_creator_by_default(self):
        plan = self.Plan.with_user(self.manager).create(
            {
                "name": "Belt check",
                "machine_id": self.machine.id,
                "every_sessions": 1,
                "start_at": T0,
            }
        )
        self.assertEqual(plan.user_id, self.manager)
        self.assertEqual(plan.activity_type_id, self.todo)
        plan.user_id = False
        self.session(1)
        self.check()
        self.assertEqual(self.activities().user_id, self.manager)

    def test_without_the_maintenance_app_only_the_activity(self):
        """The CI installs this addon alone: the activity is all. Where the app is installed,
        the same path is taken with the app left out."""
        plan = self.plan(every_working_hours=10)
        self.session(10)
        requests_before = (
            self.env["maintenance.request"].search_count([])
            if "maintenance.request" in self.env
            else 0
        )
        with patch.object(HaMachineServicePlan, "_maintenance_installed", lambda plan: False):
            self.check()
        self.assertEqual(len(self.activities()), 1)
        self.assertFalse(plan.due_ids.maintenance_request_id)
        self.assertFalse(plan.due_ids.action_open_maintenance_request())
        if "maintenance.request" in self.env:
            self.assertEqual(self.env["maintenance.request"].search_count([]), requests_before)

    def test_with_the_maintenance_app_a_maintenance_request_too(self):
        if "maintenance.request" not in self.env:
            self.skipTest("Odoo's Maintenance app is not installed")
        plan = self.plan(every_working_hours=10, summary="Change the oil")
        self.session(21)
        self.check()
        self.check()
        request = self.env["maintenance.request"].browse(
            set(plan.due_ids.mapped("maintenance_request_id"))
        )
        self.assertEqual(len(request), 1, "one request for the thresholds crossed together")
        self.assertEqual(request.name, "Change the oil: Lathe")
        self.assertEqual(request.maintenance_type, "preventive")
        self.assertEqual(request.user_id, self.manager)
        self.assertIn("service due at 10 h and 20 h.", request.description)
        action = plan.due_ids[0].action_open_maintenance_request()
        self.assertEqual(
            (action["res_model"], action["res_id"]), ("maintenance.request", request.id)
        )
        self.session(10)
        self.check()
        self.assertEqual(len(set(plan.due_ids.mapped("maintenance_request_id"))), 2)

    def test_a_plan_being_edited_shows_the_progress_of_the_saved_plan(self):
        plan = self.plan(every_working_hours=10)
        self.session(12)
        self.check()
        editing = plan.new(origin=plan)
        editing.every_working_hours = 5
        self.assertEqual(editing.usage_hours, 12)
        self.assertEqual(editing.next_service, "Next service at 15 h, now 12 h")
        new_plan = self.Plan.new({"machine_id": self.machine.id, "every_sessions": 4})
        self.assertEqual(new_plan.next_service, "Next service at 4 sessions, now 0")

    def test_a_plan_being_made_shows_the_usage_since_the_start_it_is_given(self):
        """The form of a new plan, and of a plan whose start changes, counts what the plan
        will count once saved."""
        self.session(12)
        new_plan = self.Plan.new(
            {
                "machine_id": self.machine.id,
                "every_working_hours": 10,
                "start_at": T0 - timedelta(hours=1),
            }
        )
        self.assertEqual((new_plan.usage_hours, new_plan.usage_sessions), (12, 1))
        self.assertEqual(new_plan.next_service, "Next service at 10 h, now 12 h")

        plan = self.plan(every_working_hours=10)
        self.check()
        self.assertEqual(plan.next_service, "Next service at 20 h, now 12 h")
        editing = plan.new(origin=plan)
        editing.start_at = self.next_start
        self.assertEqual(editing.usage_hours, 0)
        self.assertEqual(editing.next_service, "Next service at 10 h, now 0 h", "afresh")
        editing.start_at = plan.start_at
        self.assertEqual(editing.next_service, "Next service at 20 h, now 12 h")

    def test_intervals_are_validated(self):
        for values in (
            {"every_working_hours": 0, "every_sessions": 0},
            {"every_working_hours": -1},
            {"every_sessions": -2, "every_working_hours": 10},
            {"every_working_hours": 10, "due_days": -1},
        ):
            with self.subTest(values=values), self.assertRaises(ValidationError):
                self.plan(**values)

    def test_ha_users_read_the_plans_of_their_machines_only_managers_write(self):
        plan = self.plan(every_working_hours=10)
        self.session(12)
        self.check()
        Plan = self.Plan.with_user(self.user_member)
        self.assertFalse(Plan.search([]), "the machine's sensor is in none of their groups")
        self.group_kitchen.entity_ids = [Command.link(self.meter.id)]
        self.assertEqual(Plan.search([]), plan)
        member_plan = plan.with_user(self.user_member)
        self.assertEqual(member_plan.next_service, "Next service at 20 h, now 12 h")
        self.assertEqual(len(member_plan.due_ids), 1)
        self.assertEqual(self.machine.with_user(self.user_member).service_plan_ids, plan)
        for operation in (
            lambda: member_plan.write({"every_working_hours": 100}),
            lambda: Plan.create(
                {"name": "Mine", "machine_id": self.machine.id, "every_sessions": 1}
            ),
            member_plan.unlink,
            member_plan.action_check_now,
            lambda: member_plan.due_ids.write({"number": 7}),
        ):
            with self.assertRaises(AccessError):
                operation()
        self.assertFalse(self.Plan.with_user(self.user_outsider).search([]))
        # The machine's form shows its plans to them, read-only.
        views = self.machine.with_user(self.user_member).get_views([(False, "form")])
        self.assertIn("service_plan_ids", views["views"]["form"]["arch"])

        # Managers configure plans and check them at once.
        manager_plan = self.Plan.with_user(self.manager).create(
            {"name": "Belts", "machine_id": self.machine.id, "every_sessions": 1, "start_at": T0}
        )
        manager_plan.action_check_now()
        self.assertEqual(len(self.activities()), 2)

    def test_the_machine_takes_its_activities_along(self):
        self.plan(every_working_hours=10)
        self.session(12)
        self.check()
        activity = self.activities()
        self.assertTrue(activity)
        self.machine.unlink()
        self.assertFalse(activity.exists())


@tagged("post_install", "-at_install")
class TestServicePlanRace(TransactionCase):
    """Two checks in two transactions, the second one's snapshot taken before the first one
    committed: the threshold is scheduled once."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            instance = env["ha.instance"].create(
                {"name": "Race", "url": "http://127.0.0.1:9", "token": "t", "active": False}
            )
            sensor = env["ha.entity"].create(
                {"instance_id": instance.id, "entity_id": "sensor.race_power", "state": "0"}
            )
            machine = env["ha.machine"].create({"name": "Race machine", "sensor_id": sensor.id})
            plan = env["ha.machine.service.plan"].create(
                {
                    "name": "Race plan",
                    "machine_id": machine.id,
                    "every_working_hours": 10,
                    "start_at": T0,
                    "user_id": env.ref("base.user_admin").id,
                }
            )
            env["ha.machine.session"].create(
                {
                    "machine_id": machine.id,
                    "status": "completed",
                    "started_at": T0,
                    "ended_at": T0 + timedelta(hours=12),
                    "working_hours": 12,
                }
            )
            self.instance_id, self.machine_id, self.plan_id = instance.id, machine.id, plan.id
            cr.commit()  # committed on purpose: the two checks run in transactions of their own
        self.addCleanup(self._delete)

    def _delete(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"active_test": False})
            env["ha.machine"].browse(self.machine_id).exists().unlink()
            env["ha.instance"].browse(self.instance_id).exists().unlink()
            cr.commit()

    def committed(self, sql):
        with self.registry.cursor() as cr:
            cr.execute(sql, {"machine": self.machine_id, "plan": self.plan_id})
            return cr.fetchall()

    def test_two_checks_at_once_schedule_one_activity(self):
        with self.registry.cursor() as cr_a, self.registry.cursor() as cr_b:
            plan_a = api.Environment(cr_a, SUPERUSER_ID, {})["ha.machine.service.plan"]
            plan_b = api.Environment(cr_b, SUPERUSER_ID, {})["ha.machine.service.plan"]
            # B's snapshot is taken now, before A records anything.
            self.assertEqual(plan_b.browse(self.plan_id).usage_hours, 12)
            plan_a.browse(self.plan_id)._check_thresholds()
            cr_a.commit()
            with self.assertLogs(PLAN_MODULE, logging.INFO) as logs, mute_logger("odoo.sql_db"):
                plan_b.browse(self.plan_id)._check_thresholds()
            self.assertIn("checked concurrently", logs.output[0])
            cr_b.commit()
        activities = self.committed(
            "SELECT id FROM mail_activity WHERE res_model = 'ha.machine' AND res_id = %(machine)s"
        )
        self.assertEqual(len(activities), 1)
        self.assertEqual(
            self.committed(
                "SELECT number, activity_id FROM ha_machine_service_due WHERE plan_id = %(plan)s"
            ),
            [(1, activities[0][0])],
        )


@tagged("post_install", "-at_install")
class TestServicePlanInTheBrowser(HttpCase, HaTestCommon):
    """Service plans on the machine form, in the web client
    (static/tests/tours/machine_service_plan_tour.js): a manager adds one to a machine and
    checks it, adds one to a machine not saved yet, and an HA user reads them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Entity = cls.env["ha.entity"]
        values = {"instance_id": cls.instance.id, "state": "0", "unit_of_measurement": "W"}
        cls.meter = Entity.create(
            {**values, "entity_id": "sensor.lathe_power", "name": "Lathe power"}
        )
        cls.press_meter = Entity.create(
            {**values, "entity_id": "sensor.press_power", "name": "Press power"}
        )
        cls.machine = cls.env["ha.machine"].create({"name": "Lathe", "sensor_id": cls.meter.id})
        # 30 working hours in February, 12 in March: a plan counting from 1 March has 12.
        for started, hours in ((datetime(2026, 2, 10, 8), 30), (datetime(2026, 3, 2, 8), 12)):
            cls.env["ha.machine.session"].create(
                {
                    "machine_id": cls.machine.id,
                    "status": "completed",
                    "started_at": started,
                    "ended_at": started + timedelta(hours=hours + 1),
                    "working_hours": hours,
                    "standby_hours": 1,
                    "total_hours": hours + 1,
                }
            )

    def test_a_manager_adds_a_plan_and_checks_it(self):
        self.start_tour(
            "/odoo/action-odoo_ha_addon.ha_machine_action",
            "odoo_ha_addon_machine_service_plan",
            login="ha_test_manager",
        )
        plan = self.machine.service_plan_ids
        self.assertEqual(len(plan), 1)
        self.assertEqual(
            (plan.name, plan.every_working_hours, plan.every_sessions, plan.summary),
            ("Oil change", 10, 0, "Change the oil"),
        )
        self.assertEqual((plan.user_id, plan.due_days), (self.manager, 7))
        self.assertEqual(plan.usage_hours, 12, "counted from between the two sessions")
        (due,) = plan.due_ids
        self.assertEqual((due.kind, due.threshold, due.usage), ("hours", 10, 12))
        self.assertEqual(
            (due.activity_id.summary, due.activity_id.res_id, due.activity_id.user_id),
            ("Change the oil", self.machine.id, self.manager),
        )

    def test_a_manager_adds_a_plan_to_a_new_machine(self):
        self.start_tour(
            "/odoo/action-odoo_ha_addon.ha_machine_action",
            "odoo_ha_addon_machine_service_plan_new_machine",
            login="ha_test_manager",
        )
        machine = self.env["ha.machine"].search([("name", "=", "Press")])
        self.assertEqual(machine.sensor_id, self.press_meter)
        self.assertEqual(
            machine.service_plan_ids.mapped(lambda plan: (plan.name, plan.every_sessions)),
            [("Grease the ram", 5)],
        )

    def test_an_ha_user_reads_the_plans_of_a_machine_of_their_groups(self):
        plan = self.env["ha.machine.service.plan"].create(
            {
                "name": "Oil change",
                "machine_id": self.machine.id,
                "every_working_hours": 10,
                "start_at": datetime(2026, 3, 1),
                "user_id": self.manager.id,
            }
        )
        plan.action_check_now()
        self.group_kitchen.entity_ids = [Command.link(self.meter.id)]
        self.start_tour(
            "/odoo/action-odoo_ha_addon.ha_machine_action",
            "odoo_ha_addon_machine_service_plan_read_only",
            login="ha_test_member",
        )
        self.assertEqual(len(plan.due_ids), 1, "the user checked nothing")
