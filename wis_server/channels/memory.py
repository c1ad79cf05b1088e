"""In-memory recording channels: the fake beside every real adapter (unit tests, demos, and
`WIS_CHANNELS=memory`). It records the exact Message it was given and can be told to fail."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from ..classification.channel_policy import CHANNEL_CEILING, ChannelKind
from .errors import ChannelError
from .ports import Capabilities, Message, Receipt

SMS_MAX_PARTS = 3
# The real adapters' capabilities, so a message renders the same on the fake as for real.
DEFAULT_CAPABILITIES = {
    ChannelKind.EMAIL: Capabilities(20_000, False, CHANNEL_CEILING[ChannelKind.EMAIL]),
    ChannelKind.SMS: Capabilities(153 * SMS_MAX_PARTS, True, CHANNEL_CEILING[ChannelKind.SMS]),
    ChannelKind.PUSH: Capabilities(400, False, CHANNEL_CEILING[ChannelKind.PUSH]),
    ChannelKind.RAKEL: Capabilities(140, True, CHANNEL_CEILING[ChannelKind.RAKEL]),
    ChannelKind.PHONE: Capabilities(600, True, CHANNEL_CEILING[ChannelKind.PHONE]),
}


class MemoryChannel:
    """Records every message; `fail_next` scripts failures (raised once each, in order)."""

    def __init__(self, kind: ChannelKind, capabilities: Capabilities | None = None, *,
                 keep: int = 1000, clock: Callable[[], datetime] | None = None) -> None:
        self._kind = kind
        self._capabilities = capabilities or DEFAULT_CAPABILITIES[kind]
        self.sent: deque[Message] = deque(maxlen=keep)
        self.attempts = 0
        self._failures: deque[ChannelError] = deque()
        self._ids = itertools.count(1)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.closed = False
        # While set, every send raises it: the channel is unreachable (failover tests).
        self.down: ChannelError | None = None

    @property
    def kind(self) -> ChannelKind:
        return self._kind

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def fail_next(self, *errors: ChannelError) -> None:
        self._failures.extend(errors)

    async def send(self, message: Message) -> Receipt:
        self.attempts += 1
        if self.down is not None:
            raise self.down
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(message)
        return Receipt(self._kind, message.delivery_id, f"mem-{self._kind.value}-{next(self._ids)}",
                       "sent", message.rendered.parts, self._clock())

    async def aclose(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"MemoryChannel({self._kind.value}, sent={len(self.sent)})"
