"""Names of connector nodes, as each one announces itself in PostgreSQL.

A node is one connector supervisor: one Odoo process serving one database. It announces
itself through the ``application_name`` of its dedicated PostgreSQL session, the same session
that holds its instance locks, so a node is live exactly as long as its locks can be: when the
process dies, the session, the name and the locks go together. No heartbeat row can be stale.

``odoo_ha_node:<kind>:<token>:<pid>:<host>``: ``kind`` is ``all`` for a node that may host any
instance and ``some`` for one limited to a few (tests, benchmarks), which the others must not
count on; ``token`` tells apart two supervisors of one process and a restarted process that got
the same pid. PostgreSQL keeps 63 bytes of ASCII, so the host name is cut to fit.
"""

import re
from dataclasses import dataclass

NODE_NAME_PREFIX = "odoo_ha_node"
# PostgreSQL keeps at most NAMEDATALEN - 1 bytes of an application_name.
MAX_NAME_BYTES = 63
HOSTS_ALL = "all"
HOSTS_SOME = "some"
# Non-ASCII characters would be replaced by "?" by PostgreSQL: nothing but these is kept.
_UNSAFE_HOST_CHARACTERS = re.compile(r"[^A-Za-z0-9.\-_]")


@dataclass(frozen=True, order=True)
class Node:
    name: str  # the whole announced name: the key of placement
    hostname: str
    pid: int
    hosts_all: bool

    @property
    def label(self) -> str:
        """What an admin recognises: the machine and the process id."""
        return f"{self.hostname}:{self.pid}"


def node_name(hostname: str | None, pid: int, token: str, *, hosts_all: bool = True) -> str:
    kind = HOSTS_ALL if hosts_all else HOSTS_SOME
    head = f"{NODE_NAME_PREFIX}:{kind}:{token}:{int(pid)}:"
    host = _UNSAFE_HOST_CHARACTERS.sub("-", hostname or "") or "-"
    return head + host[: max(1, MAX_NAME_BYTES - len(head))]


def parse_node_name(text: str | None) -> Node | None:
    """The ``Node`` an application_name announces, or None for any other session."""
    text = text or ""
    parts = text.split(":", 4)
    if len(parts) != 5 or parts[0] != NODE_NAME_PREFIX or parts[1] not in (HOSTS_ALL, HOSTS_SOME):
        return None
    try:
        pid = int(parts[3])
    except ValueError:
        return None
    return Node(name=text, hostname=parts[4], pid=pid, hosts_all=parts[1] == HOSTS_ALL)
