"""Section 4 (cost per stream): CPU seconds per second of audio per outgoing and incoming
stream (48 kHz, mono, int16), from processes running side by side in one window:

* A records a tone to two peers B and C (A: one capture + two outgoing streams; B, C: one
  incoming stream each);
* D records a tone alone in its own vamp (one capture, no stream);
* E sits alone in its own vamp recording nothing (the idle cost of a peer).

outgoing = (A - D) / 2, incoming = mean(B, C) - E; the baseline is the bare aiortc pair
sending the same 541-byte chunks at the same pace.
"""

from __future__ import annotations

import time

from tests.bench.common import Figure, single, wait_until
from tests.bench.context import Context
from tests.bench.mesh import Peer, stop_all, wait_formed
from tests.bench.profile import profile
from tests.support.signal_server import running_signal_server


def run(ctx: Context) -> None:
    seconds = 2.0 if ctx.quick else 8.0
    work = ctx.dir("cost")
    dc = ctx.rawdc_stream()
    peers: list[Peer] = []
    with running_signal_server() as server:
        try:
            a = Peer(work, "A", "cost", server.url, input="tone:440")
            b = Peer(work, "B", "cost", server.url)
            c = Peer(work, "C", "cost", server.url)
            d = Peer(work, "D", "cost-solo-rec", server.url, input="tone:330")
            e = Peer(work, "E", "cost-solo-idle", server.url)
            peers = [a, b, c, d, e]
            wait_formed([a, b, c])
            d.wait_line(lambda o: o.get("event") == "recording", 60, "recording")
            wait_until(lambda: (server.health() or {}).get("sockets", 0) >= 5, 60,
                       "every peer to join")
            time.sleep(0.5)  # let B and C catch up with what A recorded before they joined
            before = [p.cpu() for p in peers]
            t0 = time.monotonic()
            time.sleep(seconds)  # the measurement window
            after = [p.cpu() for p in peers]
            window = time.monotonic() - t0
            if not ctx.quick:
                ctx.profiles["sender of two live streams (peer A, py-spy)"] = profile(
                    a.pid, 4.0, work / "A.pyspy")
        finally:
            stop_all(peers)
    cpu = {p.name: (y - x) / window for p, x, y in zip(peers, before, after, strict=True)}
    outgoing = (cpu["A"] - cpu["D"]) / 2
    incoming = (cpu["B"] + cpu["C"]) / 2 - cpu["E"]
    ctx.add(Figure("4. cost per stream", "outgoing stream", "CPU s / s audio", single(outgoing),
                   "raw aiortc sender, same chunks", single(dc["send_cpu_per_s"]),
                   note=f"per-process CPU/s: {', '.join(f'{k} {v:.3f}' for k, v in cpu.items())}",
                   extra={"cpu_per_s": cpu}))
    ctx.add(Figure("4. cost per stream", "incoming stream", "CPU s / s audio", single(incoming),
                   "raw aiortc receiver, same chunks", single(dc["recv_cpu_per_s"])))
    ctx.add(Figure("4. cost per stream", "capture into the store (tone, no stream)",
                   "CPU s / s audio", single(cpu["D"] - cpu["E"]), "", None,
                   note=f"idle peer alone in a vamp: {cpu['E']:.3f} CPU s/s"))
