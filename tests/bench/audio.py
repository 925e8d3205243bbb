"""Section 2: audio-to-audio latency, black box, on a JACK dummy server (48 kHz).

A probe client plays clicks and listens (``probe``). Three paths, same probe and period:
* direct: probe:out_0 -> probe:in_0 (the floor of this JACK graph);
* vamp: probe -> peer A's capture port (``vamp join --input system``) -> the mesh ->
  peer B's playback port (``vamp join --output system --monitor live``) -> probe;
* JackTrip (Debian's ``jacktrip``) peer to peer over 127.0.0.1: probe -> client's send port
  -> UDP -> server's receive port -> probe.
Delays are in frames; the table shows them in ms too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from tests.bench.common import PYTHON, Child, Figure, stats, wait_until
from tests.bench.context import Context
from tests.bench.mesh import Peer, stop_all, wait_formed
from tests.support.jack import JackServer, jack_available
from tests.support.signal_server import running_signal_server

RATE = 48000
JITTERS_MS = (20.0, 5.0)
"""The live monitor's jitter buffer: the default, and a tight one for a quiet network."""


def run(ctx: Context) -> None:
    if not jack_available():
        ctx.notes["audio"] = "skipped: jackd / jack_lsp / jack_connect not installed"
        return
    seconds = 3.0 if ctx.quick else 6.0
    for period in (256,) if ctx.quick else (128, 256):
        with JackServer(rate=RATE, period=period) as jack:
            direct = probe_path(ctx, jack, f"direct-{period}", seconds,
                                lambda: ("probe-direct:in_0", "probe-direct:out_0", []))
            vamp: dict[float, list[int]] = {}
            for jitter in JITTERS_MS:
                try:
                    vamp[jitter] = vamp_path(ctx, jack, period, seconds, jitter)
                except Exception as exc:  # keep the floor and JackTrip if the mesh broke
                    vamp[jitter] = []
                    ctx.notes[f"vamp audio path, period {period}, jitter {jitter:g} ms"] = (
                        f"failed: {exc}"
                    )
            jacktrip = jacktrip_path(ctx, jack, period, seconds)
        floor = stats(direct)
        note = f"JACK period {period} frames = {1000 * period / RATE:.2f} ms"
        for jitter, delays in vamp.items():
            ctx.add(Figure(
                "2. audio to audio",
                f"vamp A capture → B live monitor, --jitter-ms {jitter:g}, period {period}",
                "frames", stats(delays), "direct JACK connection (floor)", floor,
                note=note + _ms(delays),
            ))
        if jacktrip is None:
            continue
        ctx.add(Figure("2. audio to audio", f"JackTrip p2p over loopback, period {period}",
                       "frames", stats(jacktrip), "direct JACK connection (floor)", floor,
                       note=note + _ms(jacktrip)))


def _ms(delays: list[int]) -> str:
    s = stats(delays)
    return f"; median {1000 * s['median'] / RATE:.1f} ms" if s else "; no click heard"


def probe_path(ctx: Context, jack: JackServer, label: str, seconds: float,
               wire: Callable[[], tuple[str, str, list[str]]]) -> list[int]:
    """Start a probe named ``probe-<label>``; ``wire()`` returns (where the probe's output
    goes, where its input comes from, ports to isolate first)."""
    name = f"probe-{label}" if not label.startswith("direct") else "probe-direct"
    probe = Child(name, [PYTHON, "-m", "tests.bench.probe", "--seconds", str(seconds)],
                  ctx.dir("audio"), env=jack.client_env(name))
    try:
        wait_until(lambda: "ready" in probe.out_path.read_text() or probe.check_alive(), 30,
                   f"{name} to run")
        into, outof, isolate = wire()
        for port in (f"{name}:out_0", f"{name}:in_0", *isolate):
            jack.isolate(port)
        jack.connect(f"{name}:out_0", into)
        if (outof, into) != (f"{name}:out_0", f"{name}:in_0"):  # not the direct loop
            jack.connect(outof, f"{name}:in_0")
        line = probe.wait_line(lambda o: "result" in o, seconds + 30, "its result")
    finally:
        probe.stop()
    delays: list[int] = line["result"]["delays"]
    return delays


def vamp_path(
    ctx: Context, jack: JackServer, period: int, seconds: float, jitter_ms: float
) -> list[int]:
    work = ctx.dir(f"audio-vamp-{period}-{jitter_ms:g}")
    peers: list[Peer] = []
    with running_signal_server() as server:
        try:
            # Audio callbacks as large as JACK's period: a larger block only adds buffering.
            block = ("--blocksize", str(period))
            b = Peer(work, "b", "audio", server.url, output="system", monitor="live",
                     env=jack.client_env("peer-b"),
                     extra=(*block, "--jitter-ms", f"{jitter_ms:g}"))
            peers.append(b)
            a = Peer(work, "a", "audio", server.url, input="system",
                     env=jack.client_env("peer-a"), extra=block)
            peers.append(a)
            wait_formed(peers)
            jack.wait_for_port("peer-a:in_0")
            jack.wait_for_port("peer-b:out_0")
            return probe_path(ctx, jack, f"vamp-{period}-{jitter_ms:g}", seconds,
                              lambda: ("peer-a:in_0", "peer-b:out_0",
                                       ["peer-a:in_0", "peer-b:out_0"]))
        finally:
            stop_all(peers)


def jacktrip_path(ctx: Context, jack: JackServer, period: int, seconds: float) -> list[int] | None:
    if shutil.which("jacktrip") is None:
        ctx.notes["JackTrip"] = ("not measured: jacktrip is not installed (make bench installs "
                                 "Debian's jacktrip package when run as root)")
        return None
    work = ctx.dir(f"audio-jacktrip-{period}")
    server = Child("jacktrip-server", ["jacktrip", "-s", "-n", "1", "-J", "jts", "-D",
                                       "-B", "4464", "-P", "4474"], work, env=jack.env)
    client = Child("jacktrip-client", ["jacktrip", "-c", "127.0.0.1", "-n", "1", "-J", "jtc",
                                       "-D", "-B", "4474", "-P", "4464"], work, env=jack.env)
    try:
        jack.wait_for_port("jts:receive_1", 20)
        jack.wait_for_port("jtc:send_1", 20)
        wait_until(lambda: "Received Connection from Peer" in server.out_path.read_text()
                   or server.check_alive(), 20, "JackTrip to connect")
        return probe_path(ctx, jack, f"jacktrip-{period}", seconds,
                          lambda: ("jtc:send_1", "jts:receive_1", []))
    except Exception as exc:  # say exactly why JackTrip could not be measured
        ctx.notes[f"JackTrip, period {period}"] = (
            f"failed: {exc}; server log: {server.out_path.read_text()[-300:]!r}")
        return None
    finally:
        server.stop()
        client.stop()
