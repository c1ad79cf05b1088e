"""SSE framing: an event of the log carries its seq as the SSE id (Last-Event-ID resumes from
it); a frame that is no event of the log (seq null: a withdrawal after the reader's rights
narrowed) carries no id, so the browser's Last-Event-ID stays the last real seq."""

from __future__ import annotations

from wis_server.api.routes.events import SseSender
from wis_server.realtime.ports import Frame


async def test_log_events_carry_their_seq_and_withdrawals_none() -> None:
    sender = SseSender()
    await sender.send(Frame('{"seq":7}', 9, "event", "S", 7, "entry.created"))
    await sender.send(Frame('{"seq":null}', 12, "event", "S", None, "entry.withdrawn"))
    assert sender.queue.get_nowait() == 'id: 7\ndata: {"seq":7}\n\n'
    assert sender.queue.get_nowait() == 'data: {"seq":null}\n\n'
