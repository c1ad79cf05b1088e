"""Channel throughput: messages/s through the channel layer beside a bare reference, same run.

  memory   policy → render → MemoryChannel.send for N notices (half public, half sekretess),
           against the reference: the naive f-string rendering of the same notices (no policy,
           no limits, no encoding) appended to a list.
  sms      SmsChannel.send (E.164 normalisation, rendering done beforehand, form encoding,
           Basic auth, receipt parsing) to the local 46elks-style gateway of the tests, in
           this process, C requests in flight; reference: raw httpx POSTs of the same form to
           the same gateway with the same client and concurrency.

Each line ends in ratio=<ours/reference> (messages/s). Numbers, not pass/fail.

    .venv/bin/python bench/channels.py            # ~20 s
    .venv/bin/python bench/channels.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from tests.peers.sms_gateway import SmsGateway
from wis_server.channels.memory import MemoryChannel
from wis_server.channels.ports import Message
from wis_server.channels.render import render
from wis_server.channels.settings import Secret, SmsSettings
from wis_server.channels.sms import SmsChannel
from wis_server.classification.channel_policy import (
    ChannelKind,
    MessageContent,
    apply,
)
from wis_server.domain.levels import Classification

BODY = ("Samverkanskonferens kl 04:00 med anledning av översvämningen i Kista. "
        "Ring in på 08-123 456 78, PIN 4711. ") * 2


def contents(n: int) -> list[MessageContent]:
    levels = (Classification.PUBLIC, Classification.SEKRETESS)
    return [MessageContent(level=levels[i % 2], body=BODY, title="Översvämning Kista",
                           author="TiB Länsstyrelsen", space_title="Kista",
                           link=f"https://wis.example/s/{i:08d}", code=f"{i % 9000 + 1000}")
            for i in range(n)]


async def bench_memory(n: int) -> None:
    items = contents(n)
    channel = MemoryChannel(ChannelKind.SMS, keep=n)
    start = time.perf_counter()
    for i, content in enumerate(items):
        rendered = render(apply(ChannelKind.SMS, content), channel.capabilities)
        await channel.send(Message(f"d-{i}", "+46701234567", rendered))
    ours = n / (time.perf_counter() - start)
    sink: list[str] = []
    start = time.perf_counter()
    for content in items:
        sink.append(f"{content.title}: {content.body}\nSvara OK {content.code} för att "
                    f"kvittera\n{content.link}")
    reference = n / (time.perf_counter() - start)
    print(f"memory  n={n}  ours={ours:,.0f} msg/s  reference(f-string)={reference:,.0f} "
          f"msg/s  ratio={ours / reference:.3f}")


async def _drain(n: int, concurrency: int, one: object) -> float:
    assert callable(one)
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await one(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def bench_sms(n: int, concurrency: int) -> None:
    async with SmsGateway() as gateway:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            settings = SmsSettings(gateway.url, gateway.user, Secret(gateway.password), "WIS",
                                   Secret("bench-secret-0123456789"))
            sms = SmsChannel(settings, "https://wis.example", client=client)
            rendered = [render(apply(ChannelKind.SMS, c), sms.capabilities)
                        for c in contents(n)]

            async def ours_one(i: int) -> None:
                await sms.send(Message(f"d-{i}", "070-123 45 67", rendered[i]))

            await _drain(min(50, n), concurrency, ours_one)  # warm up connections
            gateway.sent.clear()
            ours = await _drain(n, concurrency, ours_one)
            forms = [{"from": "WIS", "to": "+46701234567", "message": rendered[i].text,
                      "whendelivered": "https://wis.example/api/v1/channels/sms/delivery/"
                                       f"bench-secret-0123456789?delivery=d-{i}",
                      "dontlog": "message"} for i in range(n)]

            async def reference_one(i: int) -> None:
                answer = await client.post(f"{gateway.url}/a1/sms", data=forms[i],
                                           auth=(gateway.user, gateway.password))
                answer.raise_for_status()

            reference = await _drain(n, concurrency, reference_one)
    print(f"sms     n={n} in-flight={concurrency}  ours={ours:,.0f} msg/s  "
          f"reference(raw httpx POST)={reference:,.0f} msg/s  ratio={ours / reference:.3f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    await bench_memory(2_000 if args.quick else 20_000)
    await bench_sms(300 if args.quick else 2_000, 16)


if __name__ == "__main__":
    asyncio.run(main())
