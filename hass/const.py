"""Limits and defaults of the Home Assistant client, each with the reason for its value."""

# Largest websocket message accepted. Real installations answer get_states and the
# registry lists with frames of several MB (websockets' 1 MiB default drops them), so
# leave ample headroom; still bounded so a broken peer cannot exhaust memory.
MAX_FRAME_BYTES = 32 * 1024 * 1024
# Below this a large real installation stops working: refuse smaller configured limits.
MIN_MAX_FRAME_BYTES = 16 * 1024 * 1024

# TCP connect plus the HTTP upgrade; a LAN or reverse-proxied HA answers in well under this.
OPEN_TIMEOUT_S = 10.0
# HA closes a client that has not authenticated within 10 s; waiting as long for its
# verdict covers a busy server without hanging on a peer that never speaks.
AUTH_TIMEOUT_S = 10.0
# How long a clean websocket close may take before the socket is simply dropped: a peer
# that stopped answering must not delay reconnection.
CLOSE_TIMEOUT_S = 2.0

# HA-level ping (a command answered by HA's event loop, not just its TCP stack) every
# this many seconds, so a frozen server or a dead NAT mapping is noticed...
PING_INTERVAL_S = 30.0
# ...and the connection is dropped when the pong takes longer than this.
PING_TIMEOUT_S = 10.0

# Default time a command may wait for its result. Registry lists and history queries on a
# large installation take a few seconds; anything slower is treated as lost.
DEFAULT_COMMAND_TIMEOUT_S = 30.0
# After subscribe_entities HA sends the full snapshot right after the result; allow as
# much time as any other command for it to arrive.
SNAPSHOT_TIMEOUT_S = DEFAULT_COMMAND_TIMEOUT_S

# Reconnect delays: start quickly (a restart of HA takes seconds), double per failure,
# never wait longer than 4 s, so a server that comes back after any outage is connected
# again within 5 s (the fault suite, bench/fault_suite.py, measures it); an attempt on a
# server that is down costs one refused TCP connection. Jitter spreads many clients (or
# instances) after a shared outage. A rejected token is never retried (auth_failed).
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 4.0
BACKOFF_MULTIPLIER = 2.0
# Fraction of each delay that is randomised: a delay lies in [base * (1 - J), base].
BACKOFF_JITTER = 0.5

# Timeout of plain HTTP calls (REST API, onboarding).
HTTP_TIMEOUT_S = 10.0

# Lifetime of tokens created by onboarding (days): HA's own UI offers 10 years.
LONG_LIVED_TOKEN_LIFESPAN_DAYS = 3650

# What the websocket handshake announces to HA: the server logs it on errors.
USER_AGENT = "odoo_ha_addon"
