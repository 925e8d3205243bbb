"""Playback through a real PortAudio device, heard on a JACK port; the mixer's rules."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.audio.conftest import PERIOD
from tests.support.jack import JackServer
from vamp_cli.audio.playback import Player, parse_output
from vamp_cli.core.store import Store
from vamp_cli.core.take import SampleFormat, TakeInfo, new_take_id

RATE = 48000
VAMP = [sys.executable, "-m", "vamp_cli"]


def put_take(store: Store, start: int, pcm: np.ndarray, owner: str = "jeff") -> TakeInfo:
    info = TakeInfo(new_take_id(), owner, start, RATE, 1, SampleFormat.INT16)
    store.start_take(info)
    store.append(info.take_id, 0, pcm.astype("<i2").tobytes())
    store.seal(info.take_id)
    return info


def test_a_take_at_one_second_is_heard_one_second_after_the_playhead_starts(
    jack: JackServer, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store")
    # The marker take at 0 says where the playhead is: each sample holds its own position
    # (+1, so it is never silent). It ends before the take under test begins.
    marker_frames = int(0.6 * RATE)
    put_take(store, 0, np.arange(1, marker_frames + 1), owner="marker")
    put_take(store, RATE, np.full(RATE // 5, -12345), owner="jeff")
    store.close()

    client = f"vplay-{uuid.uuid4().hex[:6]}"
    with jack.record(seconds=4.0) as rec:
        player = subprocess.Popen(
            [*VAMP, "play", "--store", str(tmp_path / "store"), "--output", "default", "--json"],
            env=jack.client_env(client), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        jack.wait_for_port(f"{client}:out_0")
        jack.connect(f"{client}:out_0", rec.port)
        out, err = player.communicate(timeout=20)
        assert player.returncode == 0, err
    stats = json.loads(out)
    assert stats["underruns"] == 0 and stats["silent_frames"] == 0

    heard = np.round(rec.samples[:, 0] * 32768).astype(np.int64)
    marker_at = np.flatnonzero((heard > 0) & (heard <= marker_frames))
    assert marker_at.size > RATE // 10, "the recorder heard (almost) none of the marker take"
    first = int(marker_at[0])
    playhead_zero = first - (int(heard[first]) - 1)  # recorder frame where position 0 played
    # Bit-exact and sample-continuous from there on.
    np.testing.assert_array_equal(heard[first : marker_at[-1] + 1],
                                  np.arange(heard[first], heard[first] + marker_at[-1] + 1 - first))
    take_at = np.flatnonzero(heard == -12345)
    assert take_at.size == RATE // 5
    assert abs(int(take_at[0]) - playhead_zero - RATE) <= PERIOD


async def test_timeline_mode_mixes_takes_at_their_place_into_a_file(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    a = np.full(RATE // 10, 1000)
    b = np.full(RATE // 10, 200)
    put_take(store, RATE // 20, a)
    put_take(store, RATE // 10, b, owner="dan")
    out = tmp_path / "mix.wav"
    async with Player(store, parse_output(f"file:{out}"), play_from=RATE // 40) as player:
        await player.wait_until(RATE // 4)
    stats = player.stats()
    store.close()
    mix, rate = sf.read(out, dtype="int16")
    assert rate == RATE and stats.frames_played == len(mix) >= RATE // 4 - RATE // 40
    expect = np.zeros(len(mix), dtype=np.int64)
    base = RATE // 40  # the file starts at play_from
    expect[RATE // 20 - base : RATE // 20 - base + len(a)] += 1000
    expect[RATE // 10 - base : RATE // 10 - base + len(b)] += 200
    np.testing.assert_array_equal(mix, expect)
    assert stats.silent_frames == 0


async def test_live_mode_plays_arrivals_after_the_jitter_buffer_and_not_my_own(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "store")
    put_take(store, 0, np.full(RATE, 5))  # ended before the player started: history
    mine = TakeInfo(new_take_id(), "me", 0, RATE, 1, SampleFormat.INT16)
    theirs = TakeInfo(new_take_id(), "jeff", RATE * 7, RATE, 1, SampleFormat.INT16)
    out = tmp_path / "live.wav"
    jitter_ms = 20
    async with Player(store, parse_output(f"file:{out}"), mode="live", jitter_ms=jitter_ms,
                      exclude_owner="me") as player:
        await player.wait_until(RATE // 20)
        arrived_at = player.position
        for info in (mine, theirs):
            store.start_take(info)
            store.append(info.take_id, 0, np.full(RATE // 200, 300, "<i2").tobytes())
        await player.wait_until(arrived_at + RATE // 5)
    store.close()
    mix, _ = sf.read(out, dtype="int16")
    onset = int(np.flatnonzero(mix)[0])
    # The take's frame 0 plays jitter_ms after it arrived (within the block it was seen in).
    jitter = RATE * jitter_ms // 1000
    assert 0 <= onset - (arrived_at + jitter) <= 256
    assert np.count_nonzero(mix) == RATE // 200
    assert set(np.unique(mix)) == {0, 300}  # neither the old take nor my own take played
    assert player.stats().skipped_takes == ()


def test_live_mode_jumps_to_the_newest_frames_when_a_take_arrives_far_ahead(
    tmp_path: Path,
) -> None:
    """Joining mid-take, the first chunk is seen before the catch-up burst: the jam must
    stay live, not play the take from its start, seconds behind (pure: no device)."""
    from vamp_cli.audio.playback import PlayMode, _Mixer

    store = Store(tmp_path / "store")
    info = TakeInfo(new_take_id(), "jeff", 0, RATE, 1, SampleFormat.INT16)
    store.start_take(info)
    ramp = (np.arange(2 * RATE) % 30000).astype("<i2")
    store.append(info.take_id, 0, ramp[:256].tobytes())
    jitter = RATE // 50
    mixer = _Mixer(store, PlayMode.LIVE, RATE, 1, SampleFormat.INT16, jitter, None)
    mixer.render(0, 256, 0)  # first sight: frame 0 is scheduled a jitter buffer from now
    store.append(info.take_id, 256, ramp[256 : RATE + 256].tobytes())  # the catch-up burst
    block = mixer.render(256, 256, 256)
    newest = RATE + 256
    # What plays now is the newest frame less the jitter buffer, not frame 0.
    assert block[0, 0] == ramp[newest - jitter]
    # In time, frames arriving at the pace they are played do not move the schedule again.
    store.append(info.take_id, newest, ramp[newest : newest + 256].tobytes())
    nxt = mixer.render(512, 256, 512)
    assert nxt[0, 0] == ramp[newest - jitter + 256]
    store.close()
