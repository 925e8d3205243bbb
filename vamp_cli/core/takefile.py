"""The on-disk files of one take: metadata JSON, raw PCM, and a journal of held ranges.

Layout (see docs/storage.md): ``<owner>-<take_id>.json`` (replaced atomically),
``<owner>-<take_id>.pcm`` (frame ``n`` at byte ``n * frame_bytes``, written in place) and
``<owner>-<take_id>.ranges`` (20-byte records ``<QQI``: start, end, CRC-32 of the first
16 bytes). Every method raises OSError on I/O failure; the store turns it into a StoreError.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from vamp_cli.core.ranges import FrameRange
from vamp_cli.core.take import SampleFormat, TakeInfo

META_FORMAT = "vamp-take"
META_VERSION = 1
JOURNAL_RECORD = struct.Struct("<QQI")
_RANGE = struct.Struct("<QQ")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_OWNER_STEM = 40
_T = TypeVar("_T")


def file_stem(info: TakeInfo) -> str:
    """``<owner>-<take_id>`` with the owner made safe for any filesystem."""
    owner = _UNSAFE.sub("_", info.owner).strip("._-")[:MAX_OWNER_STEM] or "take"
    return f"{owner}-{info.take_id}"


@dataclass(frozen=True, slots=True)
class TakeMeta:
    """What the metadata file records: identity and format, and the end once known."""

    info: TakeInfo
    length: int | None = None
    sha256: bytes | None = None

    def to_json(self) -> str:
        i = self.info
        doc: dict[str, Any] = {
            "format": META_FORMAT,
            "version": META_VERSION,
            "take_id": i.take_id,
            "owner": i.owner,
            "start": i.start,
            "samplerate": i.samplerate,
            "channels": i.channels,
            "dtype": i.fmt.dtype,
            "length": self.length,
            "sha256": self.sha256.hex() if self.sha256 is not None else None,
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TakeMeta:
        """Parse a metadata file; ValueError (with the reason) when it is not one."""
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("format") != META_FORMAT:
                raise ValueError("not a vamp take metadata file")
            if doc.get("version") != META_VERSION:
                raise ValueError(f"unsupported metadata version {doc.get('version')!r}")
            info = TakeInfo(
                take_id=_typed(doc["take_id"], str),
                owner=_typed(doc["owner"], str),
                start=_typed(doc["start"], int),
                samplerate=_typed(doc["samplerate"], int),
                channels=_typed(doc["channels"], int),
                fmt=SampleFormat.from_dtype(_typed(doc["dtype"], str)),
            )
            length = doc.get("length")
            sha = doc.get("sha256")
            if (length is None) != (sha is None):
                raise ValueError("length and sha256 must be both set or both null")
            if length is not None and (_typed(length, int) < 0):
                raise ValueError("negative length")
            digest = bytes.fromhex(_typed(sha, str)) if sha is not None else None
            if digest is not None and len(digest) != 32:
                raise ValueError("sha256 must be 64 hex digits")
            return cls(info, length, digest)
        except KeyError as exc:
            raise ValueError(f"missing field {exc}") from None
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(str(exc)) from None


def _typed(value: object, kind: type[_T]) -> _T:
    # bool is an int subclass; a metadata file with `true` for a number is broken.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"expected {kind.__name__}, got {value!r}")
    return value


def write_atomically(path: Path, text: str, *, sync: bool) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old or the new file, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, text.encode("utf-8"), 0)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync:
        sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """fsync a directory so renames and new files in it survive a power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview, position: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, position)
        view = view[written:]
        position += written


