"""The data-channel wire format (sans-I/O): every message peers exchange, encoded and decoded.

Every message is one binary data-channel message; byte 0 is its type and all integers
are little-endian. ``docs/protocol.md`` gives the byte layout of each. ``decode`` is strict:
anything malformed, truncated, oversized, or unknown raises :class:`ProtocolError` and
nothing else.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from vamp_cli.core.take import MAX_OWNER_BYTES, SampleFormat, TakeInfo

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 16 * 1024
"""No message is larger: 16 KiB is the size every WebRTC stack delivers unfragmented."""

TAKE_ID_BYTES = 16
SHA256_BYTES = 32


class ProtocolError(ValueError):
    """A data-channel message that is not valid vamp wire format."""


class MessageType(IntEnum):
    HELLO = 0x01
    TAKE_START = 0x02
    CHUNK = 0x03
    TAKE_END = 0x04
    HAVE = 0x05
    WANT = 0x06
    BYE = 0x07


class HaveFlag(IntEnum):
    ENDED = 0x01
    """The sender knows the take's final length and hash."""
    COMPLETE = 0x02
    """The sender holds every frame and the SHA-256 matched: a confirmation to the owner."""


@dataclass(frozen=True, slots=True)
class Hello:
    """First message on a channel: who I am (my ``--name``) and which protocol I speak."""

    name: str
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True)
class TakeStart:
    """A take exists: its identity, owner, timeline position and format."""

    info: TakeInfo


@dataclass(frozen=True, slots=True)
class Chunk:
    """``frames`` frames of a take's PCM starting at frame ``offset`` of the take."""

    take_id: str
    offset: int
    frames: int
    pcm: bytes


@dataclass(frozen=True, slots=True)
class TakeEnd:
    """A take is finished: its final length in frames and the SHA-256 of all its PCM."""

    take_id: str
    length: int
    sha256: bytes


@dataclass(frozen=True, slots=True)
class HaveEntry:
    take_id: str
    contiguous: int
    """Frames held without a gap from the take's start."""
    flags: int = 0

    @property
    def ended(self) -> bool:
        return bool(self.flags & HaveFlag.ENDED)

    @property
    def complete(self) -> bool:
        return bool(self.flags & HaveFlag.COMPLETE)


@dataclass(frozen=True, slots=True)
class Have:
    """ "I hold this much of these takes." Takes not listed are not held at all."""

    entries: tuple[HaveEntry, ...]


@dataclass(frozen=True, slots=True)
class WantEntry:
    take_id: str
    offset: int
    frames: int


@dataclass(frozen=True, slots=True)
class Want:
    """ "Send me these frames." Answered with chunks from what the receiver holds."""

    entries: tuple[WantEntry, ...]


@dataclass(frozen=True, slots=True)
class Bye:
    """I am leaving on purpose; close this channel quietly."""


Message = Hello | TakeStart | Chunk | TakeEnd | Have | Want | Bye

_U8 = struct.Struct("<B")
_HELLO = struct.Struct("<BBB")  # type, version, name length
_TAKE_START = struct.Struct("<B16sQIBBB")  # type, id, start, rate, channels, format, owner len
_CHUNK = struct.Struct("<B16sQI")  # type, id, offset, frames
_TAKE_END = struct.Struct("<B16sQ32s")  # type, id, length, sha256
_LIST = struct.Struct("<BH")  # type, entry count
_HAVE_ENTRY = struct.Struct("<16sQB")
_WANT_ENTRY = struct.Struct("<16sQQ")

CHUNK_HEADER_BYTES = _CHUNK.size
MAX_CHUNK_PCM_BYTES = MAX_MESSAGE_BYTES - CHUNK_HEADER_BYTES
MAX_HAVE_ENTRIES = (MAX_MESSAGE_BYTES - _LIST.size) // _HAVE_ENTRY.size
MAX_WANT_ENTRIES = (MAX_MESSAGE_BYTES - _LIST.size) // _WANT_ENTRY.size
_MAX_U64 = 2**64 - 1


def max_chunk_frames(frame_bytes: int) -> int:
    """The most whole frames of ``frame_bytes`` bytes that fit in one chunk."""
    return MAX_CHUNK_PCM_BYTES // frame_bytes


def _id_bytes(take_id: str) -> bytes:
    raw = bytes.fromhex(take_id)
    if len(raw) != TAKE_ID_BYTES:
        raise ValueError(f"take id must be {TAKE_ID_BYTES} bytes")
    return raw


def _name_bytes(name: str) -> bytes:
    raw = name.encode("utf-8")
    if not 1 <= len(raw) <= MAX_OWNER_BYTES:
        raise ValueError(f"name must be 1..{MAX_OWNER_BYTES} UTF-8 bytes")
    return raw


