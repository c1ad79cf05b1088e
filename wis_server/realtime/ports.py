"""The ports through which the hub reaches the rest of the server (implemented in services/
and api/), and the values that cross them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..domain.events import EventKind
from ..domain.levels import Classification
from ..domain.model import ItemLabel, Principal, Space

Wanted = Callable[[ItemLabel], bool]
"""Which labelled parts to load and decrypt (someone present may read them)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One event of a space's log, loaded once for everyone this process serves.

    `labels` describe the readable parts of `item` (one per entry, one per report section, none
    for space events, which every reader of the space sees). `item` is the domain object as it is
    now (Entry, SituationReport, Space) holding only the parts somebody present wanted, or None
    when nobody present may read it or it is gone. `personal` means the rendering depends on the
    recipient beyond the labels (space views carry `my_role`), so it is rendered per recipient.
    `kind` is None for a kind this version does not know (written by a newer one): passed over.
    """

    space_id: str
    seq: int
    kind: EventKind | None
    ref_id: str
    labels: tuple[ItemLabel, ...] = ()
    item: object | None = None
    personal: bool = False


@dataclass(frozen=True, slots=True)
class Read:
    """A delivered classified item, for the audit trail (who read what, when it was pushed)."""

    user_id: str
    actor_id: str
    space_id: str
    item_id: str
    kind: EventKind
    level: Classification


@dataclass(frozen=True, slots=True)
class Part:
    """A readable part of a space that may be on a reader's screen, by label (nothing
    decrypted): an entry (`key` None) or a section of a current situation report."""

    item_id: str
    label: ItemLabel
    key: str | None = None


class EventSource(Protocol):
    """The event table and the directory, as the hub needs them."""

    async def principal(self, user_id: str) -> Principal | None: ...

    async def principals(self, user_ids: Sequence[str]) -> dict[str, Principal]: ...

    async def space(self, space_id: str) -> Space | None: ...

    async def heads(self, space_ids: Sequence[str]) -> dict[str, int]: ...

    async def changes(self, space_id: str, after: int, limit: int, wanted: Wanted
                      ) -> list[Change]: ...

    async def record_reads(self, reads: Sequence[Read]) -> None: ...

    async def parts(self, space_id: str) -> list[Part]:
        """Every entry and every section of the newest report versions, by label."""
        ...


class Render(Protocol):
    """Build the JSON text of an `event` frame for a recipient, or None if nothing is shown.

    `shown[i]` is the access decision for `change.labels[i]` for that recipient."""

    def __call__(self, change: Change, principal: Principal, space: Space,
                 shown: tuple[bool, ...]) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """One outgoing message: its JSON text, its size in bytes, and (for events) its position."""

    text: str
    size: int
    type: str
    space_id: str | None = None
    seq: int | None = None
    event: str | None = None


class Sender(Protocol):
    """One client connection's transport (websocket, or an SSE response).

    A sender may also offer `send_now(frame) -> bool`: write the frame synchronously if it can
    go at once (True), else do nothing (False: the connection then awaits `send`)."""

    async def send(self, frame: Frame) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...
