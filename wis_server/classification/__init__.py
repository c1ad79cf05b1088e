"""Classification: levels, the one access decision, default audiences, envelope encryption.

    request ──► decide(principal, action, space, item) ──► Decision(allowed, reason)
                    │  deny by default; every read path (REST, stream, replay, SSE,
                    │  exports, feeds, notifications) and every write path asks here
                    ▼
    content ──► ContentCipher.seal(level, aad) ──► ciphertext + data key id
                    data key (per record, AES-256-GCM) wrapped by the level's KEK
                    from the keyring (never in the database)
"""
