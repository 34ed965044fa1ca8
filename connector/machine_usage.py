"""Usage sessions of monitored machines, run inside the transactions that store HA states.

The state writer (live states and reconnect snapshots) and the history backfill (gap fill after
an outage, backfills) hand every state they store to ``process_rows`` in the same
transaction, as ``history_rows.history_row`` tuples. For each machine whose power sensor is
among them:

1. its ``ha_machine_state`` row is locked (``FOR UPDATE``): two transactions offering readings
   of one machine run one after the other, whichever process or thread they come from;
2. the readings are inserted into ``ha_machine_reading``, keyed by (machine, HA
   ``last_updated``); only those not stored before go on, so a reading is applied once;
3. readings newer than the state machine's clock are applied to the current state. A reading
   older than that (the gap fill brings what HA recorded during an outage after the
   reconnect snapshot brought the newest state) makes the machine replay: from the state
   saved after the last reading before it, every stored reading since then, in order;
4. the sessions that replay or step touched are written, keyed by (machine, start): a replay
   updates them in place and removes any that the readings in order do not produce.

``advance_due`` lets the clock decide debounces and silence timeouts between readings. It runs
only while the connection is up (the writer's ticks): silence means something only while one
listens, and the gap fill after an outage replays what really happened.

Thresholds are read from ``ha_machine`` in every transaction, so a change made in Odoo applies
to the next reading.
"""

import json
import time
from datetime import UTC, datetime

from psycopg2.extras import execute_values

from ..usage.billing import billing_units
from ..usage.machine import IDLE, IN_SESSION, STARTING, MachineState, Thresholds

# Units a power sensor may report in, as watts.
POWER_UNIT_WATTS = {"W": 1.0, "kW": 1000.0, "MW": 1_000_000.0}
# Row layout of history_rows.history_row.
ROW_ENTITY, ROW_STATE, ROW_NUMBER, ROW_IS_NUMERIC, ROW_UNIT, ROW_UPDATED = 0, 2, 3, 4, 5, 7


def to_epoch(moment):
    """A naive UTC datetime as seconds since the epoch."""
    return moment.replace(tzinfo=UTC).timestamp()


def from_epoch(seconds):
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


class Machine:
    """One ``ha_machine`` row with its locked runtime state."""

    __slots__ = (
        "billing",
        "id",
        "monitor_since",
        "sensor_id",
        "session_id",
        "state",
        "thresholds",
    )

    def __init__(self, row):
        (self.id, self.sensor_id, standby, working, start, stop, silence, *billing) = row[:10]
        self.monitor_since = row[10]
        self.billing = billing
        self.thresholds = Thresholds(standby, working, start, stop, silence)
        self.state = None
        # The ha_machine_session row of the running session, once written.
        self.session_id = None


def load_machines(cr, instance_id, sensor_ids=None, *, busy_only=False):
    """The instance's active machines (of ``sensor_ids`` only, if given; not idle only, if
    ``busy_only``), runtime state locked, in id order (two transactions lock several machines
    in the same order)."""
    sensor_clause = "AND m.sensor_id = ANY(%(sensors)s)" if sensor_ids is not None else ""
    if busy_only:
        sensor_clause += (
            " AND EXISTS (SELECT 1 FROM ha_machine_state s"
            " WHERE s.machine_id = m.id AND s.phase != 'idle')"
        )
    cr.execute(
        f"""
        SELECT m.id, m.sensor_id, m.standby_threshold_w, m.working_threshold_w,
               m.start_debounce_s, m.stop_debounce_s, m.silence_timeout_s,
               m.billing_unit_min, m.billing_rounding, m.billing_basis, m.monitor_since
          FROM ha_machine m
         WHERE m.instance_id = %(instance)s AND m.active {sensor_clause}
      ORDER BY m.id
        """,
        {"instance": instance_id, "sensors": list(sensor_ids or ())},
    )
    machines = [Machine(row) for row in cr.fetchall()]
    if not machines:
        return []
    ids = [machine.id for machine in machines]
    if not busy_only:
        # The state row must exist to be locked; a new machine gets an idle one. (A busy
        # machine has one: it was selected by it.)
        execute_values(
            cr._obj,
            "INSERT INTO ha_machine_state (machine_id, phase) VALUES %s ON CONFLICT DO NOTHING",
            [(machine_id, IDLE) for machine_id in ids],
        )
    cr.execute(
        "SELECT machine_id, state FROM ha_machine_state WHERE machine_id = ANY(%s)"
        " ORDER BY machine_id FOR UPDATE",
        (ids,),
    )
    states = dict(cr.fetchall())
    for machine in machines:
        machine.state = MachineState.from_dict(states.get(machine.id))
    return machines


def reading_power(row):
    """Watts of a history row, or None when the sensor had no number (unavailable)."""
    if not row[ROW_IS_NUMERIC]:
        return None
    return row[ROW_NUMBER] * POWER_UNIT_WATTS.get(row[ROW_UNIT] or "W", 1.0)


