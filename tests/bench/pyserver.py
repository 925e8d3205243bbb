"""vamp's signaling server for the load benchmark: ``python -m tests.bench.pyserver PORT``.

The same server as `vamp serve-signal`, with its per-socket rate limit (50 events/s) lifted,
since the Node baseline has none and the load generator goes past it on purpose.
"""

from __future__ import annotations

import sys

from signaling.config import ServerConfig
from signaling.server import run

if __name__ == "__main__":
    run(ServerConfig(port=int(sys.argv[1]), max_peers=8, events_per_second=1e9,
                     event_burst=10**9, log_level="warning"))
