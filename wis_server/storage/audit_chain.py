"""The audit chain's rules, without I/O: the canonical form a record's hash covers, which
shard a record goes to, and the verifier's walk.

```
record ──shard_of──▶ shard k ──▶ (k, position) = head of k + 1, prev = head of k's hash
hash = HMAC(audit key, prev ‖ canonical(position, at, record [, shard k] [, global seq]))
verify: walk every record in global seq order, each shard's chain gapless from 1 with its
        links and hashes; at each anchor (shard 0), every shard head it names is found
```

On PostgreSQL writers in different shards do not wait for one another (each shard has its own
advisory lock); SQLite has one writer anyway and keeps the one chain (shard 0, position = seq),
byte for byte as before the chain was sharded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..domain.audit import (
    ANCHOR_ACTION,
    GENESIS,
    AuditRecord,
    ShardHead,
    StoredAudit,
    VerifyResult,
)

SHARDS = 16
"""Shards of the chain on PostgreSQL. Records already written keep their shard (it is in their
hash); changing this only changes where new records go."""

Lookup = Callable[[int, int], Awaitable[str | None]]
"""(shard, position) → that record's stored hash, or None: what the verifier asks for an
anchor that names a record it has walked past."""


class NotCanonical(ValueError):
    """A stored detail that is not exactly what the writer would have stored."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise NotCanonical("duplicate key")
    return doc


def _no_constant(name: str) -> Any:
    raise NotCanonical(f"non-standard JSON constant {name}")


def strict_detail(text_: str) -> dict[str, Any]:
    """Parse a stored detail, refusing anything but the writer's own encoding: duplicate keys
    (which tools disagree on: SQL reads the first, Python the last), NaN/Infinity, other
    whitespace or escaping, a non-object. The chain's hash covers what this returns."""
    try:
        doc = json.loads(text_, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except NotCanonical:
        raise
    except ValueError:
        raise NotCanonical("not JSON") from None
    if not isinstance(doc, dict):
        raise NotCanonical("not an object")
    if detail_encoding(doc) != text_:
        raise NotCanonical("not in the writer's encoding")
    return doc


def detail_encoding(detail: dict[str, Any]) -> str:
    """How the writer stores a detail (SQLAlchemy's JSON type, json.dumps defaults)."""
    return json.dumps(detail)


def shard_of(record: AuditRecord) -> int:
    """The shard a record goes to: by its space, else its actor, else its user (a stable
    hash, the same in every process); records naming none go to shard 0."""
    key = record.space_id or record.actor_id or record.user_id
    if not key:
        return 0
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % SHARDS


def _canonical(position: int, at: datetime, record: AuditRecord, shard: int,
               global_seq: int | None) -> bytes:
    # "seq" is the place in the shard's chain. A record of shard 0 whose seq is its place
    # (every record before sharding, every record on SQLite) has exactly the form it always
    # had; any other names its shard and its seq, so it can be neither moved to another shard
    # nor renumbered in the global order without its hash failing.
    doc: dict[str, Any] = {
        "seq": position, "at": at.isoformat(), "action": record.action,
        "outcome": record.outcome, "user_id": record.user_id, "actor_id": record.actor_id,
        "target_type": record.target_type, "target_id": record.target_id,
        "space_id": record.space_id, "detail": record.detail,
    }
    if shard:
        doc["shard"] = shard
    if global_seq is not None and global_seq != position:
        doc["global_seq"] = global_seq
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(key: bytes, prev_hash: str, position: int, at: datetime, record: AuditRecord,
               *, shard: int = 0, global_seq: int | None = None) -> str:
    return hmac.new(key, prev_hash.encode() + _canonical(position, at, record, shard,
                                                         global_seq), hashlib.sha256
                    ).hexdigest()


def anchor_detail(heads: dict[int, tuple[int, str]]) -> dict[str, Any]:
    """An anchor's detail: [shard, position, hash] of each named shard's head."""
    return {"heads": [[shard, position, digest]
                      for shard, (position, digest) in sorted(heads.items())]}


@dataclass(slots=True)
class _Walk:
    records: int = 0
    seq: int = 0
    hash: str = GENESIS


async def _anchor_problem(detail: dict[str, Any], walks: dict[int, _Walk],
                          lookup: Lookup | None) -> str:
    """Why an (authentic) anchor does not match the shards walked so far, or ""."""
    heads = detail.get("heads")
    if not isinstance(heads, list):
        return "anchor names no shard heads"
    for item in heads:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], int)
                and isinstance(item[1], int) and isinstance(item[2], str)):
            return "anchor names a shard head it cannot mean"
        shard, position, digest = item
        walk = walks.get(shard, _Walk())
        # Every record the anchor names has a lower seq than the anchor (it was committed
        # before the anchor drew its seq), so the walk has passed it if it is there.
        if walk.records < position:
            return (f"shard {shard} record {position}, named by this anchor, is missing "
                    f"(that shard's chain has {walk.records} records at this point)")
        if walk.records == position:
            found: str | None = walk.hash
        elif lookup is not None:
            found = await lookup(shard, position)
        else:
            return f"shard {shard} record {position}, named by this anchor, was not checked"
        if found is None or not hmac.compare_digest(found, digest):
            return f"shard {shard} record {position} is not the record this anchor named"
    return ""


async def verify_chain(records: AsyncIterator[StoredAudit], key: bytes,
                       lookup: Lookup | None = None) -> VerifyResult:
    """Walk every record in global seq order; the first one whose shard position, link,
    detail encoding or hash is wrong, or the first anchor whose named shard heads are not
    found as named, is named. `lookup` answers for anchors naming a record walked past."""
    walks: dict[int, _Walk] = {}
    checked = anchors = 0
    head_seq, head_hash = 0, GENESIS

    def result(bad_seq: int | None = None, problem: str = "") -> VerifyResult:
        heads = tuple(ShardHead(k, w.records, w.seq, w.hash) for k, w in sorted(walks.items()))
        return VerifyResult(bad_seq is None, checked, bad_seq, problem, head_hash, head_seq,
                            heads, anchors)

    async for stored in records:
        shard = stored.shard
        walk = walks.get(shard) or _Walk()
        where = f"shard {shard} " if shard else ""
        if stored.position != walk.records + 1:
            return result(stored.seq, f"expected {where}record {walk.records + 1}, found "
                                      f"{stored.position} (gap or reorder)")
        if stored.prev_hash != walk.hash:
            return result(stored.seq, "link to previous record broken")
        record = stored.record
        if stored.detail_text is not None:
            try:
                record = replace(record, detail=strict_detail(stored.detail_text))
            except NotCanonical as error:
                return result(stored.seq, f"record detail is not canonical ({error})")
        digest = chain_hash(key, stored.prev_hash, stored.position, stored.at, record,
                            shard=shard, global_seq=stored.seq)
        if not hmac.compare_digest(digest, stored.hash):
            return result(stored.seq, "record content does not match its hash")
        if shard == 0 and record.action == ANCHOR_ACTION:
            problem = await _anchor_problem(record.detail, walks, lookup)
            if problem:
                return result(stored.seq, problem)
            anchors += 1
        walks[shard] = _Walk(walk.records + 1, stored.seq, stored.hash)
        checked += 1
        head_seq, head_hash = stored.seq, stored.hash
    return result()
