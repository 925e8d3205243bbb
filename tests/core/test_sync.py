"""The sync state machine, driven message by message between stores (no I/O)."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vamp_cli.core import wire
from vamp_cli.core.store import Store, TakeStatus
from vamp_cli.core.sync import (
    MeshSync,
    PeerMisbehaved,
    StoreFailed,
    TakeCompleted,
    TakeConfirmed,
)
from vamp_cli.core.take import SampleFormat, TakeInfo, new_take_id


class Net:
    """Peers by name; ``connect`` opens a channel; ``run`` delivers messages through the
    real wire encoding until nothing is left to send."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.peers: dict[str, MeshSync] = {}
        self.links: set[tuple[str, str]] = set()
        self.events: dict[str, list[object]] = {}

    def add(self, name: str) -> MeshSync:
        store = Store(self.root / name)
        self.peers[name] = MeshSync(store, name)
        self.events[name] = []
        return self.peers[name]

    def connect(self, a: str, b: str) -> None:
        self.links |= {(a, b), (b, a)}
        self.peers[a].add_peer(b)
        self.peers[b].add_peer(a)

    def disconnect(self, a: str) -> None:
        for x, y in list(self.links):
            if a in (x, y):
                self.links.discard((x, y))
                if y == a and x in self.peers:
                    self.peers[x].remove_peer(a)

    def run(self, max_rounds: int = 10_000, batch: int = 4) -> None:
        for _ in range(max_rounds):
            moved = False
            for a, b in sorted(self.links):
                for message in self.peers[a].outgoing(b, batch):
                    moved = True
                    self.peers[b].receive(a, wire.decode(wire.encode(message)))
            for name, sync in self.peers.items():
                self.events[name] += sync.events()
            if not moved:
                return
        raise AssertionError("sync did not settle")


def record(sync: MeshSync, blocks: list[bytes], *, start: int = 0, seal: bool = True) -> str:
    info = TakeInfo(new_take_id(), sync.name, start, 48000, 1, SampleFormat.INT16)
    sync.store.start_take(info)
    offset = 0
    for block in blocks:
        sync.store.append(info.take_id, offset, block)
        offset += len(block) // 2
    if seal:
        sync.store.seal(info.take_id)
    return info.take_id


def pcm(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(2 * n))


def live_pair(root: Path) -> tuple[Net, MeshSync, MeshSync, str]:
    """dan and jeff connected; dan is recording a take jeff holds 100 frames of."""
    net = Net(root)
    dan, jeff = net.add("dan"), net.add("jeff")
    net.connect("dan", "jeff")
    net.run()
    take = record(dan, [pcm(100)], seal=False)
    net.run()
    return net, dan, jeff, take


def disk_full(fd: int, data: bytes, position: int) -> int:
    """Stands in for os.pwrite on a full disk."""
    raise OSError(errno.ENOSPC, "No space left on device")


def held(sync: MeshSync, take_id: str) -> bytes:
    view = sync.store.get(take_id)
    assert view is not None
    return sync.store.read(take_id, 0, view.contiguous)


def test_owner_pushes_and_receiver_confirms(tmp_path: Path) -> None:
    net = Net(tmp_path)
    dan, jeff = net.add("dan"), net.add("jeff")
    net.connect("dan", "jeff")
    net.run()
    take = record(dan, [pcm(256, i) for i in range(40)])
    net.run()
    view = jeff.store.get(take)
    assert view is not None and view.status is TakeStatus.COMPLETE
    assert held(jeff, take) == held(dan, take)
    assert hashlib.sha256(held(jeff, take)).digest() == view.sha256
    assert any(isinstance(e, TakeConfirmed) and e.take_id == take for e in net.events["dan"])
    assert any(isinstance(e, TakeCompleted) for e in net.events["jeff"])
    assert dan.confirmed_by(take) == {"jeff"}
    net.disconnect("jeff")
    assert dan.confirmed_by(take) == {"jeff"}  # a confirmation outlives the connection


def test_live_take_streams_while_recording(tmp_path: Path) -> None:
    net, dan, jeff, take = live_pair(tmp_path)
    assert jeff.store.get(take).contiguous == 100  # type: ignore[union-attr]
    dan.store.append(take, 100, pcm(50, 3))
    net.run()
    assert jeff.store.get(take).contiguous == 150  # type: ignore[union-attr]
    dan.store.seal(take)
    net.run()
    assert jeff.store.get(take).complete  # type: ignore[union-attr]


def test_every_frame_arrives_exactly_once(tmp_path: Path) -> None:
    """The browser prototype duplicated received audio; count what is actually sent."""
    net = Net(tmp_path)
    dan, _ = net.add("dan"), net.add("jeff")
    _ = net.add("ann")
    net.connect("dan", "jeff")
    net.connect("dan", "ann")
    net.connect("jeff", "ann")
    net.run()
    take = record(dan, [pcm(256, i) for i in range(20)])
    sent: dict[tuple[str, str], int] = {}
    for _round in range(1000):
        moved = False
        for a, b in sorted(net.links):
            for message in net.peers[a].outgoing(b):
                moved = True
                if isinstance(message, wire.Chunk):
                    sent[(a, b)] = sent.get((a, b), 0) + message.frames
                net.peers[b].receive(a, message)
        if not moved:
            break
    assert sent == {("dan", "jeff"): 20 * 256, ("dan", "ann"): 20 * 256}
    assert net.peers["ann"].store.get(take).complete  # type: ignore[union-attr]


