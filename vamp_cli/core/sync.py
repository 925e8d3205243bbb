"""The sync state machine: what each remote peer lacks, what to send it next, what to ask for.

Pure: it reads and writes the :class:`~vamp_cli.core.store.Store` and produces wire
messages, but never touches a socket or a clock. The network shell feeds it decoded
messages (:meth:`MeshSync.receive`) and store changes (it subscribes itself), and drains
:meth:`MeshSync.outgoing` for each remote when the channel can take more.

The rules (``docs/protocol.md`` states them for implementers of other peers):

* On a new channel each side sends HELLO, TAKE_START for every take it holds, then HAVE.
* The owner of a take pushes it: from the remote's first HAVE on, it sends every frame the
  remote lacks as soon as the frame is in the store, then TAKE_END.
* A take whose owner is not connected is fetched with WANT from the remote that holds the
  most of it; that remote serves what it holds and keeps serving as more arrives.
* A receiver that holds every frame of an ended take and whose SHA-256 matches sends HAVE
  with the COMPLETE flag to everyone: that is the owner's confirmation.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from vamp_cli.core.store import Store, StoreDiskError, StoreError, TakeStatus, TakeView
from vamp_cli.core.take import TakeInfo
from vamp_cli.core.wire import (
    MAX_HAVE_ENTRIES,
    Bye,
    Chunk,
    Have,
    HaveEntry,
    HaveFlag,
    Hello,
    Message,
    TakeEnd,
    TakeStart,
    Want,
    WantEntry,
    max_chunk_frames,
)

PeerKey = Hashable
"""Whatever the shell uses to tell its remote peers apart (a connection object, an id)."""

MAX_AHEAD_SECONDS = 60
"""How far past our contiguous frames a chunk of a live take may start."""

WANT_REST = 2**40
"""WANT frame count meaning "everything from offset on" (about 260 days at 48 kHz)."""


# Events the shell reports to the user. They say what happened; the shell decides how to show it.
@dataclass(frozen=True, slots=True)
class PeerGreeted:
    key: PeerKey
    name: str


@dataclass(frozen=True, slots=True)
class PeerSaidBye:
    key: PeerKey
    name: str | None


@dataclass(frozen=True, slots=True)
class TakeAnnounced:
    key: PeerKey
    info: TakeInfo


@dataclass(frozen=True, slots=True)
class TakeCompleted:
    """Every frame of a remote take is held and its SHA-256 matched."""

    take_id: str


@dataclass(frozen=True, slots=True)
class TakeCorrupt:
    take_id: str


@dataclass(frozen=True, slots=True)
class TakeConfirmed:
    """A remote peer confirmed holding one of our own takes, complete and verified."""

    key: PeerKey
    name: str | None
    take_id: str


@dataclass(frozen=True, slots=True)
class StoreFailed:
    """Our own disk refused what a peer sent (full, read-only): the peer did nothing wrong."""

    reason: str


@dataclass(frozen=True, slots=True)
class PeerMisbehaved:
    """A remote sent something we refused; the message was dropped, nothing else changed."""

    key: PeerKey
    name: str | None
    reason: str


Event = (
    PeerGreeted
    | PeerSaidBye
    | TakeAnnounced
    | TakeCompleted
    | TakeCorrupt
    | TakeConfirmed
    | PeerMisbehaved
    | StoreFailed
)


@dataclass
class _SendRange:
    """Frames [cursor, limit) of one take still to send to one remote."""

    cursor: int
    limit: int


@dataclass
class _Remote:
    key: PeerKey
    name: str | None = None
    greeted: bool = False  # their first HAVE arrived: push cursors are set from it
    control: list[Message] = field(default_factory=list)
    sending: dict[str, _SendRange] = field(default_factory=dict)
    holdings: dict[str, int] = field(default_factory=dict)  # take id -> frames held (their word)
    confirmed: set[str] = field(default_factory=set)  # our takes they hold complete
    announced: set[str] = field(default_factory=set)  # takes we sent TAKE_START for
    ends_sent: set[str] = field(default_factory=set)  # takes we sent TAKE_END for


class MeshSync:
    """Sync state for one local peer and all its remotes over one store."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self._remotes: dict[PeerKey, _Remote] = {}
        self._events: list[Event] = []
        self._requested_from: dict[str, PeerKey] = {}  # take id -> remote serving our WANT
        self._confirmed_by: dict[str, set[str]] = {}  # our take id -> names that confirmed
        self._seen_at_repair: dict[str, int] = {}  # take id -> contiguous at the last repair()
        self._known_status: dict[str, TakeStatus] = {
            t.info.take_id: t.status for t in store.takes()
        }
        self._unsubscribe = store.subscribe(self._on_store_change)
        self._round_robin = itertools.count()

    def close(self) -> None:
        self._unsubscribe()

    # -- remotes --------------------------------------------------------------------------

    def add_peer(self, key: PeerKey) -> None:
        """A channel to a new remote is open: queue our greeting to it."""
        remote = _Remote(key)
        self._remotes[key] = remote
        remote.control.append(Hello(self.name))
        for view in self.store.takes():
            self._announce(remote, view)
        remote.control.extend(self._have_messages())

    def remove_peer(self, key: PeerKey) -> None:
        """The channel to ``key`` is gone; fetch what it was serving us from someone else."""
        self._remotes.pop(key, None)
        for take_id, source in list(self._requested_from.items()):
            if source == key:
                del self._requested_from[take_id]
        self._plan()

    def confirmed_by(self, take_id: str) -> set[str]:
        """Names of the peers that confirmed holding our take complete, connected or not
        (a confirmation stays true after its sender leaves)."""
        return set(self._confirmed_by.get(take_id, ()))

    def events(self) -> list[Event]:
        """Events since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    # -- incoming -------------------------------------------------------------------------

    def receive(self, key: PeerKey, message: Message) -> None:
        """Apply one decoded message from ``key``. Refused content becomes a PeerMisbehaved
        event; it never raises for anything a remote can send."""
        remote = self._remotes.get(key)
        if remote is None:
            return
        try:
            self._receive(remote, message)
        except StoreDiskError as exc:
            self._events.append(StoreFailed(str(exc)))
        except (StoreError, ValueError) as exc:
            self._events.append(PeerMisbehaved(key, remote.name, str(exc)))

    def _receive(self, remote: _Remote, message: Message) -> None:
        match message:
            case Chunk(take_id, offset, frames, pcm):
                view = self.store.get(take_id)
                if view is None:
                    raise StoreError(f"chunk for unknown take {take_id[:8]}")
                if len(pcm) != frames * view.info.frame_bytes:
                    raise StoreError(
                        f"chunk of take {take_id[:8]} has {len(pcm)} bytes for {frames} frames"
                    )
                ahead = offset - view.contiguous
                if view.length is None and ahead > MAX_AHEAD_SECONDS * view.info.samplerate:
                    # Senders send in order from what we hold; this far ahead is no take, it
                    # is a remote trying to make us write a huge sparse file.
                    raise StoreError(
                        f"chunk of take {take_id[:8]} starts {ahead} frames past what we hold"
                    )
                end = offset + frames
                if end > remote.holdings.get(take_id, 0):
                    remote.holdings[take_id] = end
                self.store.append(take_id, offset, pcm)
            case TakeStart(info):
                known = self.store.get(info.take_id) is not None
                self.store.start_take(info)
                remote.holdings.setdefault(info.take_id, 0)
                if not known:
                    self._events.append(TakeAnnounced(remote.key, info))
                self._plan()
            case TakeEnd(take_id, length, sha256):
                if self.store.get(take_id) is None:
                    raise StoreError(f"end of unknown take {take_id[:8]}")
                self.store.end_take(take_id, length, sha256)
            case Have(entries):
                self._receive_have(remote, entries)
            case Want(entries):
                for entry in entries:
                    self._receive_want(remote, entry)
            case Hello(name):
                remote.name = name
                self._events.append(PeerGreeted(remote.key, name))
                self._plan()
            case Bye():
                self._events.append(PeerSaidBye(remote.key, remote.name))

    def _receive_have(self, remote: _Remote, entries: tuple[HaveEntry, ...]) -> None:
        theirs = {e.take_id: e for e in entries}
        for entry in entries:
            remote.holdings[entry.take_id] = max(
                remote.holdings.get(entry.take_id, 0), entry.contiguous
            )
            view = self.store.get(entry.take_id)
            if (
                entry.complete
                and view is not None
                and view.info.owner == self.name
                and entry.take_id not in remote.confirmed
            ):
                remote.confirmed.add(entry.take_id)
                if remote.name is not None:
                    self._confirmed_by.setdefault(entry.take_id, set()).add(remote.name)
                self._events.append(TakeConfirmed(remote.key, remote.name, entry.take_id))
        if not remote.greeted:
            # Their first HAVE: push each of our own takes from where they stand.
            remote.greeted = True
            for view in self.store.takes():
                if view.info.owner != self.name:
                    continue
                held = theirs.get(view.info.take_id)
                if held is not None and held.complete:
                    continue
                self._send_from(remote, view, held.contiguous if held else 0, WANT_REST)
        self._plan()

    def _receive_want(self, remote: _Remote, entry: WantEntry) -> None:
        view = self.store.get(entry.take_id)
        if view is None:
            raise StoreError(f"WANT for unknown take {entry.take_id[:8]}")
        if entry.frames == 0:
            remote.sending.pop(entry.take_id, None)
            return
        self._send_from(remote, view, entry.offset, entry.offset + entry.frames)

    # -- outgoing -------------------------------------------------------------------------

    def outgoing(self, key: PeerKey, max_messages: int = 16) -> list[Message]:
        """Up to ``max_messages`` messages to send to ``key`` now: control first, then chunks
        of the takes it lacks, taking turns between takes. Empty when nothing is due."""
        remote = self._remotes.get(key)
        if remote is None:
            return []
        out = remote.control[:max_messages]
        del remote.control[: len(out)]
        while len(out) < max_messages and remote.sending:
            progressed = False
            take_ids = list(remote.sending)
            start = next(self._round_robin) % len(take_ids)
            for take_id in take_ids[start:] + take_ids[:start]:
                if len(out) >= max_messages:
                    break
                message = self._next_of_take(remote, take_id)
                if message is not None:
                    out.append(message)
                    progressed = True
            if not progressed:
                break
        return out

    def _next_of_take(self, remote: _Remote, take_id: str) -> Message | None:
        view = self.store.get(take_id)
        rng = remote.sending.get(take_id)
        if view is None or rng is None:
            remote.sending.pop(take_id, None)
            return None
        available = min(rng.limit, view.contiguous)
        if view.length is not None:
            available = min(available, view.length)
        if rng.cursor < available:
            frames = min(available - rng.cursor, max_chunk_frames(view.info.frame_bytes))
            pcm = self.store.read(take_id, rng.cursor, frames)
            frames = len(pcm) // view.info.frame_bytes
            if frames == 0:
                return None
            chunk = Chunk(take_id, rng.cursor, frames, pcm)
            rng.cursor += frames
            return chunk
        finished = rng.cursor >= rng.limit or (
            view.length is not None and rng.cursor >= view.length
        )
        if finished:
            del remote.sending[take_id]
            if view.ended and take_id not in remote.ends_sent:
                remote.ends_sent.add(take_id)
                assert view.length is not None and view.sha256 is not None
                return TakeEnd(take_id, view.length, view.sha256)
        return None

    def say_bye(self) -> None:
        """Queue BYE to every remote (after whatever control is already queued)."""
        for remote in self._remotes.values():
            remote.control.append(Bye())

    # -- internals ------------------------------------------------------------------------

    def _send_from(self, remote: _Remote, view: TakeView, cursor: int, limit: int) -> None:
        self._announce(remote, view)
        existing = remote.sending.get(view.info.take_id)
        if existing is not None:
            existing.cursor = min(existing.cursor, cursor)
            existing.limit = max(existing.limit, limit)
        else:
            remote.sending[view.info.take_id] = _SendRange(cursor, limit)
        # A TAKE_END re-sent after the frames costs nothing and completes a reconnected peer.
        remote.ends_sent.discard(view.info.take_id)

    def _announce(self, remote: _Remote, view: TakeView) -> None:
        take_id = view.info.take_id
        if take_id not in remote.announced:
            remote.announced.add(take_id)
            remote.control.append(TakeStart(view.info))

    def _have_messages(self) -> Iterator[Have]:
        entries = [self._have_entry(view) for view in self.store.takes()]
        for i in range(0, max(len(entries), 1), MAX_HAVE_ENTRIES):
            yield Have(tuple(entries[i : i + MAX_HAVE_ENTRIES]))

    @staticmethod
    def _have_entry(view: TakeView) -> HaveEntry:
        flags = 0
        if view.ended:
            flags |= HaveFlag.ENDED
        if view.complete:
            flags |= HaveFlag.COMPLETE
        return HaveEntry(view.info.take_id, view.contiguous, flags)

    def _on_store_change(self, take_id: str) -> None:
        view = self.store.get(take_id)
        if view is None:
            return
        before = self._known_status.get(take_id)
        self._known_status[take_id] = view.status
        own = view.info.owner == self.name
        if own and before is None:
            # A take we are recording: every remote gets it pushed from frame 0.
            for remote in self._remotes.values():
                if remote.greeted:
                    self._send_from(remote, view, 0, WANT_REST)
                else:
                    self._announce(remote, view)
        if own:
            return
        if view.status is not before and view.status is TakeStatus.COMPLETE:
            self._events.append(TakeCompleted(take_id))
            self._requested_from.pop(take_id, None)
            have = Have((self._have_entry(view),))
            for remote in self._remotes.values():
                remote.control.append(have)
        elif view.status is not before and view.status is TakeStatus.CORRUPT:
            self._events.append(TakeCorrupt(take_id))

    def repair(self) -> list[str]:
        """Ask again for every take that made no progress since the last call although a
        connected peer is known to hold more (from its HAVE or the chunks it sent): frames
        our disk refused, or anything else lost on the way, are fetched again. Call it every
        few seconds; returns the ids of the takes asked for."""
        asked = []
        for view in self.store.takes():
            take_id = view.info.take_id
            if view.complete or view.info.owner == self.name or view.status is TakeStatus.CORRUPT:
                continue
            before = self._seen_at_repair.get(take_id)
            self._seen_at_repair[take_id] = view.contiguous
            if before != view.contiguous:
                continue  # still moving (or first look)
            source = self._repair_source(view)
            if source is None:
                continue
            rest = WANT_REST if view.length is None else view.length - view.contiguous
            source.control.append(Want((WantEntry(take_id, view.contiguous, rest),)))
            asked.append(take_id)
        return asked

    def _repair_source(self, view: TakeView) -> _Remote | None:
        """The remote known to hold more of the take than we do: its owner if so, else the
        one holding the most. None when nobody is known to hold more."""
        take_id = view.info.take_id
        ahead = [
            r
            for r in self._remotes.values()
            if r.greeted and r.holdings.get(take_id, 0) > view.contiguous
        ]
        owners = [r for r in ahead if r.name == view.info.owner]
        if owners:
            return owners[0]
        return max(ahead, key=lambda r: r.holdings.get(take_id, 0), default=None)

    def _plan(self) -> None:
        """Ask for takes whose owner is not connected from the remote holding the most."""
        connected_names = {r.name for r in self._remotes.values() if r.name}
        for view in self.store.takes():
            take_id = view.info.take_id
            if view.complete or view.info.owner == self.name:
                continue
            if view.info.owner in connected_names or take_id in self._requested_from:
                continue
            best: _Remote | None = None
            for remote in self._remotes.values():
                held = remote.holdings.get(take_id)
                if held is None or not remote.greeted:
                    continue
                if best is None or held > best.holdings.get(take_id, 0):
                    best = remote
            if best is None:
                continue
            end = view.length if view.length is not None else view.contiguous + WANT_REST
            best.control.append(Want((WantEntry(take_id, view.contiguous, end - view.contiguous),)))
            self._requested_from[take_id] = best.key
