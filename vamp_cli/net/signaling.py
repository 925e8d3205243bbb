"""The signaling client: speaks the vamp server's Socket.IO protocol, delivers its events in order.

python-socketio runs every event handler as its own task, which can reorder events that
belong together (an offer and the candidates after it). So each handler only appends a
typed event to one queue, in arrival order; the mesh consumes that queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
import socketio.exceptions

from signaling.protocol import ClientEvent, ErrorCode, ServerEvent
from vamp_cli.errors import VampError

log = logging.getLogger("vamp.signaling")


@dataclass(frozen=True, slots=True)
class Joined:
    """We are in the vamp (again, after a reconnect): ``others`` are its other members."""

    sid: str
    others: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SignalReceived:
    """A peer's signal: an offer from a newcomer (``from_newcomer``) or a reply to ours."""

    sender: str
    signal: dict[str, Any]
    from_newcomer: bool


@dataclass(frozen=True, slots=True)
class MemberLeft:
    sid: str


@dataclass(frozen=True, slots=True)
class IceServersGiven:
    servers: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class ServerRefused:
    code: str
    message: str
    event: str


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    pass


SignalingEvent = (
    Joined | SignalReceived | MemberLeft | IceServersGiven | ServerRefused | ConnectionLost
)


class SignalingClient:
    """One connection to a vamp signaling server, joined to one vamp."""

    def __init__(self, url: str, vamp: str, token: str | None = None) -> None:
        self.url = url
        self.vamp = vamp
        self.token = token
        self.events: asyncio.Queue[SignalingEvent] = asyncio.Queue()
        self._joined = False
        self._leaving = False
        self._fatal: VampError | None = None
        self._refusal: str | None = None
        # Our own SIGINT handling does the graceful leave; socketio's would cancel everything.
        self._lost = asyncio.Event()
        # We reconnect ourselves (stay_connected): socketio's own reconnection gives up when
        # the server said goodbye, which is exactly what a restarting server does. And our
        # own SIGINT handling does the graceful leave; socketio's would cancel everything.
        self._sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self._register()

    @property
    def sid(self) -> str | None:
        sid = self._sio.get_sid()
        return sid if isinstance(sid, str) else None

    @property
    def connected(self) -> bool:
        return bool(self._sio.connected)

    def _put(self, event: SignalingEvent) -> None:
        self.events.put_nowait(event)

    def _register(self) -> None:
        sio = self._sio

        async def connect() -> None:
            log.debug("connected to %s as %s", self.url, sio.get_sid())
            if not self._leaving:
                await sio.emit(ClientEvent.JOIN_VAMP, self.vamp)

        async def disconnect(reason: Any = None) -> None:
            log.debug("disconnected from signaling server (%s)", reason)
            self._joined = False
            if not self._leaving:
                self._lost.set()
                self._put(ConnectionLost())

        async def all_users(ids: Any) -> None:
            others = tuple(i for i in ids if isinstance(i, str)) if isinstance(ids, list) else ()
            self._joined = True
            self._put(Joined(sio.get_sid() or "", others))

        async def user_joined(payload: Any) -> None:
            if _is_signal_payload(payload, "callerID"):
                self._put(SignalReceived(payload["callerID"], payload["signal"], True))

        async def returned(payload: Any) -> None:
            if _is_signal_payload(payload, "id"):
                self._put(SignalReceived(payload["id"], payload["signal"], False))

        async def user_left(sid: Any) -> None:
            if isinstance(sid, str):
                self._put(MemberLeft(sid))

        async def ice_servers(servers: Any) -> None:
            if isinstance(servers, list):
                self._put(IceServersGiven(tuple(s for s in servers if isinstance(s, dict))))

        async def room_full(payload: Any = None) -> None:
            limit = payload.get("maxPeers") if isinstance(payload, dict) else None
            limit_text = f" ({limit} peers)" if limit else ""
            self._fatal = VampError(
                f"vamp {self.vamp!r} is full{limit_text}; try another vamp name"
            )
            self._put(ServerRefused("room-full", str(self._fatal), ClientEvent.JOIN_VAMP))

        async def connect_error(data: Any = None) -> None:
            # The server's own reason for refusing the connection (a bad or missing token)
            # comes as {message}; a transport failure comes as a bare string.
            message = data.get("message") if isinstance(data, dict) else None
            if isinstance(message, str) and message:
                self._refusal = message

        async def vamp_error(payload: Any) -> None:
            if not isinstance(payload, dict):
                return
            code, message = str(payload.get("code")), str(payload.get("message"))
            if code == ErrorCode.UNAUTHORIZED:
                self._fatal = VampError(f"the signaling server refused us: {message}")
            self._put(ServerRefused(code, message, str(payload.get("event"))))

        handlers: dict[str, Callable[..., Awaitable[None]]] = {
            "connect": connect,
            "connect_error": connect_error,
            "disconnect": disconnect,
            ServerEvent.ALL_USERS: all_users,
            ServerEvent.USER_JOINED: user_joined,
            ServerEvent.RECEIVING_RETURNED_SIGNAL: returned,
            ServerEvent.USER_LEFT: user_left,
            ServerEvent.ICE_SERVERS: ice_servers,
            ServerEvent.ROOM_FULL: room_full,
            ServerEvent.VAMP_ERROR: vamp_error,
        }
        for event, handler in handlers.items():
            sio.on(event, handler)

    @property
    def fatal(self) -> VampError | None:
        """A refusal that makes staying pointless (vamp full, unauthorized), if any."""
        return self._fatal

    async def connect(self, timeout: float | None = 10.0) -> None:
        """Connect and join, retrying until ``timeout`` (None: forever); VampError with the
        reason when the server refuses us or cannot be reached in time."""
        auth = {"token": self.token} if self.token else None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        delay = 0.2
        while not self._leaving:
            self._refusal = None
            try:
                if self._sio.eio.state != "disconnected":
                    # The last connection is still being torn down; connecting now would fail.
                    await self._sio.disconnect()
                await self._sio.connect(
                    self.url, auth=auth, transports=["websocket"], wait_timeout=5
                )
                return
            except socketio.exceptions.ConnectionError as exc:
                reason = self._refusal or _refusal_reason(exc)
                if reason:
                    await self._sio.disconnect()
                    raise VampError(
                        f"the signaling server at {self.url} refused us: {reason}"
                    ) from None
                if deadline is not None and loop.time() >= deadline:
                    await self._sio.disconnect()
                    raise VampError(
                        f"cannot reach the signaling server at {self.url}: is `vamp serve-signal` "
                        "running there? (set --server URL)"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, 2.0)

    async def stay_connected(self) -> None:
        """Run for the whole session: whenever the server goes away, reconnect and rejoin
        (the ``connect`` handler re-emits ``join vamp``). Data channels do not need the server,
        so the mesh keeps streaming meanwhile."""
        while not self._leaving:
            await self._lost.wait()
            self._lost.clear()
            try:
                await self.connect(timeout=None)
            except VampError as exc:
                log.warning("%s; staying with the peers already connected", exc)
                return

    async def send_offer(self, target: str, signal: dict[str, Any]) -> None:
        """As the newcomer: a signal to a member (``sending signal``)."""
        await self._emit(
            ClientEvent.SENDING_SIGNAL,
            {"userToSignal": target, "callerID": self.sid, "signal": signal},
        )

    async def send_reply(self, caller: str, signal: dict[str, Any]) -> None:
        """As a member: a signal back to the newcomer ``caller`` (``returning signal``)."""
        await self._emit(ClientEvent.RETURNING_SIGNAL, {"signal": signal, "callerID": caller})

    async def _emit(self, event: str, payload: Any) -> None:
        try:
            await self._sio.emit(event, payload)
        except socketio.exceptions.BadNamespaceError:
            log.debug("signaling server unreachable; %s not sent", event)

    async def close(self) -> None:
        """Drop the connection without ceremony (after ``leave``, or when giving up)."""
        self._leaving = True
        try:
            await self._sio.disconnect()
        except Exception as exc:  # closing must not fail the caller's own error path
            log.debug("closing the signaling connection: %s", exc)

    async def leave(self) -> None:
        """Leave the vamp and disconnect, quietly, whatever state the connection is in."""
        self._leaving = True
        if self._sio.connected:
            try:
                await self._emit(ClientEvent.LEAVE_VAMP, None)
            finally:
                await self._sio.disconnect()
        else:
            await self._sio.disconnect()


def _is_signal_payload(payload: Any, id_key: str) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get(id_key), str)
        and isinstance(payload.get("signal"), dict)
    )


def _refusal_reason(exc: Exception) -> str | None:
    """The server's reason when it refused the connection (bad token), else None."""
    text = str(exc)
    if "One or more namespaces failed to connect" in text or "unauthorized" in text.lower():
        return text
    return None
