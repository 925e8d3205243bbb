"""vamp peers as real `vamp join` / `vamp record` processes on one signaling server, traced."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from tests.bench.common import VAMP, Child, wait_until
from tests.bench.traces import Trace, load

FORM_TIMEOUT = 60.0


class Peer(Child):
    """A `vamp join` process with its own store and a store trace."""

    def __init__(self, workdir: Path, name: str, vamp: str, server: str, *,
                 input: str = "none", output: str = "none", monitor: str = "off",
                 command: Sequence[str] = ("join",), extra: Sequence[str] = (),
                 env: dict[str, str] | None = None, store: Path | None = None) -> None:
        self.name = name
        self.trace_path = workdir / f"{name}.trace"
        self.store = store or workdir / f"store-{name}"
        argv = [VAMP, *command, vamp, "--server", server, "--name", name, "--input", input,
                "--output", output, "--monitor", monitor, "--store", str(self.store), "--json",
                "--ice-host", "127.0.0.1", *extra]
        super().__init__(name, argv, workdir, env={**(env or {}), "VAMP_TRACE": str(
            self.trace_path)})

    def peers_joined(self) -> set[str]:
        return {str(e.get("name")) for e in self.events("peer-joined")}

    def trace(self) -> Trace:
        return load(self.trace_path)


def wait_formed(peers: Sequence[Peer], timeout: float = FORM_TIMEOUT) -> None:
    """Until every peer has greeted every other one."""
    names = {p.name for p in peers}

    def formed() -> bool:
        for p in peers:
            p.check_alive()
        return all(p.peers_joined() >= names - {p.name} for p in peers)

    wait_until(formed, timeout, f"a mesh of {len(peers)}", interval=0.05)


def formation_seconds(peers: Sequence[Peer], last: Peer) -> float:
    """From ``last``'s join (its ``joining`` event) to the last ``peer-joined`` that
    completes the mesh, on the events' wall-clock stamps (1 ms resolution)."""
    t0 = float(last.events("joining")[0]["time"])
    ends = [float(e["time"]) for e in last.events("peer-joined")]
    for p in peers:
        if p is not last:
            ends += [float(e["time"]) for e in p.events("peer-joined") if e["name"] == last.name]
    return max(ends) - t0


def stop_all(peers: Sequence[Child]) -> None:
    for p in peers:
        if p.proc.poll() is None:
            p.proc.send_signal(15)
    deadline = time.monotonic() + 15
    for p in peers:
        p.stop(max(0.1, deadline - time.monotonic()))
