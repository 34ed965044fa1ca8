from odoo import models


class HaAutomationRule(models.Model):
    """The evaluation of rules (see ``ha.automation.rule``)."""

    _inherit = "ha.automation.rule"
