"""A dispatcher process for the crash and sharing tests: the real OutboxService and Dispatcher
over the real database, sending to the recording peer through a small HTTP channel (the
peer's own protocol: JSON with the delivery id). Prints "ready" once it runs.

    python -m tests.integration.outbox_worker DB_URL KEYRING_FILE PEER_URL NAME LEASE_S
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

from wis_server.channels.dispatcher import Dispatcher, DispatchSettings
from wis_server.channels.errors import TransientError
from wis_server.channels.memory import DEFAULT_CAPABILITIES
from wis_server.channels.ports import Capabilities, Message, Receipt
from wis_server.classification.channel_policy import ChannelKind
from wis_server.classification.crypto import EnvelopeCipher
from wis_server.classification.keys import load_keyring_file
from wis_server.services.outbox import OutboxService
from wis_server.services.ports import system_clock
from wis_server.storage.database import Database
from wis_server.storage.unit import Store


class PeerChannel:
    """SMS-shaped channel to the recording peer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.AsyncClient(timeout=10)

    @property
    def kind(self) -> ChannelKind:
        return ChannelKind.SMS

    @property
    def capabilities(self) -> Capabilities:
        return DEFAULT_CAPABILITIES[ChannelKind.SMS]

    async def send(self, message: Message) -> Receipt:
        try:
            r = await self.client.post(self.url, json={
                "delivery_id": message.delivery_id, "to": message.to,
                "text": message.rendered.text})
            r.raise_for_status()
        except httpx.HTTPError as error:
            raise TransientError(f"peer: {error.__class__.__name__}") from None
        return Receipt(ChannelKind.SMS, message.delivery_id, r.json()["id"])

    async def aclose(self) -> None:
        await self.client.aclose()


async def main(url: str, keyring_file: str, peer: str, name: str, lease_s: float) -> None:
    keyring = load_keyring_file(Path(keyring_file))
    database = Database(url)
    store = Store(database, EnvelopeCipher(keyring), keyring.audit_key)
    dispatcher = Dispatcher(OutboxService(store, system_clock),
                            {ChannelKind.SMS: PeerChannel(peer)}, system_clock,
                            DispatchSettings(lease_s=lease_s, batch=10, concurrency=4,
                                             sweep_s=0.1), worker=name)
    print("ready", flush=True)
    await dispatcher.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])))
