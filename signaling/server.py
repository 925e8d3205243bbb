"""The signaling server: a python-socketio AsyncServer on aiohttp that speaks Vamp's protocol.

Embed it in an asyncio program with ``async with SignalingServer(config) as server:``
(``server.url`` is then live) or ``await serve(config, ready=event)``; ``run(config)``
is the blocking form `vamp serve-signal` uses, which stops cleanly on SIGINT/SIGTERM.
Routes are set up in ``SignalingServer.__init__``; add more to ``server.app`` before
``start()``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import socketio
from aiohttp import web

from signaling.auth import TokenError, turn_credentials, verify_token
from signaling.config import ServerConfig, is_loopback, is_turn
from signaling.payloads import (
    PayloadError,
    Relay,
    encoded_size,
    parse_join,
    parse_returning_signal,
    parse_sending_signal,
)
from signaling.protocol import (
    AUTH_TOKEN_KEY,
    HEALTHZ_PATH,
    ClientEvent,
    ErrorCode,
    Health,
    IceServer,
    ReceivingReturnedSignal,
    RoomFull,
    ServerEvent,
    UserJoined,
    VampError,
)
from signaling.ratelimit import Admission, EventRateLimit
from signaling.rooms import Full, Left, Rooms
from vamp_cli.errors import VampError as UserError

log = logging.getLogger("vamp.signaling")


class ServerStartError(UserError):
    """The server could not start listening."""


def _library_logger(name: str) -> logging.Logger:
    logger = log.getChild(name)
    logger.setLevel(logging.WARNING)  # INFO is a line per packet
    return logger


class _LibraryErrorsOnOneLine(logging.Filter):
    """Errors python-socketio, Engine.IO or aiohttp log about a client's malformed packets
    become one warning line: a client must not be able to fill the log with tracebacks.
    At debug level the traceback is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("vamp.signaling.") or record.name.startswith("aiohttp."):
            if record.exc_info and record.exc_info[1] is not None and not log.isEnabledFor(
                logging.DEBUG
            ):
                exc = record.exc_info[1]
                record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
                record.args = None
                record.exc_info = None
                record.exc_text = None
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _describe_event(event: object) -> str:
    text = event if isinstance(event, str) else repr(event)
    return text if len(text) <= 64 else text[:61] + "..."


