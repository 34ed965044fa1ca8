"""Instances shared out between Odoo nodes (placement/): fair, stable, never left unhosted."""

import random

import pytest

from placement.node_names import MAX_NAME_BYTES, Node, node_name, parse_node_name
from placement.planner import HostingPlanner
from placement.rendezvous import preferred_nodes

GRACE_S = 6.0


def nodes(count, seed):
    rng = random.Random(seed)
    return [
        node_name(f"host{n}", rng.randrange(1, 4_000_000), f"{rng.getrandbits(32):08x}")
        for n in range(count)
    ]


def counts(placement, names):
    return {name: sum(1 for node in placement.values() if node == name) for name in names}


def moved(before, after):
    return sum(1 for instance_id, node in before.items() if after.get(instance_id) != node)


# Names -------------------------------------------------------------------------------------


def test_node_name_round_trips_and_fits_postgresql():
    name = node_name("odoo-1.example.com", 4242, "0badcafe")
    assert parse_node_name(name) == Node(name, "odoo-1.example.com", 4242, True)
    assert parse_node_name(name).label == "odoo-1.example.com:4242"
    limited = parse_node_name(node_name("h", 7, "t", hosts_all=False))
    assert (limited.hosts_all, limited.label) == (False, "h:7")

    long_name = node_name("ä" + "x" * 200, 4_194_304, "0badcafe")
    assert long_name.isascii() and len(long_name.encode()) <= MAX_NAME_BYTES
    node = parse_node_name(long_name)
    assert (node.pid, node.hostname[0]) == (4_194_304, "-")


@pytest.mark.parametrize(
    "text", [None, "", "odoo-1234", "odoo_ha_node:all:t:notapid:h", "odoo_ha_node:any:t:1:h"]
)
def test_other_sessions_are_no_nodes(text):
    assert parse_node_name(text) is None


# Rendezvous ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(50))
def test_spread_is_fair_whatever_the_node_names(seed):
    """100 instances over 3 nodes: 33 or 34 each (plain rendezvous gives 17 to 50)."""
    names = nodes(3, seed)
    spread = counts(preferred_nodes(range(1, 101), names), names)
    assert (min(spread.values()), max(spread.values())) in ((33, 34), (32, 34))
    assert sum(spread.values()) == 100


def test_every_node_computes_the_same_placement():
    names = nodes(4, 1)
    assert preferred_nodes(range(1, 60), names) == preferred_nodes(
        reversed(range(1, 60)), list(reversed(names))
    )
    assert preferred_nodes([3, 1], []) == {}


def test_join_and_leave_move_about_one_share():
    """Averaged over node sets: a join moves ~1/(n+1) of the instances, a leave ~1/n."""
    instance_ids = range(1, 101)
    joined, left = [], []
    for seed in range(200):
        names = nodes(4, seed)
        before = preferred_nodes(instance_ids, names[:3])
        joined.append(moved(before, preferred_nodes(instance_ids, names)))
        left.append(moved(before, preferred_nodes(instance_ids, names[:2])))
        # Whatever moves on a join goes to the new node or makes room for it.
        after = preferred_nodes(instance_ids, names)
        assert counts(after, names)[names[3]] == 25
    assert 25 <= sum(joined) / len(joined) <= 31, "a join moves about a quarter"
    assert 33 <= sum(left) / len(left) <= 38, "a leave moves about a third"


def test_a_new_instance_moves_no_other():
    names = nodes(3, 7)
    before = preferred_nodes(range(1, 101), names)
    after = preferred_nodes(range(1, 102), names)
    assert moved(before, after) == 0


# Planner ------------------------------------------------------------------------------------


def node(name, hosts_all=True):
    return parse_node_name(node_name(name, 1, "t", hosts_all=hosts_all))


A, B, C = node("a"), node("b"), node("c")
INSTANCES = range(1, 31)


def share(of, live):
    placement = preferred_nodes(INSTANCES, [n.name for n in live])
    return {instance_id for instance_id, name in placement.items() if name == of.name}


