"""Capture: move frames from an input source into the store, one take at a time.

Sources (``--input``): a device (index or name; empty/``default`` = the system default),
``tone:HZ`` (a sine, paced by the clock), ``file:PATH`` (a sound file played in as if
captured, paced by the clock), ``none`` (this peer captures nothing).

A device source runs a PortAudio InputStream whose callback only copies into a
:class:`~vamp_cli.core.ring.FrameRing`; a loop on the event loop moves the ring's frames into
the store about twice per block, so frames land in the store within about one block of
being captured (the mesh streams them from there through ``store.subscribe``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from vamp_cli.audio import devices
from vamp_cli.core.ring import FrameRing
from vamp_cli.core.store import Store, StoreError, TakeView
from vamp_cli.core.take import SampleFormat, TakeInfo
from vamp_cli.errors import VampError

InputKind = Literal["device", "tone", "file", "none"]
TONE_AMPLITUDE = 0.5  # of full scale: loud enough to measure, far from clipping
RING_SECONDS = 2.0  # how long the mover may stall before the capture ring overflows


@dataclass(frozen=True, slots=True)
class InputSpec:
    """A parsed ``--input``: which kind, plus the device, tone frequency or file path."""

    kind: InputKind
    device: int | str | None = None
    hz: float = 0.0
    path: Path | None = None

    def describe(self) -> str:
        if self.kind == "device":
            return "default input device" if self.device is None else f"device {self.device!r}"
        if self.kind == "tone":
            return f"tone:{self.hz:g}"
        if self.kind == "file":
            return f"file:{self.path}"
        return "none"


def parse_input(spec: str) -> InputSpec:
    """Parse an ``--input`` value; VampError with the accepted forms on a bad one."""
    text = spec.strip()
    if text.lower() == "none":
        return InputSpec("none")
    if text.lower().startswith("tone:"):
        try:
            hz = float(text[5:])
        except ValueError:
            hz = math.nan
        if not (math.isfinite(hz) and hz > 0):
            raise VampError(f"bad tone input {spec!r}: give a positive frequency, e.g. tone:440")
        return InputSpec("tone", hz=hz)
    if text.lower().startswith("file:"):
        path = Path(text[5:]).expanduser()
        if not text[5:] or not path.is_file():
            raise VampError(
                f"input file {text[5:]!r} does not exist: give file:PATH of a readable sound file"
            )
        return InputSpec("file", path=path)
    if text in ("", "default"):
        return InputSpec("device")
    return InputSpec("device", device=devices.parse_device(text))


@dataclass(frozen=True, slots=True)
class CaptureReport:
    """How a take's capture went. ``latency`` is the input stream's reported latency in
    seconds (0 for generated sources); overflows are never silent: ``ring_dropped`` counts
    frames lost because the mover fell behind, ``input_overflows`` PortAudio's overflow
    flags."""

    take: TakeView
    frames: int
    source: str
    latency: float = 0.0
    ring_dropped: int = 0
    input_overflows: int = 0
    blocksize: int = 0

    @property
    def overflows(self) -> int:
        return self.ring_dropped + self.input_overflows

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "source": self.source,
            "latency": self.latency,
            "ring_dropped": self.ring_dropped,
            "input_overflows": self.input_overflows,
            "overflows": self.overflows,
        }


@dataclass(slots=True)
class _Mover:
    """Appends frames to the take in order and knows when to stop."""

    store: Store
    info: TakeInfo
    limit: int | None
    stop: asyncio.Event | None
    offset: int = 0
    _dtype: np.dtype[Any] = field(init=False)

    def __post_init__(self) -> None:
        self._dtype = np.dtype(self.info.fmt.numpy_dtype)

    @property
    def done(self) -> bool:
        if self.limit is not None and self.offset >= self.limit:
            return True
        return self.stop is not None and self.stop.is_set()

    def room(self) -> int | None:
        return None if self.limit is None else self.limit - self.offset

    def append(self, block: npt.NDArray[Any]) -> None:
        room = self.room()
        if room is not None and block.shape[0] > room:
            block = block[:room]
        if block.shape[0] == 0:
            return
        pcm = np.ascontiguousarray(block, dtype=self._dtype).tobytes()
        try:
            self.store.append(self.info.take_id, self.offset, pcm)
        except StoreError as exc:
            raise VampError(f"could not store captured audio: {exc}") from exc
        self.offset += block.shape[0]


def check_input(source: InputSpec, info: TakeInfo) -> None:
    """Raise VampError now if ``source`` cannot deliver ``info``'s take (no such device,
    PortAudio missing, unreadable file or mismatched rate/channels, ``none``)."""
    if source.kind == "none":
        raise VampError("--input none captures nothing: choose a device, tone:HZ or file:PATH")
    if source.kind == "device":
        devices.find_device(source.device, "input")
    elif source.kind == "file":
        _open_input_file(source, info)


async def record_take(
    store: Store,
    info: TakeInfo,
    source: InputSpec,
    *,
    frames: int | None = None,
    stop: asyncio.Event | None = None,
    blocksize: int = 256,
) -> CaptureReport:
    """Capture one take from ``source`` into ``store`` until ``frames`` frames are held or
    ``stop`` is set (whichever comes first), then seal it (``store.seal``).

    Starts the take in the store (idempotent if the caller already did). With neither
    ``frames`` nor ``stop`` a device or tone records until cancelled; a file source also
    ends at the end of the file. Cancellation still seals what was captured.
    """
    if frames is not None and frames < 0:
        raise VampError(f"cannot record a negative number of frames ({frames})")
    if blocksize < 1:
        raise VampError(f"block size must be at least one frame, got {blocksize}")
    mover = _Mover(store, info, frames, stop)
    # Check the source before the take exists, so a bad one leaves nothing behind.
    check_input(source, info)
    opened: Callable[[], Any] | None = None
    if source.kind == "file":
        opened = _open_input_file(source, info)
    elif source.kind == "device":
        device = devices.find_device(source.device, "input")
    try:
        store.start_take(info)
    except StoreError as exc:
        raise VampError(f"could not start the take: {exc}") from exc
    try:
        if source.kind == "device":
            report = await _record_device(mover, device, blocksize)
        elif source.kind == "tone":
            gen = _tone(source.hz, info)
            await _record_paced(mover, gen, blocksize)
            report = _Partial(source.describe())
        else:
            assert opened is not None
            sf_file = opened()
            try:
                await _record_paced(mover, _file_reader(sf_file, info), blocksize)
            finally:
                sf_file.close()
            report = _Partial(source.describe())
    finally:
        view = store.seal(info.take_id)
    return CaptureReport(
        take=view,
        frames=view.length if view.length is not None else mover.offset,
        source=report.source,
        latency=report.latency,
        ring_dropped=report.ring_dropped,
        input_overflows=report.input_overflows,
        blocksize=blocksize,
    )


@dataclass(slots=True)
class _Partial:
    source: str
    latency: float = 0.0
    ring_dropped: int = 0
    input_overflows: int = 0


class _Counters:
    """Written by the PortAudio callback thread, read by the event loop after the stream."""

    __slots__ = ("input_overflows",)

    def __init__(self) -> None:
        self.input_overflows = 0


async def _record_device(mover: _Mover, device: devices.Device, blocksize: int) -> _Partial:
    sd = devices.sounddevice()
    info = mover.info
    ring = FrameRing(
        max(int(info.samplerate * RING_SECONDS), 8 * blocksize), info.channels,
        info.fmt.numpy_dtype,
    )
    counters = _Counters()

    def callback(indata: npt.NDArray[Any], _frames: int, _time: Any, status: Any) -> None:
        # Runs on PortAudio's thread: touch only the ring and a counter.
        if status.input_overflow:
            counters.input_overflows += 1
        ring.write(indata)

    def open_stream() -> Any:
        stream = sd.InputStream(
            device=device.index, samplerate=info.samplerate, channels=info.channels,
            dtype=info.fmt.dtype, blocksize=blocksize, callback=callback,
        )
        stream.start()
        return stream

    try:
        stream = await asyncio.to_thread(open_stream)
    except sd.PortAudioError as exc:
        raise VampError(
            f"could not open input {device.name!r} at {info.samplerate} Hz, "
            f"{info.channels} channel(s), {info.fmt.dtype}: {exc}; try another "
            "--samplerate/--channels or device (see `vamp devices`)"
        ) from exc
    poll = blocksize / info.samplerate / 2
    try:
        while not mover.done:
            if ring.available:
                mover.append(ring.read())
            else:
                await asyncio.sleep(poll)
        # Stopped: keep what was captured before the stop was seen, nothing after.
        if ring.available and not mover.done:
            mover.append(ring.read())
    finally:
        latency = float(stream.latency)
        await asyncio.to_thread(_close, stream)
    return _Partial(
        source=f"{device.name} ({device.hostapi})",
        latency=latency,
        ring_dropped=ring.dropped_frames,
        input_overflows=counters.input_overflows,
    )


def _close(stream: Any) -> None:
    stream.abort()
    stream.close()


Producer = Callable[[int, int], "npt.NDArray[Any] | None"]
"""``produce(offset, n)``: the next ``n`` frames from ``offset``, fewer at the end, None when
the source is exhausted."""


async def _record_paced(mover: _Mover, produce: Producer, blocksize: int) -> None:
    """Append blocks as the clock makes them due, as a real device would deliver them."""
    loop = asyncio.get_running_loop()
    rate = mover.info.samplerate
    t0 = loop.time()
    while not mover.done:
        due = int((loop.time() - t0) * rate)
        if due - mover.offset < blocksize:
            await asyncio.sleep((mover.offset + blocksize - due) / rate)
            continue
        n = blocksize
        room = mover.room()
        if room is not None:
            n = min(n, room)
        block = produce(mover.offset, n)
        if block is None or block.shape[0] == 0:
            return
        mover.append(block)


def _tone(hz: float, info: TakeInfo) -> Producer:
    fmt, channels, rate = info.fmt, info.channels, info.samplerate
    scale = {SampleFormat.INT16: 32767.0, SampleFormat.INT32: 2147483647.0}.get(fmt, 1.0)

    def produce(offset: int, n: int) -> npt.NDArray[Any]:
        t = np.arange(offset, offset + n, dtype=np.float64) / rate
        wave = TONE_AMPLITUDE * np.sin(2 * np.pi * hz * t)
        if fmt is not SampleFormat.FLOAT32:
            wave = np.round(wave * scale)
        mono = wave.astype(fmt.numpy_dtype)
        return np.repeat(mono[:, None], channels, axis=1)

    return produce


def _open_input_file(source: InputSpec, info: TakeInfo) -> Callable[[], Any]:
    """Check the file now (before any take exists); return an opener for later."""
    import soundfile as sf

    assert source.path is not None
    try:
        probe = sf.info(str(source.path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise VampError(f"cannot read input file {source.path}: {exc}") from exc
    if probe.samplerate != info.samplerate:
        raise VampError(
            f"input file {source.path} is at {probe.samplerate} Hz but the take is at "
            f"{info.samplerate} Hz: pass --samplerate {probe.samplerate} or resample the file"
        )
    if probe.channels not in (1, info.channels):
        raise VampError(
            f"input file {source.path} has {probe.channels} channels but the take has "
            f"{info.channels}: pass --channels {probe.channels}"
        )

    def opener() -> Any:
        return sf.SoundFile(str(source.path))

    return opener


def _file_reader(sf_file: Any, info: TakeInfo) -> Producer:
    def produce(_offset: int, n: int) -> npt.NDArray[Any] | None:
        # Reading a few hundred frames from a local file is quicker than a thread hop.
        block: npt.NDArray[Any] = sf_file.read(n, dtype=info.fmt.dtype, always_2d=True)
        if block.shape[0] == 0:
            return None
        if block.shape[1] != info.channels:
            block = np.repeat(block[:, :1], info.channels, axis=1)
        return block

    return produce
