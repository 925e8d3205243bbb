"""`vamp record`, `vamp play` and `vamp devices` as a user runs them: real processes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.jack import JackServer, wait_for
from vamp_cli.core.store import Store, TakeStatus

RATE = 48000
VAMP = [sys.executable, "-m", "vamp_cli"]


def vamp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VAMP, *args], capture_output=True, text=True, timeout=60, env=env)


def assert_user_error(res: subprocess.CompletedProcess[str], *phrases: str) -> None:
    """A non-zero exit with one error sentence: ours (``vamp: ...``) or click's usage error
    (``Error: ...`` after the usage lines), never a traceback."""
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith(("vamp: ", "Error: "))]
    assert len(errors) == 1, res.stderr
    assert len(lines) == 1 or lines[0].startswith("Usage: "), res.stderr
    for phrase in phrases:
        assert phrase in errors[0]


def test_record_tone_gives_a_take_whose_spectrum_peaks_at_440_hz(tmp_path: Path) -> None:
    out = tmp_path / "tone.wav"
    res = vamp("record", "--input", "tone:440", "--duration", "1", "--out", str(out),
               "--store", str(tmp_path / "store"), "--json", "--name", "ann")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    pcm, rate = sf.read(out, dtype="int16")
    assert rate == RATE and result["frames"] == len(pcm) == RATE
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    peak_hz = np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))]
    assert peak_hz == pytest.approx(440, abs=1)
    # The file is the store's take, bit for bit.
    assert result["sha256"] == hashlib.sha256(pcm.astype("<i2").tobytes()).hexdigest()
    store = Store(tmp_path / "store")
    (view,) = store.takes()
    assert view.info.take_id == result["take_id"] and view.status is TakeStatus.COMPLETE
    assert view.sha256 is not None and view.sha256.hex() == result["sha256"]
    assert (result["samplerate"], result["channels"], result["dtype"]) == (RATE, 1, "int16")
    store.close()


def test_kill_9_mid_take_leaves_a_file_and_a_take_holding_what_was_captured(
    tmp_path: Path,
) -> None:
    out = tmp_path / "take.wav"
    proc = subprocess.Popen(
        [*VAMP, "record", "--input", "tone:300", "--duration", "30", "--out", str(out),
         "--store", str(tmp_path / "store")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        def enough() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                return bool(sf.info(str(out)).frames >= RATE // 2)
            except (sf.LibsndfileError, RuntimeError):
                return False  # not created yet

        wait_for(enough, 15, "half a second of audio in the file")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    pcm, rate = sf.read(out, dtype="int16")
    assert rate == RATE and len(pcm) >= RATE // 2
    tone = np.round(0.5 * np.sin(2 * np.pi * 300 * np.arange(len(pcm)) / RATE) * 32767)
    np.testing.assert_array_equal(pcm, tone.astype(np.int16))
    store = Store(tmp_path / "store")
    (view,) = store.takes()
    assert view.status is TakeStatus.INCOMPLETE and view.length is None
    assert view.contiguous >= len(pcm)  # the store is written before the file
    assert store.read(view.info.take_id, 0, len(pcm)) == pcm.astype("<i2").tobytes()
    store.close()


def test_an_unwritable_out_path_is_refused_before_recording(tmp_path: Path) -> None:
    store = tmp_path / "store"
    started = time.monotonic()
    res = vamp("record", "--input", "tone:440", "--duration", "5", "--out",
               str(tmp_path / "missing-dir" / "x.wav"), "--store", str(store))
    assert_user_error(res, "missing-dir", "does not exist")
    assert time.monotonic() - started < 5  # it did not record first
    (tmp_path / "adir.wav").mkdir()
    res = vamp("record", "--input", "tone:440", "--duration", "5", "--out",
               str(tmp_path / "adir.wav"), "--store", str(store))
    assert_user_error(res, "is a directory")
    res = vamp("record", "--input", "tone:440", "--duration", "5", "--dtype", "float32",
               "--out", str(tmp_path / "x.flac"), "--store", str(store))
    assert_user_error(res, "FLAC", "float32")
    assert Store(store).takes() == []


def test_a_wrong_device_name_lists_the_devices(jack: JackServer, tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    res = vamp("record", "--input", "Nonexistent Mic", "--duration", "1", "--out", str(out),
               "--store", str(tmp_path / "store"), env=jack.env)
    assert_user_error(res, "no input device matches 'Nonexistent Mic'", "0: system")
    assert not out.exists()
    res = vamp("play", "--output", "99", "--store", str(tmp_path / "store"), env=jack.env)
    assert_user_error(res, "no output device matches 99")


def test_devices_lists_the_jack_devices(jack: JackServer) -> None:
    res = vamp("devices", "--json", env=jack.env)
    assert res.returncode == 0, res.stderr
    (system,) = [d for d in json.loads(res.stdout) if d["name"] == "system"]
    assert system["hostapi"] == "JACK Audio Connection Kit"
    assert system["max_input_channels"] >= 1 and system["default_samplerate"] == RATE


def test_missing_portaudio_says_which_package_to_install(tmp_path: Path) -> None:
    # A sitecustomize that makes the library lookup find nothing, as on a machine without
    # libportaudio2 (sounddevice looks PortAudio up with ctypes.util.find_library).
    (tmp_path / "sitecustomize.py").write_text(
        "import ctypes.util\n"
        "_find = ctypes.util.find_library\n"
        "ctypes.util.find_library = lambda name: None if 'portaudio' in name else _find(name)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    for args in (["devices"], ["play", "--store", str(tmp_path / "s"), "--duration", "1"]):
        res = vamp(*args, env=env)
        assert_user_error(res, "PortAudio is not installed", "apt-get install libportaudio2")
