"""A recording python-socketio client for the signaling tests: emit, then expect events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import socketio

from signaling.protocol import ClientEvent, ServerEvent

EXPECT_TIMEOUT = 5.0


class Client:
    """One socket. Every event it receives is recorded; `expect` takes them in order."""

    def __init__(self, url: str, *, auth: dict[str, str] | None = None) -> None:
        self.url = url
        self.auth = auth
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.received: list[tuple[str, Any]] = []
        self._arrived = asyncio.Condition()
        self.disconnected = asyncio.Event()
        self.refusal: Any = None
        """What the server said when it refused the connection (socket.io `connect_error`)."""
        self.sio.on("*", self._record)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("connect_error", self._on_connect_error)

    async def _on_connect_error(self, data: Any = None) -> None:
        self.refusal = data

    async def _record(self, event: str, *args: Any) -> None:
        async with self._arrived:
            self.received.append((event, args[0] if len(args) == 1 else args))
            self._arrived.notify_all()

    async def _on_disconnect(self, *args: Any) -> None:
        self.disconnected.set()

    async def connect(self) -> Client:
        await self.sio.connect(
            self.url, transports=["websocket"], auth=self.auth, wait_timeout=EXPECT_TIMEOUT
        )
        return self

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid()
        assert isinstance(sid, str)
        return sid

    async def emit(self, event: str, *args: Any) -> None:
        await self.sio.emit(event, args[0] if len(args) == 1 else args or None)

    async def expect(
        self,
        event: str,
        within: float = EXPECT_TIMEOUT,
        where: Callable[[Any], bool] = lambda payload: True,
    ) -> Any:
        """The payload of the oldest unclaimed `event` (that satisfies `where`), waiting for it."""

        def take() -> tuple[bool, Any]:
            for i, (name, payload) in enumerate(self.received):
                if name == event and where(payload):
                    del self.received[i]
                    return True, payload
            return False, None

        async with asyncio.timeout(within), self._arrived:
            while True:
                found, payload = take()
                if found:
                    return payload
                await self._arrived.wait()

    async def expect_error(self, code: str) -> dict[str, Any]:
        error: dict[str, Any] = await self.expect(ServerEvent.VAMP_ERROR)
        assert error["code"] == code, error
        assert error["message"], error
        return error

    def count(self, event: str) -> int:
        return sum(1 for name, _ in self.received if name == event)

    async def join(self, vamp: str) -> list[str]:
        """Join `vamp`; returns `all users` (after checking `ice servers` came first)."""
        await self.emit(ClientEvent.JOIN_VAMP, vamp)
        await self.expect(ServerEvent.ICE_SERVERS)
        users: list[str] = await self.expect(ServerEvent.ALL_USERS)
        return users

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
