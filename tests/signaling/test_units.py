"""The pure parts of the server: tokens, TURN credentials, rooms, the rate limit, payloads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling.auth import TokenError, issue_token, new_token, turn_credentials, verify_token
from signaling.config import ConfigError, ServerConfig, parse_ice_server
from signaling.payloads import (
    PayloadError,
    encoded_size,
    parse_join,
    parse_returning_signal,
    parse_sending_signal,
)
from signaling.protocol import MAX_VAMP_ID_LENGTH, ErrorCode
from signaling.ratelimit import Admission, EventRateLimit
from signaling.rooms import Full, Joined, Rooms

vamp_ids = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf", "Co", "Cn")),
    min_size=1, max_size=MAX_VAMP_ID_LENGTH,
).filter(lambda s: s.strip() and s.isprintable())
secrets = st.text(min_size=1, max_size=40)
times = st.integers(min_value=0, max_value=2**40)


@given(vamp_ids, secrets, times, st.integers(min_value=1, max_value=10**7))
def test_token_round_trip(vamp: str, secret: str, now: int, ttl: int) -> None:
    token = issue_token(vamp, secret, ttl=ttl, now=now)
    assert verify_token(token, secret, now=now) == vamp
    assert verify_token(token, secret, now=now + ttl - 1) == vamp
    with pytest.raises(TokenError, match="expired"):
        verify_token(token, secret, now=now + ttl)


@given(vamp_ids, secrets, times, st.data())
def test_any_change_to_a_token_is_refused(
    vamp: str, secret: str, now: int, data: st.DataObject
) -> None:
    token = issue_token(vamp, secret, ttl=60, now=now)
    i = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("AZaz09-_.x").filter(lambda c: c != token[i]))
    forged = token[:i] + replacement + token[i + 1:]
    try:
        granted = verify_token(forged, secret, now=now)
    except TokenError:
        return
    # base64 padding bits can absorb a change that decodes to the same bytes
    assert granted == vamp and base64.urlsafe_b64decode(forged.split(".")[3] + "==") == \
        base64.urlsafe_b64decode(token.split(".")[3] + "==")


@given(vamp_ids, secrets, secrets.filter(lambda s: len(s) > 0), times)
def test_token_of_another_secret_is_refused(vamp: str, a: str, b: str, now: int) -> None:
    if a == b:
        return
    with pytest.raises(TokenError, match="signature"):
        verify_token(issue_token(vamp, a, ttl=60, now=now), b, now=now)


@pytest.mark.parametrize("token", [None, "", 42, "v1.a.b", "v2.YQ.1.sig", "v1.YQ.notanumber.sig"])
def test_malformed_tokens_are_refused(token: object) -> None:
    with pytest.raises(TokenError):
        verify_token(token, "secret", now=0)


def test_new_token_checks_its_inputs() -> None:
    with pytest.raises(TokenError, match="vamp id"):
        new_token("", "s", ttl=60)
    with pytest.raises(TokenError, match="ttl"):
        new_token("band", "s", ttl=0)
    assert verify_token(new_token("band", "s", ttl=60), "s", now=0) == "band"


@given(secrets, st.text(min_size=1, max_size=30), times, st.integers(min_value=1, max_value=10**6))
def test_turn_credentials_are_coturn_rest_api(secret: str, user: str, now: int, ttl: int) -> None:
    username, credential = turn_credentials(secret, user, ttl=ttl, now=now)
    expiry, _, named = username.partition(":")
    assert int(expiry) == now + ttl and named == user
    # what coturn computes with use-auth-secret / static-auth-secret
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(credential) == digest


def test_parse_ice_server() -> None:
    assert parse_ice_server("stun:127.0.0.1:3478") == {"urls": "stun:127.0.0.1:3478"}
    assert parse_ice_server("al:pw@turn:h:3478?transport=tcp") == {
        "urls": "turn:h:3478?transport=tcp", "username": "al", "credential": "pw",
    }
    for bad in ["", "http://x", "127.0.0.1:3478", "stun:", "a@b@turn:x"]:
        with pytest.raises(ConfigError, match="--ice-server"):
            parse_ice_server(bad)


@pytest.mark.parametrize(
    "kwargs", [{"port": 70000}, {"max_peers": 0}, {"secret": ""}, {"log_level": "loud"}]
)
def test_config_refuses_bad_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ServerConfig(**kwargs)  # type: ignore[arg-type]


# --- rooms: a random walk of joins and leaves against a plain model -----------------------

sids = st.sampled_from([f"s{i}" for i in range(6)])
vamps = st.sampled_from(["a", "b", "c"])
ops = st.lists(st.tuples(st.sampled_from(["join", "leave"]), sids, vamps), max_size=60)


@given(ops, st.integers(min_value=1, max_value=4))
def test_rooms_match_a_simple_model(steps: list[tuple[str, str, str]], max_peers: int) -> None:
    rooms = Rooms()
    model: dict[str, list[str]] = {}  # vamp -> members in join order
    for op, sid, vamp in steps:
        current = next((v for v, m in model.items() if sid in m), None)
        if op == "join":
            result = rooms.join(sid, vamp, max_peers=max_peers)
            if current == vamp:
                assert isinstance(result, Joined) and result.rejoined
                assert list(result.others) == [m for m in model[vamp] if m != sid]
            elif len(model.get(vamp, [])) >= max_peers:
                assert result == Full(vamp, max_peers)
            else:
                assert isinstance(result, Joined) and not result.rejoined
                assert list(result.others) == model.get(vamp, [])
                assert (result.previous is None) == (current is None)
                if current is not None:
                    model[current].remove(sid)
                    assert result.previous is not None
                    assert list(result.previous.remaining) == model[current]
                model.setdefault(vamp, []).append(sid)
        else:
            left = rooms.leave(sid)
            if current is None:
                assert left is None
            else:
                model[current].remove(sid)
                assert left is not None and list(left.remaining) == model[current]
        model = {v: m for v, m in model.items() if m}
        assert rooms.vamp_count == len(model)
        assert rooms.member_count == sum(len(m) for m in model.values())
        for v, members in model.items():
            assert list(rooms.members(v)) == members
            assert len(members) <= max_peers


# --- rate limit ----------------------------------------------------------------------------


@given(st.floats(min_value=1, max_value=1000), st.integers(min_value=1, max_value=200))
def test_rate_limit_admits_the_burst_then_the_rate(rate: float, burst: int) -> None:
    limit = EventRateLimit(rate, burst)
    assert all(limit.admit(0.0) is Admission.ADMIT for _ in range(burst))
    assert limit.admit(0.0) is Admission.REFUSE_AND_TELL
    assert limit.admit(0.0) is Admission.REFUSE_QUIETLY
    # one token's worth of time later, exactly one more event goes through
    later = 1.001 / rate  # a hair over, so float rounding cannot leave it short
    assert limit.admit(later) is Admission.ADMIT
    assert limit.admit(later) is not Admission.ADMIT


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=300))
def test_rate_limit_tells_at_most_once_per_interval(gaps: list[float]) -> None:
    limit = EventRateLimit(rate=1.0, burst=1)
    now, tells = 0.0, []
    for gap in gaps:
        now += gap
        if limit.admit(now) is Admission.REFUSE_AND_TELL:
            tells.append(now)
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(tells))


# --- payloads ------------------------------------------------------------------------------


def test_payload_parsing() -> None:
    assert parse_join(("band",)) == "band"
    relay = parse_sending_signal(({"userToSignal": "t", "callerID": "forged", "signal": {}},))
    assert (relay.target, relay.signal) == ("t", {})
    assert parse_returning_signal(({"callerID": "c", "signal": "s"},)).target == "c"
    refused: list[tuple[Callable[[tuple[object, ...]], object], tuple[object, ...]]] = [
        (parse_join, ()), (parse_join, ("a", "b")), (parse_join, ("x" * (MAX_VAMP_ID_LENGTH + 1),)),
        (parse_sending_signal, ({"userToSignal": 1, "signal": {}},)),
        (parse_sending_signal, ({"userToSignal": "t", "signal": None},)),
        (parse_returning_signal, ([],)),
    ]
    for parse, args in refused:
        with pytest.raises(PayloadError) as info:
            parse(args)
        assert info.value.code is ErrorCode.BAD_PAYLOAD


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda c: st.lists(c) | st.dictionaries(st.text(), c), max_leaves=20))
def test_encoded_size_is_the_json_length(value: object) -> None:
    import json

    assert encoded_size((value,)) == len(json.dumps([value], separators=(",", ":"),
                                                     ensure_ascii=False).encode())


def test_encoded_size_refuses_binary() -> None:
    with pytest.raises(PayloadError):
        encoded_size((b"\x00",))
