"""Playback: mix every take in the store at its place relative to a playhead, to an output.

Outputs (``--output``): a device (index or name; empty/``default`` = the system default),
``file:PATH`` (what would be played, written with soundfile, paced by the clock), ``none``
(paced by the clock, discarded: the statistics still count).

Modes:
- ``timeline``: the playhead starts at ``play_from`` and moves at the sample rate; a take
  sounds when the playhead reaches its start. Frames not yet arrived play as silence and
  are counted in ``silent_frames``.
- ``live``: takes play as their frames arrive. When a take's first frames are seen, its
  frame 0 is scheduled ``jitter_ms`` after what is audible now (or, for a take first seen
  already longer than that, its newest frame: joining mid-take); takes already ended
  when the player starts, and takes of ``exclude_owner`` (the local peer), are not played.

For a device, a feeder task renders blocks from the store into a preallocated
:class:`~vamp_cli.core.ring.FrameRing` about two blocks ahead; the PortAudio callback only
copies from that ring (it never touches the store) and counts underruns.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from vamp_cli.audio import devices
from vamp_cli.core.ring import FrameRing
from vamp_cli.core.store import Store, TakeView
from vamp_cli.core.take import SampleFormat
from vamp_cli.errors import VampError

log = logging.getLogger(__name__)

OutputKind = Literal["device", "file", "none"]
LOOKAHEAD_BLOCKS = 2  # blocks rendered ahead of the callback: enough to ride out loop jitter
LIVE_SLACK = 1024
"""Frames a live take may run ahead of its schedule (beyond twice the jitter buffer) before
playback jumps forward to its newest frames."""


class PlayMode(StrEnum):
    TIMELINE = "timeline"
    LIVE = "live"


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """A parsed ``--output``."""

    kind: OutputKind
    device: int | str | None = None
    path: Path | None = None

    def describe(self) -> str:
        if self.kind == "device":
            return "default output device" if self.device is None else f"device {self.device!r}"
        return f"file:{self.path}" if self.kind == "file" else "none"


def parse_output(spec: str) -> OutputSpec:
    """Parse an ``--output`` value; VampError on a bad one."""
    text = spec.strip()
    if text.lower() == "none":
        return OutputSpec("none")
    if text.lower().startswith("file:"):
        if not text[5:]:
            raise VampError("give the output file as file:PATH, e.g. file:mix.wav")
        return OutputSpec("file", path=Path(text[5:]).expanduser())
    if text in ("", "default"):
        return OutputSpec("device")
    return OutputSpec("device", device=devices.parse_device(text))


@dataclass(frozen=True, slots=True)
class PlaybackStats:
    """``frames_played``: frames handed to the output. ``silent_frames``: take frames that
    were due but had not arrived. ``underruns``: callbacks that found the output ring short
    (``underrun_frames`` zero frames filled in). ``skipped_takes``: ids of takes not played
    because their sample rate differs from the output's."""

    frames_played: int
    silent_frames: int
    underruns: int
    underrun_frames: int
    output_underflows: int
    latency: float
    skipped_takes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames_played": self.frames_played,
            "silent_frames": self.silent_frames,
            "underruns": self.underruns,
            "underrun_frames": self.underrun_frames,
            "output_underflows": self.output_underflows,
            "latency": self.latency,
            "skipped_takes": list(self.skipped_takes),
        }


_FULL_SCALE = {SampleFormat.INT16: 32768.0, SampleFormat.INT32: 2147483648.0}


def to_unit(pcm: npt.NDArray[Any], fmt: SampleFormat) -> npt.NDArray[np.float64]:
    """Samples as float64 in [-1, 1): exact for every int16/int32/float32 value."""
    return pcm.astype(np.float64) / _FULL_SCALE.get(fmt, 1.0)


def from_unit(mix: npt.NDArray[np.float64], fmt: SampleFormat) -> npt.NDArray[Any]:
    """The inverse of :func:`to_unit`, clipping what a mix pushed beyond full scale."""
    if fmt is SampleFormat.FLOAT32:
        return mix.astype(np.float32)
    scale = _FULL_SCALE[fmt]
    return np.clip(np.round(mix * scale), -scale, scale - 1).astype(fmt.numpy_dtype)