def test_a_node_reaches_only_for_its_share_of_unhosted_instances():
    planner = HostingPlanner(A, GRACE_S)
    plan = planner.plan(0.0, {A, B}, INSTANCES, hosted=set(), held=set())
    assert plan.acquire == share(A, [A, B])
    assert len(plan.acquire) == 15 and not plan.hand_off
    # What another node holds is not tried, even in its share.
    held = set(list(share(A, [A, B]))[:5])
    plan = planner.plan(1.0, {A, B}, INSTANCES, hosted=set(), held=held)
    assert plan.acquire == share(A, [A, B]) - held


def test_an_instance_nobody_hosts_is_tried_by_all_after_the_grace_period():
    planner = HostingPlanner(A, GRACE_S)
    theirs = set(INSTANCES) - share(A, [A, B])
    assert not planner.plan(0.0, {A, B}, INSTANCES, set(), set()).acquire & theirs
    assert not planner.plan(GRACE_S - 0.1, {A, B}, INSTANCES, set(), set()).acquire & theirs
    assert planner.plan(GRACE_S, {A, B}, INSTANCES, set(), set()).acquire == set(INSTANCES)


def test_the_grace_period_restarts_once_an_instance_was_hosted():
    planner = HostingPlanner(A, GRACE_S)
    theirs = min(set(INSTANCES) - share(A, [A, B]))
    planner.plan(0.0, {A, B}, INSTANCES, set(), set())
    planner.plan(5.0, {A, B}, INSTANCES, set(), {theirs})  # B took it, then lost it
    assert theirs not in planner.plan(GRACE_S + 1, {A, B}, INSTANCES, set(), set()).acquire
    assert theirs not in planner.plan(2 * GRACE_S, {A, B}, INSTANCES, set(), set()).acquire
    assert theirs in planner.plan(2 * GRACE_S + 1, {A, B}, INSTANCES, set(), set()).acquire


def test_a_dead_node_s_instances_are_the_survivors_share_at_once():
    planner = HostingPlanner(A, GRACE_S)
    mine = share(A, [A, B])
    planner.plan(0.0, {A, B}, INSTANCES, hosted=mine, held=set(INSTANCES))
    plan = planner.plan(2.0, {A}, INSTANCES, hosted=mine, held=mine)
    assert plan.acquire == set(INSTANCES) - mine and not plan.hand_off


def test_a_joining_node_gets_its_share_handed_off():
    planner = HostingPlanner(A, GRACE_S)
    everything = set(INSTANCES)
    assert not planner.plan(0.0, {A}, INSTANCES, everything, everything).hand_off
    plan = planner.plan(2.0, {A, B, C}, INSTANCES, everything, everything)
    assert plan.hand_off == everything - share(A, [A, B, C])
    assert len(plan.hand_off) == 20 and not plan.acquire


def test_an_instance_taken_out_of_turn_stays_until_the_nodes_change():
    """B is preferred but does not take it (e.g. it cannot): A takes it after the grace
    period and keeps it instead of bouncing it back, until membership changes."""
    planner = HostingPlanner(A, GRACE_S)
    theirs = min(set(INSTANCES) - share(A, [A, B]))
    planner.plan(0.0, {A, B}, INSTANCES, set(), set())
    assert theirs in planner.plan(GRACE_S, {A, B}, INSTANCES, set(), set()).acquire
    planner.acquired(theirs)
    for now in (8.0, 10.0, 100.0):
        assert not planner.plan(now, {A, B}, INSTANCES, {theirs}, {theirs}).hand_off
    plan = planner.plan(102.0, {A, B, C}, INSTANCES, {theirs}, {theirs})
    assert plan.hand_off == ({theirs} - share(A, [A, B, C]))


def test_limited_nodes_are_not_counted_on_by_others():
    """A node limited to a few instances (tests, benchmarks) counts itself, but nobody else
    hands instances to it."""
    limited = node("limited", hosts_all=False)
    planner = HostingPlanner(A, GRACE_S)
    plan = planner.plan(0.0, {A, limited}, INSTANCES, set(), set())
    assert plan.acquire == set(INSTANCES)
    own = HostingPlanner(limited, GRACE_S).plan(0.0, {A, limited}, INSTANCES, set(), set())
    assert own.acquire == share(limited, [A, limited])
