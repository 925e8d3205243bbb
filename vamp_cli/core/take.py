"""A take: one recording by one peer, placed on the vamp's timeline."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import IntEnum

TAKE_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
MAX_OWNER_BYTES = 64


class SampleFormat(IntEnum):
    """Sample formats a take may hold. PCM is always little-endian and interleaved."""

    INT16 = 1
    INT32 = 2
    FLOAT32 = 3

    @property
    def width(self) -> int:
        """Bytes per sample."""
        return 2 if self is SampleFormat.INT16 else 4

    @property
    def dtype(self) -> str:
        """The numpy/sounddevice dtype name (``int16``, ``int32``, ``float32``)."""
        return self.name.lower()

    @property
    def numpy_dtype(self) -> str:
        """Explicit little-endian numpy dtype string, e.g. ``<i2``."""
        return {"INT16": "<i2", "INT32": "<i4", "FLOAT32": "<f4"}[self.name]

    @classmethod
    def from_dtype(cls, name: str) -> SampleFormat:
        """Parse ``int16``/``int32``/``float32``; raise ValueError otherwise."""
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(
                f"unsupported sample format {name!r} (use int16, int32 or float32)"
            ) from None


def new_take_id() -> str:
    """A fresh random take id: 32 lowercase hex digits (16 bytes on the wire)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class TakeInfo:
    """What identifies a take and how to read its PCM. Immutable once the take starts.

    ``start`` is the take's first frame on the vamp timeline, in frames at ``samplerate``.
    ``owner`` is the recording peer's name (stable across reconnects).
    """

    take_id: str
    owner: str
    start: int
    samplerate: int
    channels: int
    fmt: SampleFormat

    def __post_init__(self) -> None:
        if not TAKE_ID_PATTERN.match(self.take_id):
            raise ValueError(f"take id must be 32 lowercase hex digits, got {self.take_id!r}")
        owner_bytes = len(self.owner.encode("utf-8"))
        if not 1 <= owner_bytes <= MAX_OWNER_BYTES:
            raise ValueError(f"owner name must be 1..{MAX_OWNER_BYTES} UTF-8 bytes")
        if not 0 <= self.start < 2**63:
            raise ValueError(f"take start must be a non-negative frame position, got {self.start}")
        if not 1 <= self.samplerate <= 768_000:
            raise ValueError(f"sample rate out of range: {self.samplerate}")
        if not 1 <= self.channels <= 255:
            raise ValueError(f"channel count out of range: {self.channels}")

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame (all channels)."""
        return self.channels * self.fmt.width

    @property
    def short_id(self) -> str:
        """The first 8 hex digits, for humans."""
        return self.take_id[:8]
