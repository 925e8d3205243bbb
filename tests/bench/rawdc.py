"""Baseline: a bare aiortc data channel between two processes, no vamp code on the path.

``python -m tests.bench.rawdc offer|answer --mode latency|throughput ...``. The two sides
exchange SDP through the bench driver (JSON lines on stdout / stdin); the offerer sends, the
answerer receives (and echoes pings). Each prints one final ``{"result": ...}`` line.

latency: a ``--size`` byte message every ``--interval-ms`` for ``--seconds`` (each carries
its send time), then ``--pings`` round trips. throughput: ``--bytes`` in ``--size`` byte
messages, with the same backpressure rule as vamp's peer task (pause above 1 MiB queued).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import time
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from vamp_cli.net.ice import restrict_host_addresses

STREAM, PING, PONG, DONE = 1, 2, 3, 9
HEADER = struct.Struct("<QB")
HIGH_WATER, LOW_WATER = 1 << 20, 256 << 10


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


async def read_line() -> dict[str, Any]:
    line = await asyncio.to_thread(sys.stdin.readline)
    result: dict[str, Any] = json.loads(line)
    return result


def message(kind: int, size: int, stamp: int | None = None) -> bytes:
    head = HEADER.pack(time.monotonic_ns() if stamp is None else stamp, kind)
    return head + bytes(max(0, size - len(head)))


async def offer(args: argparse.Namespace) -> dict[str, Any]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("bench", ordered=True)
    opened = asyncio.Event()
    drained = asyncio.Event()
    pongs: asyncio.Queue[int] = asyncio.Queue()
    channel.bufferedAmountLowThreshold = LOW_WATER
    channel.on("open", opened.set)
    channel.on("bufferedamountlow", drained.set)

    @channel.on("message")
    def on_message(data: bytes) -> None:
        stamp, kind = HEADER.unpack_from(data)
        if kind == PONG:
            pongs.put_nowait(time.monotonic_ns() - stamp)

    t0 = time.monotonic_ns()
    await pc.setLocalDescription(await pc.createOffer())
    offer_ns = time.monotonic_ns() - t0
    emit({"sdp": pc.localDescription.sdp, "type": "offer"})
    answer = await read_line()
    t1 = time.monotonic_ns()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    await asyncio.wait_for(opened.wait(), 20)
    # The setup's own work, without the time the bench driver took to relay the SDP.
    setup_ns = offer_ns + answer["answer_ns"] + time.monotonic_ns() - t1
    result: dict[str, Any] = {"setup_ms": setup_ns / 1e6}
    if args.mode == "latency":
        result.update(await send_stream(channel, args))
        rtts = []
        for _ in range(args.pings):
            channel.send(message(PING, args.size))
            rtts.append(await asyncio.wait_for(pongs.get(), 5) / 1e6)
            await asyncio.sleep(0.002)
        result["rtt_ms"] = rtts
    else:
        cpu0, t1 = time.process_time(), time.monotonic()
        sent = 0
        while sent < args.bytes:
            channel.send(message(STREAM, args.size))
            sent += args.size
            if channel.bufferedAmount > HIGH_WATER:
                drained.clear()
                await drained.wait()
        result["send_cpu_s"] = time.process_time() - cpu0
        result["send_wall_s"] = time.monotonic() - t1
    channel.send(message(DONE, 16))
    await asyncio.wait_for(pongs.get(), 60)  # the receiver acknowledges DONE
    await pc.close()
    return result


async def send_stream(channel: RTCDataChannel, args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    interval = args.interval_ms / 1000
    count = round(args.seconds / interval)
    cpu0, start = time.process_time(), loop.time()
    for i in range(count):
        delay = start + i * interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        channel.send(message(STREAM, args.size))
    return {"sent": count, "send_cpu_per_s": (time.process_time() - cpu0) / args.seconds}


async def answer(args: argparse.Namespace) -> dict[str, Any]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    done = asyncio.Event()
    latencies: list[float] = []
    marks: dict[str, float] = {}

    @pc.on("datachannel")
    def on_channel(channel: RTCDataChannel) -> None:
        @channel.on("message")
        def on_message(data: bytes) -> None:
            now = time.monotonic_ns()
            stamp, kind = HEADER.unpack_from(data)
            if kind == STREAM:
                if "cpu0" not in marks:
                    marks["cpu0"], marks["t0"] = time.process_time(), time.monotonic()
                marks["cpu1"], marks["t1"] = time.process_time(), time.monotonic()
                marks["bytes"] = marks.get("bytes", 0) + len(data)
                latencies.append((now - stamp) / 1e6)
            elif kind == PING:
                channel.send(HEADER.pack(stamp, PONG))
            elif kind == DONE:
                channel.send(HEADER.pack(stamp, PONG))
                done.set()

    offered = await read_line()
    t0 = time.monotonic_ns()
    await pc.setRemoteDescription(RTCSessionDescription(offered["sdp"], "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    answer_ns = time.monotonic_ns() - t0
    emit({"sdp": pc.localDescription.sdp, "type": "answer", "answer_ns": answer_ns})
    await asyncio.wait_for(done.wait(), args.seconds + 120)
    await asyncio.sleep(0.1)  # let the acknowledgement leave before closing
    await pc.close()
    wall = marks.get("t1", 0.0) - marks.get("t0", 0.0)
    cpu = marks.get("cpu1", 0.0) - marks.get("cpu0", 0.0)
    if args.mode == "latency":
        return {"latency_ms": latencies, "recv_cpu_per_s": cpu / wall if wall else None}
    return {"bytes": marks.get("bytes", 0), "wall_s": wall,
            "mb_per_s": marks.get("bytes", 0) / wall / 1e6 if wall else None,
            "recv_cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["offer", "answer"])
    parser.add_argument("--mode", choices=["latency", "throughput"], default="latency")
    parser.add_argument("--size", type=int, default=541)
    parser.add_argument("--interval-ms", type=float, default=256 / 48)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pings", type=int, default=100)
    parser.add_argument("--bytes", type=int, default=50_000_000)
    args = parser.parse_args()
    restrict_host_addresses(["127.0.0.1"])
    result = asyncio.run(offer(args) if args.role == "offer" else answer(args))
    emit({"result": result})


if __name__ == "__main__":
    main()
