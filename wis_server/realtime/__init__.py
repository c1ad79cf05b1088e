"""Real-time push: subscriptions, bounded per-connection queues, gapless resume, fan-out.

Plain asyncio — no Starlette, no storage: the rest of the server plugs in through the small
ports in `ports.py` (an event source over the event table, a renderer to JSON, a sender per
connection). The per-space event log is the truth; every signal is only a wake-up.

    services (after commit)          other server processes (PostgreSQL)
      │ space_changed(S, seq)           │ NOTIFY wis_events "node|s|S|seq"
      │ access_changed(user|actor|S)    ▼
      ▼                              pg_bus.PgBus  (LISTEN on a dedicated asyncpg connection;
    hub.Hub ◄───────────────────────  health check, reconnect ⇒ catch up everything)
      │  per space: Feed(cursor, subscribers)   ◄── periodic head poll (lost wake-ups)
      │  pump: source.changes(S, after=cursor) ── decrypt once for whoever is present
      │  for each subscriber: decide(principal, READ, space, label) → view key
      │       → render once per (event, view) → Connection.push(frame)
      ▼
    connection.Connection: bounded queue (messages and bytes) → writer task → Sender
      │ over limit ⇒ close 4008 (slow consumer; client resumes with `after`)
      │ token exp ⇒ close 4009; disabled ⇒ 4003; lost the space ⇒ {"type":"revoked"}
      ▼
    api: websocket /api/v1/stream, SSE /api/v1/spaces/{id}/events/stream

Resume: a subscription with `after=N` first catches up from the event table (its own reads,
filtered by the decision for that principal) until it reaches the feed's cursor, then turns
live in the same event-loop step — no gap, no duplicate. Seq numbers of events the recipient
may not read are skipped, so a client sees gaps in `seq`; it resumes with the last seq it saw.
"""
