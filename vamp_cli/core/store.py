"""The take store: every take this peer holds, in memory (a ring per take) and on disk.

Everything here is synchronous plain Python (no asyncio, no threads of its own); callers in
the I/O shell call it from the event loop. Each take lives in three files (see
``docs/storage.md``): metadata JSON, raw PCM written in place at ``offset * frame_bytes``,
and a journal of held frame ranges, so a ``kill -9`` at any moment loses nothing that
``append`` returned for.
"""

from __future__ import annotations

import errno
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from vamp_cli.core.ranges import FrameRange, FrameRanges
from vamp_cli.core.take import TakeInfo
from vamp_cli.core.takefile import TakeFile, TakeMeta, file_stem

log = logging.getLogger(__name__)

_HASH_BLOCK_BYTES = 1 << 20
"""Gap fills and reloads hash in blocks of this size, so memory stays bounded."""


class StoreError(Exception):
    """A request the store refuses (unknown take, misaligned PCM, bad offset...)."""


class StoreDiskError(StoreError):
    """The disk refused (full, read-only, permissions): not the data's fault."""


class ConflictError(StoreError):
    """Frames or metadata that contradict what the store already holds."""


class TakeStatus(StrEnum):
    RECORDING = "recording"  # started, no end known yet (live in this process)
    INCOMPLETE = "incomplete"  # reloaded from disk without an end, or ended with frames missing
    COMPLETE = "complete"  # ended, every frame held, SHA-256 verified
    CORRUPT = "corrupt"  # ended, every frame held, SHA-256 mismatch


@dataclass(frozen=True, slots=True)
class TakeView:
    """A snapshot of one take's state."""

    info: TakeInfo
    contiguous: int  # frames held without a gap from frame 0
    highest: int  # one past the highest frame held (== contiguous when there is no gap)
    length: int | None  # final length in frames, once the end is known
    sha256: bytes | None  # declared SHA-256 of all PCM, once the end is known
    status: TakeStatus

    @property
    def ended(self) -> bool:
        return self.length is not None

    @property
    def complete(self) -> bool:
        return self.status is TakeStatus.COMPLETE


class _Take:
    """One take's mutable state. Invariant: ``hashed == ranges.contiguous``."""

    __slots__ = (
        "digest_ok", "dirty", "file", "hashed", "hasher", "info", "length", "live",
        "ranges", "ring", "ring_floor", "ring_frames", "sha256",
    )

    def __init__(self, info: TakeInfo, file: TakeFile, ring_frames: int, *, live: bool) -> None:
        self.info = info
        self.file = file
        self.ranges = FrameRanges()
        self.length: int | None = None
        self.sha256: bytes | None = None
        self.hasher = hashlib.sha256()
        self.hashed = 0
        self.digest_ok: bool | None = None  # known once every frame up to ``length`` is hashed
        self.live = live
        self.dirty = False  # appended to since opened: compact its journal on close
        self.ring_frames = ring_frames
        self.ring: npt.NDArray[np.uint8] | None = None
        # Frames below ring_floor were never written to this ring (they predate a reload).
        self.ring_floor = 0

    @property
    def status(self) -> TakeStatus:
        if self.length is None:
            return TakeStatus.RECORDING if self.live else TakeStatus.INCOMPLETE
        if self.hashed < self.length:
            return TakeStatus.INCOMPLETE
        return TakeStatus.COMPLETE if self.digest_ok else TakeStatus.CORRUPT

    def view(self) -> TakeView:
        return TakeView(
            self.info, self.ranges.contiguous, self.ranges.highest, self.length, self.sha256,
            self.status,
        )

    def ring_low(self) -> int:
        """The first frame the ring can serve (every held frame from here up is in it)."""
        if self.ring is None:
            return self.ranges.highest
        return max(self.ranges.highest - self.ring_frames, self.ring_floor)


