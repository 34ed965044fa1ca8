"""The routes that give the web client what some domains show beyond their state (camera
image, to-do items, calendar events, weather forecast; controllers/entity_data.py), over real
HTTP sessions against the real Home Assistant of the test run, as users granted one entity
each (fixtures: tests/api_common.py)."""

import json
import socket
import time
from datetime import UTC, datetime, timedelta
from unittest.mock import patch
from urllib.parse import urlencode

import requests

from odoo import Command, fields
from odoo.tests import new_test_user, tagged

from ..hass.blocking import run_blocking
from ..hass.connection import HAConnection
from ..models import ha_instance
from .api_common import API, CONNECT_TIMEOUT_S, LIGHT, ApiCase
from .common import _running_ha_server

CAMERA = "camera.demo_camera"
PNG_CAMERA = "camera.demo_camera_png"
TODO = "todo.shopping_list"
CALENDAR = "calendar.calendar_1"
# The north station forecasts daily and hourly, the south one daily only.
WEATHER = "weather.demo_weather_north"
DAILY_ONLY_WEATHER = "weather.demo_weather_south"
# The demo camera shows four images in turn, one more at every request.
DEMO_CAMERA_IMAGES = 4
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HTTP_TIMEOUT_S = 10


def _ha_headers(ha):
    return {"Authorization": f"Bearer {ha.token}"}


def _ha_command(ha, message_type, **payload):
    """One websocket command on a connection of its own: what Home Assistant answers,
    independently of the connector the routes use."""

    async def command():
        connection = await HAConnection.connect(ha.url, ha.token, ping_interval_s=None)
        try:
            return await connection.call(message_type, **payload)
        finally:
            await connection.close()

    return run_blocking(command)


def _service_response(ha, domain, service, entity_id, service_data):
    result = _ha_command(
        ha,
        "call_service",
        domain=domain,
        service=service,
        service_data=service_data,
        target={"entity_id": entity_id},
        return_response=True,
    )
    return result["response"][entity_id]


def _add_shopping_list(ha):
    """Set up Home Assistant's shopping list (the demo has no to-do list) with two items, one
    done; answers its config entry id."""
    base = f"{ha.url}/api/config/config_entries"
    flow = requests.post(
        f"{base}/flow",
        json={"handler": "shopping_list"},
        headers=_ha_headers(ha),
        timeout=HTTP_TIMEOUT_S,
    ).json()
    if flow["type"] == "form":
        requests.post(
            f"{base}/flow/{flow['flow_id']}", json={}, headers=_ha_headers(ha), timeout=10
        ).raise_for_status()
    (entry,) = requests.get(
        f"{base}/entry",
        params={"domain": "shopping_list"},
        headers=_ha_headers(ha),
        timeout=HTTP_TIMEOUT_S,
    ).json()
    _wait_ha_entities(ha, [TODO, CAMERA, PNG_CAMERA, CALENDAR, WEATHER, DAILY_ONLY_WEATHER])
    left = [item["uid"] for item in _ha_command(ha, "todo/item/list", entity_id=TODO)["items"]]
    services = f"{ha.url}/api/services/todo"
    calls = [("remove_item", {"item": left})] if left else []
    calls += [
        ("add_item", {"item": "Milk"}),
        ("add_item", {"item": "Bread"}),
        ("update_item", {"item": "Bread", "status": "completed"}),
    ]
    for service, data in calls:
        requests.post(
            f"{services}/{service}",
            json={"entity_id": TODO, **data},
            headers=_ha_headers(ha),
            timeout=HTTP_TIMEOUT_S,
        ).raise_for_status()
    return entry["entry_id"]


def _remove_shopping_list(ha, entry_id):
    requests.delete(
        f"{ha.url}/api/config/config_entries/entry/{entry_id}",
        headers=_ha_headers(ha),
        timeout=HTTP_TIMEOUT_S,
    ).raise_for_status()


