"""`make demo` / `vamp demo`: a whole vamp on this machine, shown in one table.

An embedded signaling server, two listening peers and one recording peer, each a real
`vamp` process talking WebRTC on loopback. The recorder makes a tone take; the table shows
every peer holding it bit-exact, with how long it took. Nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from signaling.config import ServerConfig
from signaling.server import SignalingServer
from vamp_cli.errors import VampError

VAMP = [sys.executable, "-m", "vamp_cli"]
VAMP_NAME = "demo"
DEADLINE = 60.0


@dataclass
class Peer:
    """One `vamp` child process whose stdout is JSON lines."""

    name: str
    store: Path
    process: asyncio.subprocess.Process
    events: list[dict[str, Any]] = field(default_factory=list)

    async def follow(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def first(self, event: str, **fields: Any) -> dict[str, Any] | None:
        for e in self.events:
            if e.get("event") == event and all(e.get(k) == v for k, v in fields.items()):
                return e
        return None


async def _spawn(name: str, args: list[str], root: Path) -> Peer:
    store = root / name
    process = await asyncio.create_subprocess_exec(
        *VAMP,
        *args,
        "--name",
        name,
        "--store",
        str(store),
        "--output",
        "none",
        "--ice-host",
        "127.0.0.1",
        "--json",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return Peer(name, store, process)


async def _wait(what: str, condition: Any, deadline: float) -> Any:
    while (value := condition()) is None or value is False:
        if time.monotonic() > deadline:
            raise VampError(f"demo: timed out waiting for {what}")
        await asyncio.sleep(0.05)
    return value


async def _export(store: Path, out: Path) -> dict[str, dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        *VAMP,
        "export",
        "--store",
        str(store),
        "--out-dir",
        str(out),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        raise VampError(f"demo: vamp export failed: {stderr.decode().strip()}")
    takes = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    return {t["take_id"]: t for t in takes}


async def run_demo(duration: float = 3.0, console: Console | None = None) -> bool:
    """Run the demo; True when every peer holds the take bit-exact."""
    console = console or Console()
    # The embedded server's routine warnings (a peer gone while a message to it was queued)
    # would interleave with the table; only errors are worth showing here.
    logging.basicConfig(format="vamp demo: %(levelname)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="vamp-demo-") as tmp:
        root = Path(tmp)
        async with SignalingServer(ServerConfig(port=0, log_level="warning")) as server:
            console.print(f"signaling server on {server.url}")
            peers: list[Peer] = []
            async with asyncio.TaskGroup() as tg:
                try:
                    return await _demo(tg, server.url, root, peers, duration, console)
                finally:
                    for peer in peers:
                        if peer.process.returncode is None:
                            peer.process.send_signal(signal.SIGINT)
                    for peer in peers:
                        try:
                            await asyncio.wait_for(peer.process.wait(), 10)
                        except TimeoutError:
                            peer.process.kill()
                            await peer.process.wait()


async def _demo(
    tg: asyncio.TaskGroup,
    url: str,
    root: Path,
    peers: list[Peer],
    duration: float,
    console: Console,
) -> bool:
    deadline = time.monotonic() + DEADLINE
    for name in ("jeff", "ann"):
        peer = await _spawn(name, ["join", VAMP_NAME, "--server", url, "--input", "none"], root)
        peers.append(peer)
        tg.create_task(peer.follow())
    await _wait("the listeners to join", lambda: all(p.first("joining") for p in peers), deadline)
    console.print("jeff and ann joined; dan records a take of a 440 Hz tone...")
    dan = await _spawn(
        "dan",
        [
            "record",
            VAMP_NAME,
            "--server",
            url,
            "--input",
            "tone:440",
            "--duration",
            str(duration),
            "--out",
            str(root / "dan.wav"),
        ],
        root,
    )
    peers.append(dan)
    tg.create_task(dan.follow())
    await _wait("dan's recording", lambda: dan.process.returncode is not None, deadline)
    result = dan.events[-1] if dan.events else {}
    if dan.process.returncode != 0 or "sha256" not in result:
        assert dan.process.stderr is not None
        raise VampError(f"demo: dan's record failed: {(await dan.process.stderr.read()).decode()}")
    take_id, sha = result["take_id"], result["sha256"]
    recorded = dan.first("recorded") or {}
    mesh = dan.first("mesh") or {}
    joined = dan.first("joining") or {}

    table = Table(
        title=f"take {take_id[:8]} by dan: {result['frames']} frames, "
        f"{result['samplerate']} Hz {result['dtype']}"
    )
    for column in (
        "peer",
        "role",
        "frames held",
        "SHA-256",
        "bit-exact",
        "complete after take end",
    ):
        table.add_column(column)
    table.add_row("dan", "recorder", str(result["frames"]), sha[:16] + "…", "source", "—")
    all_exact = True
    for peer in peers[:2]:
        complete = await _wait(
            f"{peer.name} to hold the take",
            lambda p=peer: p.first("take-complete", take_id=take_id),
            deadline,
        )
        take = (await _export(peer.store, root / f"export-{peer.name}"))[take_id]
        exact = take["sha256"] == sha and take["complete"]
        all_exact &= exact
        after_ms = (complete["time"] - recorded.get("time", complete["time"])) * 1000
        table.add_row(
            peer.name,
            "listener",
            str(take["frames"]),
            take["sha256"][:16] + "…",
            "[green]yes[/green]" if exact else "[red]NO[/red]",
            f"{max(after_ms, 0):.0f} ms",
        )
    console.print(table)
    if mesh and joined:
        console.print(
            f"dan's mesh formed {1000 * (mesh['time'] - joined['time']):.0f} ms after "
            f"joining; confirmations: "
            + ", ".join(f"{p['name']} {'yes' if p['confirmed'] else 'no'}" for p in result["peers"])
        )
    console.print(
        "[bold green]every peer holds the take bit-exact[/bold green]"
        if all_exact
        else "[bold red]a peer does not hold the take bit-exact[/bold red]"
    )
    return all_exact
