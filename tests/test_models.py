from datetime import datetime, timedelta

from psycopg2 import IntegrityError

from odoo import Command, fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import HaTestCommon


@tagged("post_install", "-at_install")
class TestInstanceUrl(HaTestCommon):
    def test_url_is_normalised(self):
        cases = {
            "http://ha.local:8123/": "http://ha.local:8123",
            "  https://ha.example.org/  ": "https://ha.example.org",
            "ws://ha.local:8123/api/websocket": "http://ha.local:8123",
            "http://proxy.local/ha/": "http://proxy.local/ha",
        }
        for typed, stored in cases.items():
            self.instance.url = typed
            self.assertEqual(self.instance.url, stored, typed)
        instance = self.env["ha.instance"].create({"name": "New", "url": "HTTP://ha.local:8123//"})
        self.assertEqual(instance.url, "http://ha.local:8123")

    def test_url_must_be_http_or_https_with_a_host(self):
        for bad_url in (
            "ha.local:8123",
            "ftp://ha.local",
            "http://",
            "not a url",
            "http://h:99999",
        ):
            with self.assertRaises(ValidationError, msg=bad_url):
                self.env["ha.instance"].create({"name": "Bad", "url": bad_url})

    def test_copy_keeps_configuration_but_not_token_or_runtime_state(self):
        self.instance.write({"ha_version": "2024.3.3", "entity_count": 12})
        copy = self.instance.copy()
        self.assertEqual(copy.url, self.instance.url)
        self.assertFalse(copy.token)
        self.assertFalse(copy.ha_version)
        self.assertEqual(copy.entity_count, 0)
        self.assertEqual(copy.status, "disconnected")


@tagged("post_install", "-at_install")
class TestEntity(HaTestCommon):
    def test_domain_and_history_default_follow_entity_id(self):
        self.assertEqual(self.light_kitchen.domain, "light")
        self.assertEqual(self.sensor_outside.domain, "sensor")
        self.assertTrue(self.sensor_outside.record_history)
        self.assertFalse(self.light_kitchen.record_history)
        motion = self.env["ha.entity"].create(
            {"instance_id": self.instance.id, "entity_id": "binary_sensor.motion"}
        )
        self.assertTrue(motion.record_history)
        # A person's choice is kept.
        motion.record_history = False
        self.assertFalse(motion.record_history)
        self.assertEqual(self.env["ha.entity"].search([("domain", "=", "binary_sensor")]), motion)

    def test_display_name_prefers_friendly_name(self):
        self.assertEqual(self.light_kitchen.display_name, "Kitchen light")
        self.assertEqual(self.cabin_switch.display_name, "switch.pump")

    @mute_logger("odoo.sql_db")
    def test_entity_id_unique_per_instance(self):
        # The same entity id on another instance is a different entity.
        self.env["ha.entity"].create(
            {"instance_id": self.other_instance.id, "entity_id": "light.kitchen"}
        )
        with self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env["ha.entity"].create(
                {"instance_id": self.instance.id, "entity_id": "light.kitchen"}
            )

    @mute_logger("odoo.sql_db")
    def test_area_and_device_ids_unique_per_instance(self):
        with self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env["ha.area"].create(
                {"instance_id": self.instance.id, "area_id": "kitchen", "name": "Again"}
            )
        with self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env["ha.device"].create(
                {"instance_id": self.instance.id, "device_id": "dev-bulb-1"}
            )
        self.env["ha.area"].create(
            {"instance_id": self.other_instance.id, "area_id": "kitchen", "name": "Cabin kitchen"}
        )

    def test_group_only_holds_entities_of_its_instance(self):
        with self.assertRaises(ValidationError):
            self.group_kitchen.entity_ids = [Command.link(self.cabin_switch.id)]

    def test_deleting_an_instance_deletes_what_it_mirrors(self):
        entities = self.instance.entity_ids
        self.assertTrue(entities)
        self.instance.unlink()
        self.assertFalse(entities.exists())
        self.assertFalse(self.area_kitchen.exists())
        self.assertFalse(self.group_kitchen.exists())


@tagged("post_install", "-at_install")
class TestHistory(HaTestCommon):
    def _record(self, entity, state, when):
        return self.env["ha.entity.history"].create(
            {"entity_id": entity.id, "state": state, "last_updated": when, "last_changed": when}
        )

    def test_numeric_value_of_states(self):
        now = fields.Datetime.now()
        expectations = [
            ("21.5", 21.5, True),
            ("-3", -3.0, True),
            ("on", 1.0, True),
            ("off", 0.0, True),
            ("unavailable", 0.0, False),
            ("nan", 0.0, False),
            (False, 0.0, False),
        ]
        for offset, (state, value, numeric) in enumerate(expectations):
            record = self._record(self.sensor_outside, state, now - timedelta(seconds=offset))
            self.assertEqual((record.num_value, record.is_numeric), (value, numeric), state)
        self.assertEqual(record.instance_id, self.instance)

    @mute_logger("odoo.sql_db")
    def test_one_state_per_entity_and_timestamp(self):
        when = datetime(2024, 3, 1, 12, 0, 0)
        self._record(self.sensor_outside, "10", when)
        self._record(self.light_kitchen, "on", when)
        with self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self._record(self.sensor_outside, "11", when)

    def test_history_follows_its_entity(self):
        record = self._record(self.sensor_outside, "5", fields.Datetime.now())
        self.sensor_outside.unlink()
        self.assertFalse(record.exists())


@tagged("post_install", "-at_install")
class TestRequestQueue(HaTestCommon):
    def test_autovacuum_keeps_pending_and_recent_requests(self):
        Queue = self.env["ha.ws.request.queue"]
        now = fields.Datetime.now()
        base = {"instance_id": self.instance.id, "message_type": "ping"}
        old_done = Queue.create({**base, "state": "done", "done_at": now - timedelta(days=8)})
        old_error = Queue.create({**base, "state": "error", "done_at": now - timedelta(days=8)})
        recent_done = Queue.create({**base, "state": "done", "done_at": now - timedelta(days=1)})
        pending = Queue.create({**base, "requested_at": now - timedelta(days=30)})
        Queue._gc_finished_requests()
        self.assertFalse((old_done | old_error).exists())
        self.assertEqual((recent_done | pending).exists(), recent_done | pending)
