"""Real-time push: subscriptions, bounded per-connection queues, gapless resume, fan-out.

Plain asyncio — no Starlette, no storage: the rest of the server plugs in through the small
ports in `ports.py` (an event source over the event table, a renderer to JSON, a sender per
connection). The per-space event log is the truth; every signal is only a wake-up.

    services (after commit)               other server processes (PostgreSQL)
      │ space_changed / access_changed       │ NOTIFY wis_events "<node>|s|S|seq"
      │ / membership_changed                 ▼
      ▼                                   pg_bus.PgBus ── signals.decode/encode (pure codec)
    hub.Hub (thin facade) ◄──────────────── on_remote / on_bus_reconnected
      │  background_loops(): catch-up head poll, re-validation (the runtime supervises them:
      │                      a failure ends the loop; the Supervisor counts and restarts it)
      ├─► registry.Registry      connections by user, Feed per followed space, subscriptions,
      │                          interned principals, connection caps
      ├─► fanout.Fanout          per Feed a pump: source.changes(S, after=cursor), decrypted
      │     │                    once for whoever is present → views.Views: decide per
      │     │                    principal, render once per view → reads.reads_of: classified
      │     │                    reads committed first → Connection.push(frame)
      ├─► replay.Replay          behind the cursor: read the gap under the reader's own
      │                          rights, turn live in the same loop step (no gap, no dupe)
      ├─► reauthorisation        rights changed: hold, reload principal / space, re-decide,
      │     .Reauthorisation     then resume (replay) or revoke / close 4003 / 4001
      ├─► membership             per-user membership.added / membership.removed notices
      └─► longpoll.LongPoll      degraded links: a page of readable events; wait for newer
      ▼
    connection.Connection: bounded queue (messages and bytes) → Sender.send_now (the
      │ websocket writes the view's once-serialised frame bytes synchronously) or an eager
      │ send (eager.py); a writer task only under back-pressure
      │ over limit ⇒ close 4008 (slow consumer; client resumes with `after`)
      │ token exp ⇒ close 4009; disabled ⇒ 4003; lost the space ⇒ {"type":"revoked"}
      ▼
    api: websocket /api/v1/stream, SSE /api/v1/spaces/{id}/events/stream, long-poll

Short-lived tasks (replays, reloads, notices) live in one `tasks.TaskSet`; the per-feed pump
task is the feed's own. Event kinds are `domain.events.EventKind`.

Resume: a subscription with `after=N` first catches up from the event table (its own reads,
filtered by the decision for that principal) until it reaches the feed's cursor, then turns
live in the same event-loop step — no gap, no duplicate. Seq numbers of events the recipient
may not read are skipped, so a client sees gaps in `seq`; it resumes with the last seq it saw.
"""