def encode(message: Message) -> bytes:
    """Encode one message. Raises ValueError for values the format cannot carry."""
    match message:
        case Chunk(take_id, offset, frames, pcm):
            if frames < 1 or not pcm or len(pcm) % frames:
                raise ValueError("chunk PCM must hold a whole, non-zero number of frames")
            out = _CHUNK.pack(MessageType.CHUNK, _id_bytes(take_id), offset, frames) + pcm
        case Hello(name, version):
            raw = _name_bytes(name)
            out = _HELLO.pack(MessageType.HELLO, version, len(raw)) + raw
        case TakeStart(info):
            raw = _name_bytes(info.owner)
            out = (
                _TAKE_START.pack(
                    MessageType.TAKE_START,
                    _id_bytes(info.take_id),
                    info.start,
                    info.samplerate,
                    info.channels,
                    info.fmt,
                    len(raw),
                )
                + raw
            )
        case TakeEnd(take_id, length, sha256):
            if len(sha256) != SHA256_BYTES:
                raise ValueError("sha256 must be 32 bytes")
            out = _TAKE_END.pack(MessageType.TAKE_END, _id_bytes(take_id), length, sha256)
        case Have(entries):
            if len(entries) > MAX_HAVE_ENTRIES:
                raise ValueError(f"at most {MAX_HAVE_ENTRIES} entries per HAVE")
            out = _LIST.pack(MessageType.HAVE, len(entries)) + b"".join(
                _HAVE_ENTRY.pack(_id_bytes(e.take_id), e.contiguous, e.flags) for e in entries
            )
        case Want(entries):
            if len(entries) > MAX_WANT_ENTRIES:
                raise ValueError(f"at most {MAX_WANT_ENTRIES} entries per WANT")
            out = _LIST.pack(MessageType.WANT, len(entries)) + b"".join(
                _WANT_ENTRY.pack(_id_bytes(e.take_id), e.offset, e.frames) for e in entries
            )
        case Bye():
            out = _U8.pack(MessageType.BYE)
        case _:
            raise TypeError(f"not a wire message: {message!r}")
    if len(out) > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {len(out)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return out


def decode(data: bytes | bytearray | memoryview | str) -> Message:
    """Decode one message. Raises :class:`ProtocolError` for anything that is not valid."""
    if isinstance(data, str):
        raise ProtocolError("text message on the data channel; vamp messages are binary")
    data = bytes(data)
    if not data:
        raise ProtocolError("empty message")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    kind = data[0]
    try:
        decoder = _DECODERS[MessageType(kind)]
    except ValueError:
        raise ProtocolError(f"unknown message type 0x{kind:02x}") from None
    try:
        return decoder(data)
    except ProtocolError:
        raise
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"malformed {MessageType(kind).name}: {exc}") from None


def _exact(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise ProtocolError(f"{what}: expected {size} bytes, got {len(data)}")


def _name(data: bytes, what: str) -> str:
    if not 1 <= len(data) <= MAX_OWNER_BYTES:
        raise ProtocolError(f"{what}: name must be 1..{MAX_OWNER_BYTES} bytes")
    return data.decode("utf-8")


def _decode_hello(data: bytes) -> Hello:
    _, version, n = _HELLO.unpack_from(data)
    _exact(data, _HELLO.size + n, "HELLO")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"HELLO: unsupported protocol version {version}")
    return Hello(_name(data[_HELLO.size :], "HELLO"), version)


def _decode_take_start(data: bytes) -> TakeStart:
    _, tid, start, rate, channels, fmt, n = _TAKE_START.unpack_from(data)
    _exact(data, _TAKE_START.size + n, "TAKE_START")
    try:
        sample_format = SampleFormat(fmt)
    except ValueError:
        raise ProtocolError(f"TAKE_START: unknown sample format {fmt}") from None
    owner = _name(data[_TAKE_START.size :], "TAKE_START")
    info = TakeInfo(tid.hex(), owner, start, rate, channels, sample_format)  # validates ranges
    return TakeStart(info)


def _decode_chunk(data: bytes) -> Chunk:
    _, tid, offset, frames = _CHUNK.unpack_from(data)
    pcm = data[_CHUNK.size :]
    if frames < 1 or not pcm or len(pcm) % frames:
        raise ProtocolError(f"CHUNK: {len(pcm)} PCM bytes is not a whole number of {frames} frames")
    if offset + frames > _MAX_U64:
        raise ProtocolError("CHUNK: frame range overflows")
    return Chunk(tid.hex(), offset, frames, pcm)


def _decode_take_end(data: bytes) -> TakeEnd:
    _exact(data, _TAKE_END.size, "TAKE_END")
    _, tid, length, sha = _TAKE_END.unpack(data)
    return TakeEnd(tid.hex(), length, sha)


def _decode_have(data: bytes) -> Have:
    _, count = _LIST.unpack_from(data)
    _exact(data, _LIST.size + count * _HAVE_ENTRY.size, "HAVE")
    entries = []
    for tid, contiguous, flags in _HAVE_ENTRY.iter_unpack(data[_LIST.size :]):
        if flags & ~(HaveFlag.ENDED | HaveFlag.COMPLETE):
            raise ProtocolError(f"HAVE: unknown flags 0x{flags:02x}")
        entries.append(HaveEntry(tid.hex(), contiguous, flags))
    return Have(tuple(entries))


def _decode_want(data: bytes) -> Want:
    _, count = _LIST.unpack_from(data)
    _exact(data, _LIST.size + count * _WANT_ENTRY.size, "WANT")
    entries = []
    for tid, offset, frames in _WANT_ENTRY.iter_unpack(data[_LIST.size :]):
        if offset + frames > _MAX_U64:
            raise ProtocolError("WANT: frame range overflows")
        entries.append(WantEntry(tid.hex(), offset, frames))
    return Want(tuple(entries))


def _decode_bye(data: bytes) -> Bye:
    _exact(data, 1, "BYE")
    return Bye()


_DECODERS: dict[MessageType, Callable[[bytes], Message]] = {
    MessageType.HELLO: _decode_hello,
    MessageType.TAKE_START: _decode_take_start,
    MessageType.CHUNK: _decode_chunk,
    MessageType.TAKE_END: _decode_take_end,
    MessageType.HAVE: _decode_have,
    MessageType.WANT: _decode_want,
    MessageType.BYE: _decode_bye,
}
