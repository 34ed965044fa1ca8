"""What a usage session is billed: whole billing units of its duration, rounded."""

import math


def billing_units(seconds: float, unit_minutes: float | None, rounding: str) -> int:
    """How many billing units of ``unit_minutes`` a duration is worth; ``rounding`` is
    "up" (any other value too), "nearest" or "down"."""
    if not unit_minutes or seconds <= 0:
        return 0
    units = seconds / (unit_minutes * 60.0)
    if rounding == "down":
        return math.floor(units + 1e-9)
    if rounding == "nearest":
        return math.floor(units + 0.5)
    return math.ceil(units - 1e-9)
