"""Audio devices through sounddevice/PortAudio: lazy loading, listing, lookup, friendly errors.

sounddevice initialises PortAudio when it is imported, so it is imported here on first use
only: a machine without PortAudio can still run every command that needs no device.
Set ``VAMP_JACK_CLIENT_NAME`` to name this process's JACK client (ports then appear as
``<name>:in_1``, ``<name>:out_1``); it must be set before the first device use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any, Literal

from vamp_cli.errors import VampError

JACK_CLIENT_NAME_ENV = "VAMP_JACK_CLIENT_NAME"
PORTAUDIO_MISSING = "PortAudio is not installed: run `sudo apt-get install libportaudio2`"

# PortAudio keeps the pointer given to PaJack_SetClientName, so the buffer must live as
# long as the process does (a temporary bytes object gave garbage names).
_jack_client_name: ctypes.Array[ctypes.c_char] | None = None
_sd: ModuleType | None = None


def _name_jack_client() -> None:
    global _jack_client_name
    name = os.environ.get(JACK_CLIENT_NAME_ENV)
    if not name or _jack_client_name is not None:
        return
    libname = ctypes.util.find_library("portaudio")
    if libname is None:
        return  # sounddevice's import reports the missing library
    try:
        lib = ctypes.CDLL(libname)
        set_name = lib.PaJack_SetClientName
    except (OSError, AttributeError):
        return  # a PortAudio built without JACK: nothing to name
    set_name.argtypes = [ctypes.c_char_p]
    set_name.restype = ctypes.c_int
    _jack_client_name = ctypes.create_string_buffer(name.encode("utf-8"))
    set_name(_jack_client_name)


def sounddevice() -> ModuleType:
    """The sounddevice module, imported on first use; VampError if PortAudio is missing."""
    global _sd
    if _sd is None:
        _name_jack_client()
        try:
            import sounddevice as sd
        except OSError as exc:
            raise VampError(PORTAUDIO_MISSING) from exc
        _sd = sd
    return _sd


def reinitialize() -> None:
    """Re-scan host APIs and devices (e.g. after a JACK server started in this process's
    lifetime: PortAudio only sees JACK if it was running when PortAudio initialised)."""
    sd = sounddevice()
    sd._terminate()
    sd._initialize()


@dataclass(frozen=True, slots=True)
class Device:
    """One audio device as PortAudio reports it."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    default_input: bool
    default_output: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One human line: index, name, host API, channels, rate, default marks."""
        marks = "".join(
            mark
            for mark, on in ((" <default input>", self.default_input),
                             (" <default output>", self.default_output))
            if on
        )
        return (
            f"{self.index}: {self.name} ({self.hostapi}, {self.max_input_channels} in, "
            f"{self.max_output_channels} out, {self.default_samplerate:g} Hz){marks}"
        )


def list_devices() -> list[Device]:
    """Every device PortAudio knows, in index order."""
    sd = sounddevice()
    hostapis = sd.query_hostapis()
    default_in, default_out = _defaults(sd)
    out: list[Device] = []
    for info in sd.query_devices():
        index = int(info["index"])
        out.append(
            Device(
                index=index,
                name=str(info["name"]),
                hostapi=str(hostapis[info["hostapi"]]["name"]),
                max_input_channels=int(info["max_input_channels"]),
                max_output_channels=int(info["max_output_channels"]),
                default_samplerate=float(info["default_samplerate"]),
                default_input=index == default_in,
                default_output=index == default_out,
            )
        )
    return out


def _defaults(sd: ModuleType) -> tuple[int, int]:
    default_in, default_out = sd.default.device
    return int(default_in), int(default_out)


def find_device(spec: int | str | None, kind: Literal["input", "output"]) -> Device:
    """The device named by ``spec`` (an index, or a case-insensitive name substring;
    ``None`` for the system default) that has ``kind`` channels. VampError otherwise,
    listing the devices that would do."""
    devices = list_devices()
    usable = [d for d in devices if _channels(d, kind) > 0]
    if spec is None:
        chosen = [d for d in usable if (d.default_input if kind == "input" else d.default_output)]
        if chosen:
            return chosen[0]
        raise VampError(f"there is no default {kind} device; {_choices(usable, kind)}")
    if isinstance(spec, int):
        matches = [d for d in usable if d.index == spec]
    else:
        exact = [d for d in usable if d.name.lower() == spec.lower()]
        matches = exact or [d for d in usable if spec.lower() in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise VampError(f"no {kind} device matches {spec!r}; {_choices(usable, kind)}")
    names = ", ".join(repr(d.name) for d in matches)
    raise VampError(f"{spec!r} matches several {kind} devices ({names}); give its index instead")


def _channels(device: Device, kind: str) -> int:
    return device.max_input_channels if kind == "input" else device.max_output_channels


def _choices(usable: list[Device], kind: str) -> str:
    if not usable:
        return (
            f"PortAudio lists no {kind} devices (start a JACK server, see docs/audio.md, or use "
            f"--{kind} tone:440 / file:PATH / none)"
            if kind == "input"
            else f"PortAudio lists no {kind} devices (start a JACK server, see docs/audio.md, "
            f"or use --{kind} file:PATH / none)"
        )
    listed = "; ".join(f"{d.index}: {d.name}" for d in usable)
    return f"choose one of: {listed} (by index or name)"


def parse_device(text: str) -> int | str:
    """A device given on the command line: an integer is an index, anything else a name."""
    text = text.strip()
    return int(text) if text.isdigit() else text
