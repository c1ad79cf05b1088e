"""Signed one-time acknowledgement links: round trip, forgery, tampering, expiry, length."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from wis_server.domain.errors import NotFound
from wis_server.services.callout_links import LinkExpired, LinkSigner

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_round_trip_and_length() -> None:
    signer = LinkSigner(b"k" * 32, "https://wis.example.se/")
    contact = str(uuid.uuid4())
    link = signer.link(contact, NOW + timedelta(hours=25))
    assert link.startswith("https://wis.example.se/k/")
    token = link.rsplit("/", 1)[1]
    assert len(token) <= 52  # fits an SMS beside the message
    claim = signer.verify(token, NOW)
    assert claim.contact_id == contact
    assert claim.expires_at == NOW + timedelta(hours=25)


def test_forged_tampered_and_malformed_tokens_are_one_not_found() -> None:
    signer = LinkSigner(b"k" * 32, "https://x")
    token = signer.token(str(uuid.uuid4()), NOW + timedelta(hours=1))
    other_key = LinkSigner(b"o" * 32, "https://x").token(str(uuid.uuid4()),
                                                         NOW + timedelta(hours=1))
    payload, mac = token.split(".")
    flipped = ("B" if payload[0] == "A" else "A") + payload[1:]
    for bad in (other_key, f"{flipped}.{mac}", f"{payload}.{mac[:-2]}", "x", "a.b.c", "",
                "é.é", f"{payload}." + "A" * 200):
        with pytest.raises(NotFound) as caught:
            signer.verify(bad, NOW)
        assert caught.value.code == "link_invalid"


def test_an_expired_link_says_so() -> None:
    signer = LinkSigner(b"k" * 32, "https://x")
    token = signer.token(str(uuid.uuid4()), NOW + timedelta(minutes=5))
    signer.verify(token, NOW + timedelta(minutes=4))
    with pytest.raises(LinkExpired):
        signer.verify(token, NOW + timedelta(minutes=5))
