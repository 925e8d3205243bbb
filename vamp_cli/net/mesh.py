"""The mesh: one PeerLink per remote peer of the vamp, made and unmade from signaling events.

As in the original Vamp client, a newcomer offers to every member listed in ``all users``
and members answer. Offers and answers carry ``vamp: {name, session}`` beside simple-peer's
``{type, sdp}`` so that after a signaling reconnect (every socket id changes) a member can
tell a duplicate of a connection that still works (same name, same session: refused with a
``vamp-duplicate`` reply) from a peer that restarted (same name, new session: the old link
is dropped).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection

from vamp_cli.core import wire
from vamp_cli.core.sync import MeshSync
from vamp_cli.errors import VampError
from vamp_cli.net.ice import rtc_configuration
from vamp_cli.net.peer import PeerLink
from vamp_cli.net.signaling import (
    ConnectionLost,
    IceServersGiven,
    Joined,
    MemberLeft,
    ServerRefused,
    SignalingClient,
    SignalReceived,
)

log = logging.getLogger("vamp.mesh")

DUPLICATE = "vamp-duplicate"
NAME_TAKEN = "vamp-name-taken"
LEAVE_TIMEOUT = 3.0


@dataclass
class MeshEvent:
    """Something the user should hear about: joins, leaves, warnings."""

    kind: str  # "peer-joined" | "peer-left" | "warning" | "signaling"
    text: str
    fields: dict[str, Any] = field(default_factory=dict)


class Mesh:
    """All links of one local peer in one vamp."""

    def __init__(
        self,
        sync: MeshSync,
        signaling: SignalingClient,
        *,
        connect_timeout: float = 10.0,
        ice_servers: list[dict[str, Any]] | None,
        on_event: Callable[[MeshEvent], None],
        on_sync_events: Callable[[], None],
    ) -> None:
        self.sync = sync
        self.signaling = signaling
        self.session = uuid.uuid4().hex
        self._connect_timeout = connect_timeout
        self._cli_ice = ice_servers  # --ice-server wins over what the server offers
        self._server_ice: list[dict[str, Any]] = []
        self._on_event = on_event
        self._on_sync_events = on_sync_events
        self.links: dict[str, PeerLink] = {}  # by the remote's current socket id
        self._refused: set[str] = set()  # socket ids whose offer we refused (name taken)
        self._tg: asyncio.TaskGroup | None = None
        self._misbehaviour_logged: dict[PeerLink, float] = {}
        self.joined = asyncio.Event()
        self._leaving = False
        self._unsubscribe = sync.store.subscribe(lambda _take_id: self.wake_all())

    # -- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Join, keep the mesh until ``stop`` is set, then leave gracefully."""
        try:
            await self.signaling.connect(self._connect_timeout)
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                events = tg.create_task(self._signaling_loop())
                reconnect = tg.create_task(self.signaling.stay_connected())
                await stop.wait()
                await self._leave()
                events.cancel()
                reconnect.cancel()
        finally:
            self._unsubscribe()
            await self.signaling.close()

    def open_links(self) -> list[PeerLink]:
        return [link for link in self.links.values() if link.is_open and link.remote_name]

    def wake_all(self) -> None:
        for link in self.links.values():
            link.wake.set()

    async def wait_formed(self, timeout: float) -> None:
        """Wait until we joined and every link we know of is open (or gave up)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await asyncio.wait_for(self.joined.wait(), timeout)
        while loop.time() < deadline:
            if all(
                link.closed.is_set() or (link.is_open and link.remote_name)
                for link in self.links.values()
            ):
                return
            await asyncio.sleep(0.02)

    async def _leave(self) -> None:
        """bye on every channel, leave the vamp, close the channels, then the connections."""
        self._leaving = True
        self.sync.say_bye()
        self.wake_all()
        links = list(self.links.values())
        try:
            await asyncio.wait_for(
                asyncio.gather(*(link.close() for link in links), return_exceptions=True),
                LEAVE_TIMEOUT,
            )
        except TimeoutError:  # a link that will not close in time is closed with its connection
            log.debug("some links did not close within %.0f s", LEAVE_TIMEOUT)
        try:
            await asyncio.wait_for(self.signaling.leave(), LEAVE_TIMEOUT)
        except Exception as exc:  # leaving must not fail because the server is gone
            log.debug("leaving the signaling server: %s", exc)

    # -- signaling events -----------------------------------------------------------------

    async def _signaling_loop(self) -> None:
        while True:
            event = await self.signaling.events.get()
            match event:
                case Joined(sid, others):
                    self._joined(sid, others)
                case SignalReceived(sender, signal, from_newcomer):
                    self._signal(sender, signal, from_newcomer)
                case MemberLeft(sid):
                    self._refused.discard(sid)
                    link = self.links.get(sid)
                    if link is not None:
                        if link.opened.is_set():
                            self._report_left(link, "left")
                        self._close_later(link)  # its flush must not hold up other signals
                case IceServersGiven(servers):
                    self._server_ice = list(servers)
                case ServerRefused(code, message, ev):
                    if self.signaling.fatal is not None:
                        raise self.signaling.fatal
                    self._emit("warning", f"signaling server refused {ev!r}: {message}", code=code)
                case ConnectionLost():
                    if not self._leaving:
                        self._emit(
                            "signaling",
                            "lost the signaling server; the mesh keeps streaming, reconnecting",
                        )

    def _joined(self, sid: str, others: tuple[str, ...]) -> None:
        first = not self.joined.is_set()
        self.joined.set()
        if not first:
            self._emit("signaling", "back on the signaling server", sid=sid)
        for other in others:
            if other not in self.links:
                self._start_link(other, initiator=True)

    def _signal(self, sender: str, signal: dict[str, Any], from_newcomer: bool) -> None:
        raw_meta = signal.get("vamp")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        name, session = meta.get("name"), meta.get("session")
        kind = signal.get("type")
        if kind == DUPLICATE:
            # Our offer duplicated a link that still works: keep that one, under its new id.
            pending = self.links.pop(sender, None)
            if pending is not None:
                pending.closed.set()
            self._remap(name, session, sender)
            return
        if kind == NAME_TAKEN:
            # Takes are owned by name: two peers under one name would each take the other's
            # takes for their own. The newcomer is the one to pick another.
            raise VampError(
                f"the name {self.sync.name!r} is already used in vamp {self.signaling.vamp!r}"
                " by another peer; join with another --name"
            )
        if sender in self._refused:
            return  # the candidates that follow a refused offer
        link = self.links.get(sender)
        if link is None and from_newcomer and kind == "offer" and name == self.sync.name:
            self._refused.add(sender)
            self._send_later(
                self.signaling.send_reply(sender, {"type": NAME_TAKEN, "vamp": self._meta()})
            )
            self._emit("warning", f"refused a peer that tried to join as {name!r}, our own name")
            return
        if link is None and from_newcomer and kind == "offer":
            existing = self._find(name)
            if existing is not None and existing.remote_session == session and existing.is_open:
                self._remap(name, session, sender)
                self._send_later(
                    self.signaling.send_reply(sender, {"type": DUPLICATE, "vamp": self._meta()})
                )
                return
            if existing is not None:
                self._emit("peer-left", f"{name} reconnected", name=name)
                existing.leave_reported = True
                self._close_later(existing)
            link = self._start_link(sender, initiator=False)
        elif link is None and from_newcomer:
            link = self._start_link(sender, initiator=False)  # trickled candidates may come first
        if link is None:
            log.debug("signal from unknown peer %s ignored", sender)
            return
        if isinstance(name, str) and link.remote_name is None:
            link.remote_name, link.remote_session = name, session
        link.signals.put_nowait(signal)

    # -- links ----------------------------------------------------------------------------

    def _meta(self) -> dict[str, str]:
        return {"name": self.sync.name, "session": self.session}

    def _start_link(self, sid: str, *, initiator: bool) -> PeerLink:
        servers = self._cli_ice if self._cli_ice is not None else self._server_ice
        link = PeerLink(
            sid,
            initiator=initiator,
            pc_factory=lambda: RTCPeerConnection(rtc_configuration(servers)),
            owner=self,
            meta=self._meta(),
        )
        self.links[sid] = link
        assert self._tg is not None
        self._tg.create_task(self._run_link(link))
        return link

    async def _run_link(self, link: PeerLink) -> None:
        try:
            await link.run()
        except Exception as exc:  # one peer's failure never takes the others down
            log.warning("connection to %s failed: %s", link.remote_name or link.sid, exc)
        finally:
            if self.links.get(link.sid) is link:
                del self.links[link.sid]
            if (
                link.remote_name
                and not link.leave_reported
                and not self._leaving
                and link.opened.is_set()
            ):
                self._report_left(link, "left" if link.said_bye else "left (connection lost)")
            self.sync.remove_peer(link)
            self._misbehaviour_logged.pop(link, None)
            self._on_sync_events()

    def _find(self, name: Any) -> PeerLink | None:
        if not isinstance(name, str):
            return None
        for link in self.links.values():
            if link.remote_name == name and not link.closed.is_set():
                return link
        return None

    def _remap(self, name: Any, session: Any, sid: str) -> None:
        link = self._find(name)
        if link is not None and link.remote_session == session and link.sid != sid:
            self.links.pop(link.sid, None)
            link.sid = sid
            self.links[sid] = link

    def _report_left(self, link: PeerLink, how: str) -> None:
        if link.leave_reported:
            return
        link.leave_reported = True
        who = link.remote_name or link.sid
        self._emit("peer-left", f"{who} {how}", name=who, clean=link.said_bye)

    def _emit(self, kind: str, text: str, **fields: Any) -> None:
        self._on_event(MeshEvent(kind, text, fields))

    def _send_later(self, coro: Any) -> None:
        assert self._tg is not None
        self._tg.create_task(coro)

    def _close_later(self, link: PeerLink) -> None:
        self._send_later(link.close())

    # -- LinkOwner ------------------------------------------------------------------------

    async def send_signal(self, link: PeerLink, signal: dict[str, Any]) -> None:
        if link.initiator:
            await self.signaling.send_offer(link.sid, signal)
        else:
            await self.signaling.send_reply(link.sid, signal)

    def link_opened(self, link: PeerLink) -> None:
        self.sync.add_peer(link)
        link.wake.set()

    def link_message(self, link: PeerLink, data: bytes | str) -> None:
        try:
            message = wire.decode(data)
        except wire.ProtocolError as exc:
            self._misbehaved(link, str(exc))
            return
        if isinstance(message, wire.Hello) and message.name == self.sync.name:
            # A peer without the signaling meta (a browser) under our own name.
            self._emit("warning", f"refused a peer that said it is {message.name!r}, our own name")
            self._close_later(link)
            return
        if isinstance(message, wire.Hello) and link.remote_name is None:
            link.remote_name = message.name
        if isinstance(message, wire.Bye):
            link.said_bye = True
        self.sync.receive(link, message)
        link.wake.set()
        self._on_sync_events()
        if isinstance(message, wire.Bye):
            self._report_left(link, "left")

    def outgoing(self, link: PeerLink, max_messages: int) -> list[wire.Message]:
        return self.sync.outgoing(link, max_messages)

    def _misbehaved(self, link: PeerLink, reason: str) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._misbehaviour_logged.get(link, -1e9) >= 1.0:
            self._misbehaviour_logged[link] = now
            self._emit(
                "warning",
                f"dropped a bad message from {link.remote_name or link.sid}: {reason}",
                peer=link.remote_name,
            )
