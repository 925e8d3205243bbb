"""The server's settings: one frozen dataclass, checked once, with errors a user can fix."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from signaling.auth import DEFAULT_TURN_TTL
from signaling.protocol import (
    DEFAULT_EVENT_BURST,
    DEFAULT_EVENTS_PER_SECOND,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_MAX_PEERS,
    DEFAULT_PORT,
    IceServer,
)
from vamp_cli.errors import VampError

LOG_LEVELS = ("debug", "info", "warning", "error")

_ICE_SPEC = re.compile(
    r"^(?:(?P<username>[^:@\s]+):(?P<credential>\S*)@)?(?P<url>(?:stuns?|turns?):[^\s@]+)$"
)


WEB_DIST = Path(__file__).parent / "web" / "dist"
"""Where `make web` builds the browser client (signaling/web) that `--web` serves."""
WEB_FILES = ("index.html", "vamp.js", "capture-worklet.js")


class ConfigError(VampError):
    """A setting is invalid; the message names it and says how to fix it."""


def web_dist(root: Path = WEB_DIST) -> Path:
    """The built web client's directory; ConfigError saying how to build it when missing."""
    missing = [name for name in WEB_FILES if not (root / name).is_file()]
    if missing:
        raise ConfigError(
            f"--web: the web client is not built ({root / missing[0]} is missing); "
            "run `make web` in the vamp checkout (needs node and npm), then start again"
        )
    return root


def parse_ice_server(spec: str) -> IceServer:
    """An RTCIceServer from `URL` or `USERNAME:CREDENTIAL@URL` (stun:, stuns:, turn:, turns:)."""
    match = _ICE_SPEC.match(spec.strip())
    if match is None:
        raise ConfigError(
            f"--ice-server {spec!r} is not an ICE server; use a URL like stun:host:3478 "
            "or turn:host:3478, optionally as USERNAME:CREDENTIAL@turn:host:3478"
        )
    server: IceServer = {"urls": match["url"]}
    if match["username"] is not None:
        server["username"] = match["username"]
        server["credential"] = match["credential"]
    return server


def is_turn(server: IceServer) -> bool:
    urls = server["urls"]
    url_list = [urls] if isinstance(urls, str) else urls
    return any(u.startswith(("turn:", "turns:")) for u in url_list)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerConfig:
    """Everything `vamp serve-signal` can be told. Port 0 binds a free port."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_peers: int = DEFAULT_MAX_PEERS
    secret: str | None = None
    """With a secret, connecting needs a token from `vamp token`; without, vamps are open."""
    ice_servers: tuple[IceServer, ...] = ()
    turn_secret: str | None = None
    """coturn's static-auth-secret: TURN entries without credentials get time-limited ones."""
    turn_ttl: int = DEFAULT_TURN_TTL
    cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to connect; () allows only the same origin, ("*",) all."""
    log_level: str = "info"
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    events_per_second: float = DEFAULT_EVENTS_PER_SECOND
    event_burst: int = DEFAULT_EVENT_BURST
    shutdown_timeout: float = 0.25
    """Seconds aiohttp waits for connections after every client was told to disconnect."""
    web_root: Path | None = None
    """With `--web`: the built browser client, served at / (`/?vamp=NAME` joins NAME)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port} is out of range; use 1-65535")
        if self.max_peers < 1:
            raise ConfigError(f"--max-peers {self.max_peers} must be at least 1")
        if self.secret is not None and not self.secret:
            raise ConfigError("--secret is empty; give a secret or leave the option out")
        if self.turn_secret is not None and not self.turn_secret:
            raise ConfigError("--turn-secret is empty; give a secret or leave the option out")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(
                f"--log-level {self.log_level!r} is unknown; use one of {', '.join(LOG_LEVELS)}"
            )
        if self.max_payload_bytes < 1024:
            raise ConfigError("the maximum payload must be at least 1024 bytes")
        if self.events_per_second <= 0 or self.event_burst < 1:
            raise ConfigError("the event rate limit must allow at least one event")

    @classmethod
    def from_options(
        cls,
        *,
        host: str,
        port: int,
        max_peers: int,
        secret: str | None,
        ice_servers: Iterable[str],
        turn_secret: str | None,
        cors_origins: Iterable[str],
        log_level: str,
        web: bool = False,
    ) -> ServerConfig:
        """A config from command-line strings (ICE servers as `parse_ice_server` specs)."""
        return cls(
            host=host,
            port=port,
            max_peers=max_peers,
            secret=secret,
            ice_servers=tuple(parse_ice_server(s) for s in ice_servers),
            turn_secret=turn_secret,
            cors_origins=tuple(cors_origins),
            log_level=log_level.lower(),
            web_root=web_dist() if web else None,
        )

    @property
    def python_log_level(self) -> int:
        return logging.getLevelNamesMapping()[self.log_level.upper()]