def map_channels(block: npt.NDArray[np.float64], channels: int) -> npt.NDArray[np.float64]:
    """Fit a take's channels to the output: mono spreads to all, many-to-mono averages,
    otherwise channel i goes to channel i (extra channels are dropped, missing ones silent)."""
    have = block.shape[1]
    if have == channels:
        return block
    if have == 1:
        return np.repeat(block, channels, axis=1)
    if channels == 1:
        mono: npt.NDArray[np.float64] = block.mean(axis=1, keepdims=True)
        return mono
    out = np.zeros((block.shape[0], channels), dtype=np.float64)
    n = min(have, channels)
    out[:, :n] = block[:, :n]
    return out


@dataclass(slots=True)
class _Counters:
    """Callback-side counters: written on PortAudio's thread, read by the event loop."""

    played: int = 0
    underruns: int = 0
    underrun_frames: int = 0
    output_underflows: int = 0


@dataclass(slots=True)
class _Mixer:
    """Renders output blocks from the store: the playback rule in one place."""

    store: Store
    mode: PlayMode
    samplerate: int
    channels: int
    fmt: SampleFormat
    jitter: int
    exclude_owner: str | None
    silent: int = 0
    skipped: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)  # live mode: takes never to play
    live_offsets: dict[str, int] = field(default_factory=dict)

    def ignore_existing(self) -> None:
        """Live mode: takes that ended before we started are history, not part of the jam."""
        for view in self.store.takes():
            if view.ended:
                self.ignored.add(view.info.take_id)

    def _placement(self, view: TakeView, audible: int, render_pos: int) -> int | None:
        """Output position of the take's frame 0, or None if it does not play (yet)."""
        info = view.info
        if info.samplerate != self.samplerate:
            if info.take_id not in self.skipped:
                self.skipped.add(info.take_id)
                log.warning(
                    "take %s is at %d Hz, output at %d Hz: not played",
                    info.short_id, info.samplerate, self.samplerate,
                )
            return None
        if self.mode is PlayMode.TIMELINE:
            return info.start
        if info.take_id in self.ignored or info.owner == self.exclude_owner:
            return None
        offset = self.live_offsets.get(info.take_id)
        if offset is None:
            if view.contiguous == 0:
                return None
            # Frame 0 plays jitter later than what is audible now. A take first seen already
            # longer than the buffer (joined mid-take) plays from its newest frame instead,
            # so the jam stays live.
            behind = view.contiguous if view.contiguous > self.jitter else 0
            offset = max(audible + self.jitter, render_pos) - behind
            self.live_offsets[info.take_id] = offset
        elif view.contiguous - (audible - offset) > 2 * self.jitter + LIVE_SLACK:
            # Far more is waiting than the jitter buffer holds: the take was first seen while
            # it was still being caught up (we joined mid-take), or its sender's clock runs
            # fast of ours. A jam stays live: jump to the newest frames.
            offset = max(audible + self.jitter, render_pos) - view.contiguous
            self.live_offsets[info.take_id] = offset
        return offset

    def render(self, pos: int, n: int, audible: int) -> npt.NDArray[Any]:
        """The output block for positions [pos, pos + n); ``audible`` is the position the
        listener hears now (live mode schedules new takes from it)."""
        mix = np.zeros((n, self.channels), dtype=np.float64)
        for view in self.store.takes():
            place = self._placement(view, audible, pos)
            if place is None:
                continue
            lo = max(pos, place)
            hi = pos + n
            if view.length is not None:
                hi = min(hi, place + view.length)
            if lo >= hi:
                continue
            info = view.info
            want = hi - lo
            pcm = self.store.read(info.take_id, lo - place, want)
            got = len(pcm) // info.frame_bytes
            self.silent += want - got
            if got:
                block = np.frombuffer(pcm, dtype=info.fmt.numpy_dtype).reshape(got, info.channels)
                mix[lo - pos : lo - pos + got] += map_channels(to_unit(block, info.fmt),
                                                               self.channels)
        return from_unit(mix, self.fmt)