class TakeFile:
    """The three files of one take, with file descriptors opened on first use."""

    def __init__(self, directory: Path, stem: str, frame_bytes: int) -> None:
        self.meta_path = directory / f"{stem}.json"
        self.pcm_path = directory / f"{stem}.pcm"
        self.journal_path = directory / f"{stem}.ranges"
        self._frame_bytes = frame_bytes
        self._pcm_fd: int | None = None
        self._pcm_writable = False
        self._journal_fd: int | None = None
        self._journal_size = 0

    # -- metadata ------------------------------------------------------------------------

    def write_meta(self, meta: TakeMeta, *, sync: bool) -> None:
        write_atomically(self.meta_path, meta.to_json(), sync=sync)

    # -- PCM -----------------------------------------------------------------------------

    def _pcm(self, write: bool) -> int:
        if self._pcm_fd is not None and (self._pcm_writable or not write):
            return self._pcm_fd
        if write:
            fd = os.open(self.pcm_path, os.O_RDWR | os.O_CREAT, 0o644)
        else:
            try:
                fd = os.open(self.pcm_path, os.O_RDONLY)
            except FileNotFoundError:
                fd = os.open(self.pcm_path, os.O_RDWR | os.O_CREAT, 0o644)
                write = True
        if self._pcm_fd is not None:
            os.close(self._pcm_fd)
        self._pcm_fd, self._pcm_writable = fd, write
        return fd

    def write_frames(self, offset: int, data: bytes | memoryview) -> None:
        """Write frames at frame ``offset`` (into the OS page cache; no fsync)."""
        _write_all(self._pcm(write=True), data, offset * self._frame_bytes)

    def read_frames(self, offset: int, frames: int) -> bytes:
        """Exactly ``frames`` frames from frame ``offset``; OSError if the file is short."""
        fd = self._pcm(write=False)
        want = frames * self._frame_bytes
        position = offset * self._frame_bytes
        parts: list[bytes] = []
        got = 0
        while got < want:
            part = os.pread(fd, want - got, position + got)
            if not part:
                raise OSError(f"{self.pcm_path} is shorter than its held frames")
            parts.append(part)
            got += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def pcm_frames_on_disk(self) -> int:
        """Whole frames the PCM file is long enough to hold (0 when it does not exist)."""
        try:
            return self.pcm_path.stat().st_size // self._frame_bytes
        except FileNotFoundError:
            return 0

    def truncate_pcm(self, frames: int) -> None:
        os.ftruncate(self._pcm(write=True), frames * self._frame_bytes)

    # -- ranges journal -----------------------------------------------------------------

    def load_journal(self) -> list[FrameRange]:
        """Held ranges as recorded, stopping at the first torn or damaged record."""
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            raw = b""
        ranges: list[FrameRange] = []
        size = JOURNAL_RECORD.size
        valid = 0
        for position in range(0, len(raw) - size + 1, size):
            start, end, crc = JOURNAL_RECORD.unpack_from(raw, position)
            if crc != zlib.crc32(raw[position : position + _RANGE.size]) or start > end:
                break
            ranges.append((start, end))
            valid = position + size
        # The next record goes right after the last good one, overwriting any torn tail.
        self._journal_size = valid
        return ranges

    def _journal(self) -> int:
        if self._journal_fd is None:
            self._journal_fd = os.open(self.journal_path, os.O_RDWR | os.O_CREAT, 0o644)
        return self._journal_fd

    def journal(self, ranges: list[FrameRange]) -> None:
        """Record newly held ranges. Call only after their PCM is written."""
        data = b"".join(_record(start, end) for start, end in ranges)
        # pwrite at a known size (not O_APPEND): a failed, partial write is overwritten next.
        _write_all(self._journal(), data, self._journal_size)
        self._journal_size += len(data)

    def rewrite_journal(self, ranges: list[FrameRange], *, sync: bool) -> None:
        """Replace the journal by a compact one holding exactly ``ranges``."""
        data = b"".join(_record(start, end) for start, end in ranges)
        tmp = self.journal_path.with_name(f".{self.journal_path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, data, 0)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.journal_path)
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
        self._journal_size = len(data)

    # -- lifecycle -----------------------------------------------------------------------

    def sync(self) -> None:
        """fsync what is open for writing."""
        if self._pcm_fd is not None and self._pcm_writable:
            os.fsync(self._pcm_fd)
        if self._journal_fd is not None:
            os.fsync(self._journal_fd)

    def close(self) -> None:
        for fd in (self._pcm_fd, self._journal_fd):
            if fd is not None:
                os.close(fd)
        self._pcm_fd = self._journal_fd = None
        self._pcm_writable = False


def _record(start: int, end: int) -> bytes:
    head = _RANGE.pack(start, end)
    return head + struct.pack("<I", zlib.crc32(head))
