"""`vamp takes` lists what a store holds, through the real command."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from vamp_cli.core.store import Store
from vamp_cli.core.take import SampleFormat, TakeInfo, new_take_id

VAMP = Path(sys.executable).with_name("vamp")


def test_takes_lists_complete_and_incomplete_takes(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    done = TakeInfo(new_take_id(), "dan", 48000, 48000, 1, SampleFormat.INT16)
    cut = TakeInfo(new_take_id(), "jeff", 0, 48000, 2, SampleFormat.FLOAT32)
    pcm = bytes(range(200)) * 2
    store.start_take(done)
    store.append(done.take_id, 0, pcm)
    store.seal(done.take_id)
    store.start_take(cut)
    store.append(cut.take_id, 0, bytes(8 * 10))
    store.end_take(cut.take_id, 30, bytes(32))  # 20 frames never arrived
    store.close()

    out = subprocess.run(
        [str(VAMP), "takes", "--store", str(tmp_path / "store"), "--json"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    rows = {r["owner"]: r for r in map(json.loads, out.splitlines())}
    assert list(rows) == ["jeff", "dan"]  # timeline order
    assert rows["dan"]["complete"] is True and rows["dan"]["frames"] == 200
    assert rows["dan"]["sha256"] == hashlib.sha256(pcm).hexdigest()
    assert rows["jeff"]["complete"] is False and rows["jeff"]["missing"] == 20
    assert rows["jeff"]["status"] == "incomplete"

    table = subprocess.run(
        [str(VAMP), "takes", "--store", str(tmp_path / "store")],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    assert "0.00 s missing" not in table and "missing" in table and "complete" in table
