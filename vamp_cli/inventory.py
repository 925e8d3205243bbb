"""`vamp takes`: what a store holds, one row per take, for people or for scripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from vamp_cli.config import open_store
from vamp_cli.core.store import TakeView


def describe(view: TakeView) -> dict[str, Any]:
    """One take as ``vamp takes --json`` prints it."""
    info = view.info
    return {
        "owner": info.owner,
        "take_id": info.take_id,
        "start": info.start,
        "frames": view.length if view.length is not None else view.contiguous,
        "held": view.contiguous,
        "missing": (view.length - view.contiguous) if view.length is not None else None,
        "samplerate": info.samplerate,
        "channels": info.channels,
        "dtype": info.fmt.dtype,
        "status": str(view.status),
        "complete": view.complete,
        "sha256": view.sha256.hex() if view.sha256 is not None else None,
    }


def show_takes(store_dir: Path | None, as_json: bool, console: Console | None = None) -> int:
    """Print the store's takes, in timeline order; returns how many there are."""
    store = open_store(store_dir)
    try:
        rows = [describe(view) for view in store.takes()]
        directory = store.directory
    finally:
        store.close()
    console = console or Console()
    if as_json:
        for row in rows:
            print(json.dumps(row), flush=True)
        return len(rows)
    if not rows:
        console.print(f"no takes in {directory}")
        return 0
    table = Table(title=f"takes in {directory}")
    for column in ("owner", "take", "at", "length", "format", "status", "SHA-256"):
        table.add_column(column)
    for row in rows:
        rate = row["samplerate"]
        length = f"{row['frames'] / rate:.2f} s"
        if row["missing"]:
            length += f" ({row['missing'] / rate:.2f} s missing)"
        table.add_row(
            row["owner"], row["take_id"][:8], f"{row['start'] / rate:.2f} s", length,
            f"{rate} Hz {row['channels']} ch {row['dtype']}", row["status"],
            (row["sha256"] or "")[:16],
        )
    console.print(table)
    return len(rows)
