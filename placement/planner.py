"""One node's moves in one election round: which instance locks to try, which to hand off.

The advisory lock of an instance stays the only authority on who hosts it; the planner only
decides which locks a node reaches for, so that nodes share the instances instead of racing.

* A node tries the lock of an unhosted instance when it is that instance's preferred node
  (``rendezvous``) among the live nodes that may host anything, plus itself.
* It also tries the lock of any instance nobody has hosted for ``grace_s``, whoever is
  preferred: nodes may disagree for a round on who is live, or the preferred node may be
  unable to take it, and an instance must never stay unhosted because of a misjudgement.
* It hands off an instance it hosts whose preferred node is now another one (a node joined):
  the supervisor stops the connection, then releases the lock, and the preferred node takes it.
  An instance it took out of turn (through the grace period) it keeps until the set of live
  nodes changes: otherwise a preferred node that cannot take it would make it bounce between
  nodes, one reconnect per grace period.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from .node_names import Node
from .rendezvous import preferred_nodes


@dataclass(frozen=True)
class RoundPlan:
    acquire: frozenset[int]  # unhosted instance ids whose lock to try, this round
    hand_off: frozenset[int]  # hosted instance ids to stop and release
    preferred: dict[int, str]  # instance id -> preferred node name (for logs)


class HostingPlanner:
    def __init__(self, me: Node, grace_s: float) -> None:
        """``me``: this node's ``Node``; ``grace_s``: how long an instance may stay unhosted
        before any node tries it."""
        self.me = me
        self.grace_s = grace_s
        self._unhosted_since: dict[int, float] = {}
        # instance id -> the candidates when it was taken
        self._kept_out_of_turn: dict[int, frozenset[str]] = {}
        self._candidates: frozenset[str] = frozenset()
        self._preferred: dict[int, str] = {}

    def plan(
        self,
        now: float,
        live_nodes: Iterable[Node],
        instance_ids: Iterable[int],
        hosted: Iterable[int],
        held: Iterable[int],
    ) -> RoundPlan:
        """``live_nodes``: the ``Node``s announced on the database (this one included or not);
        ``instance_ids``: every configured instance (the same list on every node);
        ``hosted``: the ids this node hosts; ``held``: the ids whose lock anyone holds."""
        candidates = frozenset(
            [node.name for node in live_nodes if node.hosts_all] + [self.me.name]
        )
        preferred = preferred_nodes(instance_ids, candidates)
        instance_ids, hosted, held = set(instance_ids), set(hosted), set(held) | set(hosted)

        unhosted = instance_ids - held
        for instance_id in list(self._unhosted_since):
            if instance_id not in unhosted:
                del self._unhosted_since[instance_id]
        for instance_id in unhosted:
            self._unhosted_since.setdefault(instance_id, now)
        acquire = {
            instance_id
            for instance_id in unhosted
            if preferred[instance_id] == self.me.name
            or now - self._unhosted_since[instance_id] >= self.grace_s
        }

        for instance_id, taken_among in list(self._kept_out_of_turn.items()):
            if instance_id not in hosted or taken_among != candidates:
                del self._kept_out_of_turn[instance_id]
        hand_off = {
            instance_id
            for instance_id in hosted & instance_ids
            if preferred[instance_id] != self.me.name and instance_id not in self._kept_out_of_turn
        }
        self._candidates, self._preferred = candidates, preferred
        return RoundPlan(frozenset(acquire), frozenset(hand_off), preferred)

    def acquired(self, instance_id: int) -> None:
        """This node got the lock of ``instance_id`` in the round last planned."""
        self._unhosted_since.pop(instance_id, None)
        if self._preferred.get(instance_id) != self.me.name:
            self._kept_out_of_turn[instance_id] = self._candidates
