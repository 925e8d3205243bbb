"""Section 5: take completion. Three peers sit in a vamp; a fourth runs
`vamp record VAMP --duration D` (which streams the take as it records and waits for every
confirmation) several times. From the owner sealing the take (its trace's end) to every
receiver holding it complete with a matching SHA-256 (their traces). Baseline: one round
trip on a bare aiortc data channel (a TAKE_END out and a HAVE back is one round trip)."""

from __future__ import annotations

from tests.bench.common import Figure, ms, stats
from tests.bench.context import Context
from tests.bench.mesh import Peer, stop_all, wait_formed
from tests.support.signal_server import running_signal_server


def run(ctx: Context) -> None:
    takes = 1 if ctx.quick else 4
    duration = 1.0 if ctx.quick else 2.0
    work = ctx.dir("completion")
    dc = ctx.rawdc_stream()
    members: list[Peer] = []
    confirmed_all = 0
    owner: Peer | None = None
    with running_signal_server() as server:
        try:
            members = [Peer(work, f"m{i}", "done", server.url) for i in range(3)]
            wait_formed(members)
            for k in range(takes):
                owner = Peer(work, "owner", "done", server.url, input="tone:440",
                             command=("record",), store=work / "store-owner",
                             extra=("--duration", str(duration), "--out",
                                    str(work / f"take{k}.wav"), "--confirm-timeout", "30"))
                owner.wait(duration + 90)
                final = owner.lines()[-1] if owner.lines() else {}
                peers = final.get("peers", [])
                if len(peers) == 3 and all(p.get("confirmed") for p in peers):
                    confirmed_all += 1
                owner.stop()
        finally:
            stop_all(members)
    assert owner is not None
    mine = owner.trace()
    receivers = [m.trace() for m in members]
    every, each = [], []
    for take, sealed in mine.ended.items():
        done = [r.completed[take] - sealed for r in receivers if take in r.completed]
        each += done
        if len(done) == len(receivers):
            every.append(max(done))
    ctx.add(Figure("5. take completion", "take end → all 3 peers hold it verified (N=4)", "ms",
                   stats(ms(every)), "raw aiortc round trip", stats(dc["rtt_ms"]),
                   note=f"{len(every)} takes of {duration:g} s; `vamp record` saw every "
                        f"confirmation for {confirmed_all} of {takes}; per receiver median "
                        f"{(stats(ms(each)) or {}).get('median', float('nan')):.1f} ms"))
