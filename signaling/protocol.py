"""The signaling vocabulary, spelled once: event names, payload shapes and error codes.

Event names keep the original Vamp web client's spelling (with spaces) so that client can
use this server unchanged. Both the server (``signaling.server``) and the CLI's client
(``vamp_cli.net.signaling``) import these names rather than spelling them again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypedDict

DEFAULT_PORT = 4567
DEFAULT_MAX_PEERS = 8
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024
DEFAULT_EVENTS_PER_SECOND = 50.0
DEFAULT_EVENT_BURST = 100
MAX_VAMP_ID_LENGTH = 128
MAX_SOCKET_ID_LENGTH = 64
HEALTHZ_PATH = "/healthz"
AUTH_TOKEN_KEY = "token"
"""The key of the Socket.IO ``auth`` payload that carries a vamp token: {"token": "..."}."""


class ClientEvent(StrEnum):
    """Events a client emits to the server."""

    JOIN_VAMP = "join vamp"
    """payload: the vamp id (a non-empty string)."""
    SENDING_SIGNAL = "sending signal"
    """payload: {userToSignal, callerID, signal}; callerID is ignored (the server knows)."""
    RETURNING_SIGNAL = "returning signal"
    """payload: {signal, callerID} where callerID is the socket to answer."""
    LEAVE_VAMP = "leave vamp"
    """payload: none. Leaves the current vamp without disconnecting."""


class ServerEvent(StrEnum):
    """Events the server emits to a client."""

    ALL_USERS = "all users"
    """to the joiner: list of socket ids already in the vamp."""
    USER_JOINED = "user joined"
    """to the target of a 'sending signal': {signal, callerID}."""
    RECEIVING_RETURNED_SIGNAL = "receiving returned signal"
    """to the caller: {signal, id} where id is the answerer's socket id."""
    USER_LEFT = "user left"
    """to the remaining members: the departed socket id."""
    ROOM_FULL = "room full"
    """to a joiner refused because the vamp has --max-peers members: {vamp, maxPeers}."""
    ICE_SERVERS = "ice servers"
    """to a socket when it joins: list of RTCIceServer dicts {urls, username?, credential?}."""
    VAMP_ERROR = "vamp error"
    """answers every refused request: {code, message, event}."""


class ErrorCode(StrEnum):
    """Stable, machine-readable reasons carried by 'vamp error'."""

    BAD_PAYLOAD = "bad-payload"
    NOT_IN_VAMP = "not-in-vamp"
    TARGET_UNKNOWN = "target-unknown"
    TARGET_IN_OTHER_VAMP = "target-in-other-vamp"
    PAYLOAD_TOO_LARGE = "payload-too-large"
    RATE_LIMITED = "rate-limited"
    UNAUTHORIZED = "unauthorized"
    UNKNOWN_EVENT = "unknown-event"


class IceServer(TypedDict, total=False):
    urls: str | list[str]
    username: str
    credential: str


class VampError(TypedDict):
    code: str
    message: str
    event: str


class RoomFull(TypedDict):
    vamp: str
    maxPeers: int


class UserJoined(TypedDict):
    signal: Any
    callerID: str


class ReceivingReturnedSignal(TypedDict):
    signal: Any
    id: str


class Health(TypedDict):
    """The JSON body of GET /healthz."""

    status: str
    vamps: int
    sockets: int


Signal = dict[str, Any]
"""Opaque to the server. simple-peer's shape: {type: 'offer'|'answer', sdp} or
{type: 'candidate', candidate: {...}}."""
