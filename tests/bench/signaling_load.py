"""Section 7: signaling relay throughput and latency, 200 clients in 50 vamps, on vamp's
server and on Node's socket.io 4 server with the same events, driven by the same load
generator (``loadgen``) in the same run.

Two phases per server: a steady load (2 signals/s per client, 400/s) for relay latency,
and a heavy one (50/s per client, 10 000/s offered) for throughput (signals delivered per
second). The generator runs as two processes of 100 clients (25 vamps each) so that it is
less of a bottleneck; on 2 cores it still competes with the server for CPU.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from tests.bench.common import PYTHON, Child, Figure, stats, wait_until
from tests.bench.context import Context
from tests.support.signal_server import free_port

NODE_DIR = Path(__file__).with_name("node")


def run(ctx: Context) -> None:
    work = ctx.dir("signaling")
    clients, vamps = (40, 10) if ctx.quick else (200, 50)
    seconds = 2.0 if ctx.quick else 5.0
    servers = {"vamp": [PYTHON, "-m", "tests.bench.pyserver"]}
    node = shutil.which("node")
    if node and (NODE_DIR / "node_modules" / "socket.io").exists():
        servers["node"] = [node, str(NODE_DIR / "server.js")]
    else:
        ctx.notes["signaling"] = ("Node baseline skipped: node or tests/bench/node/node_modules "
                                  "missing (make js-deps installs it)")
    results: dict[str, dict[str, Any]] = {}
    for label, argv in servers.items():
        port = free_port()
        server = Child(f"server-{label}", [*argv, str(port)], work)
        try:
            wait_until(lambda p=port, s=server: _healthy(p) or s.check_alive(), 30,
                       f"{label} server")
            steady = _load(work, f"{label}-steady", port, clients, vamps, 2.0, seconds)
            heavy = _load(work, f"{label}-heavy", port, clients, vamps, 50.0, seconds)
        finally:
            server.stop()
        results[label] = {"steady": steady, "heavy": heavy}
    vamp, base = results["vamp"], results.get("node")
    ctx.add(Figure("7. signaling", f"relay latency, {clients} clients / {vamps} vamps, "
                   f"{2 * clients}/s", "ms", stats(vamp["steady"]["latency_ms"]),
                   "Node socket.io 4, same events" if base else "",
                   stats(base["steady"]["latency_ms"]) if base else None))
    ctx.add(Figure("7. signaling", f"relay throughput, {50 * clients}/s offered", "signals/s",
                   _rate(vamp["heavy"]), "Node socket.io 4, same events" if base else "",
                   _rate(base["heavy"]) if base else None,
                   note="higher is better; heavy-load latency median/p99 vamp "
                        f"{_lat(vamp['heavy'])}" + (f", node {_lat(base['heavy'])}" if base
                                                     else "")))


def _healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


def _load(work: Path, label: str, port: int, clients: int, vamps: int, rate: float,
          seconds: float) -> dict[str, Any]:
    half = [Child(f"load-{label}-{k}", [
        PYTHON, "-m", "tests.bench.loadgen", "--url", f"http://127.0.0.1:{port}",
        "--clients", str(clients // 2), "--vamps", str(vamps // 2), "--rate", str(rate),
        "--seconds", str(seconds), "--prefix", f"{label}-{k}"], work) for k in range(2)]
    out: dict[str, Any] = {"sent": 0, "received": 0, "seconds": 0.0, "latency_ms": []}
    try:
        for child in half:
            result = child.wait_line(lambda o: "result" in o, seconds + 120, "its result")
            r = result["result"]
            out["sent"] += r["sent"]
            out["received"] += r["received"]
            out["seconds"] = max(out["seconds"], r["seconds"])  # both halves ran at once
            out["latency_ms"] += r["latency_ms"]
    finally:
        for child in half:
            child.stop()
    time.sleep(0.2)  # the server notices the disconnects before the next phase
    return out


def _rate(result: dict[str, Any]) -> dict[str, float]:
    value = result["received"] / result["seconds"]
    return {"median": value, "p99": value, "min": value, "max": value, "n": 1.0}


def _lat(result: dict[str, Any]) -> str:
    s = stats(result["latency_ms"])
    return f"{s['median']:.1f}/{s['p99']:.1f} ms" if s else "—"
