"""A JACK probe client: plays a click every ``--interval`` s on ``<name>:out_0`` and listens
on ``<name>:in_0``; prints ``ready`` once running, then ``{"result": {"delays": [...]}}``:
for every click heard, frames from the click's start to the heard onset.

Run with ``VAMP_JACK_CLIENT_NAME`` (and ``JACK_DEFAULT_SERVER``) set; the bench wires its
ports after ``ready``, so clicks played before the path exists are simply not heard.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

import numpy as np

from vamp_cli.audio import devices

CLICK_FRAMES = 24
CLICK_LEVEL = 0.5
THRESHOLD = 0.1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    total = round(args.seconds * args.rate)
    interval = round(args.interval * args.rate)
    heard = np.zeros(total, dtype=np.float32)
    state = {"n": 0}
    done = threading.Event()

    def callback(indata: Any, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        n = state["n"]
        outdata.fill(0)
        # Frames [n, n + frames) of the probe's timeline: a click starts at every multiple
        # of ``interval``.
        start = -(-n // interval) * interval
        for pos in range(start, n + frames, interval):
            a, b = pos - n, min(pos - n + CLICK_FRAMES, frames)
            outdata[a:b, 0] = CLICK_LEVEL
        tail = (start - interval) + CLICK_FRAMES - n  # a click begun in the previous block
        if tail > 0 and start - interval >= 0:
            outdata[: min(tail, frames), 0] = CLICK_LEVEL
        m = min(frames, total - n)
        if m > 0:
            heard[n : n + m] = indata[:m, 0]
        state["n"] = n + frames
        if state["n"] >= total:
            done.set()

    sd = devices.sounddevice()
    device = devices.find_device(None, "input")
    with sd.Stream(device=(device.index, device.index), samplerate=args.rate, channels=1,
                   dtype="float32", callback=callback):
        print("ready", flush=True)
        if not done.wait(args.seconds + 10):
            print(f"heard only {state['n']} of {total} frames", file=sys.stderr)
            return 1
    loud = np.abs(heard) > THRESHOLD
    onsets = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    delays = [int(o % interval) for o in onsets]
    print(json.dumps({"result": {"delays": delays, "interval": interval}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
