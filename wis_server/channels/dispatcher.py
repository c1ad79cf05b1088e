"""The outbox dispatcher: claims due deliveries, applies the channel policy per recipient,
renders, sends, and records what happened (DESIGN §7).

    outbox port.claim(lease) ─▶ jobs ─▶ port.prepare: decide per recipient, decrypt
        │                                  └─ Refusal (may not read / outside the exercise)
        ▼                                      ─▶ port.finish(refused)
    channel_policy.apply (full text or content-free pointer) ─▶ render (ÖVNING, limits)
        ▼
    channel.send(Message(delivery_id, ...)) ─▶ Receipt ─▶ port.sent
        │ TransientError ─▶ port.retry(backoff)      (same delivery id next time)
        │ PermanentError ─▶ port.finish(failed)      (fails over to the next channel)
        │ SubscriptionGone ─▶ port.gone + failed
        │ the channel's breaker is open (N channel failures in a window) ─▶ finish(failed,
        │   channel_down) without trying: the recipient's next channel at once (breaker.py)
        ▼
    wake() after a commit, or a sweep every `sweep_s`

At-least-once: a row is claimed under a lease before it is sent and recorded after; a process
killed in between leaves the lease to run out, and the row is sent again with the same
delivery id (the peer de-duplicates). Nothing here touches storage except through the port.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from ..classification.channel_policy import ChannelKind, MessageContent, apply
from ..domain.levels import Classification
from ..domain.notifications import DeliveryStatus
from ..domain.outbox import Job, Outgoing, Refusal
from .breaker import BreakerState
from .errors import ChannelError, SubscriptionGone
from .health import HealthRegistry
from .ports import Channel, Message, PushSubscription, Receipt
from .render import render

log = structlog.get_logger("wis.dispatcher")


class OutboxPort(Protocol):
    """What the dispatcher needs of storage (services.outbox implements it)."""

    async def claim(self, worker: str, now: datetime, lease: timedelta, limit: int
                    ) -> list[Job]: ...

    async def prepare(self, jobs: Sequence[Job], now: datetime
                      ) -> list[Outgoing | Refusal]: ...

    async def sent(self, job: Job, receipt: Receipt, now: datetime) -> None: ...

    async def retry(self, job: Job, at: datetime, error: str, now: datetime) -> None: ...

    async def finish(self, job: Job, status: DeliveryStatus, error: str | None,
                     now: datetime, *, audit: bool = False) -> None: ...

    async def gone(self, job: Job, now: datetime) -> None: ...

    async def next_due(self) -> datetime | None: ...


class Channels(Protocol):
    """The enabled channels by kind (channels.registry.ChannelRegistry, or a plain dict)."""

    def get(self, kind: ChannelKind, /) -> Channel | None: ...


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    lease_s: float = 120.0  # longer than any send may take (adapters time out well before)
    batch: int = 50
    concurrency: int = 16
    max_attempts: int = 8
    backoff_base_s: float = 5.0
    backoff_max_s: float = 900.0
    sweep_s: float = 5.0  # look at the table at least this often (other processes' rows)
    public_url: str = ""


def backoff(attempts: int, settings: DispatchSettings) -> float:
    """Exponential: base · 2^(attempts-1), capped."""
    return float(min(settings.backoff_max_s,
                     settings.backoff_base_s * (2 ** max(0, attempts - 1))))


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """`run()` forever (supervised by the runtime); `run_once()` one claim round (tests,
    bench); `wake()` after a commit that queued something."""

    def __init__(self, port: OutboxPort, channels: Channels,
                 clock: Callable[[], datetime], settings: DispatchSettings | None = None,
                 *, worker: str | None = None, health: HealthRegistry | None = None) -> None:
        self.port = port
        self.channels = channels
        self.clock = clock
        self.health = health or HealthRegistry(clock)
        self.settings = settings or DispatchSettings()
        self.worker = worker or worker_name()
        self._wake = asyncio.Event()
        self._limit = asyncio.Semaphore(self.settings.concurrency)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            done = await self.run_once()
            if done >= self.settings.batch:
                continue  # more may be waiting
            await self._sleep()

    async def _sleep(self) -> None:
        timeout = self.settings.sweep_s
        due = await self.port.next_due()
        if due is not None:
            timeout = max(0.0, min(timeout, (due - self.clock()).total_seconds()))
        if timeout <= 0:
            await asyncio.sleep(0.05)  # due now, but leased or just retried: do not spin
            return
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            pass
        self._wake.clear()

    async def run_once(self) -> int:
        """Claim one batch and handle every job in it; returns how many were claimed."""
        now = self.clock()
        jobs = await self.port.claim(self.worker, now,
                                     timedelta(seconds=self.settings.lease_s),
                                     self.settings.batch)
        if not jobs:
            return 0
        live = []
        for job in jobs:
            if now >= job.expires_at:
                await self.port.finish(job, DeliveryStatus.EXPIRED, "expired", now)
            else:
                live.append(job)
        prepared = await self.port.prepare(live, now) if live else []
        await asyncio.gather(*(self._handle(p) for p in prepared))
        return len(jobs)

    async def _handle(self, item: Outgoing | Refusal) -> None:
        async with self._limit:
            if isinstance(item, Refusal):
                status = DeliveryStatus.FAILED if item.fail_over else DeliveryStatus.REFUSED
                await self.port.finish(item.job, status, item.reason, self.clock(),
                                       audit=item.audit)
                return
            await self._send(item)

    async def _send(self, item: Outgoing) -> None:
        job = item.job
        kind = ChannelKind(job.channel.value)
        channel = self.channels.get(kind)
        if channel is None:  # the channel was switched off since the row was written
            await self.port.finish(job, DeliveryStatus.FAILED, "channel_disabled",
                                   self.clock())
            return
        message = compose(item, kind, channel.capabilities, self.settings.public_url)
        breaker = self.health.breaker(kind.value)
        if not breaker.allow():  # down: do not hold a slot on it, hand on to the next channel
            self.health.failed_over(kind.value)
            await self.port.finish(job, DeliveryStatus.FAILED, "channel_down", self.clock())
            return
        try:
            receipt = await channel.send(message)
        except SubscriptionGone:
            self.health.record(kind.value, ok=False, code="subscription_gone",
                               channel_fault=False)
            await self.port.gone(job, self.clock())
            await self.port.finish(job, DeliveryStatus.FAILED, "subscription_gone",
                                   self.clock())
        except ChannelError as error:
            self.health.record(kind.value, ok=False, code=error.code,
                               channel_fault=error.retryable)
            now = self.clock()
            if not error.retryable:
                await self.port.finish(job, DeliveryStatus.FAILED, error.code, now)
            elif breaker.state is not BreakerState.CLOSED:
                # This failure (or one just before it) took the channel down: fail over now.
                await self.port.finish(job, DeliveryStatus.FAILED, "channel_down", now)
            elif job.attempts >= self.settings.max_attempts:
                await self.port.finish(job, DeliveryStatus.FAILED, "attempts_exhausted", now)
            else:
                wait = max(backoff(job.attempts, self.settings), error.retry_after_s or 0.0)
                at = now + timedelta(seconds=wait)
                if at >= job.expires_at:
                    await self.port.finish(job, DeliveryStatus.EXPIRED, error.code, now)
                else:
                    await self.port.retry(job, at, error.code, now)
            log.info("delivery attempt failed", delivery_id=job.id, channel=kind.value,
                     code=error.code, attempts=job.attempts)
        except Exception:  # an adapter bug must not kill the loop nor lose the row
            log.exception("channel adapter raised", delivery_id=job.id, channel=kind.value)
            self.health.record(kind.value, ok=False, code="adapter_error")
            now = self.clock()
            await self.port.retry(job, now + timedelta(
                seconds=backoff(job.attempts, self.settings)), "adapter_error", now)
        else:
            self.health.record(kind.value, ok=True)
            await self.port.sent(job, receipt, self.clock())


def compose(item: Outgoing, kind: ChannelKind, capabilities: object,
            public_url: str) -> Message:
    """The channel policy for this recipient and level, then the channel's rendering."""
    job = item.job
    link = (public_url.rstrip("/") + item.link) if item.link.startswith("/") else item.link
    content = MessageContent(
        level=job.classification, body=item.body, title=item.subject or None,
        space_title=item.space_title,
        space_title_level=Classification.PUBLIC if item.space_title else Classification.HEMLIG,
        link=link or None, exercise=job.exercise)
    rendered = render(apply(kind, content), capabilities)  # type: ignore[arg-type]
    to: str | PushSubscription = item.to
    if kind is ChannelKind.PUSH and item.push_keys is not None:
        to = PushSubscription(item.to, item.push_keys.get("p256dh", ""),
                              item.push_keys.get("auth", ""))
    # Topic: a newer notice of the same space replaces an unread older one on the device.
    return Message(delivery_id=job.id, to=to, rendered=rendered,
                   topic=(job.space_id or job.message_id).replace("-", "")[:32])
