"""Outbound channels: e-mail (SMTP), SMS (a 46elks-style HTTP API), Web Push — one port.

    notice / call-out service (decides per recipient with classification.decide)
        │ MessageContent for a recipient who MAY read the item
        ▼
    classification.channel_policy.apply(kind, content) ─▶ Outgoing (full text or pointer)
        ▼
    channels.render.render(outgoing, channel.capabilities) ─▶ Rendered (limits, encoding,
        │                                                    ÖVNING prefix; code/link kept)
        ▼
    channel.send(Message(delivery_id, to, rendered, topic, ttl_s, urgency)) ─▶ Receipt
        │ raises TransientError (retry, same delivery_id) · PermanentError (fail over, alarm)
        │        SubscriptionGone (push 404/410: delete the subscription)
        ▼
    provider ──▶ delivery reports / replies ─▶ channels.sms_webhooks (pure parsing)

`channels.compose.compose(channel, content, delivery_id=..., to=...)` does the policy and the
rendering in one call (an adapter's declared max_level can only lower the policy's ceiling);
use it rather than calling render on unchecked content.

The port (channels.ports.Channel), for the dispatcher built on top of it:

    kind: ChannelKind
    capabilities: Capabilities(max_length, confirms_delivery, max_level)
    async send(message: Message) -> Receipt
    async aclose() -> None

`delivery_id` is the outbox delivery row's id and must stay the same across retries: it
becomes the e-mail Message-ID, the SMS delivery-report reference and (hashed) the push Topic
when none is given, so a resend after a lost answer can be de-duplicated downstream.
`channels.registry.build_channels(channel_settings(settings), vapid_private_pem=...)` builds
the enabled adapters (or in-memory recorders for WIS_CHANNELS=memory); `channels.memory.
MemoryChannel` is the recording fake for unit tests. The outbox, dispatcher, notices and
call-outs live elsewhere and only use this port.
"""
