"""A preallocated single-producer/single-consumer ring of audio frames.

One side writes (a PortAudio callback or a feeder task), the other reads (the event loop or
a PortAudio callback). Neither side locks or allocates beyond numpy views: the buffer is
allocated once. Each side owns one monotonically increasing counter and only reads the
other's, so under the GIL the consumer never sees frames the producer has not finished
copying. A write that does not fit is truncated and the dropped frames are counted.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class FrameRing:
    """A fixed-capacity FIFO of frames shaped ``(frames, channels)`` of one numpy dtype."""

    def __init__(self, capacity: int, channels: int, dtype: str | np.dtype[np.generic]) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least one frame, got {capacity}")
        if channels < 1:
            raise ValueError(f"ring needs at least one channel, got {channels}")
        self._buf: npt.NDArray[np.generic] = np.zeros((capacity, channels), dtype=dtype)
        self._capacity = capacity
        self._written = 0  # total frames ever written; only the producer changes it
        self._read = 0  # total frames ever read; only the consumer changes it
        self._dropped = 0  # frames refused because the ring was full; producer-owned
        self._overflows = 0  # write calls that dropped frames; producer-owned

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def channels(self) -> int:
        return int(self._buf.shape[1])

    @property
    def dtype(self) -> np.dtype[np.generic]:
        return self._buf.dtype

    @property
    def available(self) -> int:
        """Frames ready to read."""
        return self._written - self._read

    @property
    def free(self) -> int:
        """Frames that can be written without dropping any."""
        return self._capacity - (self._written - self._read)

    @property
    def total_written(self) -> int:
        """Frames accepted since creation (dropped frames excluded)."""
        return self._written

    @property
    def total_read(self) -> int:
        return self._read

    @property
    def dropped_frames(self) -> int:
        """Frames lost because a write found the ring full."""
        return self._dropped

    @property
    def overflows(self) -> int:
        """Number of writes that lost frames."""
        return self._overflows

    def write(self, frames: npt.NDArray[np.generic]) -> int:
        """Producer side: copy ``frames`` (shape ``(n, channels)``) in; return how many fit.

        Safe to call from a PortAudio callback: no allocation beyond slicing views.
        """
        n = int(frames.shape[0])
        fit = self._capacity - (self._written - self._read)
        if n > fit:
            self._dropped += n - fit
            self._overflows += 1
            n = fit
        if n == 0:
            return 0
        pos = self._written % self._capacity
        first = min(n, self._capacity - pos)
        self._buf[pos : pos + first] = frames[:first]
        if first < n:
            self._buf[: n - first] = frames[first:n]
        # Publishing the counter last is what makes the copied frames visible to the reader.
        self._written += n
        return n

    def read_into(self, out: npt.NDArray[np.generic]) -> int:
        """Consumer side: copy up to ``len(out)`` frames into ``out``; return how many.

        ``out`` beyond the returned count is left untouched. Safe in a PortAudio callback.
        """
        n = min(int(out.shape[0]), self._written - self._read)
        if n == 0:
            return 0
        pos = self._read % self._capacity
        first = min(n, self._capacity - pos)
        out[:first] = self._buf[pos : pos + first]
        if first < n:
            out[first:n] = self._buf[: n - first]
        self._read += n
        return n

    def read(self, max_frames: int | None = None) -> npt.NDArray[np.generic]:
        """Consumer side, for the event loop: a new array of up to ``max_frames`` frames."""
        n = self.available if max_frames is None else min(max_frames, self.available)
        out: npt.NDArray[np.generic] = np.empty((n, self.channels), dtype=self._buf.dtype)
        got = self.read_into(out)
        return out[:got]
