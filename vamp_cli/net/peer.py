"""One remote peer: its RTCPeerConnection, its data channel, and the peer task feeding it.

The peer task reads what the sync state machine says this remote lacks and writes it to the
channel, one batch of at most ``BATCH_MESSAGES`` messages at a time, and only when the
channel's queue is empty: a slow or stalled peer only stalls its own task, nothing piles up
in memory, and it catches up from the store when it drains.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from vamp_cli.core import wire

log = logging.getLogger("vamp.peer")

BATCH_MESSAGES = 16
"""Messages handed to the channel at once: at most 16 x 16 KiB queued per remote."""
CHANNEL_LABEL = "vamp"
CONNECT_TIMEOUT = 20.0
DRAIN_TIMEOUT = 2.0


class LinkOwner(Protocol):
    """What a link needs from the mesh that holds it."""

    async def send_signal(self, link: PeerLink, signal: dict[str, Any]) -> None: ...
    def link_opened(self, link: PeerLink) -> None: ...
    def link_message(self, link: PeerLink, data: bytes | str) -> None: ...
    def outgoing(self, link: PeerLink, max_messages: int) -> list[wire.Message]: ...


class PeerLink:
    """A connection to one remote peer, from first signal to close."""

    def __init__(
        self,
        sid: str,
        *,
        initiator: bool,
        pc_factory: Callable[[], RTCPeerConnection],
        owner: LinkOwner,
        meta: dict[str, str],
    ) -> None:
        self.sid = sid
        self.initiator = initiator
        self.owner = owner
        self.meta = meta  # our {name, session}, sent inside offers/answers
        self.remote_name: str | None = None
        self.remote_session: str | None = None
        self.pc = pc_factory()
        self.channel: RTCDataChannel | None = None
        self.signals: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()
        self.wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._pending_candidates: list[Any] = []
        self.said_bye = False
        self.leave_reported = False
        self.pc.on("datachannel", self._adopt_channel)
        self.pc.on("connectionstatechange", self._on_state)

    def __repr__(self) -> str:
        return f"<PeerLink {self.remote_name or '?'} sid={self.sid}>"

    @property
    def is_open(self) -> bool:
        return (
            self.channel is not None
            and self.channel.readyState == "open"
            and not self.closed.is_set()
        )

    # -- life cycle -----------------------------------------------------------------------

    async def run(self) -> None:
        """Negotiate, then feed the channel until it closes. Returns when the link is over."""
        try:
            async with asyncio.TaskGroup() as tg:
                signals = tg.create_task(self._handle_signals())
                if self.initiator:
                    self._adopt_channel(self.pc.createDataChannel(CHANNEL_LABEL, ordered=True))
                    await self.pc.setLocalDescription(await self.pc.createOffer())
                    await self.owner.send_signal(self, self._description_signal())
                await _first(self.opened.wait(), self.closed.wait(), timeout=CONNECT_TIMEOUT)
                if self.opened.is_set() and not self.closed.is_set():
                    await self._pump()
                elif not self.closed.is_set():
                    log.warning(
                        "could not connect to peer %s within %.0f s", self.sid, CONNECT_TIMEOUT
                    )
                self.signals.put_nowait(None)
                await signals
        finally:
            self.closed.set()
            await self.pc.close()

    async def close(self) -> None:
        """Close on purpose: the data channel first (the far side sees a clean close), then
        the connection. Safe to call more than once."""
        if self.channel is not None and self.channel.readyState == "open":
            await _first(self._flushed(), timeout=DRAIN_TIMEOUT)
            self.channel.close()
        self.closed.set()
        self.wake.set()

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            self.closed.set()
            self.wake.set()

    # -- signals --------------------------------------------------------------------------

    async def _handle_signals(self) -> None:
        while (signal := await self.signals.get()) is not None:
            try:
                await self._apply_signal(signal)
            except Exception as exc:  # a bad SDP from a remote must not end our process
                log.warning(
                    "peer %s sent an unusable signal (%s); dropping the connection", self.sid, exc
                )
                self.closed.set()
                self.wake.set()
                return

    async def _apply_signal(self, signal: dict[str, Any]) -> None:
        kind = signal.get("type")
        if kind in ("offer", "answer"):
            if not isinstance(signal.get("sdp"), str):
                raise ValueError(f"{kind} without sdp")
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=signal["sdp"], type=kind))
            for candidate in self._pending_candidates:
                await self.pc.addIceCandidate(candidate)
            self._pending_candidates.clear()
            if kind == "offer":
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self.owner.send_signal(self, self._description_signal())
        elif kind == "candidate" or "candidate" in signal:
            candidate = _parse_candidate(signal.get("candidate"))
            if self.pc.remoteDescription is None:
                self._pending_candidates.append(candidate)
            else:
                await self.pc.addIceCandidate(candidate)
        else:
            # simple-peer also sends renegotiate/transceiverRequest signals; we negotiate no
            # media, so there is nothing to do with them.
            log.debug("ignoring %r signal from %s", kind, self.sid)

    def _description_signal(self) -> dict[str, Any]:
        description = self.pc.localDescription
        return {"type": description.type, "sdp": description.sdp, "vamp": dict(self.meta)}

    # -- the channel ----------------------------------------------------------------------

    def _adopt_channel(self, channel: RTCDataChannel) -> None:
        if self.channel is not None and self.channel is not channel:
            log.debug("peer %s opened an extra channel %r; ignoring it", self.sid, channel.label)
            return
        self.channel = channel
        channel.bufferedAmountLowThreshold = 0  # "bufferedamountlow" = the queue is empty
        channel.on("open", self._channel_opened)
        channel.on("close", self._channel_closed)
        channel.on("message", lambda data: self.owner.link_message(self, data))
        channel.on("bufferedamountlow", self._drained.set)
        if channel.readyState == "open":  # a remote-created channel is open on arrival
            self._channel_opened()

    def _channel_opened(self) -> None:
        # Synchronously, before any message of the remote can be delivered to us.
        if not self.opened.is_set():
            self.opened.set()
            self.owner.link_opened(self)

    def _channel_closed(self) -> None:
        self.closed.set()
        self.wake.set()

    async def _pump(self) -> None:
        """The peer task: send what this remote lacks, as soon as the store has it.

        It pulls from the store only when the channel's own queue is empty. On an idle link
        that is at once, so every block goes out as it is captured. When SCTP is waiting for
        acknowledgements, aiortc holds our messages back anyway; meanwhile the frames stay
        in the store and leave as one larger chunk when the queue empties. Fewer, larger
        messages are what relieves a loaded link: aiortc's cost is per SCTP chunk.
        """
        channel = self.channel
        assert channel is not None
        while not self.closed.is_set():
            if channel.bufferedAmount > 0:
                self._drained.clear()
                await _first(self._drained.wait(), self.closed.wait())
                continue
            messages = self.owner.outgoing(self, BATCH_MESSAGES)
            if not messages:
                self.wake.clear()
                await self.wake.wait()
                continue
            try:
                for message in messages:
                    channel.send(wire.encode(message))
            except Exception as exc:  # the channel died under us: the link is over
                log.debug("send to %s failed: %s", self, exc)
                self.closed.set()
                return

    async def _flushed(self) -> None:
        """Return once everything queued on the channel was handed to the transport."""
        channel = self.channel
        if channel is None or channel.bufferedAmount == 0:
            return
        self._drained.clear()
        await _first(self._drained.wait(), self.closed.wait())


def _parse_candidate(value: Any) -> Any:
    """A trickled browser candidate ({candidate, sdpMid, sdpMLineIndex}) for aiortc; None
    (end of candidates) for an empty one."""
    if not isinstance(value, dict):
        raise ValueError("candidate signal without a candidate object")
    text = value.get("candidate")
    if not text:
        return None
    if not isinstance(text, str):
        raise ValueError("candidate is not a string")
    candidate = candidate_from_sdp(text.removeprefix("candidate:"))
    candidate.sdpMid = value.get("sdpMid")
    candidate.sdpMLineIndex = value.get("sdpMLineIndex")
    return candidate


async def _first(*aws: Awaitable[Any], timeout: float | None = None) -> bool:
    """Wait for the first of ``aws``; True if one finished before ``timeout``."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        return bool(done)
    finally:
        for task in tasks:
            task.cancel()
