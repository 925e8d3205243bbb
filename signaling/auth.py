"""Vamp tokens and TURN credentials: pure functions of a secret, the inputs and the time.

A vamp token lets its holder connect and join one vamp until it expires:
``v1.<vamp, base64url>.<expiry, unix seconds>.<HMAC-SHA256, base64url>``.
TURN credentials follow coturn's ``use-auth-secret`` scheme (the TURN REST API draft):
username ``<expiry>:<user id>``, credential base64(HMAC-SHA1(secret, username)).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from signaling.payloads import PayloadError, parse_vamp_id
from vamp_cli.errors import VampError

TOKEN_VERSION = "v1"
DEFAULT_TOKEN_TTL = 24 * 3600
DEFAULT_TURN_TTL = 24 * 3600


class TokenError(VampError):
    """A token was refused; the message says why, in words a user can act on."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _token_signature(secret: str, signed: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), signed.encode("ascii"), hashlib.sha256).digest()
    return _b64url(digest)


def issue_token(vamp: str, secret: str, *, ttl: int, now: float) -> str:
    """A token for `vamp` that expires `ttl` seconds after `now`."""
    expiry = int(now) + ttl
    signed = f"{TOKEN_VERSION}.{_b64url(vamp.encode('utf-8'))}.{expiry}"
    return f"{signed}.{_token_signature(secret, signed)}"


def verify_token(token: object, secret: str, *, now: float) -> str:
    """The vamp a valid, unexpired token grants; raises TokenError otherwise."""
    if not isinstance(token, str) or not token:
        raise TokenError(
            'a token is required: connect with auth {"token": "..."} '
            "(get one with `vamp token <vamp> --secret ...`)"
        )
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION or not parts[2].isdigit():
        raise TokenError("the token is malformed; get a new one with `vamp token`")
    version, vamp_b64, expiry_text, signature = parts
    expected = _token_signature(secret, f"{version}.{vamp_b64}.{expiry_text}")
    # compare_digest: the time taken must not reveal how much of a forged signature matched
    if not hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode("ascii")):
        raise TokenError("the token's signature is invalid (wrong secret?); get a new one")
    if int(expiry_text) <= now:
        raise TokenError("the token has expired; get a new one with `vamp token`")
    try:
        return _unb64url(vamp_b64).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:  # only reachable with the secret
        raise TokenError("the token is malformed; get a new one with `vamp token`") from exc


def turn_credentials(turn_secret: str, user_id: str, *, ttl: int, now: float) -> tuple[str, str]:
    """(username, credential) a coturn server with `use-auth-secret` accepts until now+ttl."""
    username = f"{int(now) + ttl}:{user_id}"
    digest = hmac.new(turn_secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def new_token(vamp: str, secret: str, *, ttl: int) -> str:
    """`vamp token`: a token for `vamp` valid for `ttl` seconds from now, after checking both."""
    try:
        parse_vamp_id(vamp)
    except PayloadError as exc:
        raise TokenError(f"{exc.message}; pass the vamp id as the first argument") from None
    if not secret:
        raise TokenError("the secret is empty; pass the server's --secret (or set VAMP_SECRET)")
    if ttl < 1:
        raise TokenError(f"--ttl {ttl} must be at least 1 second")
    return issue_token(vamp, secret, ttl=ttl, now=time.time())
