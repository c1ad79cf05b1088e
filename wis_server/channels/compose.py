"""The one way to turn what a service wants to say into a Message for a channel: the channel
policy, then rendering, so no caller can render content the policy has not seen. Pure."""

from __future__ import annotations

from ..classification.channel_policy import MessageContent, apply, carried_level
from .ports import Channel, Message, PushSubscription
from .render import render


def compose(channel: Channel, content: MessageContent, *, delivery_id: str,
            to: str | PushSubscription, topic: str | None = None, ttl_s: int = 24 * 3600,
            urgency: str = "normal") -> Message:
    """The Message `channel` may send to an ALREADY-DECIDED recipient (see channel_policy):
    full text up to the channel's ceiling (the policy's, lowered by the adapter's declared
    max_level), a content-free pointer above it."""
    outgoing = apply(channel.kind, content, ceiling=channel.capabilities.max_level)
    # `level` says what the text carries (a pointer: public), so an adapter with a ceiling of
    # its own (Rakel) can refuse what it must not carry even if a caller skipped compose.
    return Message(delivery_id, to, render(outgoing, channel.capabilities), topic=topic,
                   ttl_s=ttl_s, urgency=urgency, level=carried_level(outgoing))
