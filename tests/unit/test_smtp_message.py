"""The e-mail built for a delivery: headers, a Message-ID that is stable per delivery id and
safe whatever the id looks like, and no header injection through the subject."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from wis_server.channels.ports import Rendered
from wis_server.channels.smtp import build_email, message_id

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def test_message_id_is_stable_and_safe() -> None:
    assert message_id("d-42", "wis@kommun.example") == "<wis.d-42@kommun.example>"
    assert message_id("d-42", "x@kommun.example") == message_id("d-42", "y@kommun.example")
    odd = message_id("a b<c>@d\r\n", "wis@kommun.example")
    assert odd == message_id("a b<c>@d\r\n", "wis@kommun.example")
    assert odd.startswith("<wis.") and " " not in odd and "\r" not in odd
    assert odd.count("@") == 1 and odd.count("<") == 1


def test_build_email_headers_and_body() -> None:
    mail = build_email(Rendered("Ämne: test", "Rad ett\nRad två"), "tib@lst.example",
                       "wis@kommun.example", "d-1", NOW)
    parsed = message_from_bytes(mail.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert parsed["From"] == "wis@kommun.example" and parsed["To"] == "tib@lst.example"
    assert parsed["Subject"] == "Ämne: test"
    assert parsed["Message-ID"] == "<wis.d-1@kommun.example>"
    assert parsed["Date"] == "Wed, 02 Dec 2026 03:00:00 +0000"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().replace("\r\n", "\n") == "Rad ett\nRad två\n"


def test_subject_cannot_inject_headers() -> None:
    mail = build_email(Rendered("Hej\r\nBcc: spy@evil.example", "x"), "tib@lst.example",
                       "wis@kommun.example", "d-1", NOW)
    raw = mail.as_bytes(policy=policy.SMTP)
    assert b"\r\nBcc:" not in raw
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == \
        "Hej Bcc: spy@evil.example"
