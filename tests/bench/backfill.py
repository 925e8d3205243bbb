"""Section 6: late-join backfill. A peer holds 10 minutes of takes (10 takes of 60 s, 48 kHz mono
int16, written straight into its store); a newcomer with an empty store joins. From its
join to holding every take verified, and the rate in MB/s of PCM; beside the bare aiortc
pair's throughput with 16 KiB messages (vamp's chunk size) in the same run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tests.bench import baselines
from tests.bench.common import Figure, single, wait_until
from tests.bench.context import Context
from tests.bench.mesh import Peer, stop_all, wait_formed
from tests.bench.profile import profile
from tests.support.signal_server import running_signal_server
from vamp_cli.core.store import Store
from vamp_cli.core.take import SampleFormat, TakeInfo, new_take_id

RATE = 48000


def fill_store(directory: Path, owner: str, takes: int, seconds: int) -> int:
    """``takes`` sealed takes of ``seconds`` of noise each; returns the PCM bytes."""
    rng = np.random.default_rng(6)
    total = 0
    with Store(directory) as store:
        for k in range(takes):
            info = TakeInfo(new_take_id(), owner, k * seconds * RATE, RATE, 1, SampleFormat.INT16)
            store.start_take(info)
            for s in range(seconds):
                pcm = rng.integers(-20000, 20000, RATE, dtype=np.int16).tobytes()
                store.append(info.take_id, s * RATE, pcm)
                total += len(pcm)
            store.seal(info.take_id)
    return total


def run(ctx: Context) -> None:
    takes, seconds = (2, 30) if ctx.quick else (10, 60)
    work = ctx.dir("backfill")
    total = fill_store(work / "store-holder", "holder", takes, seconds)
    peers: list[Peer] = []
    with running_signal_server() as server:
        try:
            holder = Peer(work, "holder", "late", server.url, store=work / "store-holder")
            peers = [holder]
            wait_until(lambda: (server.health() or {}).get("sockets", 0) >= 1 or
                       holder.check_alive(), 60, "the holder to join")
            clock = time.time() - time.monotonic()  # wall clock -> CLOCK_MONOTONIC
            late = Peer(work, "late", "late", server.url)
            peers.append(late)
            wait_formed(peers)
            if not ctx.quick:
                ctx.profiles["backfill sender (holder, py-spy)"] = profile(
                    holder.pid, 4.0, work / "holder.pyspy")
            wait_until(lambda: len(late.events("take-complete")) >= takes or
                       late.check_alive(), 600, "the newcomer to hold every take", 0.05)
            joined_ns = (float(late.events("joining")[0]["time"]) - clock) * 1e9
        finally:
            stop_all(peers)
    trace = late.trace()
    done_ns = max(trace.completed.values())
    first_ns = min(int(a.t[0]) for a in trace.received.values())
    join_to_all = (done_ns - joined_ns) / 1e9
    rate = total / ((done_ns - first_ns) / 1e9) / 1e6
    dc = baselines.rawdc(ctx.dir("baselines"), "throughput", label="rawdc-16k", size=16384,
                         bytes=min(total, 30_000_000))
    ctx.add(Figure("6. late-join backfill", f"{takes * seconds / 60:g} min of takes: join → all "
                   "held verified", "s", single(join_to_all), "raw aiortc at its 16 KiB rate, "
                   "same bytes", single(total / 1e6 / dc["mb_per_s"]),
                   note=f"{total / 1e6:.1f} MB of PCM"))
    ctx.add(Figure("6. late-join backfill", "transfer rate (first frame → last take verified)",
                   "MB/s", single(rate), "raw aiortc, 16 KiB messages", single(dc["mb_per_s"]),
                   note="higher is better here"))
