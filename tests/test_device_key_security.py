"""What a device key and its sessions give, and to whom, tried as users granted little: the
key is shown once and stored nowhere, nobody reads another person's key rows, a key's
session receives Home Assistant changes and nothing else of its owner's bus (no Discuss, no
inbox, no presence), and its socket closes once the key expired or was deleted however it
went. Also what people a share grants see of the team's data (notes, server version)."""

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

from odoo import fields
from odoo.exceptions import AccessError
from odoo.http import root
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.addons.bus.tests.common import WebsocketCase
from odoo.addons.bus.websocket import CloseCode

from ..models.ha_realtime_update import (
    ENTITY_CHANGES,
    INSTANCE_STATUS,
    scope_channel,
    user_channel,
)
from .common import HaTestCommon
from .test_device_keys import DeviceLogin, _device_key
from .test_realtime import SocketMixin
from .test_shares import ShareCommon

# Something a Discuss message carries that must never reach a device-key session.
SECRET = "door code is 4711"


def _rpc(case, path, params):
    response = case.url_open(
        path,
        data=json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params}),
        headers={"Content-Type": "application/json"},
    )
    return response.json()


def _call_kw(case, model, method, args, kwargs=None):
    return _rpc(
        case,
        f"/web/dataset/call_kw/{model}/{method}",
        {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
    )


def _call_button(case, model, method, ids):
    return _rpc(
        case,
        "/web/dataset/call_button",
        {"model": model, "method": method, "args": [ids], "kwargs": {}},
    )


def _tables_holding(cr, text):
    """Every "table.column" of the database whose text holds ``text``."""
    cr.execute(
        """
        SELECT c.table_name, c.column_name
          FROM information_schema.columns c
          JOIN information_schema.tables t
            ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.data_type IN ('character varying', 'text', 'jsonb', 'json')
        """
    )
    found = []
    for table, column in cr.fetchall():
        cr.execute(
            SQL(
                "SELECT 1 FROM %s WHERE %s::text LIKE %s LIMIT 1",
                SQL.identifier(table),
                SQL.identifier(column),
                f"%{text}%",
            )
        )
        if cr.fetchone():
            found.append(f"{table}.{column}")
    return found


@tagged("post_install", "-at_install")
class TestDeviceKeyIsShownOnce(DeviceLogin, HttpCase):
    """The "Connect an outside app" flow as the web client runs it, over HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        groups = "odoo_ha_addon.group_ha_user"
        cls.member = new_test_user(cls.env, login="key_member", groups=groups)
        cls.colleague = new_test_user(cls.env, login="key_colleague", groups=groups)
        cls.manager = new_test_user(
            cls.env, login="key_manager", groups="odoo_ha_addon.group_ha_manager"
        )
        cls.tenant = new_test_user(cls.env, login="key_tenant", groups="base.group_portal")

    def _press_make_key(self, user, wizard_id):
        """Press "Make the key" on wizard row ``wizard_id`` as ``user`` (logged in), confirming
        the password as Odoo asks: the JSON-RPC answer of the button."""
        check = _call_button(self, "ha.device.key.wizard", "action_make_key", [wizard_id])
        check = check["result"]
        self.assertEqual(check["res_model"], "res.users.identitycheck", "asks the password")
        self.assertTrue(
            _call_kw(
                self,
                "res.users.identitycheck",
                "write",
                [[check["res_id"]], {"password": user.login}],
            )["result"]
        )
        return _call_button(self, "res.users.identitycheck", "run_check", [check["res_id"]])

    def _make_key(self, user, name):
        """Fill the wizard, press "Make the key", confirm the password: the shown key."""
        self.authenticate(user.login, user.login)
        wizard_id = _call_kw(self, "ha.device.key.wizard", "create", [{"name": name}])["result"]
        action = self._press_make_key(user, wizard_id)["result"]
        self.assertEqual(action["res_model"], "ha.device.key.show")
        # What the form shows: the key, from the action's context, through no table.
        form = _call_kw(
            self,
            "ha.device.key.show",
            "onchange",
            [[], {}, [], {"key": {}, "name": {}}],
            {"context": action["context"]},
        )["result"]["value"]
        self.assertEqual(form["name"], name)
        self.assertEqual(form["key"], action["context"]["default_key"])
        return form["key"], wizard_id

    def test_the_key_is_shown_once_and_stored_nowhere(self):
        key, wizard_id = self._make_key(self.member, "Hall tablet")
        self.assertEqual(len(key), 40)
        self.assertFalse(self.env["ha.device.key.wizard"].browse(wizard_id).exists())
        self.assertNotIn("key", self.env["ha.device.key.wizard"]._fields)
        self.assertEqual(_tables_holding(self.env.cr, key), [])
        # The key itself works, as the person's device.
        data = self.device_login("key_member", key)
        self.assertEqual(data["uid"], self.member.id)

    def test_nobody_reads_another_persons_key_rows(self):
        # A manager starts connecting a device (the row stays while the form is open).
        self.authenticate(self.manager.login, self.manager.login)
        wizard_id = _call_kw(self, "ha.device.key.wizard", "create", [{"name": "Office tablet"}])[
            "result"
        ]
        for user in (self.colleague, self.member):
            self.authenticate(user.login, user.login)
            rows = _call_kw(self, "ha.device.key.wizard", "search_read", [[]], {"fields": []})
            self.assertEqual(rows["result"], [], user.login)
            with mute_logger("odoo.http"):
                read = _call_kw(self, "ha.device.key.wizard", "read", [[wizard_id]])
            self.assertIn("error", read)
            # Nor press its button, to make a key in the manager's name.
            with mute_logger("odoo.http"):
                pressed = self._press_make_key(user, wizard_id)
            self.assertIn("error", pressed)
        self.assertFalse(
            self.env["res.users.apikeys"].search([("name", "=", "Office tablet")]),
            "no key was made",
        )
        self.authenticate(self.tenant.login, self.tenant.login)
        with mute_logger("odoo.http"):
            rows = _call_kw(self, "ha.device.key.wizard", "search_read", [[]], {"fields": []})
        self.assertIn("error", rows)
        # Through the ORM as well, managers included: each person sees their own rows.
        Wizard = self.env["ha.device.key.wizard"]
        self.assertEqual(Wizard.with_user(self.colleague).search([]), Wizard)
        other_manager = new_test_user(
            self.env, login="key_manager_2", groups="odoo_ha_addon.group_ha_manager"
        )
        self.assertEqual(Wizard.with_user(other_manager).search([]), Wizard)
        self.assertEqual(Wizard.with_user(self.manager).search([]).ids, [wizard_id])
        with self.assertRaises(AccessError):
            Wizard.browse(wizard_id).with_user(self.colleague).read(["name"])


@tagged("post_install", "-at_install")
class TestDeviceKeyInTheBrowser(HttpCase):
    """The same flow in the real web client (headless Chromium)."""

    def test_a_user_connects_an_outside_app_and_sees_the_key_once(self):
        member = new_test_user(self.env, login="key_member", groups="odoo_ha_addon.group_ha_user")
        self.start_tour(
            "/odoo/action-odoo_ha_addon.ha_device_key_action",
            "odoo_ha_addon_device_key",
            login="key_member",
        )
        key = self.env["res.users.apikeys"].search([("user_id", "=", member.id)])
        self.assertEqual((key.name, key.scope), ("Hall tablet", "odoo_ha_addon"))
        self.assertFalse(self.env["ha.device.key.wizard"].search([]))


@tagged("post_install", "-at_install")
class TestDeviceKeySessionBus(DeviceLogin, SocketMixin, WebsocketCase, HaTestCommon):
    """A device-key session on Odoo's real /websocket and peek route, next to a browser
    session of the same person."""

    def _post_direct_message(self):
        """The manager writes to the member in Discuss, and Odoo tells the member's partner
        channel (an inbox-style notification) as well."""
        chat = (
            self.env["discuss.channel"]
            .with_user(self.manager)
            .channel_get([self.user_member.partner_id.id])
        )
        chat.with_user(self.manager).message_post(
            body=SECRET, message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.user_member.partner_id._bus_send("mail.record/insert", {"secret": SECRET})
        self.env["bus.bus"]._sendone("broadcast", "test/broadcast", {})

    def _change_kitchen(self):
        self.env["ha.realtime.update"]._notify_entity_changes(
            self.instance, {"light.kitchen": {"state": "off"}}
        )

    def _device_socket(self):
        data = self.device_login("ha_test_member", _device_key(self.user_member))
        websocket = self.websocket_connect(cookie=f"session_id={data['session_id']};")
        # The app names channels of its own: strings are all a client may send.
        self.subscribe(
            websocket,
            ["broadcast", f"odoo-presence-res.partner_{self.manager.partner_id.id}"],
            self.env["bus.bus"]._bus_last_id(),
        )
        return websocket, data

    def test_a_device_key_socket_receives_home_assistant_and_none_of_discuss(self):
        browser = self._connect("ha_test_member")
        device, _data = self._device_socket()
        self._post_direct_message()
        self._change_kitchen()
        # One ping for both sockets: the test writes to the database only once every socket's
        # dispatch is over (they share the test's cursor).
        self._send_ping(self.user_member)
        on_device = self._read_until_ping(device)
        on_browser = self._read_until_ping(browser)
        # The browser session of the same person gets the message: the check could fail.
        self.assertIn(SECRET, json.dumps(on_browser))
        self.assertNotIn(SECRET, json.dumps(on_device))
        self.assertEqual(
            [m["type"] for m in on_device], [ENTITY_CHANGES], "Home Assistant changes only"
        )
        self.assertEqual(on_device[0]["payload"]["changes"], {"light.kitchen": {"state": "off"}})

    def test_peek_gives_a_device_key_session_home_assistant_channels_only(self):
        self._post_direct_message()
        self._change_kitchen()
        self.env.cr.precommit.run()
        for login in ("browser", "device"):
            if login == "browser":
                self.authenticate("ha_test_member", "ha_test_member")
            else:
                self.device_login("ha_test_member", _device_key(self.user_member))
            peek = _rpc(
                self,
                "/websocket/peek_notifications",
                {"channels": ["broadcast"], "last": 0, "is_first_poll": True},
            )["result"]
            types = {n["message"]["type"] for n in peek["notifications"]}
            with self.subTest(session=login):
                self.assertIn(ENTITY_CHANGES, types)
                if login == "browser":
                    self.assertIn(SECRET, json.dumps(peek["notifications"]))
                    continue
                self.assertNotIn(SECRET, json.dumps(peek["notifications"]))
                # Home Assistant notifications only (the fixtures' own access_changed too).
                self.assertTrue(all(t.startswith("odoo_ha_addon/") for t in types), types)
                db = self.env.cr.dbname
                expected = {
                    json_dump(channel_with_db(db, channel))
                    for channel in (
                        user_channel(self.user_member),
                        scope_channel(self.group_kitchen),
                    )
                }
                channels = {json_dump(c) for c in peek["channels"]}
                key_channels = {c for c in channels if '"res.users.apikeys"' in c}
                self.assertEqual(len(key_channels), 1)
                self.assertEqual(channels - key_channels, expected)

    def test_a_key_expired_by_time_closes_its_socket(self):
        websocket, data = self._device_socket()
        self.env.cr.execute(
            "UPDATE res_users_apikeys SET expiration_date = %s WHERE name = 'Hall tablet'",
            # Before the transaction began: the test runs in one, and now() is its start.
            (fields.Datetime.now() - timedelta(hours=1),),
        )
        self._change_kitchen()
        self._dispatch()
        self.assert_close_with_code(websocket, CloseCode.SESSION_EXPIRED)
        # Odoo's clean-up deletes expired keys with SQL; the sessions they opened end too.
        self.env["res.users.apikeys"]._gc_user_apikeys()
        self.assertTrue(root.session_store.get(data["session_id"]))
        self.env["ha.device.session"]._gc_sessions_of_gone_keys()
        self.assertFalse(root.session_store.get(data["session_id"]))

    def test_a_key_deleted_with_sql_closes_its_socket(self):
        websocket, _data = self._device_socket()
        self.env.cr.execute("DELETE FROM res_users_apikeys WHERE name = 'Hall tablet'")
        self._change_kitchen()
        self._dispatch()
        self.assert_close_with_code(websocket, CloseCode.SESSION_EXPIRED)

    def test_a_device_key_of_a_non_manager_gets_no_server_details(self):
        self.device_login("ha_test_member", _device_key(self.user_member))
        for route in ("ha_urls", "hardware_info", "network_info"):
            with self.subTest(route=route):
                envelope = _rpc(
                    self, f"/odoo_ha_addon/{route}", {"ha_instance_id": self.instance.id}
                )["result"]
                self.assertEqual(envelope["error_type"], "access_denied")


@tagged("post_install", "-at_install")
class TestShareSeesNoTeamData(ShareCommon):
    """People a share grants see the entity and its instance's name and status, not the
    team's notes, the server's version or how many entities it holds."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.light_kitchen.note = "Spare bulbs are in the garage"
        cls.instance.write({"ha_version": "2024.3.3", "entity_count": 120})

    def test_orm_reads_give_no_note_version_or_count(self):
        for user in (self.portal, self.employee):
            entity = self.env["ha.entity"].with_user(user).search([])
            instance = self.env["ha.instance"].with_user(user).search([])
            with self.subTest(user=user.login):
                self.assertTrue(entity and instance)
                # What a client may ask for: fields_get lists what the user may read.
                self.assertNotIn("note", entity.fields_get())
                self.assertFalse({"ha_version", "entity_count"} & set(instance.fields_get()))
                with self.assertRaises(AccessError):
                    entity.read(["note"])
                with self.assertRaises(AccessError):
                    instance.read(["ha_version"])
                with self.assertRaises(AccessError):
                    instance.read(["entity_count"])
        # A Home Assistant user of the entity's group still reads them.
        entity = self.light_kitchen.with_user(self.user_member)
        self.assertEqual(entity.note, "Spare bulbs are in the garage")
        self.assertEqual(self.instance.with_user(self.user_member).ha_version, "2024.3.3")

    def test_the_status_a_share_receives_has_no_version_or_count(self):
        self.env.cr.precommit.run()
        start = self.env["bus.bus"].sudo()._bus_last_id()
        self.env["ha.realtime.update"]._notify_instance_status(self.instance)
        self.env.cr.precommit.run()
        rows = self.env["bus.bus"].sudo().search([("id", ">", start)])
        by_channel = {
            row.channel: json.loads(row.message)["payload"]
            for row in rows
            if json.loads(row.message)["type"] == INSTANCE_STATUS
        }
        db = self.env.cr.dbname
        share = by_channel[json_dump(channel_with_db(db, scope_channel(self.share_light)))]
        group = by_channel[json_dump(channel_with_db(db, scope_channel(self.group_kitchen)))]
        self.assertEqual((share["ha_version"], share["entity_count"]), (None, None))
        self.assertEqual((group["ha_version"], group["entity_count"]), ("2024.3.3", 120))
        self.assertEqual(share["status"], group["status"])


def _migration(name):
    """The upgrade step ``migrations/18.0.1.2.0/<name>.py``, loaded as Odoo loads it."""
    path = Path(__file__).resolve().parent.parent / "migrations" / "18.0.1.2.0" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_ha_migration_{name.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@tagged("post_install", "-at_install")
class TestUpgradeForgetsSecrets(HaTestCommon):
    """What databases of earlier releases kept in clear is gone after the upgrade."""

    def test_keys_the_old_wizard_kept_are_deleted(self):
        cr = self.env.cr
        old_key = "f" * 40
        cr.execute("ALTER TABLE ha_device_key_wizard ADD COLUMN key varchar")
        wizard = self.env["ha.device.key.wizard"].create({"name": "Old tablet"})
        cr.execute("UPDATE ha_device_key_wizard SET key = %s WHERE id = %s", (old_key, wizard.id))
        _migration("post-migrate-device-keys").migrate(cr, "18.0.1.1.0")
        self.env.invalidate_all()
        self.assertFalse(wizard.exists())
        self.assertEqual(_tables_holding(cr, old_key), [])

    def test_codes_of_answered_requests_are_redacted(self):
        cr = self.env.cr
        payload = {
            "domain": "alarm_control_panel",
            "service": "alarm_disarm",
            "service_data": {"code": "alarm-code-97531"},
            "target": {"entity_id": "alarm_control_panel.security"},
        }
        cr.execute(
            """
            INSERT INTO ha_ws_request_queue
                   (instance_id, message_type, payload, state, error, requested_at, done_at)
            VALUES (%s, 'call_service', %s, 'error', 'Invalid alarm code alarm-code-97531',
                    now() at time zone 'utc', now() at time zone 'utc')
            RETURNING id
            """,
            (self.instance.id, json.dumps(payload)),
        )
        (request_id,) = cr.fetchone()
        _migration("post-migrate-request-queue").migrate(cr, "18.0.1.1.0")
        self.assertEqual(_tables_holding(cr, "alarm-code-97531"), [])
        cr.execute("SELECT payload FROM ha_ws_request_queue WHERE id = %s", (request_id,))
        (stored,) = cr.fetchone()
        self.assertEqual(stored["target"], payload["target"], "the rest is kept")
