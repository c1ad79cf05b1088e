"""A verified access token is remembered (the next request with it skips the signature
check), but a remembered token still expires on time and dies with its signing key."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from wis_server.api import tokens as tokens_module
from wis_server.api.tokens import CLOCK_SKEW_S, VERIFIED_CACHE_SIZE, TokenService
from wis_server.classification.keys import generate_keyring
from wis_server.domain.codes import Code
from wis_server.domain.errors import AuthenticationFailed


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def service(clock: Clock, ttl_s: int = 600) -> TokenService:
    return TokenService(generate_keyring(), issuer="wis", audience="wis-api", ttl_s=ttl_s,
                        clock=clock)


def counting_decode(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = tokens_module.jwt.decode

    def decode(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tokens_module.jwt, "decode", decode)
    return calls


def test_a_second_use_of_a_token_skips_the_signature_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    tokens = service(clock)
    calls = counting_decode(monkeypatch)
    token = tokens.issue("u1", "a1", datetime.now(UTC), session_epoch=3)
    first = tokens.verify(token)
    second = tokens.verify(token)
    assert first == second
    assert (second.user_id, second.actor_id, second.session_epoch) == ("u1", "a1", 3)
    assert len(calls) == 1


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    tokens = service(clock, ttl_s=60)
    token = tokens.issue("u1", "a1", datetime.now(UTC))
    claims = tokens.verify(token)
    clock.now = claims.expires_at + CLOCK_SKEW_S + 1
    with pytest.raises(AuthenticationFailed) as raised:
        tokens.verify(token)
    assert raised.value.code is Code.TOKEN_EXPIRED


def test_a_remembered_token_dies_with_its_signing_key() -> None:
    clock = Clock()
    tokens = service(clock)
    token = tokens.issue("u1", "a1", datetime.now(UTC))
    tokens.verify(token)
    tokens.keyring = replace(tokens.keyring, signing=generate_keyring().signing)  # rotated out
    with pytest.raises(AuthenticationFailed) as raised:
        tokens.verify(token)
    assert raised.value.code is Code.TOKEN_INVALID


def test_a_forged_token_is_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    tokens = service(clock)
    token = tokens.issue("u1", "a1", datetime.now(UTC))
    head, body, signature = token.split(".")
    forged = ".".join((head, body, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA"
                                                       else "BBBB")))
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            tokens.verify(forged)
    assert forged not in tokens._verified


def test_the_memory_is_bounded() -> None:
    clock = Clock()
    tokens = service(clock)
    now = datetime.now(UTC)
    for n in range(VERIFIED_CACHE_SIZE + 10):
        tokens.verify(tokens.issue(f"u{n}", "a1", now))
    assert len(tokens._verified) == VERIFIED_CACHE_SIZE
