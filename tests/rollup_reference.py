"""A direct, row-by-row aggregation of raw history into periods: what the rollups must equal.

Written independently of the SQL in ``connector/history_rollups``: walk the states in time
order and, for each period, weight each numeric state by the seconds it was in force within it
(the state in force at the period's start included); 'on'/'off' and non-numbers cover nothing.
"""

import math
from bisect import bisect_left
from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)


def floor(value, seconds):
    epoch = (value - EPOCH).total_seconds()
    return EPOCH + timedelta(seconds=math.floor(epoch / seconds) * seconds)


def value_of(state):
    if state in (None, "on", "off"):
        return None
    try:
        number = float(state)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def aggregate(rows, start, end, seconds):
    """{period start: (min, max, mean, numeric states, seconds covered)} over [start, end) for
    ``rows`` [(last_updated, state)] in any order; periods without numeric time are left out."""
    rows = sorted(rows)
    times = [row[0] for row in rows]
    result = {}
    period = floor(start, seconds)
    while period < end:
        period_end = period + timedelta(seconds=seconds)
        first, last = bisect_left(times, period), bisect_left(times, period_end)
        inside = rows[first:last]
        points = ([(period, rows[first - 1][1])] if first else []) + inside
        values, weighted, covered = [], 0.0, 0.0
        for index, (at, state) in enumerate(points):
            until = points[index + 1][0] if index + 1 < len(points) else period_end
            number = value_of(state)
            length = (min(until, end) - max(at, start)).total_seconds()
            if number is None or length <= 0:
                continue
            values.append(number)
            weighted += number * length
            covered += length
        if values:
            numeric_states = sum(
                1 for at, state in inside if start <= at < end and value_of(state) is not None
            )
            result[period] = (min(values), max(values), weighted / covered, numeric_states, covered)
        period = period_end
    return result


def merge(pieces):
    """Several periods' (min, max, mean, states, seconds) as one, weighted by seconds."""
    pieces = list(pieces)
    covered = sum(piece[4] for piece in pieces)
    return (
        min(piece[0] for piece in pieces),
        max(piece[1] for piece in pieces),
        sum(piece[2] * piece[4] for piece in pieces) / covered,
        sum(piece[3] for piece in pieces),
        covered,
    )
