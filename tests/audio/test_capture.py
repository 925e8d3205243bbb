"""Capture from a real PortAudio device (JACK's dummy driver) into a real store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tests.audio.conftest import PERIOD
from tests.support.jack import JackServer
from vamp_cli.audio.capture import parse_input, record_take
from vamp_cli.core.store import Store, TakeStatus
from vamp_cli.core.take import SampleFormat, TakeInfo, new_take_id
from vamp_cli.errors import VampError

RATE = 48000


def new_info(fmt: SampleFormat = SampleFormat.INT16, channels: int = 1) -> TakeInfo:
    return TakeInfo(new_take_id(), "tester", 0, RATE, channels, fmt)


async def test_two_seconds_from_the_default_input_give_two_seconds_of_frames(
    jack: JackServer, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    info = new_info()
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[float, int]] = []  # (when, frames held) at every append

    def on_change(take_id: str) -> None:
        view = store.get(take_id)
        if take_id == info.take_id and view is not None and view.contiguous:
            arrivals.append((loop.time(), view.contiguous))

    store.subscribe(on_change)
    started = loop.time()
    report = await record_take(store, info, parse_input("default"), frames=2 * RATE)
    elapsed = loop.time() - started

    assert report.frames == report.take.length == 2 * RATE
    assert report.take.status is TakeStatus.COMPLETE
    # Our ring never overflowed. PortAudio's own input-overflow flag is counted but not
    # asserted: a non-realtime JACK on a busy 2-core box raises it now and then (measured).
    assert report.ring_dropped == 0
    assert report.overflows == report.input_overflows
    assert "JACK" in report.source
    # The frames came from the device at its pace, not in a burst (no upper bound on time:
    # a loaded machine slows a non-realtime JACK down, and speed is for benchmarks)...
    assert elapsed >= 2.0 - PERIOD / RATE
    # ...and reached the store as they came, a few periods at a time, not at the end.
    steps = np.diff([0] + [n for _, n in arrivals])
    assert steps.max() <= 8 * PERIOD
    assert len(arrivals) >= 2 * RATE // (8 * PERIOD)
    store.close()


async def test_stop_keeps_what_was_captured_when_it_was_set(
    jack: JackServer, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    info = new_info()
    stop = asyncio.Event()
    seen = 0

    def on_change(take_id: str) -> None:
        nonlocal seen
        view = store.get(take_id)
        if take_id == info.take_id and view is not None:
            seen = view.contiguous
            if seen >= RATE // 2:
                stop.set()

    store.subscribe(on_change)
    report = await asyncio.wait_for(
        record_take(store, info, parse_input("default"), stop=stop), 10
    )
    # Stopped at the first append past half a second: nothing captured later was kept.
    assert RATE // 2 <= report.frames == seen < RATE // 2 + 2 * PERIOD
    assert report.take.complete
    store.close()


async def test_a_frame_count_records_exactly_that_many_frames(
    jack: JackServer, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    info = new_info(SampleFormat.FLOAT32, channels=2)
    report = await record_take(store, info, parse_input("system"), frames=RATE // 4,
                               blocksize=128)
    assert report.frames == RATE // 4
    view = store.get(info.take_id)
    assert view is not None and view.complete and view.length == RATE // 4
    assert len(store.read(info.take_id, 0, RATE)) == RATE // 4 * info.frame_bytes
    store.close()


async def test_an_unknown_device_is_refused_before_the_take_exists(
    jack: JackServer, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    with pytest.raises(VampError, match=r"no input device matches 'no-such-mic'.*system"):
        await record_take(store, new_info(), parse_input("no-such-mic"), frames=10)
    assert store.takes() == []
    store.close()


async def test_a_file_input_is_captured_bit_exact(tmp_path: Path) -> None:
    import soundfile as sf

    rng = np.random.default_rng(7)
    pcm = rng.integers(-32768, 32767, size=(RATE // 10, 1), dtype=np.int16)
    sf.write(tmp_path / "in.wav", pcm, RATE, subtype="PCM_16")
    store = Store(tmp_path / "store")
    info = new_info()
    report = await record_take(store, info, parse_input(f"file:{tmp_path / 'in.wav'}"))
    assert report.frames == len(pcm)
    assert store.read(info.take_id, 0, len(pcm)) == pcm.astype("<i2").tobytes()
    store.close()


@pytest.mark.parametrize(
    ("spec", "message"),
    [("tone:abc", "positive frequency"), ("tone:-3", "positive frequency"),
     ("file:/no/such.wav", "does not exist")],
)
def test_bad_input_specs_say_what_is_accepted(spec: str, message: str) -> None:
    with pytest.raises(VampError, match=message):
        parse_input(spec)
