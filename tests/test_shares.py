"""Shares: what a portal user and an internal user without Home Assistant rights get through
the ORM and the bus, to the second of a share's expiry."""

import json
import time
from datetime import timedelta
from unittest.mock import patch

from psycopg2.errors import CheckViolation

from odoo import Command, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.bus.tests.common import WebsocketCase

from ..models.ha_realtime_update import ACCESS_CHANGED, ENTITY_CHANGES, scope_channel
from .common import HaTestCommon
from .test_realtime import BusRowsMixin, SocketMixin, _change


def _in(seconds):
    return fields.Datetime.now() + timedelta(seconds=seconds)


def _sleep_past(moment, margin_s=0.2):
    """Sleep until ``moment`` (naive UTC, as stored) has passed by ``margin_s``."""
    delay = (moment - fields.Datetime.now()).total_seconds() + margin_s
    if delay > 0:
        time.sleep(delay)


class ShareCommon(HaTestCommon):
    """``portal`` controls the kitchen light until an hour from now; ``employee`` (internal,
    no Home Assistant rights) views the outside sensor; ``stranger`` (portal) has a share of
    the cabin's pump."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal = new_test_user(cls.env, login="share_portal", groups="base.group_portal")
        cls.stranger = new_test_user(cls.env, login="share_stranger", groups="base.group_portal")
        cls.employee = new_test_user(cls.env, login="share_employee", groups="base.group_user")
        Share = cls.env["ha.entity.share"].with_user(cls.manager)
        cls.share_light = Share.create(
            {
                "entity_id": cls.light_kitchen.id,
                "user_id": cls.portal.id,
                "permission": "control",
                "date_end": _in(3600),
            }
        )
        cls.share_sensor = Share.create(
            {"entity_id": cls.sensor_outside.id, "user_id": cls.employee.id}
        )
        cls.share_pump = Share.create(
            {"entity_id": cls.cabin_switch.id, "user_id": cls.stranger.id, "permission": "control"}
        )


@tagged("post_install", "-at_install")
class TestShareAccess(ShareCommon):
    def _read(self, user, model):
        return self.env[model].with_user(user).search([])

    def test_a_person_reads_exactly_what_is_shared(self):
        self.assertEqual(self._read(self.portal, "ha.entity"), self.light_kitchen)
        self.assertEqual(self._read(self.portal, "ha.instance"), self.instance)
        self.assertEqual(self._read(self.portal, "ha.area"), self.area_kitchen)
        self.assertEqual(self._read(self.portal, "ha.device"), self.device_bulb)
        self.assertEqual(self._read(self.portal, "ha.entity.share"), self.share_light)
        self.assertEqual(self._read(self.employee, "ha.entity"), self.sensor_outside)
        self.assertEqual(self._read(self.employee, "ha.instance"), self.instance)
        # The sensor has no area or device: nothing of those is readable.
        self.assertFalse(self._read(self.employee, "ha.area"))
        self.assertFalse(self._read(self.employee, "ha.device"))
        self.assertEqual(self._read(self.stranger, "ha.instance"), self.other_instance)

    def test_a_share_opens_nothing_else(self):
        for user in (self.portal, self.employee):
            instance = self.instance.with_user(user)
            # Neither the token, nor where the server runs, nor its errors.
            for field in ("token", "url", "last_error", "history_domains"):
                with self.assertRaises(AccessError, msg=f"{user.login} read {field}"):
                    instance.read([field])
            with self.assertRaises(AccessError):
                self.other_instance.with_user(user).read(["name"])
            with self.assertRaises(AccessError):
                self.share_pump.with_user(user).read(["entity_id"])
            with self.assertRaises(AccessError):
                self.cabin_switch.with_user(user).read(["state"])
            # History and groups are for Home Assistant users.
            for model in ("ha.entity.history", "ha.entity.group", "ha.ws.request.queue"):
                with self.assertRaises(AccessError, msg=f"{user.login} read {model}"):
                    self.env[model].with_user(user).search([])
            # And nobody but managers writes shares.
            with self.assertRaises(AccessError):
                self.share_light.with_user(user).write({"date_end": False})
            with self.assertRaises(AccessError):
                self.env["ha.entity.share"].with_user(user).create(
                    {"entity_id": self.light_kitchen.id, "user_id": user.id}
                )
        with self.assertRaises(AccessError):
            self.env["ha.entity.share"].with_user(self.user_member).create(
                {"entity_id": self.light_kitchen.id, "user_id": self.portal.id}
            )

    def test_control_follows_the_permission(self):
        Entity = self.env["ha.entity"]
        both = self.light_kitchen | self.sensor_outside
        self.assertEqual(both._controllable_by(self.portal), self.light_kitchen)
        self.assertEqual(both._controllable_by(self.employee), Entity)
        self.share_light.permission = "view"
        self.assertEqual(both._controllable_by(self.portal), Entity)

    def test_expiry_ends_access_to_the_second_without_any_job(self):
        self.share_light.date_end = _in(1.5)
        light = self.env["ha.entity"].with_user(self.portal)
        self.assertEqual(light.search([]), self.light_kitchen)
        self.assertTrue(self.light_kitchen._controllable_by(self.portal))
        _sleep_past(self.share_light.date_end, margin_s=1.0)
        self.env.invalidate_all()
        self.assertFalse(light.search([]))
        self.assertFalse(self.env["ha.instance"].with_user(self.portal).search([]))
        self.assertFalse(self.light_kitchen._controllable_by(self.portal))
        self.assertEqual(self.share_light.state, "expired")
        with self.assertRaises(AccessError):
            self.light_kitchen.with_user(self.portal).read(["state"])

    def test_a_share_expiring_while_the_portal_page_reads_is_listed_or_not_never_refused(self):
        """The portal page's read straddles the share's expiry: every check of the request
        is made at the instant it started (the share is still current), not some before and
        some after (the page got "no read access" and stopped following the share)."""
        self.share_light.date_end = _in(60)
        before = self.share_light.date_end - timedelta(seconds=1)
        after = self.share_light.date_end + timedelta(seconds=1)
        clock = iter([before])
        with patch.object(fields.Datetime, "now", side_effect=lambda: next(clock, after)):
            data = self.env["ha.entity.share"].with_user(self.portal)._shared_with_me()
        listed = [
            e["entity_id"] for i in data["instances"] for a in i["areas"] for e in a["entities"]
        ]
        self.assertEqual(listed, ["light.kitchen"])
        # The next read, after the expiry, lists nothing.
        self.env.invalidate_all()
        with patch.object(fields.Datetime, "now", return_value=after):
            data = self.env["ha.entity.share"].with_user(self.portal)._shared_with_me()
        self.assertEqual((data["instances"], data["entity_count"]), ([], 0))

    def test_a_share_grants_nothing_before_it_starts(self):
        self.share_sensor.date_start = _in(3600)
        self.assertEqual(self.share_sensor.state, "scheduled")
        self.assertFalse(self.env["ha.entity"].with_user(self.employee).search([]))

    def test_revocation_ends_access_at_once(self):
        self.share_light.with_user(self.manager).action_revoke()
        self.assertEqual(self.share_light.state, "revoked")
        self.assertFalse(self.env["ha.entity"].with_user(self.portal).search([]))
        self.assertFalse(self.light_kitchen._controllable_by(self.portal))

    def test_device_and_group_shares_cover_the_entities_they_had(self):
        Share = self.env["ha.entity.share"].with_user(self.manager)
        device_share = Share.create({"device_id": self.device_bulb.id, "user_id": self.employee.id})
        group_share = Share.create({"group_id": self.group_kitchen.id, "user_id": self.stranger.id})
        self.assertEqual(device_share.entity_ids, self.light_kitchen)
        self.assertEqual(group_share.entity_ids, self.light_kitchen)
        # Added to the group later: not shared (TestDeviceAndGroupShares has the rest).
        self.group_kitchen.entity_ids = [Command.link(self.sensor_outside.id)]
        self.assertEqual(group_share.entity_ids, self.light_kitchen)
        self.assertEqual(
            self.env["ha.entity"].with_user(self.stranger).search([]),
            self.light_kitchen | self.cabin_switch,
        )
        self.group_kitchen.entity_ids = [Command.unlink(self.light_kitchen.id)]
        self.assertEqual(
            self.env["ha.entity"].with_user(self.stranger).search([]), self.cabin_switch
        )

    @mute_logger("odoo.sql_db")
    def test_a_share_is_of_one_thing_for_a_period(self):
        Share = self.env["ha.entity.share"]
        with self.assertRaises(CheckViolation), self.env.cr.savepoint():
            Share.create({"user_id": self.portal.id})
        with self.assertRaises(CheckViolation), self.env.cr.savepoint():
            Share.create(
                {
                    "entity_id": self.light_kitchen.id,
                    "device_id": self.device_bulb.id,
                    "user_id": self.portal.id,
                }
            )
        with self.assertRaises(CheckViolation), self.env.cr.savepoint():
            Share.create(
                {
                    "entity_id": self.light_kitchen.id,
                    "user_id": self.portal.id,
                    "date_start": _in(60),
                    "date_end": _in(30),
                }
            )
        public = self.env.ref("base.public_user")
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            Share.create({"entity_id": self.light_kitchen.id, "user_id": public.id})

    def test_the_wizard_shares_many_things_with_many_people(self):
        wizard = (
            self.env["ha.entity.share.wizard"]
            .with_user(self.manager)
            .with_context(
                active_model="ha.entity",
                active_ids=(self.light_kitchen | self.sensor_outside).ids,
            )
            .create(
                {
                    "user_ids": [Command.set((self.portal | self.stranger).ids)],
                    "permission": "control",
                    "date_end": _in(600),
                }
            )
        )
        self.assertEqual(wizard.entity_ids, self.light_kitchen | self.sensor_outside)
        action = wizard.action_share()
        shares = self.env["ha.entity.share"].search(action["domain"])
        self.assertEqual(len(shares), 4)
        self.assertEqual(
            {(s.entity_id, s.user_id) for s in shares},
            {
                (entity, user)
                for entity in (self.light_kitchen, self.sensor_outside)
                for user in (self.portal, self.stranger)
            },
        )
        self.assertEqual(set(shares.mapped("permission")), {"control"})
        self.assertEqual(shares.create_uid, self.manager)

    def test_the_daily_job_archives_expired_shares_and_reminds_their_creators(self):
        Share = self.env["ha.entity.share"]
        self.share_light.date_end = _in(3600 * 24)
        self.share_sensor.date_end = _in(3600 * 24 * 10)
        expired = Share.with_user(self.manager).create(
            {"entity_id": self.light_kitchen.id, "user_id": self.employee.id, "date_end": _in(1)}
        )
        _sleep_past(expired.date_end)
        Share._cron_expire_and_remind()
        self.assertFalse(expired.active)
        self.assertEqual(expired.state, "expired")
        self.assertTrue(self.share_light.active)
        (activity,) = self.share_light.activity_ids
        self.assertEqual(activity.user_id, self.manager)
        self.assertIn("share_portal", activity.note)
        self.assertFalse(self.share_sensor.activity_ids, "expires in 10 days: not yet")
        Share._cron_expire_and_remind()
        self.assertEqual(len(self.share_light.activity_ids), 1, "reminded once")
        # A new expiry date is reminded again when it comes near.
        self.share_light.activity_ids.unlink()
        self.share_light.date_end = _in(3600 * 12)
        Share._cron_expire_and_remind()
        self.assertEqual(len(self.share_light.activity_ids), 1)

    def test_the_owner_lists_current_and_ended_shares(self):
        self.share_sensor.action_revoke()
        Share = self.env["ha.entity.share"].with_user(self.manager).with_context(active_test=False)
        self.assertEqual(
            Share.search([("state", "=", "current"), ("create_uid", "=", self.manager.id)]),
            self.share_light | self.share_pump,
        )
        self.assertEqual(Share.search([("state", "=", "revoked")]), self.share_sensor)
        self.assertEqual(Share.search([("is_current", "=", False)]), self.share_sensor)


@tagged("post_install", "-at_install")
class TestShareBus(BusRowsMixin, ShareCommon):
    def test_a_share_channel_carries_its_entities_only_while_current(self):
        realtime = self.env["ha.realtime.update"]
        channel = scope_channel(self.share_light)
        self.assertEqual(realtime._user_scopes(self.portal), [self.share_light])
        self.assertEqual(realtime._user_scopes(self.employee), [self.share_sensor])
        changes = {"light.kitchen": _change("off"), "sensor.outside_temperature": _change("3")}
        realtime._notify_entity_changes(self.instance, changes)
        (row,) = self._bus_rows(channel)
        self.assertEqual(row["type"], ENTITY_CHANGES)
        self.assertEqual(list(row["payload"]["changes"]), ["light.kitchen"])
        (row,) = self._bus_rows(scope_channel(self.share_sensor))
        self.assertEqual(list(row["payload"]["changes"]), ["sensor.outside_temperature"])

        self.share_light.date_end = _in(1)
        start = self._bus_mark()
        _sleep_past(self.share_light.date_end)
        realtime._notify_entity_changes(self.instance, changes)
        realtime._notify_instance_status(self.instance)
        # Nothing more on the share's channel: neither changes nor the instance's status.
        self.assertEqual(
            [m for c, m in self._rows_since(start) if c[1:3] == ["ha.entity.share", channel[0].id]],
            [],
        )
        self.assertTrue(self._bus_rows(scope_channel(self.share_sensor)), "others go on")
        self.assertEqual(realtime._user_scopes(self.portal), [])

    def test_status_reaches_shares_without_the_last_error(self):
        self.instance.sudo().write({"last_error": "Cannot reach 10.0.0.7:8123"})
        self.env["ha.realtime.update"]._notify_instance_status(self.instance)
        (row,) = self._bus_rows(scope_channel(self.share_light))
        self.assertIsNone(row["payload"]["last_error"])
        self.assertNotIn("10.0.0.7", json.dumps(row))
        (row,) = self._bus_rows(scope_channel(self.instance))
        self.assertIn("10.0.0.7", row["payload"]["last_error"])

    def test_revoking_moves_the_share_to_a_new_channel(self):
        old = scope_channel(self.share_light)
        self.share_light.action_revoke()
        (row,) = self._bus_rows(old)
        self.assertEqual(row["type"], ACCESS_CHANGED)
        self.assertNotEqual(scope_channel(self.share_light), old)

    def test_a_new_share_tells_its_person(self):
        start = self._bus_mark()
        self.env["ha.entity.share"].create(
            {"entity_id": self.sensor_outside.id, "user_id": self.portal.id}
        )
        self.assertIn(
            (["res.users", self.portal.id, "odoo_ha_addon"], ACCESS_CHANGED),
            [(c[1:], m["type"]) for c, m in self._rows_since(start)],
        )


@tagged("post_install", "-at_install")
class TestShareSockets(SocketMixin, WebsocketCase, ShareCommon):
    """Real portal and employee sessions on /websocket."""

    def _everything_changes(self):
        realtime = self.env["ha.realtime.update"]
        realtime._notify_entity_changes(
            self.instance,
            {"light.kitchen": _change("off"), "sensor.outside_temperature": _change("4")},
        )
        realtime._notify_entity_changes(self.other_instance, {"switch.pump": _change("on")})

    def test_each_person_receives_what_is_shared_with_them(self):
        # Sockets of this process share the test's cursor: one person per test would be
        # cleaner, three in a row keep the comparison in one place; the server is done with
        # each socket before the next opens.
        for login, user, expected in (
            ("share_portal", self.portal, ["light.kitchen"]),
            ("share_employee", self.employee, ["sensor.outside_temperature"]),
            ("share_stranger", self.stranger, ["switch.pump"]),
        ):
            websocket = self._connect(login)
            self._everything_changes()
            self.assertEqual(self._received_entities(websocket, user), expected, login)
            self.close_socket(websocket)

    def test_an_open_socket_stops_receiving_at_expiry(self):
        portal = self._connect("share_portal")
        self.share_light.date_end = _in(1)
        _sleep_past(self.share_light.date_end)
        self._everything_changes()
        self.assertEqual(self._received_entities(portal, self.portal), [])

    def test_an_open_socket_stops_receiving_at_revocation(self):
        employee = self._connect("share_employee")
        self.share_sensor.action_revoke()
        self._everything_changes()
        self.assertEqual(self._received_entities(employee, self.employee), [])


@tagged("post_install", "-at_install")
class TestDeviceAndGroupShares(BusRowsMixin, ShareCommon):
    """A share of a device or group covers the entities it had when shared (still in it);
    entities added later only with "Include entities added later", and then to view only,
    until a manager shares the current entities again. ``employee`` (internal, no Home
    Assistant rights) and ``stranger`` (portal) are the people shared with."""

    def _share(self, user, include_later=False, **target):
        return (
            self.env["ha.entity.share"]
            .with_user(self.manager)
            .create(
                {
                    "user_id": user.id,
                    "permission": "control",
                    "include_later": include_later,
                    **target,
                }
            )
        )

    def _new_device_entity(self, entity_id="switch.bulb_relay"):
        """An entity Home Assistant adds to the bulb (a new switch, a firmware update)."""
        return self.env["ha.entity"].create(
            {
                "instance_id": self.instance.id,
                "entity_id": entity_id,
                "state": "off",
                "device_id": self.device_bulb.id,
            }
        )

    def _readable(self, user):
        return self.env["ha.entity"].with_user(user).search([])

    def _seen_by(self, user):
        """entity id -> can_control, as the portal page and the JSON API show it."""
        data = self.env["ha.entity.share"].with_user(user)._shared_with_me()
        return {
            entity["entity_id"]: entity["can_control"]
            for instance in data["instances"]
            for area in instance["areas"]
            for entity in area["entities"]
        }

    def _bus_entities(self, share, entity_ids):
        """The entity ids among ``entity_ids`` whose changes reach ``share``'s channel."""
        holding = self.env["ha.realtime.update"]._scopes_holding(self.instance, entity_ids)
        start = self._bus_mark()
        self.env["ha.realtime.update"]._notify_entity_changes(
            self.instance, {entity_id: _change("on") for entity_id in entity_ids}
        )
        channel = list(scope_channel(share))
        sent = sorted(
            entity_id
            for c, m in self._rows_since(start)
            if c[1:] == [share._name, share.id, channel[1]] and m["type"] == ENTITY_CHANGES
            for entity_id in m["payload"]["changes"]
        )
        self.assertEqual(sorted(holding.get(share, [])), sent)
        return sent

    def test_a_device_share_grants_the_entities_it_had(self):
        share = self._share(self.employee, device_id=self.device_bulb.id)
        self.assertEqual(share.granted_entity_ids, self.light_kitchen)
        self.assertFalse(share.include_later)
        relay = self._new_device_entity()
        self.assertEqual(share.entity_ids, self.light_kitchen)
        self.assertEqual(self._readable(self.employee), self.light_kitchen | self.sensor_outside)
        with self.assertRaises(AccessError):
            relay.with_user(self.employee).read(["state"])
        self.assertFalse(relay._controllable_by(self.employee))
        self.assertTrue(self.light_kitchen._controllable_by(self.employee))
        self.assertEqual(
            self._seen_by(self.employee),
            {"light.kitchen": True, "sensor.outside_temperature": False},
        )
        self.assertEqual(
            self._bus_entities(share, ["light.kitchen", "switch.bulb_relay"]), ["light.kitchen"]
        )
        Share = self.env["ha.entity.share"].with_user(self.manager)
        self.assertFalse(Share.search([("entity_ids", "in", relay.ids), ("id", "=", share.id)]))
        self.assertEqual(
            Share.search([("entity_ids", "in", self.light_kitchen.ids)]) & share, share
        )
        self.assertFalse(relay.sudo().shared_with_ids)
        self.assertEqual(self.light_kitchen.sudo().shared_with_ids, self.portal | self.employee)

    def test_a_group_share_grants_the_entities_it_had(self):
        share = self._share(self.stranger, group_id=self.group_kitchen.id)
        self.group_kitchen.entity_ids = [Command.link(self.sensor_outside.id)]
        self.assertEqual(self.group_kitchen.entity_ids, self.light_kitchen | self.sensor_outside)
        self.assertEqual(share.entity_ids, self.light_kitchen)
        self.assertEqual(self._readable(self.stranger), self.light_kitchen | self.cabin_switch)
        with self.assertRaises(AccessError):
            self.sensor_outside.with_user(self.stranger).read(["state"])
        self.assertFalse(self.sensor_outside._controllable_by(self.stranger))
        self.assertEqual(self._seen_by(self.stranger), {"light.kitchen": True, "switch.pump": True})
        self.assertEqual(
            self._bus_entities(share, ["light.kitchen", "sensor.outside_temperature"]),
            ["light.kitchen"],
        )

    def test_an_entity_that_leaves_the_group_or_device_leaves_the_share(self):
        group_share = self._share(self.stranger, group_id=self.group_kitchen.id)
        device_share = self._share(self.employee, device_id=self.device_bulb.id)
        self.group_kitchen.entity_ids = [Command.unlink(self.light_kitchen.id)]
        self.assertFalse(group_share.entity_ids)
        self.assertEqual(self._readable(self.stranger), self.cabin_switch)
        self.assertFalse(self.light_kitchen._controllable_by(self.stranger))
        self.assertEqual(self._bus_entities(group_share, ["light.kitchen"]), [])
        # Home Assistant moves the light off the bulb (the connector writes device_id).
        self.light_kitchen.sudo().device_id = False
        self.assertFalse(device_share.entity_ids)
        self.assertEqual(self._readable(self.employee), self.sensor_outside)
        self.assertFalse(self.env["ha.device"].with_user(self.employee).search([]))
        self.assertFalse(self.light_kitchen._controllable_by(self.employee))
        self.assertEqual(self._seen_by(self.employee), {"sensor.outside_temperature": False})

    def test_entities_added_later_are_view_only_until_shared_again(self):
        share = self._share(self.portal, include_later=True, device_id=self.device_bulb.id)
        relay = self._new_device_entity()
        self.assertEqual(share.entity_ids, self.light_kitchen | relay)
        self.assertEqual(share.granted_entity_ids, self.light_kitchen)
        self.assertEqual(self._readable(self.portal), self.light_kitchen | relay)
        self.assertEqual(relay.with_user(self.portal).read(["state"])[0]["state"], "off")
        self.assertFalse(relay.with_user(self.portal).can_control)
        self.assertFalse(relay._controllable_by(self.portal))
        self.assertEqual(
            self._seen_by(self.portal), {"light.kitchen": True, "switch.bulb_relay": False}
        )
        self.assertEqual(
            self._bus_entities(share, ["light.kitchen", "switch.bulb_relay"]),
            ["light.kitchen", "switch.bulb_relay"],
        )
        # A manager confirms the entities of now: the relay gets the share's control.
        share.with_user(self.manager).action_grant_current_entities()
        self.assertEqual(share.granted_entity_ids, self.light_kitchen | relay)
        self.assertTrue(relay._controllable_by(self.portal))
        self.env.invalidate_all()  # can_control is computed once per request
        self.assertTrue(relay.with_user(self.portal).can_control)
        self.assertEqual(
            self._seen_by(self.portal), {"light.kitchen": True, "switch.bulb_relay": True}
        )

    def test_a_group_share_including_later_entities_shows_them_to_view(self):
        share = self._share(self.employee, include_later=True, group_id=self.group_kitchen.id)
        self.group_kitchen.entity_ids = [Command.link(self.sensor_outside.id)]
        # The sensor's own share ends: the group's is the only way to it.
        self.share_sensor.action_revoke()
        self.assertEqual(self._readable(self.employee), self.light_kitchen | self.sensor_outside)
        self.assertEqual(
            self._seen_by(self.employee),
            {"light.kitchen": True, "sensor.outside_temperature": False},
        )
        self.assertFalse(self.sensor_outside._controllable_by(self.employee))
        # Unticked, the share narrows back to its granted entities.
        share.include_later = False
        self.assertEqual(self._readable(self.employee), self.light_kitchen)
        share.action_grant_current_entities()
        self.assertEqual(self._readable(self.employee), self.light_kitchen | self.sensor_outside)
        self.assertTrue(self.sensor_outside._controllable_by(self.employee))

    def test_the_wizard_says_whether_later_entities_are_included(self):
        Wizard = self.env["ha.entity.share.wizard"].with_user(self.manager)
        for include_later in (False, True):
            wizard = Wizard.with_context(
                active_model="ha.device", active_ids=self.device_bulb.ids
            ).create(
                {
                    "user_ids": [Command.set(self.stranger.ids)],
                    "permission": "view",
                    "include_later": include_later,
                }
            )
            share = self.env["ha.entity.share"].search(wizard.action_share()["domain"])
            self.assertEqual(share.device_id, self.device_bulb)
            self.assertEqual(share.include_later, include_later)
            self.assertEqual(share.granted_entity_ids, self.light_kitchen)

    def test_another_target_grants_its_own_entities(self):
        share = self._share(self.stranger, device_id=self.device_bulb.id)
        self.group_kitchen.entity_ids = [Command.link(self.sensor_outside.id)]
        share.write({"device_id": False, "group_id": self.group_kitchen.id})
        self.assertEqual(share.granted_entity_ids, self.light_kitchen | self.sensor_outside)
        self.assertTrue(self.sensor_outside._controllable_by(self.stranger))


@tagged("post_install", "-at_install")
class TestShareFormInTheBrowser(HttpCase, ShareCommon):
    """The share form in the web client (headless Chromium), as a manager sees it."""

    def test_a_device_share_says_what_it_covers(self):
        share = (
            self.env["ha.entity.share"]
            .with_user(self.manager)
            .create(
                {"device_id": self.device_bulb.id, "user_id": self.portal.id, "permission": "view"}
            )
        )
        # Home Assistant gives the device a new entity after it was shared.
        self.env["ha.entity"].create(
            {
                "instance_id": self.instance.id,
                "entity_id": "update.bulb_firmware",
                "name": "Bulb firmware",
                "state": "off",
                "device_id": self.device_bulb.id,
            }
        )
        self.start_tour(
            f"/odoo/action-odoo_ha_addon.ha_entity_share_action/{share.id}",
            "odoo_ha_addon_share_form",
            login="ha_test_manager",
        )
