"""The store contract: every backend (SQLite, in-memory fake, later PostgreSQL) implements `Store`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from scoring.daily import DailyAggregates
from scoring.errors import UserError
from scoring.model import CommunityRef, Event
from scoring.result import MemberScore

__all__ = [
    "CommunityInfo",
    "ImportStats",
    "SchemaTooNewError",
    "Store",
    "StoreError",
    "StoredScores",
]


class StoreError(UserError):
    """Base class of storage failures a user or operator can act on."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer Clout; it is never migrated backwards."""


@dataclass(frozen=True, slots=True)
class CommunityInfo:
    ref: CommunityRef
    name: str | None
    members: int          # distinct non-bot users seen (authors, reactors)
    messages: int         # messages in the event log
    first_event: datetime | None
    last_event: datetime | None


@dataclass(frozen=True, slots=True)
class ImportStats:
    events: int           # events read from the source
    new: int              # of which were not already in the store (re-import gives 0)


@dataclass(frozen=True, slots=True)
class StoredScores:
    """The scores last saved for a community: when they were computed for and how many members."""

    community: CommunityRef
    as_of: datetime
    period: str
    algorithm: str
    members: int


class Store(Protocol):
    """Persistence for events, aggregates and scores. All methods are coroutines except where noted.

    Writes are idempotent: an event whose natural key (`Event.key`) is already stored changes
    nothing. Message text never reaches the store (the Event model has no field for it).
    """

    async def open(self) -> None:
        """Create or migrate the schema and start the writer. Raises SchemaTooNewError."""

    async def close(self) -> None:
        """Flush pending events, stop the writer, release connections."""

    # -- writes -------------------------------------------------------------------------
    async def ingest(self, event: Event) -> None:
        """Queue one live event for the single writer (returns once queued, not committed)."""

    async def flush(self) -> None:
        """Wait until every queued event is committed and the aggregates it touched are refreshed."""

    async def import_events(self, events: Iterable[Event]) -> ImportStats:
        """Write a whole source in one transaction: if iterating `events` raises, nothing is kept."""

    # -- reads --------------------------------------------------------------------------
    async def communities(self) -> list[CommunityInfo]:
        """Every community with at least one stored event, ordered by key."""

    async def community(self, ref: CommunityRef) -> CommunityInfo | None: ...

    async def aggregates(self, ref: CommunityRef, start: datetime, end: datetime) -> DailyAggregates:
        """Daily aggregates from events with start < ts <= end.

        Whole days are read from the aggregate tables; a day cut by `start` or `end` is
        aggregated from the event log with the same rules, so the result is exact.
        """

    async def member_names(self, ref: CommunityRef) -> dict[str, str]:
        """Latest display name of every user seen in the community (platform-local id → name)."""

    async def find_member(self, ref: CommunityRef, query: str) -> str | None:
        """Resolve a user id or (case-insensitive, exact) display name to a user id."""

    # -- scores -------------------------------------------------------------------------
    async def save_scores(self, ref: CommunityRef, as_of: datetime, period: str,
                          scores: Sequence[MemberScore]) -> None:
        """Replace the stored scores of (community, period) and record a daily snapshot."""

    async def stored_scores(self, ref: CommunityRef, period: str = "all") -> StoredScores | None: ...

    async def leaderboard(self, ref: CommunityRef, period: str = "all", offset: int = 0,
                          limit: int = 10) -> list[MemberScore]:
        """Stored scores in rank order (limit <= 0 means everyone)."""

    async def score_of(self, ref: CommunityRef, user: str, period: str = "all") -> MemberScore | None: ...

    async def score_history(self, ref: CommunityRef, user: str, since: datetime) -> list[tuple[datetime, int]]:
        """Daily snapshot scores (period 'all') of a member since a time, oldest first."""
