"""`vamp export`, run as the real command in a subprocess on stores built here."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vamp_cli.core.store import Store
from vamp_cli.core.take import SampleFormat, TakeInfo, new_take_id

RATE = 8000


def vamp(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vamp_cli", *map(str, args)], capture_output=True, text=True,
        timeout=60, env={**os.environ, **(env or {})},
    )


def add_take(store: Store, pcm: bytes, *, fmt: SampleFormat = SampleFormat.INT16,
             channels: int = 1, start: int = 0, owner: str = "dan", rate: int = RATE,
             seal: bool = True) -> TakeInfo:
    info = TakeInfo(new_take_id(), owner, start, rate, channels, fmt)
    store.start_take(info)
    store.append(info.take_id, 0, pcm)
    if seal:
        store.seal(info.take_id)
    return info


def random_pcm(fmt: SampleFormat, channels: int, frames: int, seed: int) -> bytes:
    """Every bit pattern of the format is fair game (including NaNs for float32)."""
    return np.random.default_rng(seed).bytes(frames * channels * fmt.width)


def read_back(path: str, fmt: SampleFormat) -> bytes:
    data, _ = sf.read(path, dtype=fmt.dtype, always_2d=True)
    return np.ascontiguousarray(data).astype(fmt.numpy_dtype).tobytes()


@pytest.mark.parametrize("file_format", ["wav", "flac"])
def test_every_take_is_exported_bit_exact(tmp_path: Path, file_format: str) -> None:
    store = Store(tmp_path / "store")
    takes = {
        add_take(store, random_pcm(fmt, channels, 3000, seed), fmt=fmt, channels=channels,
                 start=seed * 100, owner=f"p{seed}"): random_pcm(fmt, channels, 3000, seed)
        for seed, (fmt, channels) in enumerate(
            [(SampleFormat.INT16, 1), (SampleFormat.INT32, 2), (SampleFormat.FLOAT32, 3)]
        )
    }
    store.close()
    result = vamp("export", "--store", tmp_path / "store", "--out-dir", tmp_path / "out",
                  "--format", file_format, "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["take_id"] for line in lines] == [info.take_id for info in takes]
    for line, (info, pcm) in zip(lines, takes.items(), strict=True):
        assert line["sha256"] == hashlib.sha256(pcm).hexdigest()
        assert hashlib.sha256(read_back(line["path"], info.fmt)).hexdigest() == line["sha256"]
        assert (line["owner"], line["start"], line["frames"], line["samplerate"],
                line["channels"], line["dtype"], line["complete"], line["status"]) == (
            info.owner, info.start, 3000, RATE, info.channels, info.fmt.dtype, True, "complete")
        # int16 goes into FLAC; wider formats stay lossless in WAV, and the user is told.
        lossless_flac = file_format == "flac" and info.fmt is SampleFormat.INT16
        assert line["path"].endswith(".flac" if lossless_flac else ".wav")
        assert Path(line["path"]).name.startswith(f"{info.owner}-{info.take_id}")
        if file_format == "flac" and not lossless_flac:
            assert f"take {info.short_id} is {info.fmt.dtype}" in result.stderr


def test_incomplete_takes_export_what_is_held_contiguously(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    pcm = random_pcm(SampleFormat.INT16, 1, 100, 7)
    info = add_take(store, pcm[:80], seal=False)
    store.append(info.take_id, 60, pcm[120:200])  # frames 60..100 after a gap at 40..60
    store.end_take(info.take_id, 100, hashlib.sha256(pcm).digest())
    store.close()
    result = vamp("export", "--store", tmp_path / "store", "--out-dir", tmp_path / "out",
                  "--json")
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert (line["complete"], line["status"], line["frames"]) == (False, "incomplete", 40)
    assert read_back(line["path"], SampleFormat.INT16) == pcm[:80]
    human = vamp("export", "--store", tmp_path / "store", "--out-dir", tmp_path / "out")
    assert "incomplete, 40 of 100 frames" in human.stdout


def test_mix_places_every_take_at_its_timeline_position(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    first = np.full(1000, 8192, dtype="<i2")  # 0.25 from frame 0
    second = np.full((500, 2), [0.5, -0.5], dtype="<f4")  # stereo, from frame 700
    add_take(store, first.tobytes(), start=0)
    add_take(store, second.tobytes(), fmt=SampleFormat.FLOAT32, channels=2, start=700)
    store.close()
    mix = tmp_path / "mix.wav"
    result = vamp("export", "--out-dir", tmp_path / "out", "--mix", mix,
                  env={"VAMP_STORE": str(tmp_path / "store")})
    assert result.returncode == 0, result.stderr
    mixed, rate = sf.read(mix, dtype="float32", always_2d=True)
    expected = np.zeros((1200, 2), dtype=np.float32)
    expected[:1000] += 0.25  # a mono take spreads into both channels
    expected[700:1200] += [0.5, -0.5]
    assert rate == RATE
    np.testing.assert_array_equal(mixed, expected)


def test_takes_of_another_sample_rate_are_not_mixed(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    add_take(store, b"\x01\x00" * 10, rate=48000)
    add_take(store, b"\x01\x00" * 10, rate=44100, start=5, owner="jeff")
    store.close()
    mix = tmp_path / "mix.wav"
    result = vamp("export", "--store", tmp_path / "store", "--out-dir", tmp_path / "out",
                  "--mix", mix)
    assert result.returncode != 0
    assert "44100 Hz" in result.stderr and "48000 Hz" in result.stderr
    assert "Traceback" not in result.stderr
    assert not mix.exists()


def test_an_empty_store_exports_nothing_and_says_so(tmp_path: Path) -> None:
    Store(tmp_path / "store").close()
    result = vamp("export", "--store", tmp_path / "store", "--out-dir", tmp_path / "out")
    assert result.returncode == 0
    assert "nothing exported" in result.stderr
    assert result.stdout == ""


def test_unwritable_out_dir_and_missing_store_are_clear_errors(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    add_take(store, b"\x00\x00" * 10)
    store.close()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = vamp("export", "--store", tmp_path / "store", "--out-dir", blocker / "out")
    assert result.returncode != 0
    assert result.stderr.startswith("vamp: cannot write to") and "--out-dir" in result.stderr
    missing = vamp("export", "--store", tmp_path / "nowhere", "--out-dir", tmp_path / "out")
    assert missing.returncode != 0 and "no store at" in missing.stderr
    assert "Traceback" not in result.stderr + missing.stderr


def test_the_default_store_is_vamp_store_or_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from platformdirs import user_data_dir

    from vamp_cli.config import default_store_dir

    monkeypatch.setenv("VAMP_STORE", str(tmp_path / "mine"))
    assert default_store_dir() == tmp_path / "mine"
    monkeypatch.delenv("VAMP_STORE")
    assert default_store_dir() == Path(user_data_dir("vamp")) / "store"
