"""In-memory store: the fast fake of the Store contract for tests of other layers.

It keeps every distinct event and answers `aggregates` with `scoring.daily.aggregate_events`,
the reference semantics, so it is correct by construction (and slow on big logs: O(events) per
read). Writes apply at once; `flush` has nothing to wait for. Deleting a member's data rewrites
the log the way the SQLite store rewrites its rows, then replays it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from scoring.daily import DailyAggregates, aggregate_events
from scoring.model import CommunityRef, Event, Kind, UserRef, day_of
from scoring.result import MemberScore
from storage import records
from storage.base import (
    CommunityInfo,
    CommunitySettings,
    ImportStats,
    LinkCode,
    MemberPrefs,
    OutboxItem,
    StoredScores,
    StoreError,
    SummaryRun,
)
from storage.locks import SingleProcessLocks

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

    def without(self, user: str) -> _Community:
        """This community with every trace of `user` removed, as SqliteStore.delete_member_data does:
        their messages (with the reactions, counts and tombstones on them) and reactions go, replies
        to them stop resolving, and their id leaves every hint, mention and delete."""
        theirs = {mid for mid, m in self.messages.items() if m.actor == user}
        # Reactions crediting them: on their messages, or by hint on a message not in the log.
        gone = {k for k, (_ts, _removed, hint) in self.reactions.items()
                if k[0] in theirs or (k[0] not in self.messages and hint == user)}

        def target(mid: str, hint: str | None) -> str | None:
            m = self.messages.get(mid)
            return m.actor if m is not None else hint

        kept: list[Event] = []
        for e in self.events:
            kind, mid = e.kind, e.message_id
            if mid in theirs or (e.actor == user and kind is not Kind.MESSAGE_DELETE
                                 and kind is not Kind.REACTION_COUNT):
                continue
            changes: dict[str, Any] = {}
            if kind is Kind.MESSAGE:
                if e.reply_to is not None and target(e.reply_to, e.reply_to_author) == user:
                    changes.update(reply_to=None, reply_to_author=None)
                elif e.reply_to_author == user:
                    changes["reply_to_author"] = None
                if user in e.mentions:
                    changes["mentions"] = tuple(u for u in e.mentions if u != user)
            elif kind is Kind.REACTION_ADD or kind is Kind.REACTION_REMOVE:
                if (mid, e.actor or "", e.emoji or "") in gone:
                    continue
                if e.target_author == user:
                    changes["target_author"] = None
            elif e.actor == user:  # a delete or an anonymous count: the fact stays, not who
                changes.update(actor=None, actor_name=None, actor_is_bot=False)
            kept.append(dataclasses.replace(e, **changes) if changes else e)
        out = _Community(self.ref)
        for e in kept:
            out.add(e)
        # Names and flags of everyone else stay as they were, even if their only event is gone.
        out.name = self.name
        out.users = {uid: u for uid, u in self.users.items() if uid != user}
        return out


@dataclass(slots=True)
class _Scores:
    as_of: datetime
    algorithm: str
    ranked: list[MemberScore]
    by_user: dict[str, MemberScore]


class MemoryStore(SingleProcessLocks):
    """Implements `storage.base.Store` in memory; aggregates come from `aggregate_events`."""

    def __init__(self) -> None:
        self._communities: dict[CommunityRef, _Community] = {}
        self._scores: dict[tuple[CommunityRef, str], _Scores] = {}
        self._snapshots: dict[CommunityRef, dict[int, dict[str, int]]] = {}  # day -> user -> score
        self._settings: dict[CommunityRef, CommunitySettings] = {}
        self._prefs: dict[tuple[CommunityRef, str], MemberPrefs] = {}
        self._codes: dict[str, LinkCode] = {}
        self._people: dict[UserRef, int] = {}  # linked accounts share a person number
        self._usernames: dict[tuple[CommunityRef, str], str] = {}  # (community, username key) -> user
        self._dm_open: set[UserRef] = set()
        self._notices: set[tuple[CommunityRef, str]] = set()
        self._outbox: dict[tuple[CommunityRef, str, str, str], OutboxItem] = {}  # (ref, week, kind, recipient)
        self._runs: dict[tuple[CommunityRef, str], SummaryRun] = {}
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
        return [c.info() for c in sorted(self._communities.values(), key=lambda c: c.ref.key) if c.events]

    async def community(self, ref: CommunityRef) -> CommunityInfo | None:
        """One community's summary, or None when nothing of it is stored."""
        self._check_open()
        c = self._communities.get(ref)
        return None if c is None or not c.events else c.info()

    async def aggregates(self, ref: CommunityRef, start: datetime, end: datetime) -> DailyAggregates:
        """Daily aggregates of events with start < ts <= end, straight from the reference rules."""
        self._check_open()
        c = self._communities.get(ref)
        if c is None:
            return DailyAggregates.empty()
        # Bot flags are sticky per user, as in the SQLite users table, even when the only event
        # that flagged a bot was deleted with another member's data: an inert removed reaction
        # per known bot (read-time only, never stored) tells the reference rules.
        markers = [Event(kind=Kind.REACTION_REMOVE, community=ref, ts=_EPOCH, message_id="\x00bot", actor=uid,
                         actor_is_bot=True) for uid, u in c.users.items() if u.is_bot]
        return aggregate_events([*markers, *c.events], start=_floor_epoch(start), end=_floor_epoch(end))

    async def member_names(self, ref: CommunityRef) -> dict[str, str]:
        """Latest display name of every user seen in the community."""
        self._check_open()
        c = self._communities.get(ref)
        if c is None:
            return {}
        return {uid: u.name for uid, u in c.users.items() if u.name is not None}

    async def names_of(self, ref: CommunityRef, users: Iterable[str]) -> dict[str, str]:
        """Display names of just these users."""
        names = await self.member_names(ref)
        return {u: names[u] for u in set(users) if u in names}

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
        """Replace the stored scores of (community, period); for period 'all' also snapshot the day
        (the SQL stores keep the same history with fewer writes: `_archive_scores`)."""
        self._check_open()
        ranked = sorted(scores, key=lambda s: (s.rank, s.user))
        self._scores[(ref, period)] = _Scores(as_of, scores[0].algorithm if scores else "", ranked,
                                              {s.user: s for s in scores})
        if period == "all":  # the day's snapshot is replaced whole, as the SQL stores do
            self._snapshots.setdefault(ref, {})[day_of(_floor_epoch(as_of))] = {s.user: s.score for s in scores}

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
        return [(_EPOCH + timedelta(days=d), s) for d, s in self._member_days(ref, user) if d >= first]

    def _member_days(self, ref: CommunityRef, user: str) -> list[tuple[int, int]]:
        """(day, score) of the member's snapshots, oldest first."""
        days = self._snapshots.get(ref, {})
        return [(d, days[d][user]) for d in sorted(days) if user in days[d]]

    # -- chat layer -----------------------------------------------------------------------------
    async def community_settings(self, ref: CommunityRef) -> CommunitySettings:
        """The community's settings, or the defaults until an admin changes them."""
        self._check_open()
        return self._settings.get(ref, CommunitySettings())

    async def set_community_settings(self, ref: CommunityRef, settings: CommunitySettings) -> None:
        """Store settings (ValueError for a weekday, hour or mode no command produces)."""
        self._check_open()
        records.check_settings(settings)
        self._settings[ref] = settings

    async def member_prefs(self, ref: CommunityRef, user: str) -> MemberPrefs:
        """One member's choices in a community, or the defaults."""
        self._check_open()
        return self._prefs.get((ref, user), MemberPrefs())

    async def set_member_prefs(self, ref: CommunityRef, user: str, prefs: MemberPrefs) -> None:
        """Store one member's choices in a community."""
        self._check_open()
        self._prefs[(ref, user)] = prefs

    def _seen(self, ref: CommunityRef) -> set[str]:
        """Everyone the community knows: actors of events, scored members, members with prefs."""
        c = self._communities.get(ref)
        seen = set(c.users) if c is not None else set()
        for (r, _period), saved in self._scores.items():
            if r == ref:
                seen.update(saved.by_user)
        seen.update(u for (r, u) in self._prefs if r == ref)
        return seen

    async def invisible_members(self, ref: CommunityRef) -> set[str]:
        """Hidden and opted-out members, plus (opt-in mode) everyone seen who has not opted in."""
        self._check_open()
        out = {u for (r, u), p in self._prefs.items() if r == ref and (p.hidden or p.opted_out)}
        if self._settings.get(ref, CommunitySettings()).mode == "optin":
            out.update(u for u in self._seen(ref) if not self._prefs.get((ref, u), MemberPrefs()).opted_in)
        return out

    async def weekly_subscribers(self, ref: CommunityRef) -> list[str]:
        """Members with weekly summaries on and not opted out, ordered by id."""
        self._check_open()
        return sorted(u for (r, u), p in self._prefs.items() if r == ref and p.weekly and not p.opted_out)

    def _delete_member(self, ref: CommunityRef, user: str) -> None:
        c = self._communities.get(ref)
        if c is not None:
            self._communities[ref] = c.without(user)
        for (r, _period), saved in self._scores.items():
            if r == ref and user in saved.by_user:
                del saved.by_user[user]
                saved.ranked = [s for s in saved.ranked if s.user != user]
        for members in self._snapshots.get(ref, {}).values():
            members.pop(user, None)
        self._usernames = {k: u for k, u in self._usernames.items() if not (k[0] == ref and u == user)}
        self._outbox = {k: v for k, v in self._outbox.items()
                        if not (k[0] == ref and k[2] == "personal" and k[3] == user)}

    async def delete_member_data(self, ref: CommunityRef, user: str) -> None:
        """Delete everything about the user in this community except their MemberPrefs."""
        self._check_open()
        self._delete_member(ref, user)

    def _platform_communities(self, platform: str) -> set[CommunityRef]:
        refs = set(self._communities) | set(self._settings) | {r for r, _ in self._scores}
        refs |= set(self._snapshots) | {r for r, _ in self._prefs}
        refs |= {k[0] for k in self._outbox}
        return {r for r in refs if r.platform == platform}

    async def forget_user(self, user: UserRef) -> int:
        """Delete everything about the user on their platform, prefs and links included."""
        self._check_open()
        touched = len(await self.communities_of(user))
        for ref in self._platform_communities(user.platform):
            self._delete_member(ref, user.id)
            self._prefs.pop((ref, user.id), None)
        self._codes = {k: v for k, v in self._codes.items() if v.owner != user}
        self._dm_open.discard(user)
        self._usernames = {k: u for k, u in self._usernames.items()
                           if not (k[0].platform == user.platform and u == user.id)}
        person = self._people.pop(user, None)
        if person is not None:
            rest = [u for u, p in self._people.items() if p == person]
            if len(rest) == 1:  # a group of one links nothing
                del self._people[rest[0]]
        return touched

    async def communities_of(self, user: UserRef) -> list[CommunityRef]:
        """Communities of the user's platform where they acted, set prefs or have scores."""
        self._check_open()
        out = []
        for ref in self._platform_communities(user.platform):
            c = self._communities.get(ref)
            if ((c is not None and user.id in c.users) or (ref, user.id) in self._prefs
                    or self._member_days(ref, user.id)
                    or any(r == ref and user.id in s.by_user for (r, _), s in self._scores.items())):
                out.append(ref)
        return sorted(out, key=lambda r: r.id)

    async def export_user(self, user: UserRef) -> dict[str, object]:
        """Everything stored about the user, in the shape `ChatStore.export_user` describes."""
        self._check_open()
        communities = []
        for ref in await self.communities_of(user):
            c = self._communities.get(ref)
            messages: list[dict[str, Any]] = []
            reactions: list[dict[str, Any]] = []
            name = None
            if c is not None:
                u = c.users.get(user.id)
                name = u.name if u is not None else None
                mine = sorted((m for m in c.messages.values() if m.actor == user.id),
                              key=lambda m: (m.epoch, m.message_id))
                for m in mine:
                    deleted = m.message_id in c.deleted
                    messages.append({
                        "message_id": m.message_id, "channel": m.channel, "ts": records.iso(m.epoch),
                        "reply_to": m.reply_to, "deleted": deleted, "length": m.length,
                        "has_link": m.has_link, "has_attachment": m.has_attachment,
                        "mentions": [] if deleted else sorted(set(m.mentions))})
                given = sorted(((ts, k[0], k[2], removed) for k, (ts, removed, _hint) in c.reactions.items()
                                if k[1] == user.id))
                reactions = [{"message_id": mid, "emoji": emoji, "ts": records.iso(ts), "removed": removed}
                             for ts, mid, emoji, removed in given]
            scores = {period: records.score_dict(saved.by_user[user.id], saved.as_of)
                      for (r, period), saved in sorted(self._scores.items(), key=lambda kv: kv[0][1])
                      if r == ref and user.id in saved.by_user}
            username = next((k[1] for k, u in self._usernames.items() if k[0] == ref and u == user.id), None)
            communities.append({
                "community": ref.key, "community_name": c.name if c is not None else None, "name": name,
                "prefs": records.prefs_dict(self._prefs.get((ref, user.id), MemberPrefs())),
                "messages": records.listing(len(messages), messages[:records.EXPORT_LIMIT]),
                "reactions_given": records.listing(len(reactions), reactions[:records.EXPORT_LIMIT]),
                "scores": scores,
                "snapshots": [{"day": records.day_iso(d), "score": score}
                              for d, score in self._member_days(ref, user.id)],
                "summaries": [records.summary_dict(item.week, item.state, item.done_at)
                              for (r, week, kind, recipient), item in sorted(self._outbox.items(), key=lambda kv: kv[0][1])
                              if r == ref and kind == "personal" and recipient == user.id],
                **({"username": username} if username is not None else {})})
        codes = sorted(v.expires for v in self._codes.values() if v.owner == user)
        return {"user": records.user_dict(user), "communities": communities,
                "linked_accounts": [records.user_dict(u) for u in await self.linked_accounts(user)],
                "link_codes": [{"expires": e.astimezone(UTC).isoformat()} for e in codes],
                **({"dm_open": True} if user in self._dm_open else {})}

    async def save_link_code(self, link: LinkCode) -> None:
        """Store a link code (a code already stored is replaced)."""
        self._check_open()
        _micros(link.expires)  # the same check as the SQLite store: aware times only
        self._codes[link.code] = link

    async def redeem_link_code(self, code: str, user: UserRef, now: datetime) -> UserRef | None:
        """Consume an unexpired code of another platform, link both accounts, return the owner."""
        self._check_open()
        now_us = _micros(now)
        self._codes = {k: v for k, v in self._codes.items() if _micros(v.expires) > now_us}
        link = self._codes.get(code)
        if link is None or link.owner.platform == user.platform:
            return None
        del self._codes[code]
        self._link(link.owner, user)
        return link.owner

    def _link(self, a: UserRef, b: UserRef) -> None:
        pa, pb = self._people.get(a), self._people.get(b)
        if pa is None and pb is None:
            person = max(self._people.values(), default=0) + 1
        elif pa is None or pb is None:
            person = pa if pa is not None else pb  # type: ignore[assignment]
        else:
            person = min(pa, pb)
            merged = max(pa, pb)
            for u, p in self._people.items():
                if p == merged:
                    self._people[u] = person
        self._people[a] = self._people[b] = person

    async def linked_accounts(self, user: UserRef) -> list[UserRef]:
        """Every account in the user's linked group except the user, ordered by (platform, id)."""
        self._check_open()
        person = self._people.get(user)
        if person is None:
            return []
        return sorted((u for u, p in self._people.items() if p == person and u != user),
                      key=lambda u: (u.platform, u.id))

    # -- platform adapters (issue #5) -------------------------------------------------------------
    async def remember_usernames(self, ref: CommunityRef, names: Mapping[str, str]) -> None:
        """Map usernames (casefolded, '@' dropped) to members here; a member's older username goes."""
        self._check_open()
        for name, user in names.items():
            key = _username_key(name)
            if not key:
                continue
            self._usernames = {k: u for k, u in self._usernames.items() if not (k[0] == ref and u == user)}
            self._usernames[(ref, key)] = user

    async def user_by_username(self, ref: CommunityRef, username: str) -> str | None:
        """The member last seen with this username here, or None."""
        self._check_open()
        return self._usernames.get((ref, _username_key(username)))

    async def set_dm_open(self, user: UserRef, open: bool) -> None:
        """Record whether the bot may DM the user."""
        self._check_open()
        if open:
            self._dm_open.add(user)
        else:
            self._dm_open.discard(user)

    async def dm_open(self, user: UserRef) -> bool:
        """Whether the bot may DM the user."""
        self._check_open()
        return user in self._dm_open

    async def claim_notice(self, ref: CommunityRef, notice: str) -> bool:
        """True the first time a notice is claimed for a community, False ever after."""
        self._check_open()
        if (ref, notice) in self._notices:
            return False
        self._notices.add((ref, notice))
        return True

    async def latest_message_ids(self, ref: CommunityRef) -> dict[str, str]:
        """The newest stored message id per channel (latest ts; ties: numerically greater id)."""
        self._check_open()
        c = self._communities.get(ref)
        best: dict[str, tuple[int, int, str]] = {}
        for mid, e in (c.messages.items() if c is not None else ()):
            if e.channel is None:
                continue
            key = (e.epoch, len(mid), mid)
            if e.channel not in best or key > best[e.channel]:
                best[e.channel] = key
        return {channel: key[2] for channel, key in best.items()}


    # -- weekly summaries: outbox and runs (issue #6) ---------------------------------------------
    async def outbox_enqueue(self, ref: CommunityRef, week: str, items: Iterable[tuple[str, str]]) -> int:
        """Add a pending row per (recipient, kind) the run does not have yet; returns how many were new."""
        self._check_open()
        rows = list(items)
        for _recipient, kind in rows:
            records.check_outbox(kind=kind)
        added = 0
        for recipient, kind in rows:
            key = (ref, week, kind, recipient)
            if key not in self._outbox:
                self._outbox[key] = OutboxItem(week, recipient, kind, "pending",
                                               records.nonce(ref.key, week, recipient, kind))
                added += 1
        return added

    async def outbox_claim(self, ref: CommunityRef, week: str, recipient: str, kind: str,
                           now: datetime) -> OutboxItem | None:
        """pending → claimed (attempts + 1); None when the row is not pending."""
        self._check_open()
        _micros(now)
        key = (ref, week, kind, recipient)
        item = self._outbox.get(key)
        if item is None or item.state != "pending":
            return None
        item = self._outbox[key] = dataclasses.replace(item, state="claimed", attempts=item.attempts + 1,
                                                       claimed_at=now)
        return item

    async def outbox_mark(self, ref: CommunityRef, week: str, recipient: str, kind: str, state: str,
                          now: datetime, detail: str | None = None) -> None:
        """Set a row's state (pending releases a claim; any other state is final and sets done_at)."""
        self._check_open()
        records.check_outbox(kind=kind, state=state)
        _micros(now)
        key = (ref, week, kind, recipient)
        item = self._outbox.get(key)
        if item is not None:
            self._outbox[key] = dataclasses.replace(
                item, state=state, detail=detail, done_at=None if state in ("pending", "claimed") else now)

    async def outbox_items(self, ref: CommunityRef, week: str, *, kind: str | None = None,
                           state: str | None = None) -> list[OutboxItem]:
        """Rows of one run (optionally one kind / state), ordered by (kind, recipient)."""
        self._check_open()
        records.check_outbox(kind=kind, state=state)
        return [v for k, v in sorted(self._outbox.items(), key=lambda kv: (kv[0][2], kv[0][3]))
                if k[0] == ref and k[1] == week and (kind is None or v.kind == kind)
                and (state is None or v.state == state)]

    async def start_summary_run(self, ref: CommunityRef, week: str, scheduled: datetime,
                                algorithm: str | None = None) -> SummaryRun:
        """Record the start of the run of `week` (an existing run is returned unchanged)."""
        self._check_open()
        _micros(scheduled)
        # Stored at the SQLite store's precision, so both backends return equal values.
        return self._runs.setdefault((ref, week), SummaryRun(
            week, _EPOCH + timedelta(microseconds=_micros(scheduled)), algorithm=algorithm))

    async def finish_summary_run(self, ref: CommunityRef, week: str, now: datetime) -> None:
        """Mark the run of `week` completed."""
        self._check_open()
        run = self._runs.get((ref, week))
        if run is not None:
            self._runs[(ref, week)] = dataclasses.replace(run, completed=_EPOCH + timedelta(microseconds=_micros(now)))

    async def summary_runs(self, ref: CommunityRef, limit: int = 10) -> list[SummaryRun]:
        """The community's runs, latest scheduled first."""
        self._check_open()
        runs = sorted((r for (c, _w), r in self._runs.items() if c == ref), key=lambda r: (r.scheduled, r.week),
                      reverse=True)
        return runs[:max(0, limit)]

    async def channel_responders(self, ref: CommunityRef, start: datetime,
                                 end: datetime) -> dict[str, dict[str, int]]:
        """Per author and channel: distinct other (non-bot) members who replied or reacted by `end`."""
        self._check_open()
        lo, hi = _floor_epoch(start), _floor_epoch(end)
        c = self._communities.get(ref)
        if c is None or hi <= lo:
            return {}
        mine = {mid: m for mid, m in c.messages.items()
                if mid not in c.deleted and m.channel is not None and lo < m.epoch <= hi}
        who: dict[tuple[str, str], set[str]] = {}

        def add(mid: str, responder: str | None) -> None:
            m = mine.get(mid)
            u = c.users.get(responder or "")
            if m is None or not responder or responder == m.actor or (u is not None and u.is_bot):
                return
            who.setdefault((m.actor or "", m.channel or ""), set()).add(responder)

        for mid, m in c.messages.items():
            if m.reply_to is not None and mid not in c.deleted and m.epoch <= hi:
                add(m.reply_to, m.actor)
        for (mid, actor, _emoji), (ts, removed, _hint) in c.reactions.items():
            if not removed and ts <= hi:
                add(mid, actor)
        out: dict[str, dict[str, int]] = {}
        for (author, channel), responders in who.items():
            out.setdefault(author, {})[channel] = len(responders)
        return out


def _username_key(username: str) -> str:
    return username.strip().removeprefix("@").casefold()


def _micros(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("times passed to the store must be timezone-aware")
    return (ts - _EPOCH) // timedelta(microseconds=1)
