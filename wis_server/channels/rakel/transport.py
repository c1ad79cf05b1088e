"""The byte pipe to the terminal: a serial device (pyserial-asyncio-fast) or a TCP serial
server (`tcp://host:port`). Nothing PEI-specific lives here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .settings import RakelSettings

Link = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Connector = Callable[[], Awaitable[Link]]


def connector(settings: RakelSettings) -> Connector:
    """A function that opens a fresh link each time it is called (once per (re)connect)."""
    tcp = settings.tcp

    async def open_tcp() -> Link:
        assert tcp is not None
        return await asyncio.open_connection(tcp[0], tcp[1])

    async def open_serial() -> Link:
        import serial_asyncio_fast  # imported on use: only a serial gateway needs it

        # 8N1 without flow control: what PEI terminals speak by default.
        return await serial_asyncio_fast.open_serial_connection(
            url=settings.device, baudrate=settings.baud, bytesize=8, parity="N", stopbits=1,
            rtscts=False, xonxoff=False, exclusive=True)

    return open_tcp if tcp is not None else open_serial
