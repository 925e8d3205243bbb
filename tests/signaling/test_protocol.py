"""The room protocol against a real `vamp serve-signal` process, with python-socketio clients."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from signaling.auth import issue_token
from signaling.protocol import DEFAULT_MAX_PAYLOAD_BYTES, ClientEvent, ErrorCode, ServerEvent
from tests.signaling.client import Client
from tests.signaling.conftest import ClientFactory
from tests.support.signal_server import SignalServer, running_signal_server, wait_until

OFFER = {"type": "offer", "sdp": "v=0 offer"}
ANSWER = {"type": "answer", "sdp": "v=0 answer"}


async def test_join_order_and_all_users(connect: ClientFactory, vamp: str) -> None:
    a, b, c = [await connect() for _ in range(3)]
    assert await a.join(vamp) == []
    assert await b.join(vamp) == [a.sid]
    assert await c.join(vamp) == [a.sid, b.sid]


async def test_ice_servers_sent_on_join_even_when_none(connect: ClientFactory, vamp: str) -> None:
    a = await connect()
    await a.emit(ClientEvent.JOIN_VAMP, vamp)
    assert await a.expect(ServerEvent.ICE_SERVERS) == []


async def test_signals_relay_both_ways_and_caller_cannot_be_forged(
    connect: ClientFactory, vamp: str
) -> None:
    a, b = await connect(), await connect()
    await a.join(vamp)
    await b.join(vamp)
    await b.emit(
        ClientEvent.SENDING_SIGNAL, {"userToSignal": a.sid, "callerID": a.sid, "signal": OFFER}
    )
    assert await a.expect(ServerEvent.USER_JOINED) == {"signal": OFFER, "callerID": b.sid}
    await a.emit(ClientEvent.RETURNING_SIGNAL, {"signal": ANSWER, "callerID": b.sid})
    assert await b.expect(ServerEvent.RECEIVING_RETURNED_SIGNAL) == {"signal": ANSWER, "id": a.sid}


async def test_trickled_signals_arrive_in_order(connect: ClientFactory, vamp: str) -> None:
    a, b = await connect(), await connect()
    await a.join(vamp)
    await b.join(vamp)
    candidates = [{"type": "candidate", "candidate": {"candidate": f"c{i}"}} for i in range(40)]
    for candidate in candidates:
        await b.emit(ClientEvent.SENDING_SIGNAL, {"userToSignal": a.sid, "signal": candidate})
    received = [(await a.expect(ServerEvent.USER_JOINED))["signal"] for _ in candidates]
    assert received == candidates


async def test_user_left_on_leave_then_rejoin(connect: ClientFactory, vamp: str) -> None:
    a, b = await connect(), await connect()
    await a.join(vamp)
    await b.join(vamp)
    await a.emit(ClientEvent.LEAVE_VAMP)
    assert await b.expect(ServerEvent.USER_LEFT) == a.sid
    assert await a.join(vamp) == [b.sid]


async def test_user_left_on_disconnect_and_reconnect_with_new_sid(
    connect: ClientFactory, vamp: str, signal_server: SignalServer
) -> None:
    a, b = await connect(), await connect()
    await a.join(vamp)
    await b.join(vamp)
    old_sid = a.sid
    await a.close()
    assert await b.expect(ServerEvent.USER_LEFT) == old_sid
    again = await connect()
    assert again.sid != old_sid
    assert await again.join(vamp) == [b.sid]


async def test_user_left_when_a_client_dies_abruptly(
    connect: ClientFactory, vamp: str, signal_server: SignalServer
) -> None:
    b = await connect()
    await b.join(vamp)
    # A client in another process, killed with SIGKILL: no disconnect packet is ever sent.
    script = (
        "import asyncio, socketio, sys\n"
        "async def main():\n"
        "    sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)\n"
        "    joined = asyncio.Event()\n"
        "    sio.on('all users', lambda users: joined.set())\n"
        f"    await sio.connect({signal_server.url!r}, transports=['websocket'])\n"
        f"    await sio.emit('join vamp', {vamp!r})\n"
        "    await joined.wait()\n"
        "    print(sio.get_sid(), flush=True)\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    async with asyncio.timeout(10):
        dead_sid = (await process.stdout.readline()).decode().strip()
    assert dead_sid
    process.kill()
    await process.wait()
    assert await b.expect(ServerEvent.USER_LEFT) == dead_sid


async def test_moving_to_another_vamp_leaves_the_first(connect: ClientFactory, vamp: str) -> None:
    a, b = await connect(), await connect()
    await a.join(vamp)
    await b.join(vamp)
    assert await a.join(vamp + "-other") == []
    assert await b.expect(ServerEvent.USER_LEFT) == a.sid


async def test_signal_to_another_vamp_is_refused_and_not_delivered(
    connect: ClientFactory, vamp: str
) -> None:
    a, c = await connect(), await connect()
    other = vamp + "-other"
    await a.join(vamp)
    await c.join(other)
    await a.emit(ClientEvent.SENDING_SIGNAL, {"userToSignal": c.sid, "signal": {"n": 1}})
    await a.expect_error(ErrorCode.TARGET_IN_OTHER_VAMP)
    await a.emit(ClientEvent.RETURNING_SIGNAL, {"callerID": c.sid, "signal": {"n": 2}})
    await a.expect_error(ErrorCode.TARGET_IN_OTHER_VAMP)
    # Barrier: a's events are handled in order, so once c has a's later, legitimate signal,
    # anything delivered from the refused ones would have arrived before it.
    await a.join(other)
    await a.emit(ClientEvent.SENDING_SIGNAL, {"userToSignal": c.sid, "signal": {"n": 3}})
    assert await c.expect(ServerEvent.USER_JOINED) == {"signal": {"n": 3}, "callerID": a.sid}
    assert c.count(ServerEvent.USER_JOINED) == 0
    assert c.count(ServerEvent.RECEIVING_RETURNED_SIGNAL) == 0


async def test_room_full() -> None:
    with running_signal_server("--max-peers", "2") as server:
        a, b, c = [await Client(server.url).connect() for _ in range(3)]
        try:
            await a.join("small")
            await b.join("small")
            await c.emit(ClientEvent.JOIN_VAMP, "small")
            assert await c.expect(ServerEvent.ROOM_FULL) == {"vamp": "small", "maxPeers": 2}
            assert server.health() == {"status": "ok", "vamps": 1, "sockets": 3}
            await a.emit(ClientEvent.LEAVE_VAMP)
            assert await c.join("small") == [b.sid]
        finally:
            for client in (a, b, c):
                await client.close()


@pytest.mark.parametrize(
    ("event", "args", "code"),
    [
        (ClientEvent.JOIN_VAMP, (123,), ErrorCode.BAD_PAYLOAD),
        (ClientEvent.JOIN_VAMP, ("",), ErrorCode.BAD_PAYLOAD),
        (ClientEvent.JOIN_VAMP, ("bad\nid",), ErrorCode.BAD_PAYLOAD),
        (ClientEvent.JOIN_VAMP, (), ErrorCode.BAD_PAYLOAD),
        (ClientEvent.SENDING_SIGNAL, ("text",), ErrorCode.BAD_PAYLOAD),
        (ClientEvent.SENDING_SIGNAL, ({"userToSignal": "x"},), ErrorCode.BAD_PAYLOAD),
        (ClientEvent.SENDING_SIGNAL, ({"userToSignal": "x", "signal": 1},), ErrorCode.NOT_IN_VAMP),
        (ClientEvent.RETURNING_SIGNAL, ({"callerID": "x", "signal": 1},), ErrorCode.NOT_IN_VAMP),
        (ClientEvent.LEAVE_VAMP, (), ErrorCode.NOT_IN_VAMP),
        ("no such event", ("x",), ErrorCode.UNKNOWN_EVENT),
    ],
)
async def test_refusals_outside_a_vamp(
    connect: ClientFactory, event: str, args: tuple[object, ...], code: ErrorCode
) -> None:
    a = await connect()
    await a.emit(event, *args)
    error = await a.expect_error(code)
    assert error["event"] == event


async def test_refusals_inside_a_vamp(connect: ClientFactory, vamp: str) -> None:
    a, b = await connect(), await connect()
    await a.join(vamp)
    await b.join(vamp)
    cases = [
        ({"userToSignal": b.sid}, ErrorCode.BAD_PAYLOAD),  # no signal
        ({"userToSignal": a.sid, "signal": OFFER}, ErrorCode.BAD_PAYLOAD),  # to itself
        ({"userToSignal": "not-a-socket", "signal": OFFER}, ErrorCode.TARGET_UNKNOWN),
        (
            {"userToSignal": b.sid, "signal": "x" * (DEFAULT_MAX_PAYLOAD_BYTES + 1)},
            ErrorCode.PAYLOAD_TOO_LARGE,
        ),
    ]
    for payload, code in cases:
        await a.emit(ClientEvent.SENDING_SIGNAL, payload)
        await a.expect_error(code)
    # a signal just under the limit goes through
    big = "y" * (DEFAULT_MAX_PAYLOAD_BYTES - 200)
    await a.emit(ClientEvent.SENDING_SIGNAL, {"userToSignal": b.sid, "signal": big})
    assert (await b.expect(ServerEvent.USER_JOINED))["signal"] == big
    assert b.count(ServerEvent.USER_JOINED) == 0


async def test_rate_limit_refuses_a_flood_with_few_errors(connect: ClientFactory) -> None:
    a = await connect()
    flood = 400
    started = time.monotonic()
    for _ in range(flood):
        await a.emit(ClientEvent.LEAVE_VAMP)
    await a.expect(ServerEvent.VAMP_ERROR, where=lambda e: e["code"] == ErrorCode.RATE_LIMITED)
    # Once the bucket refills a join goes through, and then the flood is behind us (a
    # socket's events are handled in order). Joins sent too early are dropped: retry.
    async with asyncio.timeout(10):
        while True:
            await a.emit(ClientEvent.JOIN_VAMP, "after-the-flood")
            try:
                await a.expect(ServerEvent.ALL_USERS, within=0.2)
                break
            except TimeoutError:
                continue
    elapsed = time.monotonic() - started
    rate_limited = 1 + sum(
        1 for name, p in a.received
        if name == ServerEvent.VAMP_ERROR and p["code"] == ErrorCode.RATE_LIMITED
    )
    not_in_vamp = a.count(ServerEvent.VAMP_ERROR) + 1 - rate_limited
    assert not_in_vamp < flood, "the flood was not limited"
    assert rate_limited <= elapsed + 1, "more than one rate-limited error per second"


async def test_healthz_counts_vamps_and_sockets() -> None:
    with running_signal_server() as server:
        assert server.health() == {"status": "ok", "vamps": 0, "sockets": 0}
        a, b = await Client(server.url).connect(), await Client(server.url).connect()
        await a.join("one")
        await b.join("two")
        assert server.health() == {"status": "ok", "vamps": 2, "sockets": 2}
        await a.close()
        await b.close()
        await asyncio.to_thread(
            wait_until, lambda: server.health() == {"status": "ok", "vamps": 0, "sockets": 0},
            5, "empty vamps to be removed",
        )
        log = server.log
        assert "joined vamp one (1/8)" in log
        assert "left vamp two (0/8)" in log
        assert "vamps are open" in log


class TestTokens:
    async def test_token_accepted_for_its_vamp(self, secret_server: SignalServer) -> None:
        from tests.signaling.conftest import SECRET

        token = issue_token("band", SECRET, ttl=60, now=time.time())
        a = await Client(secret_server.url, auth={"token": token}).connect()
        try:
            assert await a.join("band") == []
            await a.emit(ClientEvent.JOIN_VAMP, "elsewhere")
            error = await a.expect_error(ErrorCode.UNAUTHORIZED)
            assert "band" in error["message"]
        finally:
            await a.close()

    @pytest.mark.parametrize(
        ("auth", "reason"),
        [
            (None, "token is required"),
            ({"token": "garbage"}, "malformed"),
            ({"token": issue_token("band", "wrong-secret", ttl=60, now=time.time())}, "signature"),
            ({"token": issue_token("band", "test-secret", ttl=1, now=time.time() - 10)}, "expired"),
        ],
    )
    async def test_connection_refused_with_reason(
        self, secret_server: SignalServer, auth: dict[str, str] | None, reason: str
    ) -> None:
        import socketio

        client = Client(secret_server.url, auth=auth)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect()
        assert reason in client.refusal["message"]
        await client.close()
        # a refused connection leaves nothing behind on the server
        empty = {"status": "ok", "vamps": 0, "sockets": 0}
        await asyncio.to_thread(
            wait_until, lambda: secret_server.health() == empty, 5, "no sockets on the server"
        )
