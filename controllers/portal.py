"""Portal pages of Home Assistant shares: a card on /my/home and /my/ha, the entities shared
with the logged-in person (portal or internal user), live and controllable per share."""

import json

from odoo import http
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal

COUNTER = "ha_entity_count"


class HaSharePortal(CustomerPortal):
    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if COUNTER in counters:
            values[COUNTER] = request.env["ha.entity.share"]._shared_entity_count()
        return values

    @http.route("/my/ha", type="http", auth="user", website=True, readonly=True)
    def portal_my_ha(self, **kwargs):
        data = request.env["ha.entity.share"]._shared_with_me()
        values = self._prepare_portal_layout_values()
        values.update(page_name="ha_shares", shared=data, props=json.dumps({"data": data}))
        return request.render("odoo_ha_addon.portal_my_ha", values)
