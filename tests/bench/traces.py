"""Reading ``VAMP_TRACE`` files (see ``vamp_cli/trace.py``) and what they tell."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


@dataclass
class Appends:
    """One take's appends in one store, in trace order: time, first frame, frame count."""

    t: I64
    offset: I64
    frames: I64


@dataclass
class Trace:
    name: str
    own: dict[str, Appends] = field(default_factory=dict)  # our takes
    received: dict[str, Appends] = field(default_factory=dict)  # others' takes (new frames)
    started: dict[str, int] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    lengths: dict[str, int] = field(default_factory=dict)


def load(path: Path) -> Trace:
    name = "?"
    rows: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    trace = Trace(name)
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            for part in line.split():
                if part.startswith("name="):
                    trace.name = part[5:]
            continue
        kind, t, take, a, b, new, side = line.split("\t")
        if kind == "A":
            if side == "R" and int(new) == 0:
                continue  # a duplicate: nothing entered the store
            rows[(side, take)].append((int(t), int(a), int(b)))
        elif kind == "S":
            trace.started.setdefault(take, int(t))
        elif kind == "E":
            trace.ended.setdefault(take, int(t))
            trace.lengths[take] = int(a)
        elif kind == "C":
            trace.completed.setdefault(take, int(t))
    for (side, take), items in rows.items():
        arr = np.asarray(items, dtype=np.int64)
        appends = Appends(arr[:, 0], arr[:, 1], arr[:, 2])
        (trace.own if side == "L" else trace.received)[take] = appends
    return trace


def arrival_ns(received: Appends, frames: I64) -> I64:
    """When each of ``frames`` entered the store (-1 where never)."""
    order = np.argsort(received.offset, kind="stable")
    offs, ends, ts = (received.offset[order], received.offset[order] + received.frames[order],
                      received.t[order])
    idx = np.searchsorted(offs, frames, side="right") - 1
    ok = (idx >= 0) & (ends[np.clip(idx, 0, None)] > frames)
    out = np.full(frames.shape, -1, dtype=np.int64)
    out[ok] = ts[idx[ok]]
    return out


def chunk_latencies(sender: Trace, receivers: list[Trace], t_from: int, t_to: int) -> I64:
    """For every block the sender appended to its own takes within [t_from, t_to): the
    time until its last frame entered each receiver's store, in ns (one value per block per
    receiver; blocks a receiver never got are left out)."""
    out: list[I64] = []
    for take, own in sender.own.items():
        window = (own.t >= t_from) & (own.t < t_to)
        if not window.any():
            continue
        last = own.offset[window] + own.frames[window] - 1
        sent = own.t[window]
        for receiver in receivers:
            got = receiver.received.get(take)
            if got is None:
                continue
            arrived = arrival_ns(got, last)
            held = arrived >= 0
            out.append(arrived[held] - sent[held])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def capture_lag_ns(trace: Trace, rate: int) -> I64:
    """For a clock-paced source (tone:HZ), how late each block entered the store compared
    with when it was due (0 = on time; a growing lag is a backlog a real device's ring would
    turn into dropped frames)."""
    out: list[I64] = []
    for own in trace.own.values():
        ends = own.offset + own.frames
        due = own.t[0] + (ends - ends[0]) * 1_000_000_000 // rate
        out.append(own.t - due)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
