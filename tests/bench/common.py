"""Shared bench plumbing: figures and their statistics, child processes, CPU time, paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.signal_server import wait_until

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
VAMP = str(Path(sys.executable).with_name("vamp"))
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Figure:
    """One row of the table: a measurement of vamp beside its baseline from the same run."""

    section: str
    name: str
    unit: str
    value: dict[str, float] | None  # median, p99, min, max, n ... (None: not measured)
    baseline_name: str = ""
    baseline: dict[str, float] | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """vamp's median over the baseline's median."""
        if not self.value or not self.baseline:
            return None
        a, b = self.value.get("median"), self.baseline.get("median")
        if a is None or b is None or b == 0:
            return None
        return a / b

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ratio"] = self.ratio
        return out


def stats(values: Iterable[float]) -> dict[str, float] | None:
    """median, p99, min, max and n of ``values`` (None when there are none)."""
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        return None
    return {
        "median": float(np.median(arr)),
        "p99": float(np.percentile(arr, 99)),
        "min": float(arr.min()),
        "max": float(arr.max()),
        "n": float(arr.size),
    }


def single(value: float) -> dict[str, float]:
    """A figure measured once (a throughput, a total): min = median = max."""
    return {"median": value, "p99": value, "min": value, "max": value, "n": 1.0}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Child:
    """A child process whose stdout (JSON lines) and stderr go to files in ``workdir``."""

    def __init__(self, label: str, argv: Sequence[str], workdir: Path,
                 env: dict[str, str] | None = None, stdin: bool = False) -> None:
        self.label = label
        self.out_path = workdir / f"{label}.out"
        self.err_path = workdir / f"{label}.err"
        self._out = self.out_path.open("wb")
        self._err = self.err_path.open("wb")
        self.started_ns = time.monotonic_ns()
        self.proc = subprocess.Popen(
            list(argv), stdout=self._out, stderr=self._err, cwd=REPO,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def lines(self) -> list[dict[str, Any]]:
        """Every complete JSON object printed so far."""
        out: list[dict[str, Any]] = []
        for line in self.out_path.read_text(errors="replace").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.lines() if e.get("event") == kind]

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.label} exited with {self.proc.returncode}: {self.stderr()[-1500:]}"
            )

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def wait_line(self, pred: Callable[[dict[str, Any]], bool], timeout: float,
                  what: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for obj in self.lines():
                if pred(obj):
                    return obj
            self.check_alive()
            return None

        result: dict[str, Any] = wait_until(found, timeout, f"{self.label}: {what}")
        return result

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (a graceful leave for vamp), then SIGKILL after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()
        self._err.close()
        return self.proc.returncode

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


def ms(ns_values: Iterable[float]) -> list[float]:
    return [v / 1e6 for v in ns_values]
