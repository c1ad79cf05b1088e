"""Read auditing of pushed items: which deliveries are classified reads. The hub commits them
(`EventSource.record_reads`, one transaction per event or page) before anything is sent."""

from __future__ import annotations

from ..domain.levels import Classification
from ..domain.model import Principal
from .ports import Change, Read
from .views import View


def reads_of(principal: Principal, change: Change, view: View) -> list[Read]:
    """The audit read of a classified view (empty for public or invisible ones)."""
    if view.frame is None or not view.classified or change.kind is None:
        return []
    levels = [label.classification
              for label, ok in zip(change.labels, view.shown, strict=True)
              if ok and label.classification is not Classification.PUBLIC]
    return [Read(principal.user_id, principal.actor_id, change.space_id, change.ref_id,
                 change.kind, Classification.highest(*levels))]
