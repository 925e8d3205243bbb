"""A JACK probe client: plays a click every ``--interval`` s on ``<name>:out_0`` and listens
on ``<name>:in_0``; prints ``ready`` once running, then ``{"result": {"delays": [...]}}``:
for every click heard, frames from the click's start to the heard onset.

Click k is played at level ``LEVELS[k % 8]``, and a heard click is matched to the latest
click of its level: a delay longer than the interval (up to 8 intervals) is measured as
itself, not folded back into one interval.

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
LEVELS = np.array([0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85], dtype=np.float32)
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

    # The whole click train, computed before the stream starts: the callback only copies.
    played = np.zeros(total + (1 << 16), dtype=np.float32)
    for k, pos in enumerate(range(0, total, interval)):
        played[pos : pos + CLICK_FRAMES] = LEVELS[k % len(LEVELS)]

    def callback(indata: Any, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        n = state["n"]
        outdata[:, 0] = played[n : n + frames]
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
    delays = []
    for onset in onsets:
        level = float(np.abs(heard[onset : onset + CLICK_FRAMES]).max())
        j = int(np.argmin(np.abs(LEVELS - level)))
        # The latest click of that level at or before the onset.
        k = onset // interval
        k -= (k - j) % len(LEVELS)
        if k >= 0:
            delays.append(int(onset - k * interval))
    print(json.dumps({"result": {"delays": delays, "interval": interval}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
