"""One peer in one vamp: wires the store, capture, the mesh and playback together.

``vamp join`` and ``vamp record VAMP`` are both a :class:`Session`; they differ only in what
the session does while it is in the mesh (:meth:`Session.join_until_stopped` or
:meth:`Session.record`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from vamp_cli import trace
from vamp_cli.audio.capture import InputSpec, check_input, record_take
from vamp_cli.audio.devices import find_device
from vamp_cli.audio.recording import new_take
from vamp_cli.core.store import Store, StoreError, TakeStatus, TakeView
from vamp_cli.core.sync import (
    MeshSync,
    PeerGreeted,
    PeerMisbehaved,
    StoreFailed,
    TakeAnnounced,
    TakeCompleted,
    TakeConfirmed,
    TakeCorrupt,
)
from vamp_cli.core.take import SampleFormat, TakeInfo
from vamp_cli.errors import VampError
from vamp_cli.net.ice import restrict_host_addresses
from vamp_cli.net.mesh import Mesh, MeshEvent
from vamp_cli.net.signaling import SignalingClient
from vamp_cli.report import Reporter

log = logging.getLogger("vamp.session")
T = TypeVar("T")

MESH_FORM_TIMEOUT = 10.0
PROGRESS_INTERVAL = 1.0
REPAIR_INTERVAL = 3.0
IN_FLIGHT_GRACE = 5.0
"""How long `record` stays for takes other peers are still sending when its own is done."""


@dataclass
class SessionOptions:
    vamp: str
    name: str
    server: str
    store_dir: Path
    token: str | None = None
    input: InputSpec = field(default_factory=lambda: InputSpec("none"))
    output: Any = None  # an OutputSpec, or None for no playback
    monitor: str = "live"  # live | timeline | off
    play_from: float = 0.0
    jitter_ms: float = 20.0
    samplerate: int = 48000
    channels: int = 1
    fmt: SampleFormat = SampleFormat.INT16
    blocksize: int = 256
    ice_servers: list[dict[str, Any]] | None = None
    ice_hosts: tuple[str, ...] = ()
    leave_after: float | None = None
    connect_timeout: float = 10.0


@dataclass
class RecordPlan:
    duration: float
    at: float
    out: Path
    confirm_timeout: float


class Session:
    def __init__(self, options: SessionOptions, reporter: Reporter) -> None:
        self.options = options
        self.reporter = reporter
        self.stop = asyncio.Event()
        self.store: Store | None = None
        self.sync: MeshSync | None = None
        self.mesh: Mesh | None = None
        self._progress: dict[str, int] = {}

    # -- entry points ---------------------------------------------------------------------

    async def join_until_stopped(self) -> int:
        """Stay in the vamp until Ctrl-C/SIGTERM or ``--leave-after``; record a take from the
        input meanwhile (unless it is ``none``). Returns the exit code."""

        async def body() -> int:
            if self.options.leave_after is not None:
                asyncio.get_running_loop().call_later(self.options.leave_after, self.stop.set)
            if self.options.input.kind != "none":
                await self.mesh_ready()
                info = self._new_take(self.options.play_from)
                self._report_recording(info, "")
                report = await record_take(
                    self._store,
                    info,
                    self.options.input,
                    stop=self.stop,
                    blocksize=self.options.blocksize,
                )
                self._report_recorded(report.take)
            await self.stop.wait()
            return 0

        return await self._run(body)

    async def record(self, plan: RecordPlan) -> dict[str, Any]:
        """Record one timed take while streaming it, writing ``plan.out`` as frames land; wait
        for every peer present to confirm it (or the timeout), then leave. Returns the final
        JSON object: the local record's plus ``peers``."""
        from vamp_cli.audio.recording import record_to_file

        opts = self.options
        info = self._new_take(plan.at)

        async def body() -> dict[str, Any]:
            await self.mesh_ready()
            self._report_recording(info, f": {plan.duration:g} s")
            result = await record_to_file(
                self._store,
                info,
                opts.input,
                plan.out,
                duration=plan.duration,
                stop=self.stop,
                blocksize=opts.blocksize,
            )
            view = self._store.get(info.take_id)
            assert view is not None
            self._report_recorded(view)
            peers = await self._await_confirmations(view, plan.confirm_timeout)
            await self._await_takes_in_flight(IN_FLIGHT_GRACE)
            self.stop.set()
            return {**result.as_dict(), "peers": peers}

        return await self._run(body)

    # -- the running session ----------------------------------------------------------------

    @property
    def _store(self) -> Store:
        assert self.store is not None
        return self.store

    async def _run(self, body: Callable[[], Coroutine[Any, Any, T]]) -> T:
        opts = self.options
        restrict_host_addresses(opts.ice_hosts)
        await asyncio.to_thread(self._check_audio)
        try:
            self.store = await asyncio.to_thread(Store, opts.store_dir)
        except StoreError as exc:
            raise VampError(f"cannot open the store {opts.store_dir}: {exc}") from None
        try:
            trace.install(self.store, opts.name)  # VAMP_TRACE=PATH only (make bench)
            self._seal_own_unfinished()
            self.sync = MeshSync(self.store, opts.name)
            signaling = SignalingClient(opts.server, opts.vamp, opts.token)
            self.mesh = Mesh(
                self.sync,
                signaling,
                connect_timeout=opts.connect_timeout,
                ice_servers=opts.ice_servers,
                on_event=self._mesh_event,
                on_sync_events=self._drain_sync_events,
            )
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop.set)
            try:
                return await _unwrap(self._run_tasks(body))
            finally:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
                self.sync.close()
        finally:
            self.store.close()

    async def _run_tasks(self, body: Callable[[], Coroutine[Any, Any, T]]) -> T:
        assert self.mesh is not None
        async with asyncio.TaskGroup() as tg:
            mesh = tg.create_task(self.mesh.run(self.stop))
            tg.create_task(self._progress_loop())
            tg.create_task(self._repair_loop())
            if self.options.monitor != "off" and self.options.output is not None:
                tg.create_task(self._monitor())
            self.reporter.emit(
                "joining",
                f"joining vamp {self.options.vamp!r} at {self.options.server}"
                f" as {self.options.name}",
                vamp=self.options.vamp,
                name=self.options.name,
            )
            work = tg.create_task(_outcome(body()))
            # A fatal mesh error (vamp full, unauthorized) cancels the body through the group.
            result = await work
            # The work is over, well or not: leave gracefully either way, then report it.
            self.stop.set()
            await mesh
        if isinstance(result, VampError):
            raise result
        return result

    def _check_audio(self) -> None:
        """Fail before joining, not after, when the input or output cannot work."""
        opts = self.options
        if opts.input.kind != "none":
            check_input(opts.input, self._new_take(0))
        if opts.output is not None and opts.monitor != "off" and opts.output.kind == "device":
            find_device(opts.output.device, "output")

    async def mesh_ready(self) -> None:
        assert self.mesh is not None
        try:
            await self.mesh.wait_formed(MESH_FORM_TIMEOUT)
        except TimeoutError:
            raise VampError(
                f"joined no vamp within {MESH_FORM_TIMEOUT:.0f} s: is the signaling server at "
                f"{self.options.server} answering?"
            ) from None
        names = sorted(link.remote_name or "?" for link in self.mesh.open_links())
        self.reporter.emit(
            "mesh",
            f"in vamp {self.options.vamp!r} with {', '.join(names) or 'nobody yet'}",
            peers=names,
        )

    async def _monitor(self) -> None:
        from vamp_cli.audio.playback import Player

        opts = self.options
        async with Player(
            self._store,
            opts.output,
            mode=opts.monitor,
            samplerate=opts.samplerate,
            channels=opts.channels,
            fmt=opts.fmt,
            play_from=round(opts.play_from * opts.samplerate),
            jitter_ms=opts.jitter_ms,
            exclude_owner=opts.name,
            blocksize=opts.blocksize,
        ):
            await self.stop.wait()

    async def _await_confirmations(self, view: TakeView, timeout: float) -> list[dict[str, Any]]:
        """Wait until every peer present when the take ended confirmed it, or ``timeout``."""
        assert self.mesh is not None and self.sync is not None
        present = {link.remote_name or link.sid for link in self.mesh.open_links()}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not present <= self.sync.confirmed_by(view.info.take_id):
            if loop.time() >= deadline or self.stop.is_set():
                break
            await asyncio.sleep(0.02)
        confirmed = self.sync.confirmed_by(view.info.take_id)
        return [{"name": name, "confirmed": name in confirmed} for name in sorted(present)]

    async def _await_takes_in_flight(self, grace: float) -> None:
        """Give takes that connected peers are still sending us (recorded at the same time as
        ours) ``grace`` seconds to complete, so leaving does not cut them short here."""
        assert self.mesh is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline and not self.stop.is_set():
            owners = {link.remote_name for link in self.mesh.open_links()}
            if not any(
                not v.complete and v.info.owner in owners and v.info.owner != self.options.name
                for v in self._store.takes()
            ):
                return
            await asyncio.sleep(0.02)

    # -- what the user sees ---------------------------------------------------------------

    def _new_take(self, at_seconds: float) -> TakeInfo:
        opts = self.options
        return new_take(
            opts.name,
            at=at_seconds,
            samplerate=opts.samplerate,
            channels=opts.channels,
            fmt=opts.fmt,
        )

    def _seal_own_unfinished(self) -> None:
        """A take of ours that never ended (we crashed) is finished at what the disk holds,
        so every peer can converge on it."""
        for view in self._store.takes():
            if (
                view.info.owner == self.options.name
                and view.status is TakeStatus.INCOMPLETE
                and not view.ended
            ):
                sealed = self._store.seal(view.info.take_id)
                self.reporter.emit(
                    "take-resumed",
                    f"take {view.info.short_id} was cut short; sealed at {sealed.length} frames"
                    " to share it",
                    take_id=view.info.take_id,
                    frames=sealed.length,
                )

    def _report_recording(self, info: TakeInfo, length: str) -> None:
        self.reporter.emit(
            "recording",
            f"recording take {info.short_id}{length} from {self.options.input.describe()}",
            take_id=info.take_id,
            start=info.start,
        )

    def _report_recorded(self, view: TakeView) -> None:
        seconds = (view.length or 0) / view.info.samplerate
        self.reporter.emit(
            "recorded",
            f"recorded take {view.info.short_id}: {seconds:.2f} s",
            take_id=view.info.take_id,
            frames=view.length,
            sha256=view.sha256.hex() if view.sha256 else None,
        )

    def _mesh_event(self, event: MeshEvent) -> None:
        if event.kind == "warning":
            self._problem(logging.WARNING, event.kind, event.text, **event.fields)
        else:
            self.reporter.emit(event.kind, event.text, **event.fields)
        if event.kind == "peer-left":
            self._report_cut_short(event.fields.get("name"))

    def _problem(self, level: int, event: str, text: str, **fields: Any) -> None:
        """A warning or error goes to stderr; with --json it is also an event on stdout."""
        log.log(level, "%s", text)
        if self.reporter.json_mode:
            self.reporter.emit(event, text, **fields)

    def _report_cut_short(self, owner: Any) -> None:
        """The takes a departed peer was still sending us stay, marked incomplete."""
        for view in self._store.takes():
            if view.info.owner != owner or view.complete:
                continue
            held = view.contiguous / view.info.samplerate
            self.reporter.emit(
                "take-incomplete",
                f"{owner}'s take {view.info.short_id} is incomplete ({held:.1f} s held); it"
                f" completes when {owner} or a peer holding it is back",
                take_id=view.info.take_id,
                owner=owner,
                frames=view.contiguous,
            )

    def _drain_sync_events(self) -> None:
        assert self.sync is not None
        for event in self.sync.events():
            match event:
                case PeerGreeted(_, name):
                    self.reporter.emit("peer-joined", f"{name} joined", name=name)
                case TakeAnnounced(_, info):
                    self.reporter.emit(
                        "take-started",
                        f"{info.owner}'s take {info.short_id}"
                        f" (at {info.start / info.samplerate:.2f} s) is arriving",
                        take_id=info.take_id,
                        owner=info.owner,
                        start=info.start,
                    )
                case TakeCompleted(take_id):
                    view = self._store.get(take_id)
                    if view is not None:
                        self.reporter.emit(
                            "take-complete",
                            f"{view.info.owner}'s take {view.info.short_id} complete: "
                            f"{(view.length or 0) / view.info.samplerate:.2f} s, SHA-256 verified",
                            take_id=take_id,
                            owner=view.info.owner,
                            frames=view.length,
                            sha256=view.sha256.hex() if view.sha256 else None,
                        )
                case TakeCorrupt(take_id):
                    self._problem(
                        logging.WARNING,
                        "take-corrupt",
                        f"take {take_id[:8]} arrived whole but failed its SHA-256 check",
                        take_id=take_id,
                    )
                case TakeConfirmed(_, name, take_id):
                    self.reporter.emit(
                        "take-confirmed",
                        f"{name} holds take {take_id[:8]} complete",
                        name=name,
                        take_id=take_id,
                    )
                case StoreFailed(reason):
                    self._problem(logging.ERROR, "store-error", reason)
                case PeerMisbehaved(_, name, reason):
                    self._problem(
                        logging.WARNING,
                        "warning",
                        f"refused data from {name or 'a peer'}: {reason}",
                        peer=name,
                    )
                case _:
                    pass

    async def _progress_loop(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), PROGRESS_INTERVAL)
            for view in self._store.takes():
                if view.info.owner == self.options.name or view.complete:
                    continue
                take_id = view.info.take_id
                if self._progress.get(take_id) != view.contiguous:
                    self._progress[take_id] = view.contiguous
                    self.reporter.emit(
                        "take-progress",
                        f"{view.info.owner}'s take {view.info.short_id}: "
                        f"{view.contiguous / view.info.samplerate:.1f} s received",
                        take_id=take_id,
                        owner=view.info.owner,
                        frames=view.contiguous,
                    )

    async def _repair_loop(self) -> None:
        """Every few seconds, ask again for takes that stopped moving although a peer can
        send more (frames our disk refused, for one): what arrives is checked, never lost."""
        assert self.sync is not None and self.mesh is not None
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), REPAIR_INTERVAL)
            for take_id in self.sync.repair():
                log.info("asking again for take %s, which stopped arriving", take_id[:8])
            self.mesh.wake_all()


