"""Signaling load generator: ``python -m tests.bench.loadgen --url URL ...``.

``--clients`` python-socketio clients join ``--vamps`` vamps (members in turn); once all are
in, each sends ``sending signal`` to the next member of its vamp at ``--rate`` per second for
``--seconds``; every signal carries its send time, and the receiving client records the
relay latency on ``user joined``. Prints one ``{"result": ...}`` line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import socketio


async def main(args: argparse.Namespace) -> dict[str, Any]:
    clients = [socketio.AsyncClient(reconnection=False, handle_sigint=False)
               for _ in range(args.clients)]
    members: list[list[str]] = [[] for _ in range(args.vamps)]
    latencies: list[float] = []
    received = {"n": 0}
    window = {"t0": 0, "t1": 0}
    joined = asyncio.Event()
    count = {"joined": 0}

    def on_signal(payload: Any) -> None:
        now = time.monotonic_ns()
        stamp = payload["signal"]["t"]
        if window["t0"] <= stamp < window["t1"]:
            received["n"] += 1
            received["last_ns"] = now
            latencies.append((now - stamp) / 1e6)

    def on_all_users(_ids: Any) -> None:
        count["joined"] += 1
        if count["joined"] == args.clients:
            joined.set()

    for sio in clients:
        sio.on("user joined", on_signal)
        sio.on("all users", on_all_users)
    for i in range(0, args.clients, 20):  # connect in batches: a burst of 200 stalls both
        await asyncio.gather(*(c.connect(args.url, transports=["websocket"])
                               for c in clients[i:i + 20]))
    for i, sio in enumerate(clients):
        members[i % args.vamps].append(sio.get_sid())
        await sio.emit("join vamp", f"{args.prefix}-{i % args.vamps}")
    await asyncio.wait_for(joined.wait(), 60)

    async def sender(i: int, sio: socketio.AsyncClient) -> int:
        group = members[i % args.vamps]
        me = group.index(sio.get_sid())
        target = group[(me + 1) % len(group)]
        interval = 1 / args.rate
        loop = asyncio.get_running_loop()
        start = loop.time() + (i / args.clients) * interval  # spread the senders out
        sent = 0
        while True:
            due = start + sent * interval
            if due - start >= args.seconds:
                return sent
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await sio.emit("sending signal", {"userToSignal": target, "callerID": "",
                                              "signal": {"type": "bench",
                                                         "t": time.monotonic_ns()}})
            sent += 1

    window["t0"] = time.monotonic_ns()
    window["t1"] = window["t0"] + int(args.seconds * 1e9)
    sent = await asyncio.gather(*(sender(i, c) for i, c in enumerate(clients)))
    # Signals still in flight count when they arrive: wait until none came for --drain s.
    deadline = time.monotonic() + 60
    seen = -1
    while received["n"] != seen and time.monotonic() < deadline:
        seen = received["n"]
        await asyncio.sleep(args.drain)
    for sio in clients:
        await sio.disconnect()
    # Throughput: what was relayed over the time it really took (first send to last arrival).
    spent = (received.get("last_ns", window["t1"]) - window["t0"]) / 1e9
    return {"sent": sum(sent), "received": received["n"], "seconds": max(spent, args.seconds),
            "latency_ms": latencies}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--vamps", type=int, default=50)
    parser.add_argument("--rate", type=float, default=2.0, help="signals/s per client")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--drain", type=float, default=1.0)
    parser.add_argument("--prefix", default="load")
    args = parser.parse_args()
    print(json.dumps({"result": asyncio.run(main(args))}), flush=True)
