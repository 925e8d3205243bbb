"""`vamp serve-signal` and `vamp token` as a user runs them: options, env vars, logs, signals."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import signal
import subprocess
import time

import pytest

from signaling.auth import verify_token
from signaling.protocol import ClientEvent, ServerEvent
from tests.signaling.client import Client
from tests.support.signal_server import VAMP, SignalServer, running_signal_server


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_gracefully_with_clients_connected(sig: int) -> None:
    server = SignalServer()
    try:
        await server.astart()
        a = await Client(server.url).connect()
        await a.join("band")
        assert await server.astop(sig) == 0
        async with asyncio.timeout(5):
            await a.disconnected.wait()
        assert "Traceback" not in server.log
        assert "vamp signaling server stopped" in server.log
    finally:
        server.close()


async def test_restart_on_the_same_port_serves_again() -> None:
    server = SignalServer()
    try:
        await server.astart()
        port = server.port
        assert await server.astop() == 0
        await server.astart()
        assert server.port == port
        a = await Client(server.url).connect()
        assert await a.join("again") == []
        await a.close()
    finally:
        server.close()


async def test_env_vars_mirror_options_and_turn_gets_credentials() -> None:
    env = {
        "VAMP_MAX_PEERS": "1",
        "VAMP_ICE_SERVER": "stun:127.0.0.1:3478 turn:127.0.0.1:3478 u:p@turns:127.0.0.1:5349",
        "VAMP_TURN_SECRET": "coturn-secret",
        "VAMP_LOG_LEVEL": "debug",
        "VAMP_HOST": "0.0.0.0",
    }
    with running_signal_server(env=env) as server:
        a, b = await Client(server.url).connect(), await Client(server.url).connect()
        try:
            before = int(time.time())
            await a.emit(ClientEvent.JOIN_VAMP, "solo")
            servers = await a.expect(ServerEvent.ICE_SERVERS)
            assert servers[0] == {"urls": "stun:127.0.0.1:3478"}
            assert servers[2] == {
                "urls": "turns:127.0.0.1:5349", "username": "u", "credential": "p",
            }
            turn = servers[1]
            assert turn["urls"] == "turn:127.0.0.1:3478"
            expiry, _, user = turn["username"].partition(":")
            assert user == a.sid and int(expiry) > before
            expected = hmac.new(b"coturn-secret", turn["username"].encode(), hashlib.sha1).digest()
            assert base64.b64decode(turn["credential"]) == expected
            await b.emit(ClientEvent.JOIN_VAMP, "solo")
            assert await b.expect(ServerEvent.ROOM_FULL) == {"vamp": "solo", "maxPeers": 1}
        finally:
            await a.close()
            await b.close()
        server.wait_for_log(r"WARNING listening on 0\.0\.0\.0 without --secret")
        server.wait_for_log(r"refused: vamp solo is full \(1/1\)")


async def test_debug_log_shows_relayed_events() -> None:
    with running_signal_server("--log-level", "debug") as server:
        a, b = await Client(server.url).connect(), await Client(server.url).connect()
        try:
            await a.join("logged")
            await b.join("logged")
            a_sid, b_sid = a.sid, b.sid
            await b.emit(ClientEvent.SENDING_SIGNAL, {"userToSignal": a.sid, "signal": {"x": 1}})
            await a.expect(ServerEvent.USER_JOINED)
        finally:
            await a.close()
            await b.close()
        server.wait_for_log(rf"relayed user joined from {b_sid} to {a_sid} in vamp logged")
        server.wait_for_log(rf"sid {a_sid} left vamp logged")
        assert "vamps are open" in server.log


def test_port_in_use_is_a_clear_error(signal_server: SignalServer) -> None:
    result = subprocess.run(
        [str(VAMP), "serve-signal", "--port", str(signal_server.port)],
        capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 1
    assert "cannot listen on" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ice-server", "http://nope"], "--ice-server"),
        (["--max-peers", "0"], "--max-peers"),
        (["--log-level", "loud"], "--log-level"),
    ],
)
def test_bad_options_are_one_line_errors(args: list[str], message: str) -> None:
    result = subprocess.run(
        [str(VAMP), "serve-signal", *args], capture_output=True, text=True, timeout=20
    )
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_token_command() -> None:
    result = subprocess.run(
        [str(VAMP), "token", "band", "--ttl", "60"], capture_output=True, text=True, timeout=20,
        env={**os.environ, "VAMP_SECRET": "s3"},
    )
    assert result.returncode == 0, result.stderr
    assert verify_token(result.stdout.strip(), "s3", now=time.time()) == "band"
    assert verify_token(result.stdout.strip(), "s3", now=time.time() + 30) == "band"
    refused = subprocess.run(
        [str(VAMP), "token", "", "--secret", "s3"], capture_output=True, text=True, timeout=20
    )
    assert refused.returncode == 1 and "vamp id" in refused.stderr
    assert "Traceback" not in refused.stderr
