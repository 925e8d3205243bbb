"""Drive the baseline processes (``rawdc``, ``udp``) and collect their results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.bench.common import PYTHON, Child
from tests.support.signal_server import free_port


def _result(child: Child, timeout: float) -> dict[str, Any]:
    line = child.wait_line(lambda o: "result" in o, timeout, "its result")
    result: dict[str, Any] = line["result"]
    return result


def rawdc(workdir: Path, mode: str, *, label: str, **options: Any) -> dict[str, Any]:
    """One run of the bare aiortc pair; the answerer's and offerer's results merged."""
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    cmd = [PYTHON, "-m", "tests.bench.rawdc"]
    sender = Child(f"{label}-offer", [*cmd, "offer", "--mode", mode, *flags], workdir, stdin=True)
    receiver = Child(f"{label}-answer", [*cmd, "answer", "--mode", mode, *flags], workdir,
                     stdin=True)
    try:
        offer = sender.wait_line(lambda o: o.get("type") == "offer", 30, "offer")
        receiver.send(offer)
        answer = receiver.wait_line(lambda o: o.get("type") == "answer", 30, "answer")
        sender.send(answer)
        timeout = float(options.get("seconds", 5)) + 120
        sent = _result(sender, timeout)
        got = _result(receiver, timeout)
    finally:
        sender.stop()
        receiver.stop()
    return {**sent, **got}


def udp(workdir: Path, *, seconds: float, size: int, interval_ms: float) -> dict[str, Any]:
    port = free_port()
    cmd = [PYTHON, "-m", "tests.bench.udp"]
    flags = ["--port", str(port), "--size", str(size), "--interval-ms", str(interval_ms),
             "--seconds", str(seconds)]
    receiver = Child("udp-recv", [*cmd, "recv", *flags], workdir)
    try:
        receiver.wait_line(lambda o: o.get("ready"), 30, "ready")
        sender = Child("udp-send", [*cmd, "send", *flags], workdir)
        _result(sender, seconds + 30)
        sender.stop()
        return _result(receiver, 30)
    finally:
        receiver.stop()
