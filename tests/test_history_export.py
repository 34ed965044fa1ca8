"""The History action's Export: the payload it sends to Odoo's own /web/export/csv and
/web/export/xlsx gives a user what the ORM and the record rules give them, nothing more."""

import csv
import io
import json
import re
import zipfile
from datetime import datetime, timedelta
from xml.etree import ElementTree

from odoo import Command, fields, http
from odoo.tests import HttpCase, new_test_user, tagged

from ..connector.history_rollups import floor_time
from ..connector.history_rows import history_row, insert_history_rows
from .common import HaTestCommon

HOUR = 3600
CHART_HOURS = 3
TZ = "Europe/Brussels"
EXPORT_LOGGER = "odoo.addons.web.controllers.export"
SPREADSHEET_NS = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
EXCEL_EPOCH = datetime(1899, 12, 30)

# The fields and labels of static/src/history/history_export/history_export.js.
RECORDED_STATES_FIELDS = [
    ("entity_id", "Entity", "many2one"),
    ("last_updated", "Last Updated", "datetime"),
    ("state", "State", "char"),
    ("num_value", "Value", "float"),
    ("is_numeric", "Has Value", "boolean"),
    ("unit", "Unit", "char"),
]
STATISTICS_FIELDS = [
    ("entity_id", "Entity", "many2one"),
    ("period", "Period", "selection"),
    ("start", "Start", "datetime"),
    ("minimum", "Minimum", "float"),
    ("maximum", "Maximum", "float"),
    ("mean", "Mean", "float"),
    ("state_count", "States", "integer"),
    ("unit", "Unit", "char"),
]


def to_server(value):
    return fields.Datetime.to_string(value)


