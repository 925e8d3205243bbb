"""The browser's library, socket.io-client 4 run by node, against a real server process."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from signaling.protocol import ClientEvent, ServerEvent
from tests.signaling.conftest import ClientFactory
from tests.support.signal_server import SignalServer

JS_DIR = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is missing: apt-get install nodejs")


class NodePeer:
    """tests/js/signal_peer.mjs as a subprocess; its events are JSON lines on stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def expect(self, event: str, within: float = 10.0) -> Any:
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"node exited before {event!r}")
                record = json.loads(line)
                if record["event"] == event:
                    return record["payload"]


async def test_socket_io_client_4_joins_and_exchanges_signals(
    signal_server: SignalServer, connect: ClientFactory, vamp: str
) -> None:
    if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        pytest.fail("socket.io-client is not installed: run `make js-deps`")
    assert NODE is not None
    a = await connect()
    await a.join(vamp)
    process = await asyncio.create_subprocess_exec(
        NODE, str(JS_DIR / "signal_peer.mjs"), signal_server.url, vamp,
        stdout=asyncio.subprocess.PIPE, cwd=JS_DIR,
    )
    node = NodePeer(process)
    try:
        js_sid = await node.expect("connect")
        assert await node.expect("ice servers") == []
        assert await node.expect("all users") == [a.sid]
        # node offers to the Python member, which answers
        offer = await a.expect(ServerEvent.USER_JOINED)
        assert offer == {"signal": {"type": "offer", "sdp": "js-offer"}, "callerID": js_sid}
        answer = {"signal": {"type": "answer"}, "callerID": js_sid}
        await a.emit(ClientEvent.RETURNING_SIGNAL, answer)
        assert await node.expect("receiving returned signal") == {
            "signal": {"type": "answer"}, "id": a.sid,
        }
        # a Python newcomer offers to node, which answers
        b = await connect()
        assert await b.join(vamp) == [a.sid, js_sid]
        await b.emit(
            ClientEvent.SENDING_SIGNAL, {"userToSignal": js_sid, "signal": {"type": "offer"}}
        )
        assert await node.expect("user joined") == {"signal": {"type": "offer"}, "callerID": b.sid}
        assert await b.expect(ServerEvent.RECEIVING_RETURNED_SIGNAL) == {
            "signal": {"type": "answer", "sdp": "js-answer"}, "id": js_sid,
        }
        # node hears that a member left, and then leaves itself
        await a.emit(ClientEvent.LEAVE_VAMP)
        assert await node.expect("user left") == a.sid
        async with asyncio.timeout(10):
            assert await process.wait() == 0
        assert await b.expect(ServerEvent.USER_LEFT) == a.sid
        assert await b.expect(ServerEvent.USER_LEFT) == js_sid
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
