"""Rakel (TETRA) gateway: SDS text messages over a terminal's PEI (ETSI EN 300 392-5).

    dispatcher ── Channel.send(Message) ──▶ RakelGateway (bounded queue, health)
                                               │ one message at a time
                                               ▼
    codec (lines) ◀─▶ session (PeiSession: init, AT+CMGS, reports) ◀─▶ transport (serial/TCP)
                                               │
    inbound consumer ◀── InboundSds / DeliveryUpdate / InboundStatus (async iterator)

`sds` (SDS-TL PDUs), `codec` (AT line framing) and `session` (the command/response state
machine) are pure and tested on recorded exchanges; `transport` and `gateway` do the I/O;
`simulator` is a terminal that speaks PEI on a pty for tests and the demo.
"""
