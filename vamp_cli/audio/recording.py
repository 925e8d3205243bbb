"""A timed take recorded into the store and, as it lands, into a lossless sound file.

The file follows the store (through ``store.subscribe``), so it holds what the store holds,
bit-exact. A WAV file's header is rewritten after every block written, so after ``kill -9``
it opens with every frame written up to then. Everything that can be checked (the output
path, its format, the input) is checked before the take starts.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vamp_cli.audio.capture import CaptureReport, InputSpec, check_input, record_take
from vamp_cli.config import open_store
from vamp_cli.core.store import Store
from vamp_cli.core.take import SampleFormat, TakeInfo, new_take_id
from vamp_cli.errors import VampError

# libsndfile's SFC_SET_UPDATE_HEADER_AUTO: rewrite the header after every write.
_SFC_SET_UPDATE_HEADER_AUTO = 0x1061
_SUBTYPES = {
    ("WAV", SampleFormat.INT16): "PCM_16",
    ("WAV", SampleFormat.INT32): "PCM_32",
    ("WAV", SampleFormat.FLOAT32): "FLOAT",
    ("FLAC", SampleFormat.INT16): "PCM_16",
}


class TakeFile:
    """A sound file written block by block whose header stays valid (WAV) after each block."""

    def __init__(self, path: Path, samplerate: int, channels: int, fmt: SampleFormat) -> None:
        import soundfile as sf

        container = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
        if container is None:
            raise VampError(f"cannot tell the format of {path}: name it .wav or .flac")
        subtype = _SUBTYPES.get((container, fmt))
        if subtype is None:
            raise VampError(
                f"FLAC cannot hold {fmt.dtype} samples losslessly: use a .wav file "
                "or --dtype int16"
            )
        if not path.parent.is_dir():
            raise VampError(
                f"cannot write {path}: directory {path.parent} does not exist; create it or "
                "choose another --out"
            )
        if path.is_dir():
            raise VampError(f"{path} is a directory: give a file name ending in .wav or .flac")
        try:
            self._file: Any = sf.SoundFile(
                str(path), "w", samplerate=samplerate, channels=channels,
                subtype=subtype, format=container,
            )
        except (sf.LibsndfileError, OSError, RuntimeError) as exc:
            raise VampError(
                f"cannot write {path} ({_reason(exc)}): choose a path in a writable directory"
            ) from exc
        if container == "WAV":
            sf._snd.sf_command(self._file._file, _SFC_SET_UPDATE_HEADER_AUTO, sf._ffi.NULL, 1)
        self.path = path
        self.frames = 0
        self._dtype = np.dtype(fmt.numpy_dtype)
        self._channels = channels

    def write_pcm(self, pcm: bytes) -> None:
        """Append little-endian interleaved PCM in the take's format."""
        block = np.frombuffer(pcm, dtype=self._dtype).reshape(-1, self._channels)
        self._file.write(block)
        self.frames += block.shape[0]

    def close(self) -> None:
        self._file.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


@dataclass(frozen=True, slots=True)
class RecordResult:
    """The finished take as ``vamp record --json`` reports it."""

    info: TakeInfo
    frames: int
    sha256: str
    path: Path
    status: str
    capture: CaptureReport

    def as_dict(self) -> dict[str, Any]:
        return {
            "take_id": self.info.take_id,
            "owner": self.info.owner,
            "start": self.info.start,
            "frames": self.frames,
            "samplerate": self.info.samplerate,
            "channels": self.info.channels,
            "dtype": self.info.fmt.dtype,
            "sha256": self.sha256,
            "path": str(self.path),
            "status": self.status,
            "overflows": self.capture.overflows,
            "latency": self.capture.latency,
            "capture": self.capture.as_dict(),
        }


def new_take(owner: str, *, at: float, samplerate: int, channels: int,
             fmt: SampleFormat) -> TakeInfo:
    """A fresh take starting ``at`` seconds into the timeline; VampError on bad values."""
    if at < 0:
        raise VampError(f"--at must be zero or more seconds, got {at}")
    try:
        return TakeInfo(new_take_id(), owner, round(at * samplerate), samplerate, channels, fmt)
    except ValueError as exc:
        raise VampError(f"{exc}; check --name, --samplerate and --channels") from exc


async def record_to_file(
    store: Store,
    info: TakeInfo,
    source: InputSpec,
    out: Path,
    *,
    duration: float | None,
    stop: asyncio.Event | None = None,
    blocksize: int = 256,
) -> RecordResult:
    """Record ``duration`` seconds (or until ``stop``) from ``source`` as take ``info`` into
    ``store``, writing the frames to ``out`` as they land. The take is sealed at the end."""
    if duration is not None and not duration > 0:
        raise VampError(f"--duration must be a positive number of seconds, got {duration}")
    if duration is None and stop is None:
        raise VampError("give --duration SECONDS so the recording knows when to end")
    frames = None if duration is None else round(duration * info.samplerate)
    check_input(source, info)
    file = TakeFile(out, info.samplerate, info.channels, info.fmt)
    landed = asyncio.Event()

    def on_change(take_id: str) -> None:
        if take_id == info.take_id:
            landed.set()

    def follow() -> None:
        # Copy to the file whatever the store holds beyond what the file has.
        while True:
            pcm = store.read(info.take_id, file.frames, 1 << 16)
            if not pcm:
                return
            file.write_pcm(pcm)

    finished = asyncio.Event()

    async def writer() -> None:
        while not finished.is_set():
            await landed.wait()
            landed.clear()
            follow()

    unsubscribe = store.subscribe(on_change)
    try:
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(writer())
                try:
                    report = await record_take(
                        store, info, source, frames=frames, stop=stop, blocksize=blocksize
                    )
                finally:
                    finished.set()
                    landed.set()
        except ExceptionGroup as group:
            # One failure (a VampError from capture, say) should reach the caller as itself.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        follow()
    except BaseException:
        file.close()
        if file.frames == 0:
            # Nothing recorded: leave no empty file behind (one quick unlink, on failure only).
            out.unlink(missing_ok=True)  # noqa: ASYNC240
        raise
    finally:
        unsubscribe()
    file.close()
    view = report.take
    digest = view.sha256.hex() if view.sha256 is not None else _hash_file_pcm(store, info)
    return RecordResult(
        info=info, frames=file.frames, sha256=digest, path=out,
        status=str(view.status), capture=report,
    )


def _hash_file_pcm(store: Store, info: TakeInfo) -> str:
    view = store.get(info.take_id)
    held = 0 if view is None else view.contiguous
    return hashlib.sha256(store.read(info.take_id, 0, held)).hexdigest()


def record_locally(
    store_dir: Path,
    out: Path,
    source: InputSpec,
    *,
    duration: float,
    at: float,
    owner: str,
    samplerate: int,
    channels: int,
    fmt: SampleFormat,
    blocksize: int = 256,
) -> RecordResult:
    """``vamp record`` without a vamp: one timed take into the store at ``store_dir`` and
    into ``out``."""
    info = new_take(owner, at=at, samplerate=samplerate, channels=channels, fmt=fmt)
    store = open_store(store_dir)
    try:
        return asyncio.run(
            record_to_file(store, info, source, out, duration=duration, blocksize=blocksize)
        )
    finally:
        store.close()

