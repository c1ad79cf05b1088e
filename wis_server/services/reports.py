"""Situation reports (lägesbild): each actor's own and the space's joint one, versioned."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from ..classification.policy import Action, decide, default_audience
from ..domain.errors import NotFound, ValidationFailed
from ..domain.levels import Classification, ReportSectionKey
from ..domain.model import Audience, ItemLabel, Principal, ReportSection, SituationReport, Space
from ..storage.audit import AuditRecord
from ..storage.reports import ReportVersion
from ..storage.unit import Store, Tx
from .entries import audit_classified_reads, check_write
from .idempotency import fingerprint, previous_result, remember, retrying_on_race
from .ports import Clock, EventPublisher
from .spaces import visible_space


@dataclass(frozen=True, slots=True)
class SectionDraft:
    key: ReportSectionKey
    classification: Classification
    body: str
    audience: Sequence[str] | None = None


def section_filter(principal: Principal, space: Space):  # type: ignore[no-untyped-def]
    def visible(_report: SituationReport, label: ItemLabel) -> bool:
        return bool(decide(principal, Action.READ, space, label))

    return visible


class Reports:
    def __init__(self, store: Store, clock: Clock, publisher: EventPublisher) -> None:
        self.store = store
        self.clock = clock
        self.publisher = publisher

    async def publish(self, principal: Principal, space_id: str, *, joint: bool,
                      sections: Sequence[SectionDraft], idempotency_key: str | None = None
                      ) -> SituationReport:
        keys = [s.key for s in sections]
        if len(set(keys)) != len(keys):
            raise ValidationFailed("a section appears twice", code="duplicate_section",
                                   field="sections")
        if not sections:
            raise ValidationFailed("a report needs at least one section", code="empty_report",
                                   field="sections")
        order = list(ReportSectionKey)
        ordered = sorted(sections, key=lambda s: order.index(s.key))
        print_ = fingerprint("report.publish", [space_id, joint, [
            [s.key.value, s.classification.value, s.body,
             sorted(s.audience) if s.audience is not None else None] for s in ordered]])
        action = Action.PUBLISH_JOINT if joint else Action.WRITE

        async def attempt() -> SituationReport | str:
            now = self.clock()
            async with self.store.write() as tx:
                space = await visible_space(tx, principal, space_id)
                earlier = await previous_result(tx, principal.user_id, idempotency_key, print_)
                if earlier is not None:
                    return earlier
                final: list[ReportSection] = []
                for draft in ordered:
                    audience: Audience = (
                        frozenset(draft.audience) | {principal.actor_id}
                        if draft.audience is not None
                        else default_audience(draft.classification, principal.actor_id))
                    check_write(principal, space, action, draft.classification, audience)
                    final.append(ReportSection(draft.key, draft.classification, draft.body,
                                               audience))
                owner = space.owner_actor_id if joint else principal.actor_id
                version = await tx.reports.next_version(space.id, joint, owner)
                report_id = str(uuid.uuid4())
                seq = await tx.spaces.append_event(
                    space.id, "situation_report.published", report_id, now)
                report = SituationReport(
                    report_id, space.id, joint, owner, version, tuple(final), principal.user_id,
                    seq, principal.display_name, created_at=now)
                await tx.reports.add(report)
                await remember(tx, principal.user_id, idempotency_key, print_, "report",
                               report_id, now)
                await tx.audit.append(AuditRecord(
                    "situation_report.publish", user_id=principal.user_id,
                    actor_id=principal.actor_id, target_type="situation_report",
                    target_id=report_id, space_id=space.id,
                    detail={"joint": joint, "version": version, "seq": seq,
                            "levels": sorted({s.classification.value for s in final})}), now)
            self.publisher.space_changed(space.id, seq)
            return report

        outcome = await retrying_on_race(attempt)
        if isinstance(outcome, SituationReport):
            return outcome
        return await self.by_id(principal, space_id, outcome)

    async def by_id(self, principal: Principal, space_id: str, report_id: str
                    ) -> SituationReport:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            report = await tx.reports.by_id(report_id, section_filter(principal, space))
        if report is None or report.space_id != space_id or not report.sections:
            raise NotFound("no such situation report")
        await self._audit(principal, report)
        return report

    async def get(self, principal: Principal, space_id: str, *, joint: bool,
                  actor_id: str | None, version: int | None) -> SituationReport:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            owner = space.owner_actor_id if joint else (actor_id or principal.actor_id)
            if version is None:  # the latest version the principal can read anything of
                readable = await _readable_versions(tx, principal, space, joint, owner)
                if not readable:
                    raise NotFound("no such situation report")
                version = readable[0].version
            report = await tx.reports.get(space.id, joint, owner, version,
                                          section_filter(principal, space))
        if report is None or not report.sections:  # nothing readable: as if it did not exist
            raise NotFound("no such situation report")
        await self._audit(principal, report)
        return report

    async def versions(self, principal: Principal, space_id: str, *, joint: bool,
                       actor_id: str | None) -> list[ReportVersion]:
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            owner = space.owner_actor_id if joint else (actor_id or principal.actor_id)
            return await _readable_versions(tx, principal, space, joint, owner)

    async def reporting_actors(self, principal: Principal, space_id: str) -> list[str]:
        """Actors with at least one report version the principal can read something of."""
        async with self.store.read() as tx:
            space = await visible_space(tx, principal, space_id)
            return [actor for actor in await tx.reports.actors_with_reports(space.id)
                    if await _readable_versions(tx, principal, space, False, actor)]

    async def _audit(self, principal: Principal, report: SituationReport) -> None:
        if any(s.classification is not Classification.PUBLIC for s in report.sections):
            async with self.store.write() as tx:
                await audit_classified_reads(
                    tx, principal, report.space_id, "situation_report",
                    [(report.id, Classification.highest(
                        *(s.classification for s in report.sections)))], self.clock())


async def _readable_versions(tx: Tx, principal: Principal, space: Space, joint: bool,
                             owner: str) -> list[ReportVersion]:
    """Versions with at least one section the principal may read; the others are invisible
    (not even their existence, author or time shows), as the stream already treats them."""
    versions = await tx.reports.versions(space.id, joint, owner)
    labels = await tx.reports.section_labels([v.id for v in versions], owner)
    return [v for v in versions
            if any(decide(principal, Action.READ, space, label) for label in labels[v.id])]
