"""Situation reports (lägesbild): each actor's own and the space's joint one, versioned."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..classification.policy import Action, decide
from ..domain.audit import AuditRecord
from ..domain.codes import Code
from ..domain.errors import Conflict, NotFound, ValidationFailed
from ..domain.events import EventKind
from ..domain.levels import Classification, ReportSectionKey
from ..domain.model import ItemLabel, Principal, ReportSection, SituationReport, Space
from ..domain.notifications import Channel
from ..domain.records import ReportVersion
from .audit import audit_classified_reads
from .idempotency import fingerprint, previous_result, remember, retrying_on_race
from .notify_events import NewVersion, queue_report_published
from .outbox import Wake, no_wake
from .ports import Clock, EventPublisher, UnitOfWork
from .spaces import visible_space
from .write_checks import audience_for_write, check_audience_cleared


@dataclass(frozen=True, slots=True)
class SectionDraft:
    key: ReportSectionKey
    classification: Classification
    body: str
    audience: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class Published:
    """A published version as its publisher may read it, and how many sections of it they
    may not read (carried forward unchanged from the previous version)."""

    report: SituationReport
    kept_unreadable: int


def section_filter(principal: Principal, space: Space):  # type: ignore[no-untyped-def]
    def visible(_report: SituationReport, label: ItemLabel) -> bool:
        return bool(decide(principal, Action.READ, space, label))

    return visible


class Reports:
    def __init__(self, store: UnitOfWork, clock: Clock, publisher: EventPublisher, *,
                 enabled: frozenset[Channel] = frozenset(), wake: Wake = no_wake) -> None:
        self.store = store
        self.clock = clock
        self.publisher = publisher
        self.enabled = enabled  # channels that notify of new versions (none: nothing queued)
        self.wake = wake

    async def publish(self, principal: Principal, space_id: str, *, joint: bool,
                      sections: Sequence[SectionDraft], idempotency_key: str | None = None
                      ) -> Published:
        """Publish a new version. Sections of the previous version that the publisher may
        not read are carried forward unchanged; naming such a section's heading (to change
        or remove it) is refused with `section_not_readable`."""
        keys = [s.key for s in sections]
        if len(set(keys)) != len(keys):
            raise ValidationFailed("a section appears twice", code=Code.DUPLICATE_SECTION,
                                   field="sections")
        if not sections:
            raise ValidationFailed("a report needs at least one section", code=Code.EMPTY_REPORT,
                                   field="sections")
        order = list(ReportSectionKey)
        ordered = sorted(sections, key=lambda s: order.index(s.key))
        print_ = fingerprint("report.publish", [space_id, joint, [
            [s.key.value, s.classification.value, s.body,
             sorted(s.audience) if s.audience is not None else None] for s in ordered]])
        action = Action.PUBLISH_JOINT if joint else Action.WRITE

        async def attempt() -> Published | str:
            now = self.clock()
            async with self.store.write() as tx:
                space = await visible_space(tx, principal, space_id)
                earlier = await previous_result(tx, principal.user_id, idempotency_key, print_)
                if earlier is not None:
                    return earlier
                final: list[ReportSection] = []
                for draft in ordered:
                    audience = audience_for_write(principal, space, action, draft.classification,
                                              draft.audience)
                    final.append(ReportSection(draft.key, draft.classification, draft.body,
                                               audience))
                await check_audience_cleared(
                    tx, [(s.classification, s.audience) for s in final],
                    field="sections", principal=principal)
                owner = space.owner_actor_id if joint else principal.actor_id
                # What the publisher cannot read is never dropped: carried forward unchanged.
                # Replacing such a section would change what they cannot see: refused.
                carried = [s for s in await tx.reports.latest_sections(space.id, joint, owner)
                           if not decide(principal, Action.READ, space, s.label)]
                if {s.key for s in carried} & {s.key for s in final}:
                    raise Conflict(
                        "the current version has a section under that heading that you may "
                        "not read; only someone who can read it may change or remove it",
                        code=Code.SECTION_NOT_READABLE, field="sections")
                version = await tx.reports.next_version(space.id, joint, owner)
                report_id = str(uuid.uuid4())
                # told before the space's sequence lock is taken, so it stays short
                queued = await queue_report_published(
                    tx, space, NewVersion(report_id, joint, owner, version, final,
                                          [s.label for s in carried]),
                    self.enabled, now, publisher=principal)
                seq = await tx.spaces.append_event(
                    space.id, EventKind.REPORT_PUBLISHED, report_id, now)
                report = SituationReport(
                    report_id, space.id, joint, owner, version, tuple(final), principal.user_id,
                    seq, principal.display_name, created_at=now, exercise=space.is_exercise)
                await tx.reports.add(report, carried)
                await remember(tx, principal.user_id, idempotency_key, print_, "report",
                               report_id, now)
                await tx.audit.append(AuditRecord(
                    "situation_report.publish", user_id=principal.user_id,
                    actor_id=principal.actor_id, target_type="situation_report",
                    target_id=report_id, space_id=space.id,
                    detail={"joint": joint, "version": version, "seq": seq,
                            "levels": sorted({s.classification.value for s in final}),
                            "kept_unreadable": len(carried)}), now)
            self.publisher.space_changed(space.id, seq)
            if queued:
                self.wake()
            return Published(report, len(carried))

        outcome = await retrying_on_race(attempt)
        if isinstance(outcome, Published):
            return outcome
        return await self._published(principal, space_id, outcome)

    async def _published(self, principal: Principal, space_id: str, report_id: str
                         ) -> Published:
        """A publish answered again (idempotent retry): the report as the publisher may read
        it, and how many of its sections they may not."""
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            labels = await tx.reports.section_labels([report_id], principal.actor_id)
        hidden = sum(1 for label in labels.get(report_id, [])
                     if not decide(principal, Action.READ, space, label))
        return Published(await self.by_id(principal, space_id, report_id), hidden)

    async def by_id(self, principal: Principal, space_id: str, report_id: str
                    ) -> SituationReport:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            report = await tx.reports.by_id(report_id, section_filter(principal, space))
        if report is None or report.space_id != space_id:
            raise NotFound("no such situation report")
        await self._audit(principal, report)
        return replace(report, exercise=space.is_exercise)

    async def get(self, principal: Principal, space_id: str, *, joint: bool,
                  actor_id: str | None, version: int | None) -> SituationReport:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            owner = space.owner_actor_id if joint else (actor_id or principal.actor_id)
            # Every version exists for every participant (its number, author and time — the
            # documented trade-off: a seq reveals that something happened); only the sections
            # the reader may read are in it, possibly none. So a missing version and one
            # with nothing readable cost the same: no version is "hidden" behind a 404.
            report = await tx.reports.get(space.id, joint, owner, version,
                                          section_filter(principal, space))
        if report is None:
            raise NotFound("no such situation report")
        await self._audit(principal, report)
        return replace(report, exercise=space.is_exercise)

    async def versions(self, principal: Principal, space_id: str, *, joint: bool,
                       actor_id: str | None) -> list[ReportVersion]:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            owner = space.owner_actor_id if joint else (actor_id or principal.actor_id)
            return await tx.reports.versions(space.id, joint, owner)

    async def reporting_actors(self, principal: Principal, space_id: str) -> list[str]:
        """Actors with an own report in the space (every participant sees every version)."""
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            return await tx.reports.actors_with_reports(space.id)

    async def _audit(self, principal: Principal, report: SituationReport) -> None:
        if any(s.classification is not Classification.PUBLIC for s in report.sections):
            async with self.store.write() as tx:
                await audit_classified_reads(
                    tx, principal, report.space_id, "situation_report",
                    [(report.id, Classification.highest(
                        *(s.classification for s in report.sections)))], self.clock())

