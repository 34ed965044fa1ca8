from random import randint

from odoo import fields, models


class HaEntityGroupTag(models.Model):
    _name = "ha.entity.group.tag"
    _description = "Home Assistant Entity Group Tag"
    _order = "name"

    name = fields.Char(required=True, translate=True)
    color = fields.Integer(default=lambda self: randint(1, 11))

    _sql_constraints = [
        ("name_unique", "UNIQUE(name)", "A tag with this name already exists."),
    ]
