"""A set of frame numbers kept as sorted, disjoint [start, end) ranges."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

FrameRange = tuple[int, int]


class FrameRanges:
    """Which frames of a take are held. Touching ranges are merged, so the form is canonical."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, ranges: Iterable[FrameRange] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in ranges:
            self.add(start, end)

    def __iter__(self) -> Iterator[FrameRange]:
        return iter(zip(self._starts, self._ends, strict=True))

    def __len__(self) -> int:
        return len(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrameRanges):
            return NotImplemented
        return self._starts == other._starts and self._ends == other._ends

    def __repr__(self) -> str:
        return f"FrameRanges({list(self)!r})"

    @property
    def contiguous(self) -> int:
        """Frames held without a gap from frame 0."""
        return self._ends[0] if self._starts and self._starts[0] == 0 else 0

    @property
    def highest(self) -> int:
        """One past the highest frame held (0 when empty)."""
        return self._ends[-1] if self._ends else 0

    @property
    def total(self) -> int:
        """How many frames are held."""
        return sum(e - s for s, e in zip(self._starts, self._ends, strict=True))

    def span_end(self, frame: int) -> int | None:
        """The end of the held range containing ``frame``, or None when it is not held."""
        i = bisect_right(self._starts, frame) - 1
        if i >= 0 and frame < self._ends[i]:
            return self._ends[i]
        return None

    def held_within(self, start: int, end: int) -> list[FrameRange]:
        """The held parts of [start, end), in order."""
        out: list[FrameRange] = []
        i = bisect_right(self._ends, start)
        while i < len(self._starts) and self._starts[i] < end:
            out.append((max(start, self._starts[i]), min(end, self._ends[i])))
            i += 1
        return out

    def missing_within(self, start: int, end: int) -> list[FrameRange]:
        """The parts of [start, end) not held, in order."""
        out: list[FrameRange] = []
        cursor = start
        for s, e in self.held_within(start, end):
            if s > cursor:
                out.append((cursor, s))
            cursor = e
        if cursor < end:
            out.append((cursor, end))
        return out

    def add(self, start: int, end: int) -> list[FrameRange]:
        """Hold [start, end). Returns the parts that were not held before."""
        if start >= end:
            return []
        new = self.missing_within(start, end)
        if not new:
            return new
        # Ranges i..j-1 overlap or touch [start, end]; they merge into one.
        i = bisect_left(self._ends, start)
        j = bisect_right(self._starts, end)
        if i < j:
            start = min(start, self._starts[i])
            end = max(end, self._ends[j - 1])
        self._starts[i:j] = [start]
        self._ends[i:j] = [end]
        return new

    def truncate(self, limit: int) -> None:
        """Forget every frame at or beyond ``limit``."""
        i = bisect_left(self._starts, limit)
        del self._starts[i:]
        del self._ends[i:]
        if self._ends and self._ends[-1] > limit:
            self._ends[-1] = limit
