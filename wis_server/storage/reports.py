"""Situation reports (lägesbild): versioned per (space, scope, actor); each section sealed at
its own level under its own data key."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..classification.crypto import FieldContext
from ..domain.levels import Classification, ReportSectionKey
from ..domain.model import JOINT, ItemLabel, ReportSection, SituationReport
from ..domain.records import ReportVersion, StoredSection
from .entries import read_audiences, write_audience
from .sealing import Sealer
from .tables import report_sections, situation_reports, users

Visible = Callable[[ItemLabel], bool]


def _context(section_id: str, space_id: str, level: Classification) -> FieldContext:
    return FieldContext("report_sections", section_id, "body", space_id, level)


def _scope(joint: bool) -> str:
    return JOINT if joint else "actor"


class ReportRepository:
    def __init__(self, conn: AsyncConnection, sealer: Sealer) -> None:
        self.conn = conn
        self.sealer = sealer

    async def next_version(self, space_id: str, joint: bool, actor_id: str) -> int:
        result = await self.conn.execute(
            select(func.max(situation_reports.c.version)).where(
                situation_reports.c.space_id == space_id,
                situation_reports.c.scope == _scope(joint),
                situation_reports.c.actor_id == actor_id))
        return int(result.scalar_one() or 0) + 1

    async def latest_sections(self, space_id: str, joint: bool, actor_id: str
                              ) -> list[StoredSection]:
        """The newest version's sections as stored: labels plain, bodies still sealed."""
        row = (await self.conn.execute(
            select(situation_reports.c.id).where(
                situation_reports.c.space_id == space_id,
                situation_reports.c.scope == _scope(joint),
                situation_reports.c.actor_id == actor_id)
            .order_by(situation_reports.c.version.desc()).limit(1))).first()
        if row is None:
            return []
        rows = (await self.conn.execute(
            select(report_sections).where(report_sections.c.report_id == row.id)
            .order_by(report_sections.c.position))).all()
        audiences = await read_audiences(self.conn, [s.id for s in rows if not s.audience_all])
        return [StoredSection(
            s.id, ReportSectionKey(s.key), ItemLabel(
                Classification(s.classification),
                None if s.audience_all else audiences.get(s.id, frozenset()), actor_id),
            s.data_key_id, s.body_ct) for s in rows]

    async def add(self, report: SituationReport,
                  carried: Sequence[StoredSection] = ()) -> None:
        """Store a new version: `report.sections` sealed afresh, and `carried` (sections of
        the previous version the publisher could not read) forward unchanged — same key,
        level, audience and text, re-sealed under the new section's id without leaving the
        server. Positions follow the section keys' order."""
        await self.conn.execute(situation_reports.insert().values(
            id=report.id, space_id=report.space_id, scope=_scope(report.joint),
            actor_id=report.actor_id, version=report.version, seq=report.seq,
            author_id=report.author_id, created_at=report.created_at))
        order = list(ReportSectionKey)
        sections = list(report.sections)
        if carried:
            old_keys = await self.sealer.keys(self.conn, [c.data_key_id for c in carried])
            for c in carried:
                body = self.sealer.open(old_keys[c.data_key_id], _context(
                    c.id, report.space_id, c.label.classification), c.body_ct)
                sections.append(ReportSection(c.key, c.label.classification, body,
                                              c.label.audience))
            sections.sort(key=lambda s: order.index(s.key))
        for position, section in enumerate(sections):
            section_id = str(uuid.uuid4())
            key = await self.sealer.new_key(self.conn, section.classification)
            await self.conn.execute(report_sections.insert().values(
                id=section_id, report_id=report.id, key=section.key.value, position=position,
                classification=section.classification.value,
                audience_all=section.audience is None, data_key_id=key.id,
                body_ct=self.sealer.seal(
                    key, _context(section_id, report.space_id, section.classification),
                    section.body)))
            await write_audience(self.conn, section_id, section.audience)

    async def get(self, space_id: str, joint: bool, actor_id: str, version: int | None,
                  visible: Callable[[SituationReport, ItemLabel], bool]
                  ) -> SituationReport | None:
        query = select(situation_reports).where(
            situation_reports.c.space_id == space_id,
            situation_reports.c.scope == _scope(joint),
            situation_reports.c.actor_id == actor_id)
        if version is None:
            query = query.order_by(situation_reports.c.version.desc()).limit(1)
        else:
            query = query.where(situation_reports.c.version == version)
        row = (await self.conn.execute(query)).first()
        return await self._assemble(row, visible) if row else None

    async def by_id(self, report_id: str, visible: Callable[[SituationReport, ItemLabel], bool]
                    ) -> SituationReport | None:
        row = (await self.conn.execute(
            select(situation_reports).where(situation_reports.c.id == report_id))).first()
        return await self._assemble(row, visible) if row else None

    async def versions(self, space_id: str, joint: bool, actor_id: str) -> list[ReportVersion]:
        rows = await self.conn.execute(
            select(situation_reports, users.c.display_name)
            .join(users, users.c.id == situation_reports.c.author_id)
            .where(situation_reports.c.space_id == space_id,
                   situation_reports.c.scope == _scope(joint),
                   situation_reports.c.actor_id == actor_id)
            .order_by(situation_reports.c.version.desc()))
        return [ReportVersion(r.id, r.version, r.author_id, r.display_name, r.created_at, r.seq)
                for r in rows]

    async def section_labels(self, report_ids: Sequence[str], owner_actor_id: str
                             ) -> dict[str, list[ItemLabel]]:
        """Each report's section labels, without decrypting anything (for listings)."""
        if not report_ids:
            return {}
        rows = (await self.conn.execute(
            select(report_sections.c.id, report_sections.c.report_id,
                   report_sections.c.classification, report_sections.c.audience_all)
            .where(report_sections.c.report_id.in_(list(report_ids))))).all()
        audiences = await read_audiences(self.conn, [r.id for r in rows if not r.audience_all])
        labels: dict[str, list[ItemLabel]] = {i: [] for i in report_ids}
        for r in rows:
            audience = None if r.audience_all else audiences.get(r.id, frozenset())
            labels[r.report_id].append(
                ItemLabel(Classification(r.classification), audience, owner_actor_id))
        return labels

    async def current_section_labels(self, space_id: str
                                     ) -> list[tuple[str, ReportSectionKey, ItemLabel]]:
        """(report id, key, label) of each section of the newest version of every report of
        the space (joint and per actor), decrypting nothing."""
        newest: dict[tuple[str, str], tuple[int, str]] = {}
        for r in await self.conn.execute(
                select(situation_reports.c.id, situation_reports.c.scope,
                       situation_reports.c.actor_id, situation_reports.c.version)
                .where(situation_reports.c.space_id == space_id)):
            key = (r.scope, r.actor_id)
            if key not in newest or r.version > newest[key][0]:
                newest[key] = (r.version, r.id)
        owners = {report_id: actor_id for (_, actor_id), (_, report_id) in newest.items()}
        if not owners:
            return []
        rows = (await self.conn.execute(
            select(report_sections.c.id, report_sections.c.report_id, report_sections.c.key,
                   report_sections.c.classification, report_sections.c.audience_all)
            .where(report_sections.c.report_id.in_(list(owners)))
            .order_by(report_sections.c.report_id, report_sections.c.position))).all()
        audiences = await read_audiences(self.conn, [r.id for r in rows if not r.audience_all])
        return [(r.report_id, ReportSectionKey(r.key), ItemLabel(
            Classification(r.classification),
            None if r.audience_all else audiences.get(r.id, frozenset()), owners[r.report_id]))
            for r in rows]

    async def actors_with_reports(self, space_id: str) -> list[str]:
        rows = await self.conn.execute(
            select(situation_reports.c.actor_id).distinct().where(
                situation_reports.c.space_id == space_id, situation_reports.c.scope == "actor"))
        return [row.actor_id for row in rows]

    async def _assemble(self, row: Any, visible: Callable[[SituationReport, ItemLabel], bool]
                        ) -> SituationReport:
        name = (await self.conn.execute(
            select(users.c.display_name).where(users.c.id == row.author_id))).scalar_one_or_none()
        shell = SituationReport(
            id=row.id, space_id=row.space_id, joint=row.scope == JOINT, actor_id=row.actor_id,
            version=row.version, sections=(), author_id=row.author_id, seq=row.seq,
            author_name=name or "", created_at=row.created_at)
        rows = (await self.conn.execute(
            select(report_sections).where(report_sections.c.report_id == row.id)
            .order_by(report_sections.c.position))).all()
        audiences = await read_audiences(self.conn, [s.id for s in rows if not s.audience_all])
        shown = []
        for s in rows:
            audience = None if s.audience_all else audiences.get(s.id, frozenset())
            level = Classification(s.classification)
            if visible(shell, ItemLabel(level, audience, row.actor_id)):
                shown.append((s, level, audience))
        keys = await self.sealer.keys(self.conn, [s.data_key_id for s, _, _ in shown])
        sections = tuple(
            ReportSection(ReportSectionKey(s.key), level, self.sealer.open(
                keys[s.data_key_id], _context(s.id, row.space_id, level), s.body_ct), audience)
            for s, level, audience in shown)
        return SituationReport(
            id=shell.id, space_id=shell.space_id, joint=shell.joint, actor_id=shell.actor_id,
            version=shell.version, sections=sections, author_id=shell.author_id, seq=shell.seq,
            author_name=shell.author_name, created_at=shell.created_at)
