"""Record one JACK input port to a .npy file: ``python -m tests.support.jack_recorder``.

Run with ``VAMP_JACK_CLIENT_NAME`` set; its port is then ``<name>:in_0``. Prints ``ready``
once the stream runs, records ``--seconds`` of float32 frames (PortAudio's int16 -> float
conversion is exact, so int16 material can be compared sample for sample) and exits.
"""

from __future__ import annotations

import argparse
import sys
import threading

import numpy as np

from vamp_cli.audio import devices


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--rate", type=int, default=48000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    total = round(args.seconds * args.rate)
    buf = np.zeros((total, 1), dtype=np.float32)
    filled = 0
    done = threading.Event()

    def callback(indata: np.ndarray, frames: int, _time: object, _status: object) -> None:
        nonlocal filled
        n = min(frames, total - filled)
        buf[filled : filled + n] = indata[:n]
        filled += n
        if filled >= total:
            done.set()

    sd = devices.sounddevice()
    device = devices.find_device(None, "input")
    with sd.InputStream(device=device.index, samplerate=args.rate, channels=1,
                        dtype="float32", callback=callback):
        print("ready", flush=True)
        if not done.wait(args.seconds + 10):
            print(f"recorded only {filled} of {total} frames", file=sys.stderr)
            return 1
    np.save(args.out, buf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
