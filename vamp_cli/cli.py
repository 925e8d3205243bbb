"""The `vamp` command line: parse options, build the objects, run them. No logic lives here."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from vamp_cli import __version__
from vamp_cli.core.take import SampleFormat
from vamp_cli.errors import VampError
from vamp_cli.options import (
    audio_format_options,
    input_option,
    json_option,
    mesh_options,
    output_option,
    store_option,
)
from vamp_cli.report import Reporter

if TYPE_CHECKING:
    from vamp_cli.audio.playback import OutputSpec

T = TypeVar("T")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vamp")
def cli() -> None:
    """Record together over a WebRTC mesh, from the terminal."""


@cli.command("serve-signal")
@click.option("--host", envvar="VAMP_HOST", default="127.0.0.1", show_default=True,
              help="Address to listen on.")
@click.option("--port", envvar="VAMP_PORT", type=int, default=4567, show_default=True,
              help="Port to listen on.")
@click.option("--max-peers", envvar="VAMP_MAX_PEERS", type=int, default=8, show_default=True,
              help="Most members per vamp (a full mesh grows as n²).")
@click.option("--secret", envvar="VAMP_SECRET", default=None,
              help="Require a token from `vamp token` to connect; without it vamps are open.")
@click.option("--ice-server", "ice_servers", envvar="VAMP_ICE_SERVER", multiple=True,
              metavar="[USER:CREDENTIAL@]URL",
              help="STUN/TURN server sent to clients on join (repeatable; env: space-separated).")
@click.option("--turn-secret", envvar="VAMP_TURN_SECRET", default=None,
              help="coturn static-auth-secret: TURN entries get time-limited credentials.")
@click.option("--cors-origin", "cors_origins", envvar="VAMP_CORS_ORIGIN", multiple=True,
              help="Browser origin allowed to connect (repeatable; '*' allows any).")
@click.option("--log-level", envvar="VAMP_LOG_LEVEL", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="debug also logs every relayed event.")
@click.option("--web", is_flag=True, envvar="VAMP_WEB",
              help="Also serve the browser client at / (http://HOST:PORT/?vamp=NAME joins NAME).")
def serve_signal(
    host: str, port: int, max_peers: int, secret: str | None, ice_servers: tuple[str, ...],
    turn_secret: str | None, cors_origins: tuple[str, ...], log_level: str, web: bool,
) -> None:
    """Run the signaling server that introduces the peers of a vamp to each other."""
    from signaling.config import ServerConfig
    from signaling.server import run

    run(ServerConfig.from_options(
        host=host, port=port, max_peers=max_peers, secret=secret, ice_servers=ice_servers,
        turn_secret=turn_secret, cors_origins=cors_origins, log_level=log_level, web=web,
    ))


@cli.command("token")
@click.argument("vamp")
@click.option("--secret", envvar="VAMP_SECRET", required=True,
              help="The signaling server's --secret.")
@click.option("--ttl", type=int, default=24 * 3600, show_default=True,
              help="Seconds until the token expires.")
def token(vamp: str, secret: str, ttl: int) -> None:
    """Print a token that lets its holder join VAMP on a server started with --secret."""
    from signaling.auth import new_token

    click.echo(new_token(vamp, secret, ttl=ttl))


@cli.command("export")
@click.option("--store", "store_dir", envvar="VAMP_STORE", type=click.Path(path_type=Path),
              default=None, help="Store directory. [default: per-user data directory]")
@click.option("--out-dir", required=True, type=click.Path(path_type=Path),
              help="Directory to write one file per take into (created if needed).")
@click.option("--format", "file_format", type=click.Choice(["wav", "flac"]), default="wav",
              show_default=True, help="File format of the takes (always lossless).")
@click.option("--mix", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Also write a mixdown of every take at its timeline position (.wav or .flac).")
@click.option("--json", "json_mode", is_flag=True, help="One JSON object per take on stdout.")
def export(store_dir: Path | None, out_dir: Path, file_format: str, mix: Path | None,
           json_mode: bool) -> None:
    """Write every take in the store as a sound file, and optionally a mixdown."""
    from vamp_cli.export import run_export

    run_export(store_dir, out_dir, "flac" if file_format == "flac" else "wav", mix, json_mode)


@cli.command("join")
@click.argument("vamp")
@mesh_options
@input_option()
@output_option()
@audio_format_options
@store_option
@click.option("--leave-after", type=float, default=None, metavar="SECONDS",
              help="Leave gracefully after this many seconds.")
def join(vamp: str, as_json: bool, log_level: str, **options: Any) -> None:
    """Join VAMP: stream your input to every peer and play theirs, until Ctrl-C."""
    from vamp_cli.session import Session, session_options

    opts = session_options(vamp, monitor_default="live", **options)
    code = _run_session(log_level, lambda: Session(opts, Reporter(as_json)).join_until_stopped())
    sys.exit(code)


def _run_session(log_level: str, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from vamp_cli.logs import setup_logging

    setup_logging(log_level)
    return asyncio.run(make())


@cli.command("devices")
@json_option
def devices_command(as_json: bool) -> None:
    """List audio devices with their host API, channels and default sample rate."""
    from vamp_cli.audio.devices import list_devices

    found = list_devices()
    if as_json:
        click.echo(json.dumps([d.as_dict() for d in found]))
    else:
        click.echo("\n".join(d.describe() for d in found) or "no audio devices")


@cli.command("record")
@click.argument("vamp", required=False)
@click.option("--duration", type=float, required=True, metavar="SECONDS",
              help="How long to record.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Lossless file to write (.wav or .flac).")
@click.option("--at", type=float, default=0.0, show_default=True, metavar="SECONDS",
              help="Where the take starts on the timeline.")
@input_option()
@output_option()
@audio_format_options
@store_option
@mesh_options
@click.option("--confirm-timeout", type=float, default=30.0, show_default=True,
              metavar="SECONDS", help="With VAMP: how long to wait for every peer's confirmation.")
def record(vamp: str | None, duration: float, out: Path, at: float, confirm_timeout: float,
           as_json: bool, log_level: str, **options: Any) -> None:
    """Record a timed take into the store and into --out; with VAMP, stream it to every peer
    of that vamp as it is recorded and wait until each confirms holding it bit-exact."""
    from vamp_cli.session import RecordPlan, Session, default_name, session_options

    if vamp is None:
        from vamp_cli.audio.recording import record_locally

        result = record_locally(
            options["store_dir"], out, options["input_spec"], duration=duration, at=at,
            owner=options["name"] or default_name(), samplerate=options["samplerate"],
            channels=options["channels"], fmt=options["fmt"], blocksize=options["blocksize"],
        )
        if as_json:
            click.echo(json.dumps(result.as_dict()))
        else:
            click.echo(f"recorded take {result.info.short_id}: {result.frames} frames to {out} "
                       f"(sha256 {result.sha256[:16]}…, {result.capture.overflows} overflows)")
        return
    opts = session_options(vamp, monitor_default="timeline", at=at, **options)
    plan = RecordPlan(duration=duration, at=at, out=out, confirm_timeout=confirm_timeout)
    final = _run_session(log_level, lambda: Session(opts, Reporter(as_json)).record(plan))
    Reporter(as_json).result(final)
    missing = [p["name"] for p in final["peers"] if not p["confirmed"]]
    if missing:
        raise VampError(f"not confirmed by {', '.join(missing)} within {confirm_timeout:g} s")


@cli.command("play")
@store_option
@output_option()
@click.option("--mode", type=click.Choice(["timeline", "live"]), default="timeline",
              show_default=True, help="Takes at their timeline place, or as they arrive.")
@click.option("--play-from", type=float, default=0.0, show_default=True, metavar="SECONDS",
              help="Timeline position where the playhead starts.")
@click.option("--duration", type=float, default=None, metavar="SECONDS",
              help="Stop after this long [default: the end of the last take].")
@click.option("--jitter-ms", type=float, default=20.0, show_default=True,
              help="Jitter buffer in live mode.")
@audio_format_options
@json_option
def play(store_dir: Path, output_spec: OutputSpec, mode: str, play_from: float,
         duration: float | None, jitter_ms: float, samplerate: int, channels: int,
         fmt: SampleFormat, blocksize: int, as_json: bool) -> None:
    """Play the store's takes (listen back)."""
    from vamp_cli.audio.playback import play_store
    from vamp_cli.config import open_store

    store = open_store(store_dir)
    try:
        stats = asyncio.run(play_store(
            store, output_spec, mode=mode, play_from=play_from, duration=duration,
            samplerate=samplerate, channels=channels, fmt=fmt, jitter_ms=jitter_ms,
            blocksize=blocksize,
        ))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(stats.as_dict()))
    else:
        click.echo(f"played {stats.frames_played} frames ({stats.silent_frames} silent, "
                   f"{stats.underruns} underruns)")


@cli.command("takes")
@store_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per take, per line.")
def takes(store_dir: Path, as_json: bool) -> None:
    """List the takes in the store: owner, place on the timeline, length, status, hash."""
    from vamp_cli.inventory import show_takes

    show_takes(store_dir, as_json)


@cli.command("demo")
@click.option("--duration", type=float, default=3.0, show_default=True, metavar="SECONDS",
              help="Length of the demo take.")
def demo(duration: float) -> None:
    """A whole vamp on this machine: a signaling server and three peers on loopback; one
    records a take, and a table shows every peer holding it bit-exact."""
    from vamp_cli.demo import run_demo

    if not asyncio.run(run_demo(duration)):
        sys.exit(1)


def main() -> None:
    """Console entry point: user-facing errors become one line on stderr and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except VampError as exc:
        click.echo(f"vamp: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        # A bug of ours: one line for the user; the traceback when they ask for it.
        if os.environ.get("VAMP_DEBUG"):
            raise
        click.echo(
            f"vamp: internal error ({type(exc).__name__}: {exc}); please report it, with the "
            "traceback that VAMP_DEBUG=1 prints",
            err=True,
        )
        sys.exit(70)
