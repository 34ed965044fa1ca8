"""Billing units of a usage session (usage/billing.py)."""

import pytest

from usage.billing import billing_units


@pytest.mark.parametrize(
    ("seconds", "unit_minutes", "rounding", "units"),
    [
        (31 * 60, 15, "up", 3),
        (30 * 60, 15, "up", 2),
        (37 * 60, 15, "nearest", 2),
        (38 * 60, 15, "nearest", 3),
        (44 * 60, 15, "down", 2),
        (45 * 60, 15, "down", 3),
        # Float sums of working and standby time land a hair off a whole unit.
        (30 * 60 + 1e-7, 15, "up", 2),
        (45 * 60 - 1e-7, 15, "down", 3),
        (10 * 60, 0, "up", 0),
        (10 * 60, None, "up", 0),
        (0, 15, "up", 0),
    ],
)
def test_billing_units(seconds, unit_minutes, rounding, units):
    assert billing_units(seconds, unit_minutes, rounding) == units
