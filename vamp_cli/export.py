"""Files and mixdowns from a store: ``vamp export``.

Each take becomes one lossless sound file holding what the store holds contiguously from
the take's first frame, bit-exact in the take's sample format. A mixdown sums every take
at its timeline position (frame ``start``) into one float file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import click
import numpy as np
import numpy.typing as npt

from vamp_cli.config import default_store_dir, open_store
from vamp_cli.core.store import Store, StoreError, TakeView
from vamp_cli.core.take import SampleFormat
from vamp_cli.core.takefile import file_stem
from vamp_cli.errors import VampError

FileFormat = Literal["wav", "flac"]
BLOCK_FRAMES = 1 << 16
"""Takes are copied and mixed this many frames at a time, so memory stays bounded."""

# Lossless subtypes per container and sample format; FLAC holds at most 24-bit integers.
_SUBTYPES: dict[tuple[str, SampleFormat], str] = {
    ("WAV", SampleFormat.INT16): "PCM_16",
    ("WAV", SampleFormat.INT32): "PCM_32",
    ("WAV", SampleFormat.FLOAT32): "FLOAT",
    ("FLAC", SampleFormat.INT16): "PCM_16",
}
_SCALE = {SampleFormat.INT16: 1 / 2**15, SampleFormat.INT32: 1 / 2**31, SampleFormat.FLOAT32: 1.0}


@dataclass(frozen=True, slots=True)
class ExportedTake:
    """One take written to ``path``: ``frames`` frames whose PCM hashes to ``sha256``."""

    view: TakeView
    path: Path
    frames: int
    sha256: bytes
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        info = self.view.info
        return {
            "owner": info.owner,
            "take_id": info.take_id,
            "start": info.start,
            "frames": self.frames,
            "samplerate": info.samplerate,
            "channels": info.channels,
            "dtype": info.fmt.dtype,
            "sha256": self.sha256.hex(),
            "complete": self.view.complete,
            "status": str(self.view.status),
            "length": self.view.length,
            "path": str(self.path),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Mixdown:
    """A mixdown written to ``path``: ``frames`` frames from timeline frame 0."""

    path: Path
    frames: int
    samplerate: int
    channels: int
    takes: int


def run_export(
    store_dir: Path | None, out_dir: Path, file_format: FileFormat, mix: Path | None,
    json_mode: bool,
) -> None:
    """``vamp export``: write every take (and a mixdown), reporting on stdout/stderr."""
    directory = store_dir or default_store_dir()
    if not directory.is_dir():
        raise VampError(
            f"there is no store at {directory}; pass the --store directory your takes are in"
        )
    with open_store(directory, ring_seconds=0) as store:
        for path, reason in store.skipped:
            click.echo(f"vamp: skipped {path}: {reason}", err=True)
        if not store.takes():
            click.echo(f"no takes in the store {directory}; nothing exported", err=True)
            return
        for exported in export_takes(store, out_dir, file_format):
            if json_mode:
                click.echo(json.dumps(exported.to_json()))
            else:
                click.echo(_describe(exported))
            if exported.note:
                click.echo(f"note: {exported.note}", err=True)
        if mix is not None:
            result = mixdown(store, mix)
            click.echo(
                f"mixed {result.takes} takes into {result.path} "
                f"({result.frames / result.samplerate:.3f} s, {result.channels} ch)",
                err=json_mode,
            )


def export_takes(store: Store, out_dir: Path, file_format: FileFormat) -> Iterator[ExportedTake]:
    """Write each take of ``store`` into ``out_dir``, yielding each as it is written."""
    _make_dir(out_dir, "--out-dir")
    for view in store.takes():
        yield export_take(store, view, out_dir, file_format)


def export_take(
    store: Store, view: TakeView, out_dir: Path, file_format: FileFormat
) -> ExportedTake:
    """Write one take's contiguous frames to ``out_dir/<owner>-<take_id>.<format>``."""
    import soundfile as sf

    info = view.info
    container, note = file_format.upper(), None
    if (container, info.fmt) not in _SUBTYPES:
        container = "WAV"
        note = (
            f"take {info.short_id} is {info.fmt.dtype}, which FLAC cannot hold losslessly; "
            "written as WAV instead"
        )
    path = out_dir / f"{file_stem(info)}.{container.lower()}"
    digest = hashlib.sha256()
    frames = 0
    with _replacing(path) as partial, sf.SoundFile(
        partial, "w", samplerate=info.samplerate, channels=info.channels,
        subtype=_SUBTYPES[(container, info.fmt)], format=container,
    ) as sound:
        while frames < view.contiguous:
            pcm = store.read(info.take_id, frames, min(BLOCK_FRAMES, view.contiguous - frames))
            if not pcm:
                break
            digest.update(pcm)
            samples = np.frombuffer(pcm, dtype=info.fmt.numpy_dtype)
            sound.write(samples.reshape(-1, info.channels))
            frames += len(pcm) // info.frame_bytes
    return ExportedTake(view, path, frames, digest.digest(), note)