def monitored_sensors(cr, instance_id):
    """ha.entity ids of the power sensors of the instance's active machines."""
    cr.execute(
        "SELECT DISTINCT sensor_id FROM ha_machine WHERE instance_id = %s AND active",
        (instance_id,),
    )
    return {row[0] for row in cr.fetchall()}


def process_rows(cr, instance_id, rows):
    """Apply the readings among ``rows`` to the machines they meter. Returns (ids of the
    machines whose state changed, epoch of the earliest deadline among them or None).

    A few statements per call whatever the number of machines: readings, saved states,
    sessions and runtime states are each written in one statement."""
    sensors = {row[ROW_ENTITY] for row in rows}
    if not sensors:
        return [], None
    machines = load_machines(cr, instance_id, sensors)
    offered = []
    for machine in machines:
        since = machine.monitor_since
        readings = {
            row[ROW_UPDATED]: reading_power(row)
            for row in rows
            if row[ROW_ENTITY] == machine.sensor_id
            and row[ROW_UPDATED] is not None
            and (since is None or row[ROW_UPDATED] >= since)
        }
        offered += [(machine.id, moment, power) for moment, power in readings.items()]
    new = _insert_readings(cr, offered)
    steps = []
    saved = []
    for machine in machines:
        if machine.id in new:
            steps.append(_apply(cr, machine, sorted(new[machine.id]), saved))
    _save_states_after(cr, saved)
    _write_sessions(cr, steps)
    _write_states(cr, [step.machine for step in steps])
    return [step.machine.id for step in steps], _earliest_deadline(step.machine for step in steps)


def advance_due(cr, instance_id, now=None):
    """Let the clock decide the debounces and timeouts due by ``now`` (epoch seconds); return
    (ids of machines that changed, epoch of the next deadline or None)."""
    now = time.time() if now is None else now
    machines = load_machines(cr, instance_id, busy_only=True)
    steps = []
    for machine in machines:
        state = machine.state
        deadline = state.next_deadline(machine.thresholds)
        if deadline is not None and deadline <= now:
            step = Step(machine, _reconcile_from(state))
            step.ended = state.advance(now, machine.thresholds)
            steps.append(step)
    _write_sessions(cr, steps)
    _write_states(cr, [step.machine for step in steps])
    return [step.machine.id for step in steps], _earliest_deadline(machines)


class Step:
    """What one call did to one machine: the sessions it must write from ``reconcile_from``
    on; ``replayed``: readings were replayed, sessions it no longer produces are removed."""

    __slots__ = ("ended", "machine", "reconcile_from", "replayed")

    def __init__(self, machine, reconcile_from, replayed=False):
        self.machine = machine
        self.reconcile_from = reconcile_from
        self.replayed = replayed
        self.ended = []


def _earliest_deadline(machines):
    deadlines = [
        deadline
        for machine in machines
        if (deadline := machine.state.next_deadline(machine.thresholds)) is not None
    ]
    return min(deadlines, default=None)


def _insert_readings(cr, offered):
    """Store ``[(machine id, ha_time, watts or None)]``; return {machine id: [(ha_time,
    watts or None)]} of those not stored before."""
    if not offered:
        return {}
    inserted = execute_values(
        cr._obj,
        """
        INSERT INTO ha_machine_reading (machine_id, ha_time, power_w, available)
        VALUES %s ON CONFLICT (machine_id, ha_time) DO NOTHING
        RETURNING machine_id, ha_time, power_w, available
        """,
        [(machine_id, moment, power, power is not None) for machine_id, moment, power in offered],
        page_size=len(offered),
        fetch=True,
    )
    new = {}
    for machine_id, moment, power, available in inserted:
        new.setdefault(machine_id, []).append((moment, power if available else None))
    return new


def _apply(cr, machine, new, saved):
    """Run ``new`` readings (in time order) through the machine; append (machine id, ha_time,
    state after) to ``saved``; return the Step."""
    first = new[0][0]
    state = machine.state
    replayed = state.clock is not None and to_epoch(first) < state.clock
    if replayed:
        # Late readings: start again from the state after the last reading before them.
        cr.execute(
            """
            SELECT state_after FROM ha_machine_reading
             WHERE machine_id = %s AND ha_time < %s AND state_after IS NOT NULL
          ORDER BY ha_time DESC LIMIT 1
            """,
            (machine.id, first),
        )
        row = cr.fetchone()
        state = machine.state = MachineState.from_dict(row[0] if row else None)
        if row is None:
            # Nothing stored before them (the first readings of the machine, or older than
            # what is kept): sessions from their time on are rebuilt, earlier ones stand.
            state.clock = to_epoch(first)
        cr.execute(
            """
            SELECT ha_time, CASE WHEN available THEN power_w END FROM ha_machine_reading
             WHERE machine_id = %s AND ha_time >= %s ORDER BY ha_time
            """,
            (machine.id, first),
        )
        new = cr.fetchall()
    step = Step(machine, _reconcile_from(state), replayed)
    for moment, power in new:
        step.ended += state.reading(to_epoch(moment), power, machine.thresholds)
        saved.append((machine.id, moment, json.dumps(state.to_dict())))
    return step


