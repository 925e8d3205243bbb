"""The wire format: every message round-trips; anything else is exactly one ProtocolError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vamp_cli.core import wire
from vamp_cli.core.take import MAX_OWNER_BYTES, SampleFormat, TakeInfo

U64 = 2**64 - 1

take_ids = st.binary(min_size=16, max_size=16).map(bytes.hex)
names = st.text(min_size=1, max_size=MAX_OWNER_BYTES).filter(
    lambda s: 1 <= len(s.encode("utf-8")) <= MAX_OWNER_BYTES
)
infos = st.builds(
    TakeInfo,
    take_id=take_ids,
    owner=names,
    start=st.integers(0, 2**63 - 1),
    samplerate=st.integers(1, 768_000),
    channels=st.integers(1, 255),
    fmt=st.sampled_from(list(SampleFormat)),
)


@st.composite
def chunks(draw: st.DrawFn) -> wire.Chunk:
    frames = draw(st.integers(1, 64))
    frame_bytes = draw(st.integers(1, wire.MAX_CHUNK_PCM_BYTES // frames))
    frame_bytes = min(frame_bytes, 64)
    pcm = draw(st.binary(min_size=frames * frame_bytes, max_size=frames * frame_bytes))
    offset = draw(st.integers(0, U64 - frames))
    return wire.Chunk(draw(take_ids), offset, frames, pcm)


@st.composite
def wants(draw: st.DrawFn) -> wire.Want:
    entries = []
    for _ in range(draw(st.integers(0, 8))):
        frames = draw(st.integers(0, U64))
        entries.append(wire.WantEntry(draw(take_ids), draw(st.integers(0, U64 - frames)), frames))
    return wire.Want(tuple(entries))


haves = st.lists(
    st.builds(wire.HaveEntry, take_id=take_ids, contiguous=st.integers(0, U64),
              flags=st.sampled_from([0, 1, 2, 3])),
    max_size=8,
).map(lambda es: wire.Have(tuple(es)))

messages = st.one_of(
    st.builds(wire.Hello, name=names),
    st.builds(wire.TakeStart, info=infos),
    chunks(),
    st.builds(wire.TakeEnd, take_id=take_ids, length=st.integers(0, U64),
              sha256=st.binary(min_size=32, max_size=32)),
    haves,
    wants(),
    st.just(wire.Bye()),
)


def decode_or_protocol_error(data: bytes) -> wire.Message | None:
    """Decode; a ProtocolError is fine, any other exception fails the test."""
    try:
        return wire.decode(data)
    except wire.ProtocolError:
        return None


@settings(max_examples=150)
@given(messages)
def test_every_message_round_trips(message: wire.Message) -> None:
    encoded = wire.encode(message)
    assert len(encoded) <= wire.MAX_MESSAGE_BYTES
    assert wire.decode(encoded) == message
    assert wire.decode(bytearray(encoded)) == message
    assert wire.decode(memoryview(encoded)) == message


@settings(max_examples=150)
@given(st.binary(max_size=256))
def test_arbitrary_bytes_decode_or_raise_only_protocol_error(data: bytes) -> None:
    decoded = decode_or_protocol_error(data)
    if decoded is not None:  # whatever is accepted is canonical
        assert wire.encode(decoded) == data


@settings(max_examples=150)
@given(st.integers(0, 255), st.binary(max_size=200))
def test_every_type_byte_with_junk_decodes_or_raises_protocol_error(kind: int, rest: bytes) -> None:
    decoded = decode_or_protocol_error(bytes([kind]) + rest)
    if decoded is not None:
        assert wire.encode(decoded) == bytes([kind]) + rest


@settings(max_examples=120)
@given(messages, st.data())
def test_truncations_are_protocol_errors(message: wire.Message, data: st.DataObject) -> None:
    encoded = wire.encode(message)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    decoded = decode_or_protocol_error(encoded[:cut])
    # A chunk does not carry its frame size, so a shorter whole-frame PCM is still a chunk.
    if not isinstance(message, wire.Chunk):
        assert decoded is None


@settings(max_examples=150)
@given(messages, st.data())
def test_mutations_decode_canonically_or_raise_protocol_error(
    message: wire.Message, data: st.DataObject
) -> None:
    mutated = bytearray(wire.encode(message))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    extra = data.draw(st.binary(max_size=4))
    decoded = decode_or_protocol_error(bytes(mutated) + extra)
    if decoded is not None:
        assert wire.encode(decoded) == bytes(mutated) + extra


def test_oversize_and_text_are_refused() -> None:
    take_id = "ab" * 16
    fits = wire.Chunk(take_id, 0, 1, b"\x00" * wire.MAX_CHUNK_PCM_BYTES)
    assert len(wire.encode(fits)) == wire.MAX_MESSAGE_BYTES
    with pytest.raises(ValueError):
        wire.encode(wire.Chunk(take_id, 0, 1, b"\x00" * (wire.MAX_CHUNK_PCM_BYTES + 1)))
    too_big = wire.encode(fits) + b"\x00"
    with pytest.raises(wire.ProtocolError, match="exceeds"):
        wire.decode(too_big)
    with pytest.raises(wire.ProtocolError):
        wire.decode("hello")
    with pytest.raises(wire.ProtocolError):
        wire.decode(b"")
    with pytest.raises(ValueError):
        wire.encode(wire.Have(tuple(wire.HaveEntry(take_id, 0)
                                    for _ in range(wire.MAX_HAVE_ENTRIES + 1))))
    with pytest.raises(ValueError):
        wire.encode(wire.Want(tuple(wire.WantEntry(take_id, 0, 1)
                                    for _ in range(wire.MAX_WANT_ENTRIES + 1))))


def test_chunk_sizes_stay_under_the_limit() -> None:
    for frame_bytes in (2, 4, 6, 8, 1020):
        frames = wire.max_chunk_frames(frame_bytes)
        chunk = wire.Chunk("cd" * 16, 0, frames, b"\x01" * (frames * frame_bytes))
        assert len(wire.encode(chunk)) <= wire.MAX_MESSAGE_BYTES
        one_more = wire.Chunk("cd" * 16, 0, frames + 1, b"\x01" * ((frames + 1) * frame_bytes))
        with pytest.raises(ValueError):
            wire.encode(one_more)
