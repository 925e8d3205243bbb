"""`make demo` is the README's first command: it must work and show the truth."""

from __future__ import annotations

import subprocess

from tests.support.peers import VAMP


def test_demo_shows_every_peer_bit_exact_and_leaves_nothing_running() -> None:
    result = subprocess.run(
        [str(VAMP), "demo", "--duration", "1"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every peer holds the take bit-exact" in result.stdout
    rows = [line for line in result.stdout.splitlines() if "listener" in line]
    assert len(rows) == 2 and all("yes" in row for row in rows), result.stdout
    assert "48000" in result.stdout  # one second of frames held by each peer
    assert "Traceback" not in result.stderr
    leftovers = subprocess.run(
        ["pgrep", "-f", "vamp_cli join demo"], capture_output=True, text=True
    )
    assert leftovers.stdout == ""
