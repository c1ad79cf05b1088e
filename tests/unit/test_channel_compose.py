"""compose(): policy then rendering in one call, honouring an adapter that declares a lower
ceiling than the policy's (it can only tighten, never loosen)."""

from __future__ import annotations

from wis_server.channels.compose import compose
from wis_server.channels.memory import MemoryChannel
from wis_server.channels.ports import Capabilities
from wis_server.classification.channel_policy import ChannelKind, MessageContent
from wis_server.domain.levels import Classification

P, S, H = Classification.PUBLIC, Classification.SEKRETESS, Classification.HEMLIG


def content(level: Classification) -> MessageContent:
    return MessageContent(level=level, body="Brand i Hjulsta", title="Brand", code="7Q4K",
                          link="https://wis.example/s/1")


def test_compose_applies_the_policy_then_renders() -> None:
    sms = MemoryChannel(ChannelKind.SMS)
    public = compose(sms, content(P), delivery_id="d1", to="+46701234567", topic="t")
    assert public.rendered.text.startswith("Brand: Brand i Hjulsta")
    assert (public.delivery_id, public.to, public.topic) == ("d1", "+46701234567", "t")
    secret = compose(sms, content(S), delivery_id="d2", to="+46701234567")
    assert "Brand" not in secret.rendered.text and "7Q4K" in secret.rendered.text


def test_adapter_ceiling_only_tightens() -> None:
    rakel = MemoryChannel(ChannelKind.RAKEL)
    assert "Hjulsta" in compose(rakel, content(S), delivery_id="d", to="1234").rendered.text
    strict = MemoryChannel(ChannelKind.RAKEL, Capabilities(140, True, P))
    assert "Hjulsta" not in compose(strict, content(S), delivery_id="d", to="1").rendered.text
    loose = MemoryChannel(ChannelKind.SMS, Capabilities(459, True, H))  # cannot loosen
    assert "Hjulsta" not in compose(loose, content(S), delivery_id="d", to="1").rendered.text