async def _outcome(aw: Awaitable[T]) -> T | VampError:
    """The result, or the VampError that ended it: returned, not raised, so the task group
    keeps the mesh running long enough to say goodbye."""
    try:
        return await aw
    except VampError as exc:
        return exc


async def _unwrap(aw: Awaitable[T]) -> T:
    """Raise the first VampError of a task group as itself, so the CLI prints its message."""
    try:
        return await aw
    except BaseExceptionGroup as group:
        first = _first_vamp_error(group)
        if first is None:
            raise
        raise first from None


def _first_vamp_error(group: BaseExceptionGroup[BaseException]) -> VampError | None:
    for exc in group.exceptions:
        if isinstance(exc, VampError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_vamp_error(exc)
            if found is not None:
                return found
    return None


def default_name() -> str:
    """``user@host``: stable across runs on one machine, which is what take identity needs."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        user = "vamp"
    return f"{user}@{socket.gethostname().split('.')[0]}"[:64]


def session_options(
    vamp: str,
    *,
    monitor_default: str,
    server: str,
    token: str | None,
    name: str | None,
    store_dir: Path,
    ice_servers: tuple[str, ...],
    ice_hosts: tuple[str, ...],
    monitor: str | None,
    play_from: float | None,
    jitter_ms: float,
    input_spec: InputSpec,
    output_spec: Any,
    samplerate: int,
    channels: int,
    fmt: SampleFormat,
    blocksize: int = 256,
    leave_after: float | None = None,
    connect_timeout: float = 10.0,
    at: float = 0.0,
) -> SessionOptions:
    """The command line's values as SessionOptions; VampError for a bad one."""
    from vamp_cli.net.ice import parse_ice_server

    if not vamp or len(vamp) > 128:
        raise VampError(f"vamp name {vamp!r} must be 1 to 128 characters")
    chosen_name = name or default_name()
    if not 1 <= len(chosen_name.encode()) <= 64:
        raise VampError("--name must be 1 to 64 bytes of UTF-8")
    if leave_after is not None and leave_after < 0:
        raise VampError("--leave-after must be zero or more seconds")
    return SessionOptions(
        vamp=vamp,
        name=chosen_name,
        server=server,
        store_dir=store_dir,
        token=token,
        input=input_spec,
        output=None if output_spec.kind == "none" else output_spec,
        monitor=monitor or monitor_default,
        play_from=at if play_from is None else play_from,
        jitter_ms=jitter_ms,
        samplerate=samplerate,
        channels=channels,
        fmt=fmt,
        blocksize=blocksize,
        ice_servers=[parse_ice_server(u) for u in ice_servers] if ice_servers else None,
        ice_hosts=ice_hosts,
        leave_after=leave_after,
        connect_timeout=connect_timeout,
    )
