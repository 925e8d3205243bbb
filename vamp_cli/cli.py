"""The `vamp` command line: parse options, build the objects, run them. No logic lives here."""

from __future__ import annotations

import sys

import click

from vamp_cli import __version__
from vamp_cli.errors import VampError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vamp")
def cli() -> None:
    """Record together over a WebRTC mesh, from the terminal."""


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
