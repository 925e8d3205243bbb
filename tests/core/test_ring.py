"""The frame ring: order, content, capacity and exact overflow accounting."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vamp_cli.core.ring import FrameRing


def frames(start: int, n: int, channels: int) -> np.ndarray:
    """Frames whose samples encode their global index, so any reordering is visible."""
    idx = np.arange(start, start + n, dtype=np.int32)
    return np.stack([idx * 10 + c for c in range(channels)], axis=1)


def test_write_then_read_round_trips_across_the_wrap() -> None:
    ring = FrameRing(5, 2, "int32")
    assert ring.write(frames(0, 4, 2)) == 4
    np.testing.assert_array_equal(ring.read(3), frames(0, 3, 2))
    assert ring.write(frames(4, 4, 2)) == 4  # wraps around the end of the buffer
    np.testing.assert_array_equal(ring.read(), frames(3, 5, 2))
    assert ring.available == 0 and ring.dropped_frames == 0 and ring.overflows == 0


def test_a_full_ring_truncates_and_counts_what_it_drops() -> None:
    ring = FrameRing(4, 1, "int16")
    assert ring.write(frames(0, 3, 1).astype("int16")) == 3
    assert ring.write(frames(3, 3, 1).astype("int16")) == 1
    assert (ring.dropped_frames, ring.overflows, ring.free) == (2, 1, 0)
    np.testing.assert_array_equal(ring.read(), frames(0, 4, 1).astype("int16"))


def test_read_into_leaves_the_rest_of_the_buffer_alone() -> None:
    ring = FrameRing(8, 1, "float32")
    ring.write(np.ones((2, 1), dtype="float32"))
    out = np.full((4, 1), 7.0, dtype="float32")
    assert ring.read_into(out) == 2
    np.testing.assert_array_equal(out[:, 0], [1.0, 1.0, 7.0, 7.0])


@pytest.mark.parametrize(("capacity", "channels"), [(0, 1), (4, 0)])
def test_rejects_an_empty_shape(capacity: int, channels: int) -> None:
    with pytest.raises(ValueError):
        FrameRing(capacity, channels, "int16")


ops = st.lists(
    st.tuples(st.sampled_from(["w", "r"]), st.integers(min_value=0, max_value=40)),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(capacity=st.integers(min_value=1, max_value=32), channels=st.integers(1, 3), ops=ops)
def test_any_interleaving_preserves_order_content_and_counts_overflow_exactly(
    capacity: int, channels: int, ops: list[tuple[str, int]]
) -> None:
    ring = FrameRing(capacity, channels, "int32")
    model: deque[int] = deque()  # global frame indices held, in order
    next_index = dropped = overflows = 0
    for op, n in ops:
        if op == "w":
            accepted = ring.write(frames(next_index, n, channels))
            expect = min(n, capacity - len(model))
            assert accepted == expect
            model.extend(range(next_index, next_index + expect))
            if expect < n:
                dropped += n - expect
                overflows += 1
            # Dropped frames are never delivered; the next write continues the sequence.
            next_index += n
        else:
            got = ring.read(n)
            want = [model.popleft() for _ in range(min(n, len(model)))]
            assert got.shape == (len(want), channels)
            if want:
                np.testing.assert_array_equal(got[:, 0], np.array(want) * 10)
                np.testing.assert_array_equal(got[:, -1], np.array(want) * 10 + channels - 1)
        assert ring.available == len(model)
        assert ring.free == capacity - len(model)
        assert (ring.dropped_frames, ring.overflows) == (dropped, overflows)
