"""Defaults and environment variables shared by the commands."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

from vamp_cli.core.store import Store, StoreError
from vamp_cli.errors import VampError

STORE_ENV = "VAMP_STORE"
"""Environment variable naming the store directory (what ``--store`` defaults to)."""


def default_store_dir() -> Path:
    """``$VAMP_STORE`` when set, else the per-user data directory's ``vamp/store``."""
    from_env = os.environ.get(STORE_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return Path(user_data_dir("vamp")) / "store"


def open_store(directory: Path | None = None, ring_seconds: float = 30.0) -> Store:
    """Open the store a command's ``--store`` names (default: :func:`default_store_dir`),
    with a VampError the user can act on when it cannot be opened."""
    try:
        return Store(directory or default_store_dir(), ring_seconds=ring_seconds)
    except StoreError as exc:
        raise VampError(str(exc)) from None
