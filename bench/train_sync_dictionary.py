"""Train the sync endpoint's zstd dictionary (wis_server/api/sync.dict).

The samples are sync items and envelopes rendered by the real renderer (wis_server/api/
sync_shapes.py) from synthetic items whose texts are sentences of the public Swedish source
documents in shared/seeds/ (not the demo: bench/wire.py measures on the demo's entries, so they
stay held out). Never train on live content: the dictionary is served to anyone and would carry
its text.

    .venv/bin/python bench/train_sync_dictionary.py [--seeds DIR] [--size 4096]
"""

from __future__ import annotations

import argparse
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import zstandard

from wis_server.api.sync_shapes import DICTIONARY_FILE, SyncRender, dumps, space_meta
from wis_server.domain.callouts import Callout, CalloutStatus, Conference, Target, TargetState
from wis_server.domain.events import EventKind
from wis_server.domain.levels import (
    Classification,
    EntryKind,
    ReportSectionKey,
    Role,
    SpaceStatus,
    SpaceType,
)
from wis_server.domain.model import (
    Entry,
    Participant,
    Principal,
    ReportSection,
    SituationReport,
    Space,
)
from wis_server.realtime.ports import Change

ROOT = Path(__file__).resolve().parent.parent
SHORT = ["LST", "STHLM", "SOLNA", "NACKA", "RS", "POLIS", "SOS", "TRV", "SSBF", "FRG"]
AUTHORS = ["Tjänsteman i beredskap", "Kommunikatör", "Ledningsfunktion", "Regionledningscentralen",
           "Räddningschef i beredskap", "Beredskapssamordnare", "Stabschef"]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def sentences(seeds: Path) -> list[str]:
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(seeds.glob("*.txt")))
    found = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text)]
    return [s for s in found if 20 <= len(s) <= 400]


def samples(seeds: Path, count: int, rng: random.Random) -> list[bytes]:
    texts = sentences(seeds)
    actors = {_uuid(rng): s for s in SHORT}
    actor_ids = list(actors)
    render = SyncRender(actors)
    space = Space(_uuid(rng), "Snöoväder", "", SpaceType.EXERCISE,
                  Classification.PUBLIC, SpaceStatus.OPEN, actor_ids[0], "u",
                  tuple(Participant(a) for a in actor_ids))
    reader = Principal("u", actor_ids[0], "u", Role.EDITOR, Classification.HEMLIG,
                       Classification.HEMLIG)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for _ in range(count):
        seq = rng.randint(1, 20000)
        at = start + timedelta(seconds=rng.randint(0, 3 * 10**7))
        body = " ".join(rng.sample(texts, rng.choice((1, 1, 2, 3))))
        level = rng.choice(list(Classification))
        pick = rng.random()
        if pick < 0.7:
            kind = rng.choice([EventKind.ENTRY_CREATED] * 8 + [EventKind.NOTICE_CREATED,
                                                               EventKind.ENTRY_AUDIENCE_CHANGED])
            entry = Entry(_uuid(rng), space.id, seq, rng.choice(list(EntryKind)), level,
                          body, None, "u", rng.choice(actor_ids), rng.choice(AUTHORS), at)
            change = Change(space.id, seq, kind, entry.id, (entry.label,), entry)
            text = render(change, reader, space, (True,))
        elif pick < 0.8:
            sections = tuple(ReportSection(key, rng.choice(list(Classification)),
                                           rng.choice(texts), None)
                             for key in rng.sample(list(ReportSectionKey), 4))
            report = SituationReport(_uuid(rng), space.id, rng.random() < 0.5,
                                     rng.choice(actor_ids), rng.randint(1, 30), sections, "u",
                                     seq, rng.choice(AUTHORS), at)
            change = Change(space.id, seq, EventKind.REPORT_PUBLISHED, report.id,
                            tuple(s.label(report.actor_id) for s in sections), report)
            text = render(change, reader, space, tuple(True for _ in sections))
        elif pick < 0.9:
            targets = tuple(Target(a, at, state=rng.choice(list(TargetState)))
                            for a in rng.sample(actor_ids, 4))
            callout = Callout(_uuid(rng), space.id, actor_ids[0], "u", at,
                              at + timedelta(hours=1), level, body[:300],
                              Conference(at, "08-123 456 00", str(rng.randint(1000, 9999))),
                              True, targets, (), rng.choice(list(CalloutStatus)))
            kind = rng.choice([EventKind.CALLOUT_CREATED, EventKind.CALLOUT_UPDATED])
            change = Change(space.id, seq, kind, callout.id, (), callout)
            text = render(change, reader, space, (True,))
        elif pick < 0.95:
            text = dumps({"seq": rng.choice([seq, None]), "event": "entry.withdrawn",
                          "id": _uuid(rng)})
        else:
            spaces = [{"id": _uuid(rng), "head": rng.randint(1, 20000),
                       **({"added": True, "resync": True, **space_meta(space, "editor")}
                          if rng.random() < 0.3 else {}), "n": rng.randint(0, 20)}
                      for _ in range(rng.randint(1, 4))]
            text = dumps({"cursor": "A" * rng.randint(40, 120), "more": rng.random() < 0.2,
                          "spaces": spaces, "removed": []})
        assert text is not None
        out.append(text.encode())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=ROOT.parent / "shared" / "seeds")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--id", type=int, default=20261202,
                        help="the dictionary id (a new one for every retrained dictionary)")
    parser.add_argument("--out", type=Path, default=ROOT / "wis_server" / "api" / DICTIONARY_FILE)
    args = parser.parse_args()
    if not args.seeds.is_dir():
        args.seeds = Path("/work/shared/seeds")
    data = samples(args.seeds, args.samples, random.Random(12))
    trained = zstandard.train_dictionary(args.size, data, level=19, threads=1,
                                       dict_id=args.id)
    args.out.write_bytes(trained.as_bytes())
    print(f"dictionary id={trained.dict_id()} size={len(trained.as_bytes())} from "
          f"{len(data)} samples -> {args.out}")


if __name__ == "__main__":
    main()
