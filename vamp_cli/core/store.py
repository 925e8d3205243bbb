"""The take store: every take this peer holds, in memory (a ring per take) and on disk.

CONTRACT STUB -- the implementation is being written against exactly this API.
Everything here is synchronous plain Python (no asyncio, no threads of its own); callers in
the I/O shell call it from the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from vamp_cli.core.take import TakeInfo


class StoreError(Exception):
    """A request the store refuses (unknown take, misaligned PCM, bad offset...)."""


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


class Store:
    def __init__(self, directory: Path, ring_seconds: float = 30.0) -> None:
        """Open (creating it if needed) a store directory and reload every take in it.

        Takes reloaded without an end are INCOMPLETE. ``ring_seconds`` bounds memory per take.
        """
        raise NotImplementedError

    @property
    def directory(self) -> Path:
        raise NotImplementedError

    def takes(self) -> list[TakeView]:
        """Every take held, ordered by timeline start then take id."""
        raise NotImplementedError

    def get(self, take_id: str) -> TakeView | None:
        raise NotImplementedError

    def start_take(self, info: TakeInfo) -> TakeView:
        """Register a take. Idempotent for identical info; ConflictError if info differs."""
        raise NotImplementedError

    def append(self, take_id: str, offset: int, pcm: bytes) -> int:
        """Store frames at ``offset``. Returns how many frames were new (0 for a duplicate).

        Idempotent: frames already held and identical are ignored. Raises ConflictError when
        they differ from what is held or lie beyond a known end; StoreError for an unknown
        take or PCM that is not a whole number of frames. Written to disk before returning.
        """
        raise NotImplementedError

    def end_take(self, take_id: str, length: int, sha256: bytes) -> TakeView:
        """Record a take's declared end. Idempotent; ConflictError if a different end is known
        or frames are held beyond ``length``. Status becomes COMPLETE (or CORRUPT) as soon as
        every frame is held and the hash is checked."""
        raise NotImplementedError

    def seal(self, take_id: str) -> TakeView:
        """The owner ends its own take at what it holds contiguously: length = contiguous,
        sha256 = hash of those frames. Used at the end of recording and to finish a take
        whose recorder crashed. Frames beyond a gap are dropped."""
        raise NotImplementedError

    def read(self, take_id: str, offset: int, frames: int) -> bytes:
        """Up to ``frames`` held frames from ``offset`` (stops at the first frame not held).
        From the ring when recent, else from disk."""
        raise NotImplementedError

    def missing(self, take_id: str) -> list[tuple[int, int]]:
        """Gaps as [start, end) frame ranges, below the end (or below ``highest``)."""
        raise NotImplementedError

    def subscribe(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(take_id)`` after every start, append that added frames, and end.
        Returns a function that unsubscribes. A callback must not raise or block."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush and close every file."""
        raise NotImplementedError
