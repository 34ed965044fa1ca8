"""Conditions a rule checks when it would fire: the time of day and the day of the week, in
the local time of the rule's owner."""

from collections.abc import Sequence
from datetime import datetime

MINUTES_PER_DAY = 24 * 60


def _minutes(hours: float) -> int:
    """A time of day given as hours (8.5 = 08:30) in minutes after midnight."""
    return round((hours or 0.0) * 60)


def in_time_window(local: datetime, time_from: float, time_to: float) -> bool:
    """Whether ``local`` falls in [time_from, time_to) (hours). Equal bounds (both 0: the
    default) mean the whole day; a window whose end comes before its start crosses midnight
    (22:00 to 06:00)."""
    start, end = _minutes(time_from), _minutes(time_to)
    if start == end:
        return True
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


def on_weekday(local: datetime, weekdays: Sequence[bool]) -> bool:
    """Whether ``local``'s day is allowed by ``weekdays`` (Monday first, seven flags)."""
    return bool(weekdays[local.weekday()])
