"""Checking what clients send: each client event's arguments, parsed or refused with a code.

python-socketio hands a handler the event's arguments as a tuple (zero, one or more);
every function here takes that tuple and either returns the typed content or raises
PayloadError with the `vamp error` code and a message for the client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from signaling.protocol import MAX_SOCKET_ID_LENGTH, MAX_VAMP_ID_LENGTH, ErrorCode


class PayloadError(Exception):
    """A refused request: `code` is the stable reason, the message is for people."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Relay:
    """A signal to pass on to socket `target`."""

    target: str
    signal: Any


def encoded_size(args: tuple[Any, ...]) -> int:
    """Bytes the arguments take as compact JSON; raises PayloadError if they are not JSON."""
    try:
        return len(json.dumps(args, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise PayloadError(
            ErrorCode.BAD_PAYLOAD, "the payload must be JSON (no binary attachments)"
        ) from exc


def _single(args: tuple[Any, ...], shape: str) -> Any:
    if len(args) != 1:
        raise PayloadError(ErrorCode.BAD_PAYLOAD, f"expected one argument: {shape}")
    return args[0]


def parse_vamp_id(value: object) -> str:
    """A vamp id: a non-empty printable string of at most MAX_VAMP_ID_LENGTH characters."""
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(ErrorCode.BAD_PAYLOAD, "the vamp id must be a non-empty string")
    if len(value) > MAX_VAMP_ID_LENGTH:
        raise PayloadError(
            ErrorCode.BAD_PAYLOAD, f"the vamp id is longer than {MAX_VAMP_ID_LENGTH} characters"
        )
    # ids end up in log lines: control characters could forge them
    if not value.isprintable():
        raise PayloadError(ErrorCode.BAD_PAYLOAD, "the vamp id must not contain control characters")
    return value


def parse_join(args: tuple[Any, ...]) -> str:
    """`join vamp`: the vamp id."""
    return parse_vamp_id(_single(args, "the vamp id (a string)"))


def _socket_id(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_SOCKET_ID_LENGTH:
        raise PayloadError(ErrorCode.BAD_PAYLOAD, f"'{key}' must be a socket id (a string)")
    return value


def _relay(args: tuple[Any, ...], target_key: str, shape: str) -> Relay:
    payload = _single(args, shape)
    if not isinstance(payload, dict):
        raise PayloadError(ErrorCode.BAD_PAYLOAD, f"expected an object: {shape}")
    target = _socket_id(payload, target_key)
    if payload.get("signal") is None:
        raise PayloadError(ErrorCode.BAD_PAYLOAD, "'signal' is missing")
    return Relay(target, payload["signal"])


def parse_sending_signal(args: tuple[Any, ...]) -> Relay:
    """`sending signal` {userToSignal, callerID, signal}; callerID is not trusted, not read."""
    return _relay(args, "userToSignal", "{userToSignal, callerID, signal}")


def parse_returning_signal(args: tuple[Any, ...]) -> Relay:
    """`returning signal` {signal, callerID}: callerID is the socket being answered."""
    return _relay(args, "callerID", "{signal, callerID}")