def read_xlsx(content):
    """The cells of an .xlsx file's first sheet, row by row: shared strings as text, numbers as
    floats, blank cells as None."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        strings = [
            "".join(node.text or "" for node in item.iter(f"{{{SPREADSHEET_NS['x']}}}t"))
            for item in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).findall(
                "x:si", SPREADSHEET_NS
            )
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iterfind("x:sheetData/x:row", SPREADSHEET_NS):
        cells = {}
        for cell in row.iterfind("x:c", SPREADSHEET_NS):
            column = ord(re.match(r"[A-Z]", cell.get("r")).group()) - ord("A")
            value = cell.find("x:v", SPREADSHEET_NS)
            if value is None:
                cells[column] = None
            elif cell.get("t") == "s":
                cells[column] = strings[int(value.text)]
            else:
                cells[column] = float(value.text)
        rows.append(cells)
    width = max(len(cells) for cells in rows)
    return [[cells.get(column) for column in range(width)] for cells in rows]


@tagged("post_install", "-at_install")
class TestHistoryExport(HttpCase, HaTestCommon):
    """``user_member`` reads a kitchen sensor through an entity group; ``sensor_outside``, with
    history and statistics over the same hours, is in none of their groups."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_member.tz = TZ
        cls.sensor_kitchen = cls.env["ha.entity"].create(
            {
                "instance_id": cls.instance.id,
                "entity_id": "sensor.kitchen_temperature",
                "name": "Kitchen temperature",
                "state": "21.5",
                "unit_of_measurement": "°C",
            }
        )
        cls.member_no_export = new_test_user(
            cls.env, login="ha_test_no_export", groups="odoo_ha_addon.group_ha_user"
        )
        cls.env["ha.entity.group"].create(
            {
                "name": "Kitchen sensor",
                "instance_id": cls.instance.id,
                "entity_ids": [Command.link(cls.sensor_kitchen.id)],
                "user_ids": [
                    Command.link(cls.user_member.id),
                    Command.link(cls.member_no_export.id),
                ],
            }
        )
        cls.manager.groups_id = [Command.link(cls.env.ref("base.group_allow_export").id)]
        cls.internal = new_test_user(
            cls.env, login="ha_test_internal", groups="base.group_user,base.group_allow_export"
        )

        # The chart's range: CHART_HOURS whole hours, with a state every 7 minutes in it.
        cls.end = floor_time(fields.Datetime.now() - timedelta(hours=1), HOUR)
        cls.start = cls.end - timedelta(hours=CHART_HOURS)
        rows = []
        cls.states_in_range = 0
        for entity, base in ((cls.sensor_kitchen, 20.0), (cls.sensor_outside, 5.0)):
            at = cls.start - timedelta(minutes=3)
            step = 0
            while at < cls.end + timedelta(minutes=20):
                state = "unavailable" if step == 11 else f"{base + (step % 9) * 0.25:.2f}"
                rows.append(history_row(entity.id, cls.instance.id, state, "°C", at, at))
                if entity == cls.sensor_kitchen and cls.start <= at < cls.end:
                    cls.states_in_range += 1
                    cls.newest_in_range = at
                at += timedelta(minutes=7)
                step += 1
        insert_history_rows(cls.env.cr, rows)
        cls.env["ha.entity.history"].invalidate_model()
        cls.env["ha.entity.history.rollup"]._roll_up(
            now=cls.end + timedelta(minutes=30), entities=cls.sensor_kitchen | cls.sensor_outside
        )

    # The view's payload -------------------------------------------------------------------

    def view_payload(self, user, choice, entities):
        """What the History action's Export sends (``exportRequest`` in history_export.js) for
        ``entities`` charted over [start, end)."""
        if choice == "raw":
            model, export_fields = "ha.entity.history", RECORDED_STATES_FIELDS
            domain = [
                ["entity_id", "in", entities.ids],
                ["last_updated", ">=", to_server(self.start)],
                ["last_updated", "<", to_server(self.end)],
            ]
        else:
            model, export_fields = "ha.entity.history.rollup", STATISTICS_FIELDS
            domain = [
                ["entity_id", "in", entities.ids],
                ["period", "=", choice],
                ["start", ">=", to_server(self.start)],
                ["start", "<", to_server(self.end)],
            ]
        return {
            "import_compat": False,
            "context": {
                "lang": "en_US",
                "tz": user.tz or "UTC",
                "uid": user.id,
                "allowed_company_ids": [user.company_id.id],
            },
            "domain": domain,
            "fields": [
                {"name": name, "label": label, "store": True, "type": field_type}
                for name, label, field_type in export_fields
            ],
            "groupby": [],
            "ids": False,
            "model": model,
        }

    def post_export(self, user, file_format, payload):
        self.authenticate(user.login, user.login)
        return self.url_open(
            f"/web/export/{file_format}",
            data={"data": json.dumps(payload), "csrf_token": http.Request.csrf_token(self)},
        )

    def export_csv(self, user, choice, entities):
        payload = self.view_payload(user, choice, entities)
        response = self.post_export(user, "csv", payload)
        self.assertEqual(response.status_code, 200, response.text[:500])
        self.assertTrue(response.headers["Content-Type"].startswith("text/csv"))
        return payload, list(csv.reader(io.StringIO(response.content.decode())))

    # What the ORM gives ---------------------------------------------------------------------

    def orm_rows(self, user, payload):
        """The payload's rows as ``user`` reads them through the ORM (search_read), written the
        way Odoo's CSV export writes them: datetimes in the user's time zone, names, labels."""
        Model = self.env[payload["model"]].with_user(user).with_context(tz=user.tz)
        names = [field["name"] for field in payload["fields"]]
        records = Model.search_read(payload["domain"], names)
        rows = []
        for record in records:
            row = []
            for name in names:
                field, value = Model._fields[name], record[name]
                if field.type == "many2one":
                    value = value[1] if value else ""
                elif field.type == "datetime":
                    value = fields.Datetime.to_string(
                        fields.Datetime.context_timestamp(Model, value)
                    )
                elif field.type == "selection":
                    value = dict(field._description_selection(Model.env))[value]
                elif value is False or value is None:
                    value = ""
                row.append(str(value))
            rows.append(row)
        return rows

    # Tests ----------------------------------------------------------------------------------

    def test_recorded_states_csv_equals_what_the_orm_gives_the_user(self):
        payload, rows = self.export_csv(self.user_member, "raw", self.sensor_kitchen)
        self.assertEqual(rows[0], ["Entity", "Last Updated", "State", "Value", "Has Value", "Unit"])
        expected = self.orm_rows(self.user_member, payload)
        self.assertEqual(len(expected), self.states_in_range)
        self.assertEqual(rows[1:], expected)
        self.assertIn("unavailable", {row[2] for row in rows[1:]})
        self.assertEqual({row[0] for row in rows[1:]}, {"Kitchen temperature"})
        # Local times (Brussels is 1 or 2 hours ahead of UTC), as the chart shows them.
        newest = fields.Datetime.from_string(rows[1][1])
        self.assertIn(newest - self.newest_in_range, (timedelta(hours=1), timedelta(hours=2)))

    def test_statistics_csv_equals_what_the_orm_gives_the_user(self):
        # Every hour has a statistic; a 5-minute period all 'unavailable' has none.
        for period, count in (("hour", CHART_HOURS), ("5minute", CHART_HOURS * 12 - 1)):
            with self.subTest(period=period):
                payload, rows = self.export_csv(self.user_member, period, self.sensor_kitchen)
                self.assertEqual(
                    rows[0],
                    ["Entity", "Period", "Start", "Minimum", "Maximum", "Mean", "States", "Unit"],
                )
                expected = self.orm_rows(self.user_member, payload)
                self.assertEqual(len(expected), count)
                self.assertEqual(rows[1:], expected)
                self.assertEqual({row[0] for row in rows[1:]}, {"Kitchen temperature"})

    def test_an_entity_outside_the_users_groups_never_leaves(self):
        both = self.sensor_kitchen | self.sensor_outside
        for choice in ("raw", "hour", "5minute"):
            with self.subTest(choice=choice):
                payload, rows = self.export_csv(self.user_member, choice, both)
                self.assertEqual(rows[1:], self.orm_rows(self.user_member, payload))
                self.assertTrue(rows[1:])
                self.assertEqual({row[0] for row in rows[1:]}, {"Kitchen temperature"})
                # The outside sensor has as many rows, which a manager does export.
                _payload, all_rows = self.export_csv(self.manager, choice, both)
                self.assertEqual(
                    {row[0] for row in all_rows[1:]}, {"Kitchen temperature", "Outside temperature"}
                )
                self.assertEqual(len(all_rows) - 1, 2 * (len(rows) - 1))

    def test_an_ha_user_in_no_group_gets_nothing(self):
        for choice in ("raw", "hour"):
            with self.subTest(choice=choice):
                _payload, rows = self.export_csv(
                    self.user_outsider, choice, self.sensor_kitchen | self.sensor_outside
                )
                self.assertEqual(len(rows), 1, "the header only")

    def test_a_user_without_home_assistant_rights_is_refused(self):
        payload = self.view_payload(self.internal, "raw", self.sensor_kitchen)
        with self.assertLogs(EXPORT_LOGGER, "ERROR") as logs:
            response = self.post_export(self.internal, "csv", payload)
        self.assertEqual(response.status_code, 500)
        self.assertIn("AccessError", "\n".join(logs.output))
        self.assertNotIn("Kitchen temperature", response.text)
        self.assertNotIn("20.25", response.text)

    def test_a_user_odoo_does_not_let_export_is_refused(self):
        payload = self.view_payload(self.member_no_export, "raw", self.sensor_kitchen)
        with self.assertLogs(EXPORT_LOGGER, "ERROR") as logs:
            response = self.post_export(self.member_no_export, "xlsx", payload)
        self.assertEqual(response.status_code, 500)
        self.assertIn("rights to export data", "\n".join(logs.output))
        self.assertNotIn("Kitchen temperature", response.text)

    def test_xlsx_is_a_workbook_of_the_same_rows(self):
        for choice in ("raw", "hour"):
            with self.subTest(choice=choice):
                payload = self.view_payload(
                    self.user_member, choice, self.sensor_kitchen | self.sensor_outside
                )
                response = self.post_export(self.user_member, "xlsx", payload)
                self.assertEqual(response.status_code, 200, response.text[:500])
                self.assertTrue(zipfile.is_zipfile(io.BytesIO(response.content)))
                rows = read_xlsx(response.content)
                _payload, csv_rows = self.export_csv(self.user_member, choice, self.sensor_kitchen)
                self.assertEqual(rows[0], csv_rows[0])
                self.assertEqual(len(rows), len(csv_rows))
                for cells, texts in zip(rows[1:], csv_rows[1:], strict=True):
                    for field, cell, text in zip(payload["fields"], cells, texts, strict=True):
                        self.assertXlsxCell(field["type"], cell, text)

    def test_the_statistics_list_is_open_to_ha_users(self):
        """Home Assistant > Configuration > History Statistics: Odoo's list, search and export
        of the statistics a user may read."""
        menu = self.env.ref("odoo_ha_addon.ha_entity_history_rollup_menu")
        Menu = self.env["ir.ui.menu"]
        self.assertIn(menu.id, Menu.with_user(self.user_member)._visible_menu_ids())
        self.assertNotIn(menu.id, Menu.with_user(self.internal)._visible_menu_ids())
        action = self.env.ref("odoo_ha_addon.ha_entity_history_rollup_action")
        Rollup = self.env[action.res_model].with_user(self.user_member)
        views = Rollup.get_views([(False, "list"), (False, "search")])["views"]
        self.assertIn('create="0"', views["list"]["arch"])
        records = Rollup.web_search_read(
            [("period", "=", "hour")], {"entity_id": {"fields": {"display_name": {}}}}
        )["records"]
        self.assertEqual(
            {record["entity_id"]["display_name"] for record in records}, {"Kitchen temperature"}
        )

    def assertXlsxCell(self, field_type, cell, text):
        """An Excel cell holds what the CSV export writes as ``text``: datetimes as day
        numbers, numbers as numbers, text as shared strings, nothing as a blank cell."""
        if field_type == "datetime":
            days = (fields.Datetime.from_string(text) - EXCEL_EPOCH).total_seconds() / 86400
            self.assertAlmostEqual(cell, days, places=6)
        elif field_type in ("float", "integer") and text:
            self.assertAlmostEqual(cell, float(text), places=9)
        elif field_type == "boolean":
            self.assertEqual(bool(cell), text == "True")
        else:
            self.assertEqual(cell if cell is not None else "", text)
