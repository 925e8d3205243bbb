"""The take store: idempotent appends by offset, gaps, conflicts, ring/disk reads, reload,
crash safety. Pure core: real files in tmp_path, no mocks of the store itself."""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vamp_cli.core.ranges import FrameRanges
from vamp_cli.core.store import ConflictError, Store, StoreError, TakeStatus, TakeView
from vamp_cli.core.take import SampleFormat, TakeInfo, new_take_id
from vamp_cli.core.takefile import JOURNAL_RECORD

REPO = Path(__file__).resolve().parents[2]
# A low sample rate makes a ring of a few frames, so tests cross the ring/disk boundary.
RATE = 1000
SMALL_RING_SECONDS = 0.016  # 16 frames


def make_info(owner: str = "alice", start: int = 0, channels: int = 1,
              fmt: SampleFormat = SampleFormat.INT16, rate: int = RATE) -> TakeInfo:
    return TakeInfo(new_take_id(), owner, start, rate, channels, fmt)


def pcm_for(info: TakeInfo, frames: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating PCM for ``frames`` frames."""
    out = bytearray()
    counter = 0
    while len(out) < frames * info.frame_bytes:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[: frames * info.frame_bytes])


def frames_of(info: TakeInfo, pcm: bytes, start: int, end: int) -> bytes:
    return pcm[start * info.frame_bytes : end * info.frame_bytes]


def reloaded_view(view: TakeView) -> TakeView:
    """What a live view becomes after a reload: a take without an end is INCOMPLETE."""
    if view.status is TakeStatus.RECORDING:
        return TakeView(view.info, view.contiguous, view.highest, view.length, view.sha256,
                        TakeStatus.INCOMPLETE)
    return view


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store", ring_seconds=SMALL_RING_SECONDS)


# -- the basics ----------------------------------------------------------------------------

def test_in_order_take_seals_complete_with_the_hash_of_its_pcm(store: Store) -> None:
    info = make_info(channels=2)
    pcm = pcm_for(info, 100)
    store.start_take(info)
    for offset in range(0, 100, 10):
        assert store.append(info.take_id, offset, frames_of(info, pcm, offset, offset + 10)) == 10
    view = store.seal(info.take_id)
    assert view.status is TakeStatus.COMPLETE
    assert (view.length, view.contiguous, view.highest) == (100, 100, 100)
    assert view.sha256 == hashlib.sha256(pcm).digest()
    assert store.read(info.take_id, 0, 1000) == pcm  # early frames come from disk
    assert store.read(info.take_id, 95, 1000) == frames_of(info, pcm, 95, 100)  # from the ring


def test_duplicates_are_stored_once_and_conflicts_refused(store: Store) -> None:
    info = make_info()
    pcm = pcm_for(info, 40)
    store.start_take(info)
    assert store.append(info.take_id, 0, frames_of(info, pcm, 0, 20)) == 20
    assert store.append(info.take_id, 0, frames_of(info, pcm, 0, 20)) == 0
    assert store.append(info.take_id, 10, frames_of(info, pcm, 10, 30)) == 10
    altered = bytearray(frames_of(info, pcm, 25, 35))
    altered[0] ^= 0xFF
    with pytest.raises(ConflictError):
        store.append(info.take_id, 25, bytes(altered))
    view = store.get(info.take_id)
    assert view is not None and view.contiguous == 30  # the refused append changed nothing


def test_gaps_are_known_and_filling_them_completes_an_ended_take(store: Store) -> None:
    info = make_info()
    pcm = pcm_for(info, 60)
    store.start_take(info)
    store.append(info.take_id, 0, frames_of(info, pcm, 0, 10))
    store.append(info.take_id, 30, frames_of(info, pcm, 30, 40))
    view = store.end_take(info.take_id, 60, hashlib.sha256(pcm).digest())
    assert view.status is TakeStatus.INCOMPLETE
    assert (view.contiguous, view.highest) == (10, 40)
    assert store.missing(info.take_id) == [(10, 30), (40, 60)]
    assert store.read(info.take_id, 5, 100) == frames_of(info, pcm, 5, 10)  # stops at the gap
    assert store.read(info.take_id, 12, 5) == b""
    with pytest.raises(ConflictError):
        store.append(info.take_id, 55, frames_of(info, pcm, 55, 60) + pcm[:2])  # past the end
    store.append(info.take_id, 40, frames_of(info, pcm, 40, 60))
    done = store.append(info.take_id, 10, frames_of(info, pcm, 10, 30))
    assert done == 20
    final = store.get(info.take_id)
    assert final is not None and final.status is TakeStatus.COMPLETE
    assert store.missing(info.take_id) == []


def test_a_wrong_declared_hash_makes_the_take_corrupt(store: Store) -> None:
    info = make_info()
    pcm = pcm_for(info, 20)
    store.start_take(info)
    store.append(info.take_id, 0, pcm)
    view = store.end_take(info.take_id, 20, hashlib.sha256(pcm + b"x").digest())
    assert view.status is TakeStatus.CORRUPT


def test_refusals(store: Store) -> None:
    info = make_info(channels=2)
    store.start_take(info)
    assert store.start_take(info).info == info  # idempotent
    with pytest.raises(ConflictError):
        store.start_take(TakeInfo(info.take_id, "bob", 0, RATE, 2, SampleFormat.INT16))
    with pytest.raises(StoreError, match="whole number"):
        store.append(info.take_id, 0, b"\x00" * 6)
    with pytest.raises(StoreError, match="unknown take"):
        store.append(new_take_id(), 0, b"\x00" * 4)
    with pytest.raises(StoreError):
        store.append(info.take_id, -1, b"\x00" * 4)
    store.append(info.take_id, 0, pcm_for(info, 10))
    with pytest.raises(ConflictError):
        store.end_take(info.take_id, 5, b"\x00" * 32)  # frames are held beyond that end
    store.end_take(info.take_id, 10, hashlib.sha256(pcm_for(info, 10)).digest())
    store.end_take(info.take_id, 10, hashlib.sha256(pcm_for(info, 10)).digest())  # idempotent
    with pytest.raises(ConflictError):
        store.end_take(info.take_id, 11, b"\x00" * 32)


def test_seal_drops_frames_beyond_a_gap_and_survives_reload(tmp_path: Path) -> None:
    info = make_info()
    pcm = pcm_for(info, 50)
    with Store(tmp_path, ring_seconds=SMALL_RING_SECONDS) as store:
        store.start_take(info)
        store.append(info.take_id, 0, frames_of(info, pcm, 0, 20))
        store.append(info.take_id, 30, frames_of(info, pcm, 30, 50))
        view = store.seal(info.take_id)
        assert (view.length, view.highest, view.status) == (20, 20, TakeStatus.COMPLETE)
        assert view.sha256 == hashlib.sha256(frames_of(info, pcm, 0, 20)).digest()
    with Store(tmp_path) as again:
        assert again.get(info.take_id) == view


def test_subscribers_are_called_and_a_raising_one_breaks_nothing(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken(take_id: str) -> None:
        raise RuntimeError("reader bug")

    store.subscribe(broken)
    unsubscribe = store.subscribe(seen.append)
    info = make_info()
    store.start_take(info)
    store.append(info.take_id, 0, pcm_for(info, 4))
    store.append(info.take_id, 0, pcm_for(info, 4))  # a duplicate adds nothing: no call
    store.seal(info.take_id)
    assert seen == [info.take_id] * 3
    assert "reader bug" in caplog.text
    unsubscribe()
    store.start_take(make_info())
    assert len(seen) == 3


def test_file_names_tell_a_human_whose_take_it_is(store: Store) -> None:
    info = make_info(owner="../Jeff K. (bass)")
    store.start_take(info)
    meta, pcm = store.paths(info.take_id)
    assert meta.parent == pcm.parent == store.directory
    assert meta.name == f"Jeff_K._bass-{info.take_id}.json"
    assert json.loads(meta.read_text())["owner"] == info.owner


# -- disk trouble --------------------------------------------------------------------------

def test_disk_full_is_a_store_error_and_loses_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = make_info()
    pcm = pcm_for(info, 30)
    store.start_take(info)
    store.append(info.take_id, 0, frames_of(info, pcm, 0, 10))
    real_pwrite = os.pwrite

    def full(fd: int, data: bytes, position: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(StoreError, match="disk is full"):
        store.append(info.take_id, 10, frames_of(info, pcm, 10, 20))
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    view = store.get(info.take_id)
    assert view is not None and view.contiguous == 10
    assert store.append(info.take_id, 10, frames_of(info, pcm, 10, 30)) == 20
    assert store.seal(info.take_id).sha256 == hashlib.sha256(pcm).digest()


def test_an_impossible_store_directory_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="--store"):
        Store(blocker / "store")


# -- reload --------------------------------------------------------------------------------

def test_reload_marks_unended_takes_incomplete_and_keeps_gaps(tmp_path: Path) -> None:
    info = make_info(start=480)
    pcm = pcm_for(info, 40)
    store = Store(tmp_path)
    store.start_take(info)
    store.append(info.take_id, 0, frames_of(info, pcm, 0, 10))
    store.append(info.take_id, 20, frames_of(info, pcm, 20, 25))
    live = store.get(info.take_id)
    assert live is not None and live.status is TakeStatus.RECORDING
    # No close(): as after a crash.
    again = Store(tmp_path)
    assert again.get(info.take_id) == reloaded_view(live)
    assert again.missing(info.take_id) == [(10, 20)]
    assert again.read(info.take_id, 20, 10) == frames_of(info, pcm, 20, 25)
    # Frames appended after the reload go to a fresh ring; older ones still read from disk.
    again.append(info.take_id, 25, frames_of(info, pcm, 25, 40))
    assert again.read(info.take_id, 20, 20) == frames_of(info, pcm, 20, 40)


def test_reload_ignores_a_torn_journal_record_and_skips_damaged_metadata(tmp_path: Path) -> None:
    info = make_info()
    pcm = pcm_for(info, 30)
    store = Store(tmp_path)
    store.start_take(info)
    store.append(info.take_id, 0, frames_of(info, pcm, 0, 10))
    store.append(info.take_id, 10, frames_of(info, pcm, 10, 20))
    store.close()
    journal = next(tmp_path.glob("*.ranges"))
    with journal.open("ab") as f:  # a record cut short by a crash
        f.write(JOURNAL_RECORD.pack(20, 30, 0)[:7])
    (tmp_path / "garbage.json").write_text("{not json")
    again = Store(tmp_path)
    view = again.get(info.take_id)
    assert view is not None and (view.contiguous, view.highest) == (20, 20)
    assert [p.name for p, _ in again.skipped] == ["garbage.json"]
    # Appending after the torn tail overwrites it; the next reload sees the new frames.
    again.append(info.take_id, 20, frames_of(info, pcm, 20, 30))
    third = Store(tmp_path)
    assert third.read(info.take_id, 0, 100) == pcm


def build_sample_store(directory: str) -> None:
    """Deterministic operations (also run in a child process): ended, gapped, sealed takes."""
    store = Store(Path(directory), ring_seconds=SMALL_RING_SECONDS)
    infos = [TakeInfo(f"{i:032x}", f"peer{i}", 100 * i, RATE, 1 + i % 2, SampleFormat(1 + i))
             for i in range(3)]
    for i, info in enumerate(infos):
        pcm = pcm_for(info, 64, seed=i)
        store.start_take(info)
        for start in (48, 0, 16, 40, 0):
            store.append(info.take_id, start, frames_of(info, pcm, start, start + 8))
        if i == 1:
            store.end_take(info.take_id, 64, hashlib.sha256(pcm).digest())
        if i == 2:
            store.seal(info.take_id)


def test_reload_gives_the_views_this_process_and_another_process_wrote(tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    build_sample_store(str(here))
    subprocess.run(
        [sys.executable, "-c", "import sys; from tests.core.test_store import build_sample_store; "
         "build_sample_store(sys.argv[1])", str(there)],
        cwd=REPO, check=True, timeout=60,
    )
    live = Store(here)  # reload of this process's writing
    views = live.takes()
    assert [v.status for v in views] == [
        TakeStatus.INCOMPLETE, TakeStatus.INCOMPLETE, TakeStatus.COMPLETE]
    assert Store(there).takes() == views
    for view in views:
        assert Store(there).missing(view.info.take_id) == live.missing(view.info.take_id)


# -- properties ----------------------------------------------------------------------------

chunk_lists = st.integers(1, 120).flatmap(
    lambda length: st.tuples(
        st.just(length),
        st.lists(
            st.tuples(st.integers(0, length - 1), st.integers(1, 40)), min_size=1, max_size=25
        ).map(lambda cs: [(a, min(length, a + n)) for a, n in cs]),
    )
)
formats = st.sampled_from(list(SampleFormat))
PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def model_missing(held: set[int], limit: int) -> list[tuple[int, int]]:
    gaps: list[tuple[int, int]] = []
    for frame in range(limit):
        if frame not in held:
            if gaps and gaps[-1][1] == frame:
                gaps[-1] = (gaps[-1][0], frame + 1)
            else:
                gaps.append((frame, frame + 1))
    return gaps


@PROPERTY
@given(case=chunk_lists, fmt=formats, channels=st.integers(1, 3), data=st.data())
def test_any_order_and_duplication_gives_the_same_take(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[int, list[tuple[int, int]]],
    fmt: SampleFormat, channels: int, data: st.DataObject,
) -> None:
    length, chunks = case
    info = make_info(channels=channels, fmt=fmt)
    pcm = pcm_for(info, length)
    store = Store(tmp_path_factory.mktemp("s"), ring_seconds=SMALL_RING_SECONDS)
    store.start_take(info)
    held: set[int] = set()
    for a, b in chunks:
        added = store.append(info.take_id, a, frames_of(info, pcm, a, b))
        assert added == len(set(range(a, b)) - held)
        held |= set(range(a, b))
        view = store.get(info.take_id)
        assert view is not None
        contiguous = next(f for f in range(length + 1) if f not in held)
        assert (view.contiguous, view.highest) == (contiguous, max(held) + 1)
        assert store.missing(info.take_id) == model_missing(held, max(held) + 1)
    # Every held frame reads back exactly (ring or disk), and reads stop at gaps.
    probe = data.draw(st.integers(0, length - 1))
    run_end = next((f for f in range(probe, length) if f not in held), length)
    expected = frames_of(info, pcm, probe, run_end) if probe in held else b""
    assert store.read(info.take_id, probe, length) == expected
    # Same take as the in-order one: same hash of the same prefix.
    sealed = store.seal(info.take_id)
    assert sealed.sha256 == hashlib.sha256(frames_of(info, pcm, 0, contiguous)).digest()
    assert Store(store.directory).get(info.take_id) == sealed


@PROPERTY
@given(case=chunk_lists, flip=st.integers(0, 10_000))
def test_conflicting_frames_are_refused_and_change_nothing(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[int, list[tuple[int, int]]], flip: int,
) -> None:
    length, chunks = case
    info = make_info()
    pcm = pcm_for(info, length)
    store = Store(tmp_path_factory.mktemp("s"), ring_seconds=SMALL_RING_SECONDS)
    store.start_take(info)
    for a, b in chunks:
        store.append(info.take_id, a, frames_of(info, pcm, a, b))
    a, b = chunks[flip % len(chunks)]
    altered = bytearray(frames_of(info, pcm, a, b))
    altered[flip % len(altered)] ^= 0x01
    before = (store.get(info.take_id), store.missing(info.take_id))
    with pytest.raises(ConflictError):
        store.append(info.take_id, a, bytes(altered))
    assert (store.get(info.take_id), store.missing(info.take_id)) == before


@PROPERTY
@given(case=chunk_lists, end_it=st.booleans())
def test_reload_after_arbitrary_appends_equals_the_live_state(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[int, list[tuple[int, int]]],
    end_it: bool,
) -> None:
    length, chunks = case
    info = make_info(channels=2)
    pcm = pcm_for(info, length)
    directory = tmp_path_factory.mktemp("s")
    store = Store(directory, ring_seconds=SMALL_RING_SECONDS)
    store.start_take(info)
    for a, b in chunks:
        store.append(info.take_id, a, frames_of(info, pcm, a, b))
    if end_it:
        store.end_take(info.take_id, length, hashlib.sha256(pcm).digest())
    live = store.get(info.take_id)
    assert live is not None
    again = Store(directory, ring_seconds=SMALL_RING_SECONDS)
    assert again.get(info.take_id) == reloaded_view(live)
    assert again.held(info.take_id) == store.held(info.take_id)
    for a, _ in again.held(info.take_id):
        assert again.read(info.take_id, a, length) == store.read(info.take_id, a, length)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20)), max_size=30))
def test_frame_ranges_match_a_set(adds: list[tuple[int, int]]) -> None:
    ranges = FrameRanges()
    model: set[int] = set()
    for a, n in adds:
        new = ranges.add(a, a + n)
        assert sum(e - s for s, e in new) == len(set(range(a, a + n)) - model)
        model |= set(range(a, a + n))
    rebuilt = {f for s, e in ranges for f in range(s, e)}
    assert rebuilt == model
    pairs = list(ranges)
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(pairs))  # canonical
    assert ranges == FrameRanges(sorted(pairs, reverse=True))


# -- speed and crashes ---------------------------------------------------------------------

def test_append_and_read_of_10ms_blocks_cost_microseconds(tmp_path: Path) -> None:
    info = make_info(rate=48000, channels=2)
    block = pcm_for(info, 480)  # 10 ms
    store = Store(tmp_path)
    store.start_take(info)
    rounds = 1000
    began = time.perf_counter()
    for i in range(rounds):
        store.append(info.take_id, i * 480, block)
        store.read(info.take_id, i * 480, 480)
    per_block = (time.perf_counter() - began) / rounds
    assert per_block < 1e-3, f"append+read took {per_block * 1e6:.0f} us per 10 ms block"


CRASH_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from vamp_cli.core.store import Store
    from vamp_cli.core.take import SampleFormat, TakeInfo
    from tests.core.test_store import pcm_for
    info = TakeInfo("ab" * 16, "crasher", 0, 48000, 1, SampleFormat.INT16)
    store = Store(Path(sys.argv[1]))
    store.start_take(info)
    block = 240
    i = 0
    while True:
        store.append(info.take_id, i * block, pcm_for(info, block, seed=i))
        print(i, flush=True)
        i += 1
""")


def test_kill_9_while_appending_keeps_every_reported_frame(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, str(tmp_path)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    reported = -1
    deadline = time.monotonic() + 30
    while reported < 200 and time.monotonic() < deadline:
        reported = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    for line in child.stdout:  # appends that returned before the kill landed
        reported = int(line)
    child.wait(timeout=10)
    assert reported >= 200
    store = Store(tmp_path)
    view = store.get("ab" * 16)
    assert view is not None and view.status is TakeStatus.INCOMPLETE
    assert view.contiguous == view.highest >= (reported + 1) * 240
    info = view.info
    expected = b"".join(pcm_for(info, 240, seed=i) for i in range(view.contiguous // 240))
    assert store.read(info.take_id, 0, view.contiguous)[: len(expected)] == expected
    sealed = store.seal(info.take_id)
    assert sealed.status is TakeStatus.COMPLETE
    assert Store(tmp_path).get(info.take_id) == sealed