def test_late_joiner_gets_takes_from_holder_when_owner_gone(tmp_path: Path) -> None:
    net = Net(tmp_path)
    dan = net.add("dan")
    net.add("jeff")
    net.connect("dan", "jeff")
    take = record(dan, [pcm(300, i) for i in range(10)])
    net.run()
    net.disconnect("dan")
    ann = net.add("ann")
    net.connect("jeff", "ann")
    net.run()
    assert ann.store.get(take).complete  # type: ignore[union-attr]
    assert held(ann, take) == held(dan, take)


def test_partial_take_of_vanished_owner_is_fetched_and_completes_after_its_return(
    tmp_path: Path,
) -> None:
    net = Net(tmp_path)
    dan, jeff = net.add("dan"), net.add("jeff")
    net.connect("dan", "jeff")
    net.run()
    take = record(dan, [pcm(200, i) for i in range(5)], seal=False)
    net.run()
    net.disconnect("dan")
    ann = net.add("ann")
    net.connect("jeff", "ann")
    net.run()
    assert ann.store.get(take).contiguous == 1000  # type: ignore[union-attr]
    # dan comes back (same name, same store): it seals what it holds and everyone converges
    dan.store.seal(take)
    net.connect("dan", "jeff")
    net.connect("dan", "ann")
    net.run()
    for sync in (jeff, ann):
        assert sync.store.get(take).complete  # type: ignore[union-attr]
        assert held(sync, take) == held(dan, take)


def test_bad_messages_are_refused_without_harm(tmp_path: Path) -> None:
    net = Net(tmp_path)
    dan, jeff = net.add("dan"), net.add("jeff")
    net.connect("dan", "jeff")
    net.run()
    take = record(dan, [pcm(100)])
    net.run()
    # conflicting frames, an unknown take, a misaligned chunk: refused, state unchanged
    jeff.receive("dan", wire.Chunk(take, 0, 100, bytes(200)))
    jeff.receive("dan", wire.Chunk(new_take_id(), 0, 1, b"\0\0"))
    jeff.receive("dan", wire.Chunk(take, 0, 3, b"\0" * 3))
    jeff.receive("dan", wire.Want((wire.WantEntry(new_take_id(), 0, 5),)))
    live = record(dan, [pcm(10)], seal=False)
    net.run()
    jeff.receive("dan", wire.Chunk(live, 10 + 61 * 48000, 1, b"\0\0"))  # far past what it holds
    events = net.events["jeff"] + jeff.events()
    assert sum(isinstance(e, PeerMisbehaved) for e in events) == 5
    assert jeff.store.missing(live) == []
    assert held(jeff, take) == held(dan, take)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 2000), min_size=1, max_size=12),
    batch=st.integers(1, 8),
    connect_after=st.integers(0, 12),
)
def test_any_pacing_converges_bit_exact(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], batch: int, connect_after: int
) -> None:
    net = Net(tmp_path_factory.mktemp("sync"))
    dan, jeff = net.add("dan"), net.add("jeff")
    info = TakeInfo(new_take_id(), "dan", 0, 48000, 1, SampleFormat.INT16)
    dan.store.start_take(info)
    offset = 0
    for i, n in enumerate(sizes):
        if i == connect_after:
            net.connect("dan", "jeff")
        dan.store.append(info.take_id, offset, pcm(n, i))
        offset += n
        if ("dan", "jeff") in net.links:
            net.run(batch=batch)
    if ("dan", "jeff") not in net.links:
        net.connect("dan", "jeff")
    dan.store.seal(info.take_id)
    net.run(batch=batch)
    assert jeff.store.get(info.take_id).complete  # type: ignore[union-attr]
    assert held(jeff, info.take_id) == held(dan, info.take_id)


def test_a_full_disk_here_is_not_blamed_on_the_sender(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, jeff, take = live_pair(tmp_path)
    jeff.events()

    monkeypatch.setattr(os, "pwrite", disk_full)
    jeff.receive("dan", wire.Chunk(take, 100, 10, pcm(10)))
    events = jeff.events()
    assert [type(e) for e in events] == [StoreFailed]
    assert "disk is full" in events[0].reason  # type: ignore[union-attr]
    assert jeff.store.get(take).contiguous == 100  # type: ignore[union-attr]


def test_frames_the_disk_refused_are_fetched_again_by_repair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net, dan, jeff, take = live_pair(tmp_path)
    # Nothing lost, nobody known to hold more: repair asks for nothing.
    assert jeff.repair() == [] and jeff.repair() == []
    real_pwrite = os.pwrite

    dan.store.append(take, 100, pcm(50, 1))
    monkeypatch.setattr(os, "pwrite", disk_full)
    net.run()  # only jeff writes while this runs: its disk refuses these frames
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    dan.store.append(take, 150, pcm(50, 2))
    dan.store.seal(take)
    net.run()
    view = jeff.store.get(take)
    assert view is not None and not view.complete and view.contiguous == 100
    # No progress since the last look (still 100 frames), and dan is known to hold more.
    assert jeff.repair() == [take]
    net.run()
    assert jeff.store.get(take).complete  # type: ignore[union-attr]
    assert held(jeff, take) == held(dan, take)
    assert jeff.repair() == []  # complete takes are left alone