class SignalingServer:
    """One server: its Socket.IO endpoint, /healthz, and the vamps it holds."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.rooms = Rooms()
        self.port = config.port
        self._clock = clock
        self._monotonic = monotonic
        self._limits: dict[str, EventRateLimit] = {}
        """Connected sockets and their rate limits: the set of sockets this server knows."""
        self._tokens: dict[str, str] = {}
        """With a secret: the token each socket connected with, re-checked on join."""
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

        cors: str | list[str] | None = None  # None: python-engineio allows the same origin only
        if "*" in config.cors_origins:
            cors = "*"
        elif config.cors_origins:
            cors = list(config.cors_origins)
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins=cors,
            # Payloads over our own limit get a 'vamp error'; only far larger frames are
            # cut off by Engine.IO, which keeps one client from making the server buffer much.
            max_http_buffer_size=max(8 * config.max_payload_bytes, 1 << 20),
            # One socket's events are handled in the order they arrive (trickled ICE
            # candidates must stay in order), and a flooding client waits for its own turn.
            async_handlers=False,
            # Our own loggers: python-socketio would otherwise attach a handler of its own.
            logger=_library_logger("socketio"),
            engineio_logger=_library_logger("engineio"),
        )
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_event)
        self.app = web.Application()
        self.sio.attach(self.app)
        self.app.router.add_get(HEALTHZ_PATH, self._healthz)
        if config.web_root is not None:
            self._add_web_client(config.web_root)

    @property
    def url(self) -> str:
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        return f"http://{host}:{self.port}"

    def health(self) -> Health:
        return Health(status="ok", vamps=self.rooms.vamp_count, sockets=len(self._limits))

    async def start(self) -> None:
        """Listen on the configured host and port (port 0: a free one, then in `.port`)."""
        cfg = self.config
        self._runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=cfg.shutdown_timeout
        )
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, cfg.host, cfg.port)
        try:
            await self._site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ServerStartError(
                f"cannot listen on {cfg.host}:{cfg.port} ({exc.strerror or exc}); "
                "choose another --port (VAMP_PORT) or stop the program that holds it"
            ) from exc
        self.port = int(self._runner.addresses[0][1])
        log.info("vamp signaling server listening on %s (at most %d peers per vamp)",
                 self.url, cfg.max_peers)
        if cfg.web_root is not None:
            log.info("web client at %s/?vamp=NAME (browsers need https:// off localhost)",
                     self.url)
        if cfg.secret is None:
            log.info("no --secret: vamps are open, "
                     "anyone who reaches this server may join any vamp")
            if not is_loopback(cfg.host):
                log.warning(
                    "listening on %s without --secret: anyone on the network may join any vamp; "
                    "set --secret (VAMP_SECRET) and hand out `vamp token`s", cfg.host)
        if cfg.turn_secret is None and any(
            is_turn(s) and "username" not in s for s in cfg.ice_servers
        ):
            log.warning("TURN servers without credentials and no --turn-secret: "
                        "clients will not be able to use them")

    async def stop(self) -> None:
        """Stop accepting, disconnect every client, release the port. Safe to call twice."""
        if self._runner is None:
            return
        self._closing = True
        if self._site is not None:
            await self._site.stop()
            self._site = None
        try:
            # Engine.IO's close waits for the socket's send queue to drain, which never
            # happens if the client vanished mid-way; the cleanup below closes what is left.
            async with asyncio.timeout(self.config.shutdown_timeout):
                for sid in list(self._limits):
                    await self.sio.disconnect(sid)
                if self.sio.eio.sockets:  # engineio's disconnect-all fails on an empty set
                    await self.sio.eio.disconnect()
        except TimeoutError:
            log.debug("some clients did not close in time; closing their connections")
        await self.sio.shutdown()
        await self._runner.cleanup()
        self._runner = None
        log.info("vamp signaling server stopped")

    async def __aenter__(self) -> SignalingServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- Socket.IO handlers -------------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: object) -> None:
        if self.config.secret is not None:
            token = auth.get(AUTH_TOKEN_KEY) if isinstance(auth, dict) else None
            try:
                verify_token(token, self.config.secret, now=self._clock())
            except TokenError as exc:
                log.info("refused a connection from %s: %s", environ.get("REMOTE_ADDR"), exc)
                raise socketio.exceptions.ConnectionRefusedError(str(exc)) from None
            assert isinstance(token, str)  # verify_token refuses anything else
            self._tokens[sid] = token
        self._limits[sid] = EventRateLimit(self.config.events_per_second, self.config.event_burst)
        log.debug("sid %s connected from %s", sid, environ.get("REMOTE_ADDR"))

    async def _on_disconnect(self, sid: str, reason: object = None) -> None:
        self._limits.pop(sid, None)
        self._tokens.pop(sid, None)
        left = self.rooms.leave(sid)
        if left is not None:
            await self._announce_left(left, f"disconnected: {reason}")
        else:
            log.debug("sid %s disconnected: %s", sid, reason)

    async def _on_event(self, event: object, sid: str, *args: Any) -> None:
        limit = self._limits.get(sid)
        if limit is None:  # not (or no longer) connected
            return
        admission = limit.admit(self._monotonic())
        if admission is Admission.REFUSE_QUIETLY:
            return
        try:
            if admission is Admission.REFUSE_AND_TELL:
                raise PayloadError(
                    ErrorCode.RATE_LIMITED,
                    f"more than {self.config.events_per_second:g} events per second; "
                    "events are being dropped, slow down",
                )
            await self._handle(event, sid, args)
        except PayloadError as exc:
            log.debug("refused %s from sid %s: %s", _describe_event(event), sid, exc.message)
            await self._send_error(sid, event, exc.code, exc.message)
        except Exception:
            # A bug here must cost one event, never the server or the client's connection.
            log.exception("error handling %s from sid %s", _describe_event(event), sid)

    async def _handle(self, event: object, sid: str, args: tuple[Any, ...]) -> None:
        size = encoded_size(args)
        if size > self.config.max_payload_bytes:
            raise PayloadError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"the payload is {size} bytes; the limit is {self.config.max_payload_bytes}",
            )
        if event == ClientEvent.JOIN_VAMP:
            await self._join(sid, parse_join(args))
        elif event == ClientEvent.SENDING_SIGNAL:
            relay = parse_sending_signal(args)
            await self._relay(sid, relay, ServerEvent.USER_JOINED,
                              UserJoined(signal=relay.signal, callerID=sid))
        elif event == ClientEvent.RETURNING_SIGNAL:
            relay = parse_returning_signal(args)
            await self._relay(sid, relay, ServerEvent.RECEIVING_RETURNED_SIGNAL,
                              ReceivingReturnedSignal(signal=relay.signal, id=sid))
        elif event == ClientEvent.LEAVE_VAMP:
            left = self.rooms.leave(sid)
            if left is None:
                raise PayloadError(ErrorCode.NOT_IN_VAMP, "this socket is not in a vamp")
            await self._announce_left(left, "left")
        else:
            known = ", ".join(repr(str(e)) for e in ClientEvent)
            raise PayloadError(
                ErrorCode.UNKNOWN_EVENT,
                f"unknown event {_describe_event(event)!r}; this server understands {known}",
            )

    async def _join(self, sid: str, vamp: str) -> None:
        if self.config.secret is not None:
            try:
                granted = verify_token(self._tokens.get(sid), self.config.secret, now=self._clock())
            except TokenError as exc:
                raise PayloadError(ErrorCode.UNAUTHORIZED, str(exc)) from None
            if granted != vamp:
                raise PayloadError(
                    ErrorCode.UNAUTHORIZED,
                    f"the token is for vamp {granted!r}, not {vamp!r}; "
                    "connect with a token for this vamp",
                )
        result = self.rooms.join(sid, vamp, max_peers=self.config.max_peers)
        if isinstance(result, Full):
            log.info("sid %s refused: vamp %s is full (%d/%d)",
                     sid, vamp, result.max_peers, result.max_peers)
            await self.sio.emit(ServerEvent.ROOM_FULL,
                                RoomFull(vamp=vamp, maxPeers=result.max_peers), to=sid)
            return
        if result.previous is not None:
            await self._announce_left(result.previous, f"moved to vamp {vamp}")
        if not result.rejoined:
            log.info("sid %s joined vamp %s (%d/%d)", sid, vamp, result.size,
                     self.config.max_peers)
        await self.sio.emit(ServerEvent.ICE_SERVERS, self._ice_servers_for(sid), to=sid)
        await self.sio.emit(ServerEvent.ALL_USERS, list(result.others), to=sid)

    async def _relay(self, sid: str, relay: Relay, event: ServerEvent, payload: object) -> None:
        vamp = self.rooms.vamp_of(sid)
        if vamp is None:
            raise PayloadError(ErrorCode.NOT_IN_VAMP, "join a vamp before sending signals")
        if relay.target == sid:
            raise PayloadError(ErrorCode.BAD_PAYLOAD, "a socket cannot signal itself")
        target_vamp = self.rooms.vamp_of(relay.target)
        if target_vamp is None:
            raise PayloadError(
                ErrorCode.TARGET_UNKNOWN,
                f"socket {relay.target} is not in a vamp (it may have left)",
            )
        if target_vamp != vamp:
            raise PayloadError(
                ErrorCode.TARGET_IN_OTHER_VAMP,
                f"socket {relay.target} is in another vamp; signals stay within a vamp",
            )
        log.debug("relayed %s from %s to %s in vamp %s", event, sid, relay.target, vamp)
        await self.sio.emit(event, payload, to=relay.target)

    async def _announce_left(self, left: Left, why: str) -> None:
        log.info("sid %s left vamp %s (%d/%d): %s", left.sid, left.vamp, len(left.remaining),
                 self.config.max_peers, why)
        if self._closing:
            return
        for member in left.remaining:
            await self.sio.emit(ServerEvent.USER_LEFT, left.sid, to=member)

    async def _send_error(self, sid: str, event: object, code: ErrorCode, message: str) -> None:
        await self.sio.emit(
            ServerEvent.VAMP_ERROR,
            VampError(code=code, message=message, event=_describe_event(event)),
            to=sid,
        )

    def _ice_servers_for(self, sid: str) -> list[IceServer]:
        cfg = self.config
        servers: list[IceServer] = []
        for server in cfg.ice_servers:
            entry = IceServer(**server)
            if cfg.turn_secret is not None and is_turn(server) and "username" not in server:
                entry["username"], entry["credential"] = turn_credentials(
                    cfg.turn_secret, sid, ttl=cfg.turn_ttl, now=self._clock()
                )
            servers.append(entry)
        return servers

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response(self.health())

    def _add_web_client(self, root: Path) -> None:
        """`--web`: the browser client at / (index.html; the page reads ?vamp= itself)."""
        index = root / "index.html"

        async def page(request: web.Request) -> web.FileResponse:
            return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

        self.app.router.add_get("/", page)
        self.app.router.add_static("/", root)


def create_app(config: ServerConfig) -> web.Application:
    """The aiohttp application of a new server (for embedding in an existing aiohttp site)."""
    return SignalingServer(config).app


async def serve(config: ServerConfig, *, ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled, then shut down cleanly; `ready` is set once clients can connect."""
    async with SignalingServer(config):
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()


def configure_logging(config: ServerConfig) -> None:
    """Timestamped lines on stderr at the configured level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(_LibraryErrorsOnOneLine())
    log.handlers[:] = [handler]
    log.setLevel(config.python_log_level)
    log.propagate = False
    for name in ("aiohttp.server", "aiohttp.web", "aiohttp.websocket"):
        library = logging.getLogger(name)
        library.handlers[:] = [handler]
        library.setLevel(logging.WARNING)
        library.propagate = False


async def serve_until_signalled(config: ServerConfig) -> None:
    """Serve until SIGINT or SIGTERM, then stop accepting, disconnect clients and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with SignalingServer(config):
            await stop.wait()
            log.info("shutting down: disconnecting clients")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def run(config: ServerConfig) -> None:
    """`vamp serve-signal`: log to stderr and serve in the foreground until a signal."""
    configure_logging(config)
    asyncio.run(serve_until_signalled(config))