class Store:
    def __init__(self, directory: Path, ring_seconds: float = 30.0) -> None:
        """Open (creating it if needed) a store directory and reload every take in it.

        Takes reloaded without an end are INCOMPLETE. ``ring_seconds`` bounds memory per take.
        Metadata files that cannot be read are left alone and listed in ``skipped``.
        """
        if not ring_seconds >= 0:
            raise StoreError(f"ring_seconds must be zero or positive, got {ring_seconds}")
        self._dir = Path(directory)
        self._ring_seconds = ring_seconds
        self._takes: dict[str, _Take] = {}
        self._subscribers: list[Callable[[str], None]] = []
        self._closed = False
        self.skipped: list[tuple[Path, str]] = []
        """Metadata files not loaded, with the reason (damaged, unreadable, duplicate id)."""
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _disk_error(exc, f"create the store directory {self._dir}") from None
        if not self._dir.is_dir():
            raise StoreError(f"store path {self._dir} is not a directory; choose another --store")
        self._reload()

    @property
    def directory(self) -> Path:
        return self._dir

    # -- queries --------------------------------------------------------------------------

    def takes(self) -> list[TakeView]:
        """Every take held, ordered by timeline start then take id."""
        ordered = sorted(self._takes.values(), key=lambda t: (t.info.start, t.info.take_id))
        return [t.view() for t in ordered]

    def get(self, take_id: str) -> TakeView | None:
        take = self._takes.get(take_id)
        return take.view() if take is not None else None

    def paths(self, take_id: str) -> tuple[Path, Path]:
        """The take's metadata and PCM file paths (for humans and tools)."""
        take = self._take(take_id)
        return take.file.meta_path, take.file.pcm_path

    def missing(self, take_id: str) -> list[tuple[int, int]]:
        """Gaps as [start, end) frame ranges, below the end (or below ``highest``)."""
        take = self._take(take_id)
        limit = take.length if take.length is not None else take.ranges.highest
        return take.ranges.missing_within(0, limit)

    def held(self, take_id: str) -> list[tuple[int, int]]:
        """Held frames as sorted, disjoint [start, end) ranges."""
        return list(self._take(take_id).ranges)

    def read(self, take_id: str, offset: int, frames: int) -> bytes:
        """Up to ``frames`` held frames from ``offset`` (stops at the first frame not held).
        From the ring when recent, else from disk."""
        take = self._take(take_id)
        if offset < 0 or frames < 0:
            raise StoreError(f"cannot read {frames} frames at offset {offset}: both must be >= 0")
        span_end = take.ranges.span_end(offset)
        if frames == 0 or span_end is None:
            return b""
        try:
            return self._read_held(take, offset, min(offset + frames, span_end))
        except OSError as exc:
            raise _disk_error(exc, f"read take {take.info.short_id}") from None

    # -- changes --------------------------------------------------------------------------

    def start_take(self, info: TakeInfo) -> TakeView:
        """Register a take. Idempotent for identical info; ConflictError if info differs."""
        self._check_open()
        existing = self._takes.get(info.take_id)
        if existing is not None:
            if existing.info != info:
                raise ConflictError(
                    f"take {info.short_id} is already held with different metadata "
                    f"({existing.info} vs {info})"
                )
            return existing.view()
        file = TakeFile(self._dir, file_stem(info), info.frame_bytes)
        if file.meta_path.exists():
            raise StoreError(
                f"{file.meta_path} is in the way (a damaged take file); move it out of {self._dir}"
            )
        try:
            file.write_meta(TakeMeta(info), sync=False)
        except OSError as exc:
            raise _disk_error(exc, f"start take {info.short_id}") from None
        take = _Take(info, file, self._ring_frames(info), live=True)
        take.ring = self._new_ring(take)
        self._takes[info.take_id] = take
        self._notify(info.take_id)
        return take.view()

    def append(self, take_id: str, offset: int, pcm: bytes) -> int:
        """Store frames at ``offset``. Returns how many frames were new (0 for a duplicate).

        Idempotent: frames already held and identical are ignored. Raises ConflictError when
        they differ from what is held or lie beyond a known end; StoreError for an unknown
        take or PCM that is not a whole number of frames. Written to disk before returning.
        """
        take = self._take(take_id)
        data = memoryview(pcm).cast("B")
        fb = take.info.frame_bytes
        frames, rest = divmod(len(data), fb)
        if rest:
            raise StoreError(
                f"{len(data)} bytes of PCM is not a whole number of {fb}-byte frames "
                f"for take {take.info.short_id}"
            )
        if offset < 0:
            raise StoreError(f"frame offset must be >= 0, got {offset}")
        if frames == 0:
            return 0
        end = offset + frames
        if take.length is not None and end > take.length:
            raise ConflictError(
                f"frames {offset}..{end} lie beyond the end ({take.length} frames) "
                f"of take {take.info.short_id}"
            )
        try:
            held = take.ranges.held_within(offset, end)
            for a, b in held:
                if self._read_held(take, a, b) != data[(a - offset) * fb : (b - offset) * fb]:
                    raise ConflictError(
                        f"frames {a}..{b} of take {take.info.short_id} differ from those held"
                    )
            if held == [(offset, end)]:
                return 0
            new = take.ranges.missing_within(offset, end)
            for a, b in new:
                take.file.write_frames(a, data[(a - offset) * fb : (b - offset) * fb])
            # The journal goes after the PCM: a range recorded is a range on disk.
            take.file.journal(new)
        except OSError as exc:
            raise _disk_error(exc, f"store frames of take {take.info.short_id}") from None
        take.dirty = True
        take.ranges.add(offset, end)
        self._to_ring(take, new, data, offset)
        self._advance_hash(take, data, offset)
        if take.length is not None and take.hashed == take.length:
            self._sync(take)
        self._notify(take_id)
        return sum(b - a for a, b in new)

    def end_take(self, take_id: str, length: int, sha256: bytes) -> TakeView:
        """Record a take's declared end. Idempotent; ConflictError if a different end is known
        or frames are held beyond ``length``. Status becomes COMPLETE (or CORRUPT) as soon as
        every frame is held and the hash is checked."""
        take = self._take(take_id)
        if length < 0 or len(sha256) != 32:
            raise StoreError("a take's end needs a length >= 0 and a 32-byte SHA-256")
        if take.length is not None:
            if (take.length, take.sha256) == (length, bytes(sha256)):
                return take.view()
            raise ConflictError(
                f"take {take.info.short_id} already ended at {take.length} frames "
                f"with another hash or length"
            )
        if take.ranges.highest > length:
            raise ConflictError(
                f"take {take.info.short_id} holds frames up to {take.ranges.highest}, "
                f"beyond the declared end {length}"
            )
        try:
            take.file.write_meta(TakeMeta(take.info, length, bytes(sha256)), sync=True)
            take.file.rewrite_journal(list(take.ranges), sync=True)
            take.file.sync()
        except OSError as exc:
            raise _disk_error(exc, f"end take {take.info.short_id}") from None
        take.length, take.sha256 = length, bytes(sha256)
        take.dirty = False  # the journal was just compacted
        self._check_digest(take)
        self._notify(take_id)
        return take.view()

    def seal(self, take_id: str) -> TakeView:
        """The owner ends its own take at what it holds contiguously: length = contiguous,
        sha256 = hash of those frames. Used at the end of recording and to finish a take
        whose recorder crashed. Frames beyond a gap are dropped."""
        take = self._take(take_id)
        if take.length is not None:
            if take.hashed == take.length:
                return take.view()
            raise ConflictError(
                f"take {take.info.short_id} already ended at {take.length} frames but holds "
                f"only {take.hashed}; it cannot be sealed shorter"
            )
        length = take.ranges.contiguous
        digest = take.hasher.digest()
        try:
            take.file.rewrite_journal([(0, length)] if length else [], sync=True)
            if take.ranges.highest > length:
                take.file.truncate_pcm(length)
            take.file.sync()
            take.file.write_meta(TakeMeta(take.info, length, digest), sync=True)
        except OSError as exc:
            raise _disk_error(exc, f"seal take {take.info.short_id}") from None
        take.ranges.truncate(length)
        take.length, take.sha256, take.digest_ok = length, digest, True
        take.dirty = False
        self._notify(take_id)
        return take.view()

    def subscribe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(take_id)`` after every start, append that added frames, and end.
        Returns a function that unsubscribes. A callback must not raise or block."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def close(self) -> None:
        """Flush and close every file."""
        if self._closed:
            return
        self._closed = True
        failure: OSError | None = None
        for take in self._takes.values():
            try:
                if take.dirty:
                    take.file.rewrite_journal(list(take.ranges), sync=True)
                    take.file.sync()
            except OSError as exc:
                failure = failure or exc
            finally:
                take.file.close()
        if failure is not None:
            raise _disk_error(failure, f"close the store {self._dir}")

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self._dir} is closed")

    def _take(self, take_id: str) -> _Take:
        self._check_open()
        take = self._takes.get(take_id)
        if take is None:
            raise StoreError(f"unknown take {take_id!r}: start it before sending its frames")
        return take

    def _ring_frames(self, info: TakeInfo) -> int:
        return int(self._ring_seconds * info.samplerate)

    def _new_ring(self, take: _Take) -> npt.NDArray[np.uint8] | None:
        if take.ring_frames == 0:
            return None
        return np.zeros(take.ring_frames * take.info.frame_bytes, dtype=np.uint8)

    def _to_ring(
        self, take: _Take, pieces: list[FrameRange], data: memoryview, offset: int
    ) -> None:
        if take.ring is None:
            if take.ring_frames == 0:
                return
            take.ring = self._new_ring(take)
            assert take.ring is not None
        n, fb, ring = take.ring_frames, take.info.frame_bytes, take.ring
        low = take.ranges.highest - n  # the ring window is the last n frames below highest
        for a, b in pieces:
            a = max(a, low)
            while a < b:
                slot = a % n
                count = min(b - a, n - slot)
                src = data[(a - offset) * fb : (a - offset + count) * fb]
                ring[slot * fb : (slot + count) * fb] = np.frombuffer(src, dtype=np.uint8)
                a += count

    def _read_held(self, take: _Take, start: int, end: int) -> bytes:
        """Frames [start, end), all held: the ring's part from the ring, the rest from disk."""
        low = take.ring_low()
        if end <= low:
            return take.file.read_frames(start, end - start)
        if start < low:
            return take.file.read_frames(start, low - start) + self._read_ring(take, low, end)
        return self._read_ring(take, start, end)

    def _read_ring(self, take: _Take, start: int, end: int) -> bytes:
        assert take.ring is not None
        n, fb = take.ring_frames, take.info.frame_bytes
        slot = start % n
        count = end - start
        if slot + count <= n:
            return take.ring[slot * fb : (slot + count) * fb].tobytes()
        head = take.ring[slot * fb :].tobytes()
        return head + take.ring[: (slot + count - n) * fb].tobytes()

    def _advance_hash(self, take: _Take, data: memoryview, offset: int) -> None:
        contiguous = take.ranges.contiguous
        if contiguous <= take.hashed:
            return
        fb = take.info.frame_bytes
        if offset <= take.hashed and offset + len(data) // fb >= contiguous:
            # The common, in-order case: the new prefix is exactly in the frames just given.
            take.hasher.update(data[(take.hashed - offset) * fb : (contiguous - offset) * fb])
            take.hashed = contiguous
        else:
            self._hash_up_to(take, contiguous)
        self._check_digest(take)

    def _hash_up_to(self, take: _Take, contiguous: int) -> None:
        block = max(1, _HASH_BLOCK_BYTES // take.info.frame_bytes)
        while take.hashed < contiguous:
            upto = min(contiguous, take.hashed + block)
            take.hasher.update(self._read_held(take, take.hashed, upto))
            take.hashed = upto

    def _check_digest(self, take: _Take) -> None:
        if take.length is not None and take.hashed == take.length:
            take.digest_ok = take.hasher.digest() == take.sha256

    def _sync(self, take: _Take) -> None:
        try:
            take.file.sync()
        except OSError as exc:
            raise _disk_error(exc, f"flush take {take.info.short_id}") from None

    def _notify(self, take_id: str) -> None:
        for callback in list(self._subscribers):
            try:
                callback(take_id)
            except Exception:
                # One broken reader must not stop the writer or the other readers.
                log.exception("store subscriber %r failed for take %s", callback, take_id)

    def _reload(self) -> None:
        for meta_path in sorted(self._dir.glob("*.json")):
            if meta_path.name.startswith("."):
                continue
            try:
                meta = TakeMeta.from_json(meta_path.read_text(encoding="utf-8"))
                if meta.info.take_id in self._takes:
                    raise ValueError(f"take {meta.info.take_id} is already loaded from a file")
                take = self._load(meta_path, meta)
            except (OSError, ValueError) as exc:
                log.warning("skipping %s: %s", meta_path, exc)
                self.skipped.append((meta_path, str(exc)))
                continue
            self._takes[meta.info.take_id] = take

    def _load(self, meta_path: Path, meta: TakeMeta) -> _Take:
        info = meta.info
        file = TakeFile(self._dir, meta_path.stem, info.frame_bytes)
        take = _Take(info, file, self._ring_frames(info), live=False)
        # Only frames both journaled and inside the PCM file count (and none past the end).
        limit = file.pcm_frames_on_disk()
        if meta.length is not None:
            limit = min(limit, meta.length)
        for start, end in file.load_journal():
            take.ranges.add(start, min(end, limit))
        take.length, take.sha256 = meta.length, meta.sha256
        take.ring_floor = take.ranges.highest
        try:
            self._hash_up_to(take, take.ranges.contiguous)
        except OSError:
            file.close()
            raise
        self._check_digest(take)
        file.close()  # reopened on first use: a store of many takes holds no idle descriptors
        return take


def _disk_error(exc: OSError, what: str) -> StoreDiskError:
    return StoreDiskError(_describe(exc, what))


def _describe(exc: OSError, what: str) -> str:
    """One sentence for a failed disk operation, with what to do about it."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"could not {what}: the disk is full{where}; free some space or use another --store"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"could not {what}: permission denied{where}; "
            "fix the directory's permissions or use another --store"
        )
    reason = exc.strerror or str(exc)
    return f"could not {what}: {reason}{where}; check the store directory or use another --store"