def _save_states_after(cr, saved):
    if saved:
        execute_values(
            cr._obj,
            """
            UPDATE ha_machine_reading r SET state_after = v.state::jsonb
              FROM (VALUES %s) AS v (machine_id, ha_time, state)
             WHERE r.machine_id = v.machine_id AND r.ha_time = v.ha_time
            """,
            saved,
            template="(%s::int4, %s::timestamp, %s)",
            page_size=len(saved),
        )


def _reconcile_from(state):
    """Sessions starting at or after this time (epoch) are the state machine's to rewrite from
    ``state`` on; earlier ones are settled."""
    if state.phase in IN_SESSION:
        return state.session_start
    if state.phase == STARTING:
        return state.since
    return state.clock if state.clock is not None else float("-inf")


def _session_row(machine, session):
    unit, rounding, basis = machine.billing
    billed = session.working_s if basis == "working" else session.total_s
    return (
        machine.id,
        from_epoch(session.started),
        from_epoch(session.ended),
        session.status,
        session.working_s,
        session.standby_s,
        session.total_s,
        billing_units(billed, unit, rounding),
    )


def _write_sessions(cr, steps):
    """Write each step's ended sessions and its machine's running one, keyed by (machine,
    start); after a replay, remove the machine's sessions from ``reconcile_from`` on that the
    readings in order no longer produce (a start a late reading showed to be a spike)."""
    rows = []
    running = {}
    for step in steps:
        machine = step.machine
        machine.session_id = None
        rows += [_session_row(machine, session) for session in step.ended]
        session = machine.state.running_session()
        if session is not None:
            rows.append(_session_row(machine, session))
            running[(machine.id, rows[-1][1])] = machine
    written = []
    if rows:
        written = execute_values(
            cr._obj,
            """
            INSERT INTO ha_machine_session AS s
                (machine_id, instance_id, customer_id, started_at, ended_at, status,
                 working_seconds, standby_seconds, total_seconds, working_hours, standby_hours,
                 total_hours, billing_units, create_uid, write_uid, create_date, write_date)
            SELECT m.id, m.instance_id, m.customer_id, v.started_at, v.ended_at, v.status,
                   v.working, v.standby, v.total, v.working / 3600.0, v.standby / 3600.0,
                   v.total / 3600.0, v.units, 1, 1, now() at time zone 'UTC',
                   now() at time zone 'UTC'
              FROM (VALUES %s) AS v (machine_id, started_at, ended_at, status, working,
                                     standby, total, units)
              JOIN ha_machine m ON m.id = v.machine_id
            ON CONFLICT (machine_id, started_at) DO UPDATE SET
                ended_at = EXCLUDED.ended_at, status = EXCLUDED.status,
                working_seconds = EXCLUDED.working_seconds,
                standby_seconds = EXCLUDED.standby_seconds,
                total_seconds = EXCLUDED.total_seconds, working_hours = EXCLUDED.working_hours,
                standby_hours = EXCLUDED.standby_hours, total_hours = EXCLUDED.total_hours,
                billing_units = EXCLUDED.billing_units, write_date = EXCLUDED.write_date
            RETURNING id, machine_id, started_at
            """,
            rows,
            template=(
                "(%s::int4, %s::timestamp, %s::timestamp, %s, %s::float8, %s::float8,"
                " %s::float8, %s::int4)"
            ),
            page_size=len(rows),
            fetch=True,
        )
        for session_id, machine_id, started_at in written:
            machine = running.get((machine_id, started_at))
            if machine is not None:
                machine.session_id = session_id
    replays = [
        (step.machine.id, from_epoch(max(step.reconcile_from, 0.0)))
        for step in steps
        if step.replayed
    ]
    if replays:
        execute_values(
            cr._obj,
            """
            DELETE FROM ha_machine_session s USING (VALUES %s) AS v (machine_id, since)
             WHERE s.machine_id = v.machine_id AND s.started_at >= v.since
               AND NOT (s.id = ANY(ARRAY[{}]::int4[]))
            """.format(",".join(str(int(row[0])) for row in written)),
            replays,
            template="(%s::int4, %s::timestamp)",
            page_size=len(replays),
        )


def _write_states(cr, machines):
    if not machines:
        return
    execute_values(
        cr._obj,
        """
        UPDATE ha_machine_state s
           SET state = v.state::jsonb, phase = v.phase, available = v.available,
               last_power_w = v.power, last_reading_at = v.reading_at, session_id = v.session
          FROM (VALUES %s) AS v (machine_id, state, phase, available, power, reading_at,
                                 session)
         WHERE s.machine_id = v.machine_id
        """,
        [
            (
                machine.id,
                json.dumps(machine.state.to_dict()),
                machine.state.phase,
                machine.state.available,
                machine.state.last_power,
                from_epoch(machine.state.last_reading),
                machine.session_id,
            )
            for machine in machines
        ],
        template="(%s::int4, %s, %s, %s::bool, %s::float8, %s::timestamp, %s::int4)",
        page_size=len(machines),
    )
