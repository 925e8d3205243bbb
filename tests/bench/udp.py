"""Baseline: asyncio UDP between two processes on loopback, one-way latency.

``python -m tests.bench.udp recv --port P`` prints ``{"ready": true}`` and, after the
sender's DONE datagram, ``{"result": {"latency_ms": [...]}}``.
``python -m tests.bench.udp send --port P`` sends a ``--size`` byte datagram every
``--interval-ms`` for ``--seconds``, each carrying its ``time.monotonic_ns()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import time
from typing import Any

HEADER = struct.Struct("<QB")
STREAM, DONE = 1, 9


class Receiver(asyncio.DatagramProtocol):
    def __init__(self, done: asyncio.Event) -> None:
        self.done = done
        self.latencies: list[float] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        now = time.monotonic_ns()
        stamp, kind = HEADER.unpack_from(data)
        if kind == STREAM:
            self.latencies.append((now - stamp) / 1e6)
        else:
            self.done.set()


async def receive(port: int) -> dict[str, Any]:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: Receiver(done), local_addr=("127.0.0.1", port)
    )
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.wait_for(done.wait(), 600)
    transport.close()
    return {"latency_ms": proto.latencies}


async def send(port: int, size: int, interval_ms: float, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=("127.0.0.1", port)
    )
    interval = interval_ms / 1000
    start = loop.time()
    count = round(seconds / interval)
    for i in range(count):
        delay = start + i * interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        head = HEADER.pack(time.monotonic_ns(), STREAM)
        transport.sendto(head + bytes(max(0, size - len(head))))
    for _ in range(3):
        transport.sendto(HEADER.pack(0, DONE))
        await asyncio.sleep(0.01)
    transport.close()
    return {"sent": count}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["send", "recv"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", type=int, default=541)
    parser.add_argument("--interval-ms", type=float, default=256 / 48)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.role == "recv":
        result = asyncio.run(receive(args.port))
    else:
        result = asyncio.run(send(args.port, args.size, args.interval_ms, args.seconds))
    print(json.dumps({"result": result}), flush=True)


if __name__ == "__main__":
    main()
