"""The SMS provider's webhooks, parsed without I/O: replies (OK/NEJ/STOP), delivery reports,
E.164 normalisation, and stable error codes for bad input."""

from __future__ import annotations

import pytest

from wis_server.channels.sms_webhooks import (
    ReplyKind,
    ReportStatus,
    WebhookError,
    normalise_number,
    parse_delivery_report,
    parse_inbound,
    parse_reply,
    secret_matches,
)


@pytest.mark.parametrize(("text", "kind", "code"), [
    ("OK 7Q4K", ReplyKind.ACKNOWLEDGE, "7Q4K"),
    ("ok 7q4k", ReplyKind.ACKNOWLEDGE, "7Q4K"),
    ("  Ok:7Q4K ", ReplyKind.ACKNOWLEDGE, "7Q4K"),
    ("OK4821", ReplyKind.ACKNOWLEDGE, "4821"),
    ("OK", ReplyKind.ACKNOWLEDGE, None),
    ("Ja 4821", ReplyKind.ACKNOWLEDGE, "4821"),
    ("NEJ 4821", ReplyKind.DECLINE, "4821"),
    ("no 4821", ReplyKind.DECLINE, "4821"),
    ("STOP", ReplyKind.STOP, None),
    ("stopp tack", ReplyKind.STOP, None),
    ("OKAY", ReplyKind.OTHER, None),
    ("Vem är detta?", ReplyKind.OTHER, None),
    ("OK 12", ReplyKind.OTHER, None),
    ("", ReplyKind.OTHER, None),
])
def test_parse_reply(text: str, kind: ReplyKind, code: str | None) -> None:
    reply = parse_reply(text)
    assert (reply.kind, reply.code) == (kind, code)


def test_parse_inbound() -> None:
    sms = parse_inbound({"direction": "incoming", "id": "sf84", "from": "+46706861004",
                         "to": "+46706860000", "created": "2018-07-13T13:57:23.741000",
                         "message": "OK 7Q4K"})
    assert (sms.provider_id, sms.sender, sms.to, sms.text) == \
        ("sf84", "+46706861004", "+46706860000", "OK 7Q4K")
    assert sms.created is not None and sms.created.utcoffset() is not None


@pytest.mark.parametrize(("form", "code"), [
    ({"to": "+46706860000", "message": "x"}, "sms_webhook_missing_field"),
    ({"from": "hello", "to": "+46706860000"}, "sms_webhook_invalid_number"),
    ({"from": "+46706861004", "to": "+4670", "message": "x" * 3000},
     "sms_webhook_field_too_long"),
    ({"from": "+46706861004", "to": "+4670", "created": "yesterday"},
     "sms_webhook_invalid_time"),
])
def test_parse_inbound_errors(form: dict[str, str], code: str) -> None:
    with pytest.raises(WebhookError) as info:
        parse_inbound(form)
    assert info.value.code == code


def test_parse_delivery_report() -> None:
    report = parse_delivery_report({"id": "s1", "status": "delivered",
                                    "delivered": "2018-07-13T13:57:25Z"}, {"delivery": "d-9"})
    assert report.status is ReportStatus.DELIVERED and report.delivery_id == "d-9"
    assert report.delivered_at is not None
    failed = parse_delivery_report({"id": "s1", "status": "failed"})
    assert failed.status is ReportStatus.FAILED and failed.delivery_id is None
    for form in ({"id": "s1", "status": "lost"}, {"status": "sent"}):
        with pytest.raises(WebhookError):
            parse_delivery_report(form)


@pytest.mark.parametrize(("raw", "e164"), [
    ("070-123 45 67", "+46701234567"), ("+46 70 123 45 67", "+46701234567"),
    ("0046701234567", "+46701234567"), ("08-123 456 78", "+46812345678"),
])
def test_normalise_number(raw: str, e164: str) -> None:
    assert normalise_number(raw) == e164


@pytest.mark.parametrize("raw", ["", "12", "abc", "+4670"])
def test_normalise_number_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_number(raw)


def test_secret_matches() -> None:
    assert secret_matches("abc", "abc") and not secret_matches("abd", "abc")