class Player:
    """Plays the store to an output while the ``async with`` block runs.

    ``play_from`` is a timeline position in frames (timeline mode). Leaving the block stops
    playback and closes the output; errors from the feeder surface there.
    """

    def __init__(
        self,
        store: Store,
        output: OutputSpec,
        *,
        mode: PlayMode | str = PlayMode.TIMELINE,
        samplerate: int = 48000,
        channels: int = 1,
        fmt: SampleFormat = SampleFormat.INT16,
        play_from: int = 0,
        jitter_ms: float = 20.0,
        exclude_owner: str | None = None,
        blocksize: int = 256,
    ) -> None:
        try:
            self._mode = PlayMode(mode)
        except ValueError:
            raise VampError(f"unknown playback mode {mode!r}: use timeline or live") from None
        if play_from < 0:
            raise VampError(f"cannot play from a negative position ({play_from} frames)")
        if jitter_ms < 0:
            raise VampError(f"the jitter buffer cannot be negative ({jitter_ms} ms)")
        self._store = store
        self._output = output
        self._rate = samplerate
        self._channels = channels
        self._fmt = fmt
        self._start = play_from if self._mode is PlayMode.TIMELINE else 0
        self._block = blocksize
        self._mixer = _Mixer(
            store, self._mode, samplerate, channels, fmt,
            round(jitter_ms * samplerate / 1000), exclude_owner,
        )
        self._counters = _Counters()
        self._ring = FrameRing(blocksize * LOOKAHEAD_BLOCKS * 4, channels, fmt.numpy_dtype)
        self._render_pos = self._start
        self._latency = 0.0
        self._stream: Any = None
        self._file: Any = None
        self._stopping = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None

    @property
    def position(self) -> int:
        """The playhead: the timeline position of the next frame the output will take."""
        return self._start + self._counters.played

    def stats(self) -> PlaybackStats:
        c = self._counters
        return PlaybackStats(
            frames_played=c.played,
            silent_frames=self._mixer.silent,
            underruns=c.underruns,
            underrun_frames=c.underrun_frames,
            output_underflows=c.output_underflows,
            latency=self._latency,
            skipped_takes=tuple(sorted(self._mixer.skipped)),
        )

    def material_end(self) -> int:
        """Timeline position one past the last frame of any playable take held now."""
        ends = [
            v.info.start + (v.length if v.length is not None else v.highest)
            for v in self._store.takes()
            if v.info.samplerate == self._rate
        ]
        return max(ends, default=0)

    async def wait_until(self, position: int) -> None:
        """Return once the playhead has reached ``position``."""
        # The playhead moves on PortAudio's thread, which cannot set an asyncio.Event.
        while self.position < position:  # noqa: ASYNC110
            await asyncio.sleep(max(self._block / self._rate / 2, 0.001))

    async def __aenter__(self) -> Player:
        if self._mode is PlayMode.LIVE:
            self._mixer.ignore_existing()
        if self._output.kind == "device":
            await self._open_device()
        elif self._output.kind == "file":
            self._open_file()
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        if self._output.kind == "device":
            tg.create_task(self._feed_ring())
        else:
            tg.create_task(self._feed_clock())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Stop the stream before the feeder, so its last callbacks still find material
        # (an empty ring there would count underruns that no listener heard).
        try:
            if self._stream is not None:
                await asyncio.to_thread(_close, self._stream)
                self._stream = None
        finally:
            self._stopping.set()
        try:
            if self._tg is not None:
                await self._tg.__aexit__(exc_type, exc, tb)
        except ExceptionGroup as group:
            # One failure (the body's or the feeder's) should reach the caller as itself.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        finally:
            if self._stream is not None:
                await asyncio.to_thread(_close, self._stream)
            if self._file is not None:
                self._file.close()

    def _audible(self) -> int:
        return self.position

    def _render_next(self) -> npt.NDArray[Any]:
        block = self._mixer.render(self._render_pos, self._block, self._audible())
        self._render_pos += self._block
        return block

    async def _open_device(self) -> None:
        sd = devices.sounddevice()
        device = devices.find_device(self._output.device, "output")
        ring, counters = self._ring, self._counters

        def callback(outdata: npt.NDArray[Any], frames: int, _time: Any, status: Any) -> None:
            # Runs on PortAudio's thread: only the ring and counters.
            if status.output_underflow:
                counters.output_underflows += 1
            n = ring.read_into(outdata)
            if n < frames:
                outdata[n:] = 0
                counters.underruns += 1
                counters.underrun_frames += frames - n
            counters.played += frames

        # Prefill so the first callback finds material: the playhead starts at play_from.
        while ring.available < self._block * LOOKAHEAD_BLOCKS:
            ring.write(self._render_next())

        def open_stream() -> Any:
            stream = sd.OutputStream(
                device=device.index, samplerate=self._rate, channels=self._channels,
                dtype=self._fmt.dtype, blocksize=self._block, callback=callback,
            )
            stream.start()
            return stream

        try:
            self._stream = await asyncio.to_thread(open_stream)
        except sd.PortAudioError as exc:
            raise VampError(
                f"could not open output {device.name!r} at {self._rate} Hz, "
                f"{self._channels} channel(s), {self._fmt.dtype}: {exc}; try another "
                "--samplerate/--channels or device (see `vamp devices`)"
            ) from exc
        self._latency = float(self._stream.latency)

    def _open_file(self) -> None:
        import soundfile as sf

        assert self._output.path is not None
        path = self._output.path
        subtype = {SampleFormat.INT16: "PCM_16", SampleFormat.INT32: "PCM_32",
                   SampleFormat.FLOAT32: "FLOAT"}[self._fmt]
        try:
            self._file = sf.SoundFile(
                str(path), "w", samplerate=self._rate, channels=self._channels,
                subtype=subtype, format=_file_format(path),
            )
        except (sf.LibsndfileError, OSError, RuntimeError) as exc:
            raise VampError(
                f"cannot write {path}: {exc}; choose a writable .wav or .flac path"
            ) from exc

    async def _feed_ring(self) -> None:
        poll = self._block / self._rate / 2
        while not self._stopping.is_set():
            while self._ring.free >= self._block and (
                self._ring.available < self._block * LOOKAHEAD_BLOCKS
            ):
                self._ring.write(self._render_next())
            await asyncio.sleep(poll)

    async def _feed_clock(self) -> None:
        """File and none outputs: take each block when the clock says a device would."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while not self._stopping.is_set():
            due = int((loop.time() - t0) * self._rate)
            if due - self._counters.played < self._block:
                await asyncio.sleep((self._counters.played + self._block - due) / self._rate)
                continue
            block = self._render_next()
            if self._file is not None:
                self._file.write(block)
            self._counters.played += self._block


def _file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".wav":
        return "WAV"
    if suffix == ".flac":
        return "FLAC"
    raise VampError(f"cannot tell the format of {path}: name it .wav or .flac")


def _close(stream: Any) -> None:
    stream.stop()
    stream.close()


async def play_store(
    store: Store,
    output: OutputSpec,
    *,
    mode: PlayMode | str = PlayMode.TIMELINE,
    play_from: float = 0.0,
    duration: float | None = None,
    samplerate: int = 48000,
    channels: int = 1,
    fmt: SampleFormat = SampleFormat.INT16,
    jitter_ms: float = 20.0,
    blocksize: int = 256,
) -> PlaybackStats:
    """``vamp play``: play ``store`` for ``duration`` seconds, or in timeline mode until the
    playhead passes the end of every take (live mode without a duration runs until
    cancelled). ``play_from`` is in seconds."""
    if play_from < 0:
        raise VampError(f"--play-from must be zero or more seconds, got {play_from}")
    if duration is not None and not duration > 0:
        raise VampError(f"--duration must be a positive number of seconds, got {duration}")
    start = round(play_from * samplerate)
    async with Player(
        store, output, mode=mode, samplerate=samplerate, channels=channels, fmt=fmt,
        play_from=start, jitter_ms=jitter_ms, blocksize=blocksize,
    ) as player:
        if duration is not None:
            await player.wait_until(player.position + round(duration * samplerate))
        elif PlayMode(mode) is PlayMode.TIMELINE:
            await player.wait_until(player.material_end())
        else:
            await asyncio.Event().wait()  # live with no end: until Ctrl-C cancels us
    return player.stats()
