"""In-memory store: the fast fake of the Store contract for tests of other layers.

It keeps every distinct event and answers `aggregates` with `scoring.daily.aggregate_events`,
the reference semantics, so it is correct by construction (and slow on big logs: O(events) per
read). Writes apply at once; `flush` has nothing to wait for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scoring.daily import DailyAggregates, aggregate_events
from scoring.model import CommunityRef, Event, Kind, day_of
from scoring.result import MemberScore
from storage.base import CommunityInfo, ImportStats, StoredScores, StoreError

__all__ = ["MemoryStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _floor_epoch(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("times passed to the store must be timezone-aware")
    return (ts - _EPOCH) // timedelta(seconds=1)


@dataclass(slots=True)
class _User:
    name: str | None = None
    name_ts: int = 0
    is_bot: bool = False
    member: bool = False


@dataclass(slots=True)
class _Community:
    """One community's log: distinct events in arrival order, plus the reduced state that
    decides what counts as new (mirroring the SQLite store's natural-key rules)."""

    ref: CommunityRef
    name: str | None = None
    events: dict[Event, None] = field(default_factory=dict)
    messages: dict[str, Event] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    reactions: dict[tuple[str, str, str], tuple[int, bool, str | None]] = field(default_factory=dict)
    counts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    users: dict[str, _User] = field(default_factory=dict)

    def add(self, e: Event) -> bool:
        """Record one event; True when it changed the stored state (ImportStats.new)."""
        if e.community_name is not None:
            self.name = e.community_name
        ts = e.epoch
        if e.actor:
            user = self.users.setdefault(e.actor, _User())
            if e.actor_name is not None and (user.name is None or ts > user.name_ts
                                             or (ts == user.name_ts and e.actor_name > user.name)):
                user.name, user.name_ts = e.actor_name, ts
            user.is_bot = user.is_bot or e.actor_is_bot
            user.member = user.member or e.kind in (Kind.MESSAGE, Kind.REACTION_ADD, Kind.REACTION_REMOVE)
        self.events[e] = None
        mid = e.message_id
        if e.kind is Kind.MESSAGE:
            if mid in self.messages:
                return False
            self.messages[mid] = e
            return True
        if e.kind is Kind.MESSAGE_DELETE:
            if mid in self.deleted:
                return False
            self.deleted.add(mid)
            self.reactions = {k: v for k, v in self.reactions.items() if k[0] != mid}
            self.counts = {k: v for k, v in self.counts.items() if k[0] != mid}
            return True
        if mid in self.deleted:
            return False  # reactions to a deleted message are dropped
        if e.kind is Kind.REACTION_COUNT:
            ckey = (mid, e.emoji or "")
            old_count = self.counts.get(ckey)
            if old_count is not None and (ts, e.count) <= old_count:
                return False
            self.counts[ckey] = (ts, e.count)
            return True
        rkey = (mid, e.actor or "", e.emoji or "")
        state = (ts, e.kind is Kind.REACTION_REMOVE)
        old = self.reactions.get(rkey)
        if old is None:
            self.reactions[rkey] = (*state, e.target_author)
            return True
        wins = state > old[:2]
        better_hint = e.target_author is not None and (old[2] is None or e.target_author > old[2])
        if not (wins or better_hint):
            return False
        self.reactions[rkey] = (*(state if wins else old[:2]), e.target_author if better_hint else old[2])
        return True

    def info(self) -> CommunityInfo:
        stamps = [m.epoch for mid, m in self.messages.items() if mid not in self.deleted]
        live_messages = len(stamps)
        stamps += [ts for ts, removed, _hint in self.reactions.values() if not removed]
        return CommunityInfo(
            ref=self.ref, name=self.name,
            members=sum(1 for u in self.users.values() if u.member and not u.is_bot),
            messages=live_messages,
            first_event=datetime.fromtimestamp(min(stamps), UTC) if stamps else None,
            last_event=datetime.fromtimestamp(max(stamps), UTC) if stamps else None)


@dataclass(slots=True)
class _Scores:
    as_of: datetime
    algorithm: str
    ranked: list[MemberScore]
    by_user: dict[str, MemberScore]


class MemoryStore:
    """Implements `storage.base.Store` in memory; aggregates come from `aggregate_events`."""

    def __init__(self) -> None:
        self._communities: dict[CommunityRef, _Community] = {}
        self._scores: dict[tuple[CommunityRef, str], _Scores] = {}
        self._snapshots: dict[tuple[CommunityRef, str], dict[int, int]] = {}
        self._open = False

    async def __aenter__(self) -> MemoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Nothing to create; marks the store usable."""
        self._open = True

    async def close(self) -> None:
        """Marks the store closed (the data stays, so a test can reopen it)."""
        self._open = False

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError("The store is not open.")

    def _add(self, e: Event) -> bool:
        c = self._communities.get(e.community)
        if c is None:
            c = self._communities[e.community] = _Community(e.community)
        return c.add(e)

    # -- writes ---------------------------------------------------------------------------------
    async def ingest(self, event: Event) -> None:
        """Apply one event at once."""
        self._check_open()
        self._add(event)

    async def flush(self) -> None:
        """Nothing is ever pending."""
        self._check_open()

    async def import_events(self, events: Iterable[Event]) -> ImportStats:
        """Apply a whole source; if iterating raises, nothing of it is kept."""
        self._check_open()
        batch = list(events)  # read everything first so a failing source leaves no trace
        new = sum(self._add(e) for e in batch)
        return ImportStats(events=len(batch), new=new)

    # -- reads ----------------------------------------------------------------------------------
    async def communities(self) -> list[CommunityInfo]:
        """Every community with at least one stored event, ordered by key."""
        self._check_open()
        return [c.info() for c in sorted(self._communities.values(), key=lambda c: c.ref.key)]

    async def community(self, ref: CommunityRef) -> CommunityInfo | None:
        """One community's summary, or None when nothing of it is stored."""
        self._check_open()
        c = self._communities.get(ref)
        return None if c is None else c.info()

    async def aggregates(self, ref: CommunityRef, start: datetime, end: datetime) -> DailyAggregates:
        """Daily aggregates of events with start < ts <= end, straight from the reference rules."""
        self._check_open()
        c = self._communities.get(ref)
        if c is None:
            return DailyAggregates.empty()
        return aggregate_events(c.events, start=_floor_epoch(start), end=_floor_epoch(end))

    async def member_names(self, ref: CommunityRef) -> dict[str, str]:
        """Latest display name of every user seen in the community."""
        self._check_open()
        c = self._communities.get(ref)
        if c is None:
            return {}
        return {uid: u.name for uid, u in c.users.items() if u.name is not None}

    async def find_member(self, ref: CommunityRef, query: str) -> str | None:
        """Resolve a user id, else a case-insensitive exact display name (None if absent or ambiguous)."""
        self._check_open()
        c = self._communities.get(ref)
        if c is None:
            return None
        if query in c.users:
            return query
        key = query.casefold()
        found = [uid for uid, u in c.users.items() if u.name is not None and u.name.casefold() == key]
        return found[0] if len(found) == 1 else None

    # -- scores ---------------------------------------------------------------------------------
    async def save_scores(self, ref: CommunityRef, as_of: datetime, period: str,
                          scores: Sequence[MemberScore]) -> None:
        """Replace the stored scores of (community, period); for period 'all' also snapshot the day."""
        self._check_open()
        ranked = sorted(scores, key=lambda s: (s.rank, s.user))
        self._scores[(ref, period)] = _Scores(as_of, scores[0].algorithm if scores else "", ranked,
                                              {s.user: s for s in scores})
        if period == "all":
            day = day_of(_floor_epoch(as_of))
            for s in scores:
                self._snapshots.setdefault((ref, s.user), {})[day] = s.score

    async def stored_scores(self, ref: CommunityRef, period: str = "all") -> StoredScores | None:
        """When and with which algorithm the scores of (community, period) were last saved."""
        self._check_open()
        saved = self._scores.get((ref, period))
        if saved is None:
            return None
        return StoredScores(community=ref, as_of=saved.as_of, period=period, algorithm=saved.algorithm,
                            members=len(saved.ranked))

    async def leaderboard(self, ref: CommunityRef, period: str = "all", offset: int = 0,
                          limit: int = 10) -> list[MemberScore]:
        """Stored scores in rank order (limit <= 0 means everyone)."""
        self._check_open()
        saved = self._scores.get((ref, period))
        if saved is None:
            return []
        offset = max(0, offset)
        return saved.ranked[offset:] if limit <= 0 else saved.ranked[offset:offset + limit]

    async def score_of(self, ref: CommunityRef, user: str, period: str = "all") -> MemberScore | None:
        """One member's stored score, or None."""
        self._check_open()
        saved = self._scores.get((ref, period))
        return None if saved is None else saved.by_user.get(user)

    async def score_history(self, ref: CommunityRef, user: str, since: datetime) -> list[tuple[datetime, int]]:
        """Daily snapshot scores (period 'all') of a member since a time, oldest first."""
        self._check_open()
        first = day_of(_floor_epoch(since))
        days = self._snapshots.get((ref, user), {})
        return [(_EPOCH + timedelta(days=d), days[d]) for d in sorted(days) if d >= first]
