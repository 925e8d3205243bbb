"""Sections 1, 3 and 4 (keeping up): N peers all recording at once in one vamp.

For N = 2, 4, 8: N-1 peers join and record a tone; once they form a mesh, the last one
joins (mesh formation is timed from its join to every channel open), then every peer
records for a fixed window. The store traces give, for every block a sender captured in
the window, when its last frame entered each receiver's store.
"""

from __future__ import annotations

import time

import numpy as np

from tests.bench.common import Figure, ms, stats
from tests.bench.context import Context
from tests.bench.mesh import Peer, formation_seconds, stop_all, wait_formed
from tests.bench.profile import profile
from tests.bench.traces import Trace, capture_lag_ns, chunk_latencies
from tests.support.signal_server import running_signal_server

WARMUP_S = 0.5
RATE = 48000


def run(ctx: Context) -> None:
    sizes = (2, 4) if ctx.quick else (2, 4, 8)
    seconds = 2.0 if ctx.quick else 6.0
    dc, udp = ctx.rawdc_stream(), ctx.udp_stream()
    for n in sizes:
        result = run_one(ctx, n, seconds)
        ctx.add(Figure(
            "1. chunk latency", f"vamp store→store, N={n} all recording", "ms",
            stats(result["latency_ms"]), "raw aiortc data channel, 541 B / 5.3 ms",
            stats(dc["latency_ms"]),
            note=f"{len(result['latency_ms'])} (block, receiver) pairs; asyncio UDP median "
                 f"{np.median(udp['latency_ms']):.3f} ms, p99 "
                 f"{np.percentile(udp['latency_ms'], 99):.3f} ms",
            extra={"udp": stats(udp["latency_ms"])},
        ))
        if n == 2:  # the same samples against the other baseline, with its own ratio
            ctx.add(Figure(
                "1. chunk latency", "vamp store→store, N=2 all recording", "ms",
                stats(result["latency_ms"]), "asyncio UDP between two processes, same rate",
                stats(udp["latency_ms"]),
            ))
        ctx.add(Figure(
            "3. mesh formation", f"last join → all channels open, N={n}", "ms",
            stats([result["formation_s"] * 1000]),
            "raw aiortc pair: offer+answer+ICE/DTLS/SCTP → open",
            stats([dc["setup_ms"]]),
        ))
        keep = result["keep_up"]
        ctx.add(Figure(
            "4. keeping up", f"N={n}: CPU used (of 2 cores)", "cores",
            stats([keep["cores"]]), "",
            None,
            note=(f"capture lag max {keep['capture_lag_max_ms']:.1f} ms; receive backlog at end "
                  f"max {keep['backlog_max_ms']:.1f} ms; latency median first→last second "
                  f"{keep['latency_first_ms']:.1f}→{keep['latency_last_ms']:.1f} ms"),
            extra=keep,
        ))


def run_one(ctx: Context, n: int, seconds: float) -> dict[str, object]:
    work = ctx.dir(f"scale-{n}")
    vamp = f"bench-scale-{n}"
    peers: list[Peer] = []
    with running_signal_server("--max-peers", "8") as server:
        try:
            for i in range(n - 1):
                peers.append(Peer(work, f"p{i}", vamp, server.url, input=f"tone:{220 + 55 * i}"))
            if n > 2:
                wait_formed(peers)
            else:
                peers[0].wait_line(lambda o: o.get("event") == "recording", 60, "recording")
            last = Peer(work, f"p{n - 1}", vamp, server.url, input=f"tone:{220 + 55 * (n - 1)}")
            peers.append(last)
            wait_formed(peers)
            formation = formation_seconds(peers, last)
            time.sleep(WARMUP_S)  # the window starts once the newest take's backfill settled
            t_from = time.monotonic_ns()
            cpu0 = [p.cpu() for p in peers]
            time.sleep(seconds)  # the measurement window: everyone records meanwhile
            cpu1 = [p.cpu() for p in peers]
            t_to = time.monotonic_ns()
            if n == 8 and not ctx.quick:  # after the window: py-spy takes CPU of its own
                ctx.profiles["one of 8 peers all recording (py-spy)"] = profile(
                    peers[0].pid, 3.0, work / "p0.pyspy")
        finally:
            stop_all(peers)
    traces = [p.trace() for p in peers]
    latencies: list[np.ndarray] = []
    for i, sender in enumerate(traces):
        latencies.append(chunk_latencies(sender, traces[:i] + traces[i + 1:], t_from, t_to))
    lat = np.concatenate(latencies)
    keep = keep_up(traces, t_from, t_to, cpu0, cpu1)
    return {"latency_ms": ms(lat), "formation_s": formation, "keep_up": keep}


def keep_up(traces: list[Trace], t_from: int, t_to: int, cpu0: list[float],
            cpu1: list[float]) -> dict[str, float]:
    window = (t_to - t_from) / 1e9
    cpu = [(b - a) / window for a, b in zip(cpu0, cpu1, strict=True)]
    lags = [capture_lag_ns(t, RATE) for t in traces]
    lag_in_window = [lag for lag in lags if lag.size]
    backlog = 0.0
    for sender in traces:
        for take, own in sender.own.items():
            sent = own.offset[own.t <= t_to] + own.frames[own.t <= t_to]
            if not sent.size:
                continue
            for receiver in traces:
                got = receiver.received.get(take)
                if receiver is sender or got is None:
                    continue
                held = got.offset[got.t <= t_to] + got.frames[got.t <= t_to]
                behind = int(sent.max()) - (int(held.max()) if held.size else 0)
                backlog = max(backlog, behind / RATE * 1000)
    first_to = t_from + 1_000_000_000
    last_from = t_to - 1_000_000_000
    first = [chunk_latencies(s, [r for r in traces if r is not s], t_from, first_to)
             for s in traces]
    last = [chunk_latencies(s, [r for r in traces if r is not s], last_from, t_to)
            for s in traces]
    return {
        "cores": sum(cpu),
        "cpu_per_peer": max(cpu),
        "capture_lag_max_ms": max((float(lag.max()) / 1e6 for lag in lag_in_window), default=0.0),
        "backlog_max_ms": backlog,
        "latency_first_ms": float(np.median(np.concatenate(first))) / 1e6,
        "latency_last_ms": float(np.median(np.concatenate(last))) / 1e6,
    }
