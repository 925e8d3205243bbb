"""Throw malformed input of every kind at a real server; it must keep serving normal clients."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from signaling.protocol import (
    DEFAULT_EVENT_BURST,
    DEFAULT_MAX_PAYLOAD_BYTES,
    ClientEvent,
    ErrorCode,
    ServerEvent,
)
from tests.signaling.client import Client
from tests.support.signal_server import SignalServer, running_signal_server


@pytest.fixture(scope="module")
def server() -> Iterator[SignalServer]:
    with running_signal_server() as running:
        yield running


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"signal": [value]}
    return value


BAD_VALUES: list[tuple[object, ...]] = [
    (), (None,), (0,), (-1.5,), (True,), ([],), ({},), ("",), ("x" * 300,),
    ("é\u0000\u202e",), ({"userToSignal": None, "signal": None},),
    ({"userToSignal": ["a"], "callerID": {"x": 1}, "signal": 1},),
    ({"userToSignal": "x" * 10_000, "callerID": "y", "signal": {}},),
    ({"signal": "z" * (DEFAULT_MAX_PAYLOAD_BYTES * 2)},),
    ({"signal": nested(200)},),
    ("a", "b", "c"),
    ([1, [2, [3]]], {"k": "v"}),
]
EVENTS = [*(str(e) for e in ClientEvent), "no such event", "", "all users", "vamp error"]


async def test_malformed_payloads_of_every_event_are_refused(server: SignalServer) -> None:
    assert len(BAD_VALUES) < DEFAULT_EVENT_BURST  # one socket per event stays under the limit
    for event in EVENTS:
        client = await Client(server.url).connect()
        try:
            for args in BAD_VALUES:
                await client.emit(event, *args)
                error = await client.expect(ServerEvent.VAMP_ERROR)
                assert error["code"] in {c.value for c in ErrorCode}, error
                assert error["code"] != ErrorCode.RATE_LIMITED, error
                assert error["message"], error
        finally:
            await client.close()
    await _still_serves(server)


async def test_floods_from_many_sockets(server: SignalServer) -> None:
    clients = [await Client(server.url).connect() for _ in range(4)]
    try:
        for client in clients:
            await client.join("flooded")
        target = clients[0].sid
        for _ in range(300):
            for client in clients[1:]:
                await client.emit(ClientEvent.SENDING_SIGNAL, {"userToSignal": target, "signal": 1})
                await client.emit(ClientEvent.JOIN_VAMP, "flooded")
                await client.emit("junk", "x" * 1000)
        for client in clients[1:]:
            await client.expect(
                ServerEvent.VAMP_ERROR, where=lambda e: e["code"] == ErrorCode.RATE_LIMITED
            )
    finally:
        for client in clients:
            await client.close()
    await _still_serves(server)


async def test_oversized_frame_drops_only_that_connection(server: SignalServer) -> None:
    big = await Client(server.url).connect()
    bystander = await Client(server.url).connect()
    try:
        await bystander.join("bystanding")
        # far beyond Engine.IO's buffer limit: the transport is cut, nothing is buffered
        await big.emit(ClientEvent.JOIN_VAMP, "x" * (4 << 20))
        async with asyncio.timeout(10):
            await big.disconnected.wait()
        assert bystander.sio.connected
    finally:
        await big.close()
        await bystander.close()
    await _still_serves(server)


RAW_FRAMES: list[str | bytes] = [
    "", "4", "40", "42", "42[", "42[]", "42{}", '42["join vamp"', "42[1,2]", '42[{"a":1},1]',
    '42[["list event"]]', "42[null]", '42["join vamp",' + "[" * 50_000 + "]" * 50_000 + "]",
    "9garbage", "2probe", "6", "1", "43[]", "451-[\"join vamp\",{\"_placeholder\":true,\"num\":0}]",
    b"\x00\x01\x02", "0{}", '40/nonexistent,{}', "\ud800".encode("utf-8", "surrogatepass"),
]


async def test_raw_garbage_frames(server: SignalServer) -> None:
    ws_url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session:
        for frame in RAW_FRAMES:
            async with session.ws_connect(ws_url) as ws:
                await ws.receive(timeout=5)  # Engine.IO open packet
                await ws.send_str("40")  # Socket.IO connect to '/'
                await ws.receive(timeout=5)
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
        # and a socket.io connect with an unparseable auth payload
        async with session.ws_connect(ws_url) as ws:
            await ws.receive(timeout=5)
            await ws.send_str("40{not json")
    await _still_serves(server)


async def _still_serves(server: SignalServer) -> None:
    """A normal pair still meets and signals, /healthz answers, and no handler failed."""
    a, b = await Client(server.url).connect(), await Client(server.url).connect()
    try:
        await a.join("afterwards")
        assert await b.join("afterwards") == [a.sid]
        await b.emit(ClientEvent.SENDING_SIGNAL, {"userToSignal": a.sid, "signal": {"ok": 1}})
        assert await a.expect(ServerEvent.USER_JOINED) == {"signal": {"ok": 1}, "callerID": b.sid}
    finally:
        await a.close()
        await b.close()
    assert server.running
    health = server.health()
    assert health is not None and health["status"] == "ok"
    # no handler of ours failed, and the log holds no tracebacks a client could provoke
    assert "Traceback" not in server.log and "ERROR" not in server.log, server.log