def mixdown(store: Store, path: Path) -> Mixdown:
    """Sum every take at its timeline position into ``path`` (.wav: float32; .flac: 24-bit)."""
    import soundfile as sf

    container = {".wav": "WAV", ".flac": "FLAC"}.get(path.suffix.lower())
    if container is None:
        raise VampError(f"--mix {path} must end in .wav or .flac")
    views = [v for v in store.takes() if v.contiguous > 0]
    if not views:
        raise VampError("no take holds any frames yet, so there is nothing to mix")
    rate = views[0].info.samplerate
    channels = max(v.info.channels for v in views)
    for view in views:
        if view.info.samplerate != rate:
            raise VampError(
                f"take {view.info.short_id} by {view.info.owner} is at {view.info.samplerate} Hz "
                f"but the first take is at {rate} Hz; mix takes of one sample rate "
                "(export without --mix to get each take's file)"
            )
        if view.info.channels not in (1, channels):
            raise VampError(
                f"take {view.info.short_id} has {view.info.channels} channels and another "
                f"{channels}; only mono takes can be mixed into a wider mix"
            )
    total = max(v.info.start + v.contiguous for v in views)
    _make_dir(path.parent, "--mix")
    subtype = "FLOAT" if container == "WAV" else "PCM_24"
    with _replacing(path) as partial, sf.SoundFile(
        partial, "w", samplerate=rate, channels=channels, subtype=subtype, format=container,
    ) as sound:
        for block_start in range(0, total, BLOCK_FRAMES):
            block = _mix_block(store, views, block_start, min(total, block_start + BLOCK_FRAMES),
                               channels)
            if container == "FLAC":
                np.clip(block, -1.0, 1.0, out=block)
            sound.write(block)
    return Mixdown(path, total, rate, channels, len(views))


def _mix_block(
    store: Store, views: list[TakeView], start: int, end: int, channels: int
) -> npt.NDArray[np.float32]:
    block = np.zeros((end - start, channels), dtype=np.float32)
    for view in views:
        info = view.info
        first, last = max(start, info.start), min(end, info.start + view.contiguous)
        if first >= last:
            continue
        pcm = store.read(info.take_id, first - info.start, last - first)
        samples = np.frombuffer(pcm, dtype=info.fmt.numpy_dtype).reshape(-1, info.channels)
        # A mono take's one channel broadcasts into every channel of the mix.
        block[first - start : first - start + len(samples)] += (
            samples.astype(np.float32) * np.float32(_SCALE[info.fmt])
        )
    return block


@contextmanager
def _replacing(path: Path) -> Iterator[str]:
    """Yield a hidden partial file name; move it over ``path`` only once fully written, so a
    failed export never leaves a truncated file under the real name."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield str(partial)
        os.replace(partial, path)
    except (OSError, RuntimeError, StoreError) as exc:  # soundfile's errors are RuntimeErrors
        partial.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise VampError(
            f"cannot write {path} ({reason}); choose a writable directory with free space"
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _make_dir(directory: Path, option: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".vamp-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise VampError(
            f"cannot write to {directory} ({exc.strerror or exc}); choose a writable {option}"
        ) from None


def _describe(exported: ExportedTake) -> str:
    info, view = exported.view.info, exported.view
    state = str(view.status)
    if not view.complete and view.length is not None:
        state += f", {exported.frames} of {view.length} frames"
    return (
        f"{info.owner} {info.short_id}  at {info.start / info.samplerate:.3f} s  "
        f"{exported.frames / info.samplerate:.3f} s  {info.fmt.dtype} {info.channels} ch  "
        f"{state}  -> {exported.path}"
    )
