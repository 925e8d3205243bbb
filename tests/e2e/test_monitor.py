"""What a receiver plays: a take arriving over the mesh is heard live, sample for sample."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.support.peers import PeerProcess, exported_takes
from tests.support.signal_server import running_signal_server


def test_a_take_is_played_live_on_the_receiver_exactly_as_recorded(tmp_path: Path) -> None:
    heard = tmp_path / "heard.wav"
    vamp = f"monitor-{uuid.uuid4().hex[:8]}"
    with running_signal_server() as server:
        jeff = PeerProcess.join(
            server.url, vamp, "jeff", tmp_path, "--output", f"file:{heard}", "--monitor", "live"
        )
        try:
            jeff.wait_event("joining")
            dan = PeerProcess.record(server.url, vamp, "dan", tmp_path, duration=1.5)
            assert dan.wait() == 0, dan.describe()
            take_id = dan.final()["take_id"]
            jeff.wait_event("take-complete", take_id=take_id)
            jeff.signal(signal.SIGINT)
            assert jeff.wait() == 0, jeff.describe()
        finally:
            jeff.stop()
    take = exported_takes(jeff.store, tmp_path / "export")[take_id]
    recorded, _ = sf.read(take["path"], dtype="int16")
    played, rate = sf.read(heard, dtype="int16")
    assert rate == 48000
    sounding = np.flatnonzero(played)
    assert sounding.size, "nothing was played"
    # Align the first sounding sample of each (a sine may start at exactly 0).
    start = int(sounding[0]) - int(np.flatnonzero(recorded)[0])
    assert np.array_equal(played[start : start + len(recorded)], recorded)
    spectrum = np.abs(np.fft.rfft(played[start : start + len(recorded)].astype(float)))
    assert abs(np.argmax(spectrum) * rate / len(recorded) - 440) < 2
