"""Command-line options shared by several commands, defined once as click decorators.

Each decorator parses its value into what the package takes (an InputSpec, an OutputSpec,
a SampleFormat, a Path), so commands receive ready objects.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from vamp_cli.core.take import SampleFormat

F = TypeVar("F", bound=Callable[..., Any])


def _input(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    from vamp_cli.audio.capture import parse_input

    return parse_input(value)


def _output(_ctx: click.Context, _param: click.Parameter, value: str) -> Any:
    from vamp_cli.audio.playback import parse_output

    return parse_output(value)


def _dtype(_ctx: click.Context, _param: click.Parameter, value: str) -> SampleFormat:
    return SampleFormat.from_dtype(value)


def _store(_ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path:
    if value is not None:
        return value
    from vamp_cli.config import default_store_dir

    return default_store_dir()


def input_option(default: str = "default") -> Callable[[F], F]:
    """``--input``: device index/name, ``default``, ``tone:HZ``, ``file:PATH`` or ``none``;
    the command gets an :class:`~vamp_cli.audio.capture.InputSpec`."""
    return click.option(
        "--input",
        "input_spec",
        default=default,
        show_default=True,
        callback=_input,
        metavar="DEVICE|tone:HZ|file:PATH|none",
        help="What to record: a device (index or name, `default`), a sine tone, a sound file, "
        "or nothing.",
    )


def output_option(default: str = "default") -> Callable[[F], F]:
    """``--output``: device index/name, ``default``, ``file:PATH`` or ``none``; the command
    gets an :class:`~vamp_cli.audio.playback.OutputSpec`."""
    return click.option(
        "--output",
        "output_spec",
        default=default,
        show_default=True,
        callback=_output,
        metavar="DEVICE|file:PATH|none",
        help="Where to play: a device (index or name, `default`), a sound file, or nothing.",
    )


def samplerate_option(f: F) -> F:
    return click.option(
        "--samplerate",
        type=click.IntRange(8000, 768000),
        default=48000,
        show_default=True,
        help="Frames per second.",
    )(f)


def channels_option(f: F) -> F:
    return click.option(
        "--channels",
        type=click.IntRange(1, 255),
        default=1,
        show_default=True,
        help="Audio channels.",
    )(f)


def dtype_option(f: F) -> F:
    """``--dtype``; the command gets a :class:`SampleFormat` as ``fmt``."""
    return click.option(
        "--dtype",
        "fmt",
        type=click.Choice(["int16", "int32", "float32"]),
        default="int16",
        show_default=True,
        callback=_dtype,
        help="Sample format.",
    )(f)


def blocksize_option(f: F) -> F:
    return click.option(
        "--blocksize", type=click.IntRange(16, 8192), default=256, show_default=True,
        metavar="FRAMES",
        help="Frames per audio callback: lower is less latency and more CPU. Match your "
        "device's period (e.g. JACK's -p) for the least latency.",
    )(f)


def audio_format_options(f: F) -> F:
    """``--samplerate``, ``--channels``, ``--dtype`` and ``--blocksize`` together."""
    return samplerate_option(channels_option(dtype_option(blocksize_option(f))))


def store_option(f: F) -> F:
    """``--store DIR``; the command gets a Path (the per-user default when not given)."""
    return click.option(
        "--store",
        "store_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        callback=_store,
        help="Store directory holding the takes [default: per-user data dir].",
    )(f)


def json_option(f: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as one JSON object."
    )(f)


def mesh_options(f: F) -> F:
    """Options of every command that joins a vamp (``join``, ``record VAMP``); the command
    gets server, token, name, ice_servers, ice_hosts, monitor, play_from, jitter_ms,
    as_json and log_level."""
    for option in reversed(
        [
            click.option(
                "--server",
                envvar="VAMP_SERVER",
                default="http://127.0.0.1:4567",
                show_default=True,
                help="The signaling server.",
            ),
            click.option(
                "--connect-timeout",
                type=click.FloatRange(0),
                default=10.0,
                show_default=True,
                metavar="SECONDS",
                help="How long to keep trying to reach the signaling server at start.",
            ),
            click.option(
                "--token",
                envvar="VAMP_TOKEN",
                default=None,
                help="Token from `vamp token`, when the server has a --secret.",
            ),
            click.option(
                "--name",
                envvar="VAMP_NAME",
                default=None,
                help="Your name in the vamp; it also identifies your takes across "
                "reconnects. [default: user@host]",
            ),
            click.option(
                "--ice-server",
                "ice_servers",
                multiple=True,
                metavar="URL",
                help="stun:HOST:PORT or turn:USER:PASS@HOST:PORT (repeatable); replaces "
                "the server's list. None by default.",
            ),
            click.option(
                "--ice-host",
                "ice_hosts",
                multiple=True,
                metavar="ADDR",
                help="Gather ICE host candidates only on ADDR (repeatable).",
            ),
            click.option(
                "--monitor",
                type=click.Choice(["live", "timeline", "off"]),
                default=None,
                help="Play others' takes as they arrive (live, join's default), on the "
                "timeline (record's default), or not at all.",
            ),
            click.option(
                "--play-from",
                type=float,
                default=None,
                metavar="SECONDS",
                help="Timeline position where the playhead starts [default: 0, or --at].",
            ),
            click.option(
                "--jitter-ms",
                type=float,
                default=20.0,
                show_default=True,
                help="Jitter buffer of live monitoring.",
            ),
            click.option(
                "--json",
                "as_json",
                is_flag=True,
                help="One JSON object per line per event (and a final one).",
            ),
            click.option(
                "--log-level",
                envvar="VAMP_LOG_LEVEL",
                default="warning",
                show_default=True,
                type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
            ),
        ]
    ):
        f = option(f)
    return f