def _wait_ha_entities(ha, entity_ids):
    """The demo platforms come up one after the other: wait until these have a state."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    for entity_id in entity_ids:
        while (
            requests.get(
                f"{ha.url}/api/states/{entity_id}", headers=_ha_headers(ha), timeout=10
            ).status_code
            != 200
        ):
            if time.monotonic() > deadline:
                raise AssertionError(f"{entity_id} never appeared in Home Assistant")
            time.sleep(0.1)


def _moment(value):
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@tagged("post_install", "-at_install")
class TestEntityDataRoutes(ApiCase):
    """Each of ``camera_user``, ``todo_user``, ``calendar_user``, ``weather_user`` (Home
    Assistant users) views one entity of its domain and nothing else; ``tenant`` (portal) has a
    current share of the camera, ``stranger`` (portal) has none; ``member`` (api_common) reads
    lights and a sensor of Live, and one entity of each domain on Attic, which never
    connects."""

    @classmethod
    def setUpClass(cls):
        ha = _running_ha_server()
        cls.addClassCleanup(ha.stop)
        # Before the instance connects: the test transaction sees the mirror of that moment.
        entry_id = _add_shopping_list(ha)
        super().setUpClass()
        # Runs first, while Home Assistant and the connection are still up.
        cls.addClassCleanup(_remove_shopping_list, ha, entry_id)
        env = cls.env
        Entity = env["ha.entity"]
        cls.entities = {
            entity.entity_id: entity
            for entity in Entity.search(
                [
                    ("instance_id", "=", cls.live_id),
                    (
                        "entity_id",
                        "in",
                        [CAMERA, PNG_CAMERA, TODO, CALENDAR, WEATHER, DAILY_ONLY_WEATHER],
                    ),
                ]
            )
        }
        if TODO not in cls.entities:
            raise AssertionError(f"{TODO} was not mirrored")
        Group = env["ha.entity.group"]
        for name, entity_id in (
            ("camera", CAMERA),
            ("todo", TODO),
            ("calendar", CALENDAR),
            ("weather", WEATHER),
        ):
            user = new_test_user(
                env, login=f"data_{name}_user", groups="odoo_ha_addon.group_ha_user"
            )
            setattr(cls, f"{name}_user", user)
            Group.create(
                {
                    "name": f"Only {entity_id}",
                    "instance_id": cls.live_id,
                    "access_level": "view",
                    "entity_ids": [Command.link(cls.entities[entity_id].id)],
                    "user_ids": [Command.link(user.id)],
                }
            )
        cls.tenant = new_test_user(env, login="data_tenant", groups="base.group_portal")
        cls.stranger = new_test_user(env, login="data_stranger", groups="base.group_portal")
        cls.camera_share = (
            env["ha.entity.share"]
            .with_user(cls.manager)
            .create(
                {
                    "entity_id": cls.entities[CAMERA].id,
                    "user_id": cls.tenant.id,
                    "date_end": fields.Datetime.now() + timedelta(hours=1),
                }
            )
        )
        attic_entities = Entity.create(
            [
                {"instance_id": cls.attic.id, "entity_id": entity_id}
                for entity_id in ("camera.attic", "todo.attic", "calendar.attic", "weather.attic")
            ]
        )
        Group.create(
            {
                "name": "Attic data",
                "instance_id": cls.attic.id,
                "access_level": "view",
                "entity_ids": [Command.set(attic_entities.ids)],
                "user_ids": [Command.link(cls.member.id)],
            }
        )

    # Helpers ------------------------------------------------------------------------------

    def snapshot(self, **query):
        """The camera route's response for the authenticated session; never a redirect."""
        query = urlencode({"ha_instance_id": self.live_id, **query})
        response = self.url_open(
            f"{API}/camera_snapshot?{query}", allow_redirects=False, timeout=30
        )
        for name, value in response.headers.items():
            self.assertNotIn(self.ha.token, value, name)
            self.assertNotIn(self.ha.url, value, name)
        self.assertNotIn(self.ha.token.encode(), response.content)
        self.assertEqual(response.headers.get("Cache-Control"), "no-store")
        return response

    def snapshot_refused(self, status, **query):
        response = self.snapshot(**query)
        self.assertEqual(response.status_code, status, response.text[:300])
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
        self.assertTrue(response.text)
        self.assertLess(len(response.content), 500, "a refusal is a short text, not an image")
        self.assertNotIn(self.ha.url, response.text)
        return response.text

    def ha_camera_images(self, entity_id):
        """Every image Home Assistant's own camera proxy serves for the demo camera."""
        url = f"{self.ha.url}/api/camera_proxy/{entity_id}"
        images = set()
        content_types = set()
        for _ in range(DEMO_CAMERA_IMAGES):
            response = requests.get(url, headers=_ha_headers(self.ha), timeout=HTTP_TIMEOUT_S)
            response.raise_for_status()
            images.add(response.content)
            content_types.add(response.headers["Content-Type"])
        return images, content_types

    # Camera -------------------------------------------------------------------------------

    def test_camera_snapshot_is_the_cameras_image_for_a_user_granted_only_it(self):
        self.login(self.camera_user)
        response = self.snapshot(entity_id=CAMERA, t="1712345678901")
        self.assertEqual(response.status_code, 200, response.text[:300])
        image = response.content
        self.assertTrue(image.startswith(JPEG_MAGIC))
        images, content_types = self.ha_camera_images(CAMERA)
        self.assertEqual(content_types, {response.headers["Content-Type"]})
        self.assertTrue(response.headers["Content-Type"].startswith("image/"))
        self.assertIn(image, images, "the image is one Home Assistant itself serves")
        self.assertEqual(response.headers["X-Content-Type-Options"], "nosniff")
        # Without an instance id: the user's only instance.
        response = self.snapshot(entity_id=CAMERA, ha_instance_id="")
        self.assertEqual(response.status_code, 200, response.text[:300])
        self.assertIn(response.content, images)

        # A PNG camera keeps its own content type.
        self.login(self.manager)
        response = self.snapshot(entity_id=PNG_CAMERA)
        self.assertEqual(response.status_code, 200, response.text[:300])
        self.assertEqual(response.headers["Content-Type"], "image/png")
        self.assertTrue(response.content.startswith(PNG_MAGIC))

    def test_home_assistants_camera_credentials_never_leave_the_server(self):
        response = requests.get(
            f"{self.ha.url}/api/states/{CAMERA}", headers=_ha_headers(self.ha), timeout=10
        )
        ha_attributes = response.json()["attributes"]
        self.assertIn("access_token", ha_attributes, "Home Assistant hands one out")
        self.login(self.camera_user)
        data = self.ok("entity_states", entity_ids=[CAMERA], ha_instance_id=self.live_id)
        (camera,) = data["entities"]
        attributes = camera["attributes"]
        self.assertNotIn("access_token", attributes)
        self.assertNotIn(ha_attributes["access_token"], json.dumps(data))
        self.assertNotIn("token=", attributes.get("entity_picture", ""))
        self.assertEqual(attributes.get("friendly_name"), ha_attributes["friendly_name"])
        self.assertNotIn("access_token", self.entities[CAMERA].sudo().attributes)

    def test_camera_snapshot_refuses_who_may_not_read_the_camera(self):
        for user in (self.member, self.todo_user, self.stranger, self.internal):
            with self.subTest(user=user.login):
                self.login(user)
                self.snapshot_refused(403, entity_id=CAMERA)
        self.login(self.camera_user)
        # Another camera, an unknown one: one answer, no existence leak.
        not_granted = self.snapshot_refused(403, entity_id=PNG_CAMERA)
        unknown = self.snapshot_refused(403, entity_id="camera.does_not_exist")
        self.assertEqual(
            not_granted.replace(PNG_CAMERA, "X"), unknown.replace("camera.does_not_exist", "X")
        )
        self.snapshot_refused(403, entity_id=CAMERA, ha_instance_id=str(self.cabin.id))
        self.snapshot_refused(403, entity_id=CAMERA, ha_instance_id="2000000000")
        # Anonymous: the login page, never the image.
        self.authenticate(None, None)
        response = self.url_open(f"{API}/camera_snapshot?entity_id={CAMERA}", allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        self.assertIn("/web/login", response.headers["Location"])

    def test_camera_snapshot_of_what_is_not_a_camera_or_bad_params(self):
        self.login(self.manager)
        self.snapshot_refused(404, entity_id=LIGHT)
        self.snapshot_refused(404, entity_id=TODO)
        for query in (
            {},
            {"entity_id": ""},
            {"entity_id": "Camera.Demo_Camera"},
            {"entity_id": "camera.demo_camera/../../api/config"},
            {"entity_id": "camera.x" + "y" * 400},
            {"entity_id": CAMERA, "ha_instance_id": "abc"},
            {"entity_id": CAMERA, "ha_instance_id": "-1"},
            {"entity_id": CAMERA, "ha_instance_id": "0"},
            {"entity_id": CAMERA, "ha_instance_id": "99999999999"},
        ):
            with self.subTest(query=str(query)[:80]):
                self.snapshot_refused(400, **query)

    def test_camera_snapshot_when_home_assistant_cannot_give_it(self):
        # Known to Odoo's mirror, unknown to Home Assistant.
        self.env["ha.entity"].create({"instance_id": self.live_id, "entity_id": "camera.ghost"})
        self.login(self.manager)
        self.assertIn("camera.ghost", self.snapshot_refused(404, entity_id="camera.ghost"))
        # An instance that cannot be reached.
        self.login(self.member)
        self.snapshot_refused(503, entity_id="camera.attic", ha_instance_id=str(self.attic.id))
        self.login(self.camera_user)
        with patch.object(ha_instance, "CAMERA_IMAGE_MAX_BYTES", 1000):
            self.assertIn("too large", self.snapshot_refused(502, entity_id=CAMERA))
        # A server that takes the connection and never answers: the route gives up. Odoo's
        # test harness raises every requests timeout below 10 s to 10 s.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            instance = self.env["ha.instance"].create(
                {
                    "name": "Silent",
                    "url": f"http://127.0.0.1:{silent.getsockname()[1]}",
                    "token": "silent-token",
                    "sequence": 30,
                }
            )
            self.env["ha.entity"].create({"instance_id": instance.id, "entity_id": "camera.silent"})
            self.login(self.manager)
            started = time.monotonic()
            self.snapshot_refused(504, entity_id="camera.silent", ha_instance_id=str(instance.id))
            self.assertLess(time.monotonic() - started, 15)

    def test_a_portal_user_with_a_current_share_sees_the_camera(self):
        self.login(self.tenant)
        response = self.snapshot(entity_id=CAMERA)
        self.assertEqual(response.status_code, 200, response.text[:300])
        self.assertTrue(response.content.startswith(JPEG_MAGIC))
        self.assertIn(response.content, self.ha_camera_images(CAMERA)[0])
        # Only that camera, and only what the share is for.
        self.snapshot_refused(403, entity_id=PNG_CAMERA)
        self.refused("todo_items", "access_denied", entity_id=TODO)
        # Revoked: refused at once, in the same session.
        self.camera_share.with_user(self.manager).action_revoke()
        self.snapshot_refused(403, entity_id=CAMERA)

    # To-do, calendar, weather -------------------------------------------------------------

    def test_todo_items_are_home_assistants_list(self):
        self.login(self.todo_user)
        data = self.ok("todo_items", entity_id=TODO, ha_instance_id=self.live_id)
        expected = [
            {"uid": item["uid"], "summary": item["summary"], "status": item["status"]}
            for item in _ha_command(self.ha, "todo/item/list", entity_id=TODO)["items"]
        ]
        self.assertEqual(data, {"items": expected})
        self.assertEqual(
            {item["summary"]: item["status"] for item in data["items"]},
            {"Milk": "needs_action", "Bread": "completed"},
        )
        self.assertEqual(self.ok("todo_items", entity_id=TODO), data)

    def test_calendar_events_are_home_assistants_events(self):
        self.login(self.calendar_user)
        data = self.ok("calendar_events", entity_id=CALENDAR, ha_instance_id=self.live_id)
        start = datetime.now(UTC)
        listed = requests.get(
            f"{self.ha.url}/api/calendars/{CALENDAR}",
            params={
                "start": start.isoformat(),
                "end": (start + timedelta(days=7)).isoformat(),
            },
            headers=_ha_headers(self.ha),
            timeout=HTTP_TIMEOUT_S,
        ).json()
        self.assertTrue(listed, "the demo calendar has an event in the coming hour")
        expected = [
            {
                "summary": event["summary"],
                "start": event["start"].get("dateTime") or event["start"]["date"],
                "end": event["end"].get("dateTime") or event["end"]["date"],
                "all_day": "date" in event["start"],
                **{name: event[name] for name in ("location", "description") if event.get(name)},
            }
            for event in listed
        ]
        self.assertEqual(data["events"], expected)
        self.assertEqual(
            data["events"],
            sorted(data["events"], key=lambda event: _moment(event["start"])),
        )
        # The demo's future event has its place and description.
        (event,) = data["events"]
        self.assertEqual(
            (event["summary"], event["location"], event["description"], event["all_day"]),
            ("Future Event", "Future Location", "Future Description", False),
        )
        self.assertEqual(
            self.ok("calendar_events", entity_id=CALENDAR, days=31)["events"], data["events"]
        )

    def test_weather_forecast_is_home_assistants_forecast(self):
        self.login(self.weather_user)
        for forecast_type in ("daily", "hourly"):
            with self.subTest(type=forecast_type):
                data = self.ok(
                    "weather_forecast",
                    entity_id=WEATHER,
                    ha_instance_id=self.live_id,
                    type=forecast_type,
                )
                expected = _service_response(
                    self.ha, "weather", "get_forecasts", WEATHER, {"type": forecast_type}
                )["forecast"]
                self.assertTrue(expected)
                self.assertEqual(set(data), {"forecast"})
                self.assertEqual(len(data["forecast"]), len(expected))
                # The demo stamps its forecast with the time of each request.
                for got, wanted in zip(data["forecast"], expected, strict=True):
                    self.assertLess(
                        abs(_moment(got.pop("datetime")) - _moment(wanted.pop("datetime"))),
                        timedelta(minutes=1),
                    )
                    self.assertEqual(got, wanted)
        default = self.ok("weather_forecast", entity_id=WEATHER)["forecast"]
        daily = _service_response(self.ha, "weather", "get_forecasts", WEATHER, {"type": "daily"})
        self.assertEqual(
            [item["condition"] for item in default],
            [item["condition"] for item in daily["forecast"]],
        )

    def test_home_assistant_errors_come_back_as_command_failed(self):
        self.login(self.manager)
        message = self.refused(
            "weather_forecast",
            "command_failed",
            entity_id=DAILY_ONLY_WEATHER,
            ha_instance_id=self.live_id,
            type="hourly",
        )
        self.assertIn("hourly", message)

    # Refusals -----------------------------------------------------------------------------

    def test_the_data_routes_refuse_entities_the_user_may_not_read(self):
        routes = {
            "todo_items": TODO,
            "calendar_events": CALENDAR,
            "weather_forecast": WEATHER,
        }
        readers = {
            "todo_items": self.todo_user,
            "calendar_events": self.calendar_user,
            "weather_forecast": self.weather_user,
        }
        for user in (self.member, self.camera_user, self.todo_user, self.tenant):
            self.login(user)
            for route, entity_id in routes.items():
                if readers[route] == user:
                    continue
                with self.subTest(user=user.login, route=route):
                    message = self.refused(
                        route, "access_denied", entity_id=entity_id, ha_instance_id=self.live_id
                    )
                    self.assertIn(entity_id, message)
        self.login(self.weather_user)
        self.refused("weather_forecast", "access_denied", entity_id=DAILY_ONLY_WEATHER)
        # Unknown entities get the same answer as unreadable ones.
        self.refused("weather_forecast", "access_denied", entity_id="weather.nowhere")
        # No instance at all for people without Home Assistant rights or a share.
        for user in (self.internal, self.stranger):
            self.login(user)
            for route, entity_id in routes.items():
                with self.subTest(user=user.login, route=route):
                    self.refused(route, "instance_not_found", entity_id=entity_id)
        # Nor through another instance.
        self.login(self.todo_user)
        self.refused(
            "todo_items", "instance_not_found", entity_id=TODO, ha_instance_id=self.cabin.id
        )

    def test_wrong_domains_and_bad_params_are_invalid_input(self):
        self.login(self.manager)
        live = self.live_id
        cases = [
            ("todo_items", {"entity_id": CAMERA}),
            ("todo_items", {"entity_id": [TODO]}),
            ("todo_items", {}),
            ("todo_items", {"entity_id": "todo"}),
            ("todo_items", {"entity_id": TODO, "ha_instance_id": "1"}),
            ("todo_items", {"entity_id": TODO, "status": "completed"}),
            ("calendar_events", {"entity_id": WEATHER}),
            ("calendar_events", {"entity_id": CALENDAR, "days": 0}),
            ("calendar_events", {"entity_id": CALENDAR, "days": 32}),
            ("calendar_events", {"entity_id": CALENDAR, "days": "7"}),
            ("calendar_events", {"entity_id": CALENDAR, "days": True}),
            ("calendar_events", {"entity_id": CALENDAR, "days": 1.5}),
            ("calendar_events", {"entity_id": CALENDAR, "start": "2024-01-01"}),
            ("weather_forecast", {"entity_id": CALENDAR}),
            ("weather_forecast", {"entity_id": WEATHER, "type": "weekly"}),
            ("weather_forecast", {"entity_id": WEATHER, "type": "twice_daily"}),
            ("weather_forecast", {"entity_id": WEATHER, "type": 1}),
            ("weather_forecast", {"entity_id": WEATHER, "type": ""}),
            ("weather_forecast", {"entity_id": "weather.x'; DROP TABLE ha_entity;--"}),
        ]
        for route, params in cases:
            with self.subTest(route=route, params=str(params)[:100]):
                message = self.refused(route, "invalid_input", **{"ha_instance_id": live, **params})
                self.assertLess(len(message), 500)

    def test_an_instance_without_connection_says_not_connected(self):
        self.login(self.member)
        attic = self.attic.id
        for route, entity_id in (
            ("todo_items", "todo.attic"),
            ("calendar_events", "calendar.attic"),
            ("weather_forecast", "weather.attic"),
        ):
            with self.subTest(route=route):
                self.refused(route, "not_connected", entity_id=entity_id, ha_instance_id=attic)
