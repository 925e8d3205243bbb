"""What every bench section shares in one run: a work directory, the mode, the baselines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench import baselines
from tests.bench.common import Figure

CHUNK_FRAMES = 256  # vamp's capture block: one CHUNK per block while live
CHUNK_BYTES = 29 + 2 * CHUNK_FRAMES  # CHUNK header + mono int16 PCM
CHUNK_INTERVAL_MS = CHUNK_FRAMES / 48  # at 48 kHz


@dataclass
class Context:
    workdir: Path
    quick: bool
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    def dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def rawdc_stream(self) -> dict[str, Any]:
        """The bare aiortc pair sending vamp's live chunk size at vamp's pace (cached)."""
        if "rawdc" not in self._cache:
            self._cache["rawdc"] = baselines.rawdc(
                self.dir("baselines"), "latency", label="rawdc-stream",
                size=CHUNK_BYTES, interval_ms=CHUNK_INTERVAL_MS,
                seconds=2 if self.quick else 6, pings=30 if self.quick else 200,
            )
        result: dict[str, Any] = self._cache["rawdc"]
        return result

    def udp_stream(self) -> dict[str, Any]:
        if "udp" not in self._cache:
            self._cache["udp"] = baselines.udp(
                self.dir("baselines"), seconds=2 if self.quick else 6, size=CHUNK_BYTES,
                interval_ms=CHUNK_INTERVAL_MS,
            )
        result: dict[str, Any] = self._cache["udp"]
        return result
