"""The mesh end to end: a real `vamp serve-signal` and one `vamp` process per peer, on loopback.

Each test's vamp has its own name, so tests can share the signaling server.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.peers import (
    BAD_PEER,
    PeerProcess,
    assert_quiet,
    exported_takes,
    only_loopback,
    until,
)
from tests.support.signal_server import SignalServer, running_signal_server


@pytest.fixture(scope="module")
def server() -> Iterator[SignalServer]:
    with running_signal_server() as s:
        yield s


@pytest.fixture
def vamp() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


def sha_of(peer: PeerProcess, take_id: str, tmp_path: Path) -> str | None:
    takes = exported_takes(peer.store, tmp_path / f"export-{peer.name}-{uuid.uuid4().hex[:6]}")
    take = takes.get(take_id)
    return take["sha256"] if take and take["complete"] else None


def test_four_peers_hold_the_recorded_take_bit_exact_and_a_late_fifth_gets_it(
    server: SignalServer, vamp: str, tmp_path: Path
) -> None:
    members = [PeerProcess.join(server.url, vamp, n, tmp_path) for n in ("jeff", "ann", "bob")]
    eve: PeerProcess | None = None
    try:
        for m in members:
            m.wait_event("joining")
        until(lambda: (server.health() or {}).get("sockets", 0) >= 3, "three members on the server")
        dan = PeerProcess.record(server.url, vamp, "dan", tmp_path, duration=3.0)
        assert dan.wait() == 0, dan.describe()
        final = dan.final()
        assert final["frames"] == 3 * 48000
        assert sorted(p["name"] for p in final["peers"]) == ["ann", "bob", "jeff"]
        assert all(p["confirmed"] for p in final["peers"]), final
        take_id, sha = final["take_id"], final["sha256"]
        for m in members:
            m.wait_event("take-complete", take_id=take_id)
            assert sha_of(m, take_id, tmp_path) == sha
            m.wait_event("peer-left", name="dan")
        # The owner is gone; a newcomer still gets the take from the others.
        eve = PeerProcess.join(server.url, vamp, "eve", tmp_path)
        eve.wait_event("take-complete", take_id=take_id)
        assert sha_of(eve, take_id, tmp_path) == sha
        assert_quiet(dan, eve, *members)
    finally:
        for p in [*members, *([eve] if eve else [])]:
            p.stop()


def test_sigint_is_a_quiet_leave(server: SignalServer, vamp: str, tmp_path: Path) -> None:
    # In a loopback-only namespace these two peers get no --ice-host: they must find
    # 127.0.0.1 on their own (aioice leaves loopback out unless told).
    jeff = PeerProcess.join(server.url, vamp, "jeff", tmp_path, ice_host=not only_loopback())
    ann = PeerProcess.join(server.url, vamp, "ann", tmp_path, ice_host=not only_loopback())
    try:
        jeff.wait_event("peer-joined", name="ann")
        ann.wait_event("peer-joined", name="jeff")
        ann.signal(signal.SIGINT)
        assert ann.wait() == 0, ann.describe()
        left = jeff.wait_event("peer-left", name="ann")
        assert left["clean"] is True
        assert len(jeff.find("peer-left", name="ann")) == 1
        assert not jeff.find("warning")
        assert_quiet(jeff, ann)
    finally:
        jeff.stop()
        ann.stop()


def test_two_peers_record_at_once(server: SignalServer, vamp: str, tmp_path: Path) -> None:
    jeff = PeerProcess.join(server.url, vamp, "jeff", tmp_path)
    try:
        jeff.wait_event("joining")
        dan = PeerProcess.record(server.url, vamp, "dan", tmp_path, duration=2.0, input="tone:440")
        ann = PeerProcess.record(server.url, vamp, "ann", tmp_path, duration=2.0, input="tone:330")
        assert dan.wait() == 0, dan.describe()
        assert ann.wait() == 0, ann.describe()
        takes = {p.name: p.final() for p in (dan, ann)}
        assert takes["dan"]["sha256"] != takes["ann"]["sha256"]
        for owner, other in (("dan", ann), ("ann", dan)):
            take = takes[owner]
            assert sha_of(other, take["take_id"], tmp_path) == take["sha256"]
            assert sha_of(jeff, take["take_id"], tmp_path) == take["sha256"]
        assert_quiet(jeff, dan, ann)
    finally:
        jeff.stop()


def test_a_peer_joining_mid_take_gets_all_of_it(
    server: SignalServer, vamp: str, tmp_path: Path
) -> None:
    jeff = PeerProcess.join(server.url, vamp, "jeff", tmp_path)
    late: PeerProcess | None = None
    try:
        jeff.wait_event("joining")
        dan = PeerProcess.record(
            server.url, vamp, "dan", tmp_path, "--confirm-timeout", "30", duration=4.0
        )
        started = jeff.wait_event("take-started")
        jeff.wait_event("take-progress", take_id=started["take_id"])
        late = PeerProcess.join(server.url, vamp, "late", tmp_path)
        late.wait_event("take-complete", take_id=started["take_id"])
        assert dan.wait() == 0, dan.describe()
        final = dan.final()
        assert {p["name"] for p in final["peers"] if p["confirmed"]} >= {"jeff"}
        assert sha_of(late, final["take_id"], tmp_path) == final["sha256"]
        assert_quiet(jeff, late, dan)
    finally:
        jeff.stop()
        if late:
            late.stop()


def test_sigkill_mid_take_keeps_the_partial_take_and_a_restart_converges(
    server: SignalServer, vamp: str, tmp_path: Path
) -> None:
    jeff = PeerProcess.join(server.url, vamp, "jeff", tmp_path)
    ann = PeerProcess.join(server.url, vamp, "ann", tmp_path, input="tone:330")
    dan = PeerProcess.join(server.url, vamp, "dan", tmp_path, input="tone:440")
    back: PeerProcess | None = None
    try:
        take = dan.wait_event("recording")["take_id"]
        ann_take = ann.wait_event("recording")["take_id"]
        until(
            lambda: any(e["frames"] >= 24000 for e in jeff.find("take-progress", take_id=take)),
            "half a second of dan's take at jeff",
        )
        dan.signal(signal.SIGKILL)
        dan.wait()
        for p in (jeff, ann):
            p.wait_event("peer-left", name="dan")
            p.wait_event("take-incomplete", take_id=take)
        # The others keep working: ann's take still streams to jeff.
        before = max(e["frames"] for e in jeff.find("take-progress", take_id=ann_take))
        until(
            lambda: max(e["frames"] for e in jeff.find("take-progress", take_id=ann_take)) > before,
            "ann's take still arriving at jeff",
        )
        partial = exported_takes(jeff.store, tmp_path / "partial")[take]
        assert partial["complete"] is False and partial["frames"] >= 24000
        # dan comes back with the same name and store: its take is sealed and shared.
        back = PeerProcess.join(server.url, vamp, "dan", tmp_path)
        resumed = back.wait_event("take-resumed", take_id=take)
        for p in (jeff, ann):
            p.wait_event("take-complete", take_id=take)
        shas = {sha_of(p, take, tmp_path) for p in (jeff, ann, back)}
        assert len(shas) == 1 and None not in shas
        assert exported_takes(back.store, tmp_path / "back")[take]["frames"] == resumed["frames"]
        assert_quiet(jeff, ann, back)
    finally:
        for p in (jeff, ann, dan, *([back] if back else [])):
            p.stop()


def test_signaling_server_restart_mid_take_loses_nothing(vamp: str, tmp_path: Path) -> None:
    with running_signal_server() as own:
        jeff = PeerProcess.join(own.url, vamp, "jeff", tmp_path)
        try:
            jeff.wait_event("joining")
            dan = PeerProcess.record(own.url, vamp, "dan", tmp_path, duration=4.0)
            take = jeff.wait_event("take-started")["take_id"]
            jeff.wait_event("take-progress", take_id=take)
            own.stop()
            jeff.wait_event("signaling")  # it noticed, and keeps streaming meanwhile
            own.start()
            until(lambda: (own.health() or {}).get("sockets") == 2, "both peers back on the server")
            assert dan.wait() == 0, dan.describe()
            final = dan.final()
            assert final["peers"] == [{"name": "jeff", "confirmed": True}]
            assert sha_of(jeff, take, tmp_path) == final["sha256"]
            assert len(jeff.find("peer-joined", name="dan")) == 1  # no duplicate connection
            assert_quiet(jeff, dan)
        finally:
            jeff.stop()


def test_malformed_and_oversized_messages_are_refused_and_the_mesh_goes_on(
    server: SignalServer, vamp: str, tmp_path: Path
) -> None:
    jeff = PeerProcess.join(server.url, vamp, "jeff", tmp_path)
    mallory = PeerProcess.join(server.url, vamp, "mallory", tmp_path, program=BAD_PEER)
    try:
        jeff.wait_event("peer-joined", name="mallory")
        warning = jeff.wait_event("warning")
        assert "dropped a bad message from mallory" in warning["message"]
        dan = PeerProcess.record(server.url, vamp, "dan", tmp_path, duration=1.0)
        assert dan.wait() == 0, dan.describe()
        final = dan.final()
        assert {p["name"] for p in final["peers"]} == {"jeff", "mallory"}
        assert all(p["confirmed"] for p in final["peers"]), final
        assert sha_of(jeff, final["take_id"], tmp_path) == final["sha256"]
        assert "Traceback" not in jeff.stderr
        assert "dropped a bad message from mallory" in jeff.stderr
        assert mallory.process.poll() is None, "the misbehaving peer itself keeps running"
    finally:
        jeff.stop()
        mallory.stop()


def test_a_stalled_peer_blocks_nobody_and_catches_up(
    server: SignalServer, vamp: str, tmp_path: Path
) -> None:
    jeff = PeerProcess.join(server.url, vamp, "jeff", tmp_path)
    ann = PeerProcess.join(server.url, vamp, "ann", tmp_path)
    try:
        jeff.wait_event("peer-joined", name="ann")
        dan = PeerProcess.record(
            server.url, vamp, "dan", tmp_path, "--confirm-timeout", "60", duration=3.0
        )
        take = ann.wait_event("take-started")["take_id"]
        ann.wait_event("take-progress", take_id=take)
        ann.signal(signal.SIGSTOP)  # ann's process freezes: it reads nothing, acks nothing
        try:
            jeff.wait_event("take-complete", take_id=take)  # the others go on without ann
        finally:
            ann.signal(signal.SIGCONT)
        ann.wait_event("take-complete", take_id=take)
        assert dan.wait(90) == 0, dan.describe()
        final = dan.final()
        assert final["peers"] == [
            {"name": "ann", "confirmed": True},
            {"name": "jeff", "confirmed": True},
        ]
        assert sha_of(ann, take, tmp_path) == sha_of(jeff, take, tmp_path) == final["sha256"]
        assert_quiet(jeff, ann, dan)
    finally:
        jeff.stop()
        ann.stop()
