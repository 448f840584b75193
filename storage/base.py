"""The store contract: every backend (SQLite, in-memory fake, later PostgreSQL) implements `Store`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from scoring.daily import DailyAggregates
from scoring.errors import UserError
from scoring.model import CommunityRef, Event, UserRef
from scoring.result import MemberScore

__all__ = [
    "CommunityInfo",
    "ImportStats",
    "LockStore",
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

    async def names_of(self, ref: CommunityRef, users: Iterable[str]) -> dict[str, str]:
        """Display names of just these users (those without a known name are left out)."""

    async def find_member(self, ref: CommunityRef, query: str) -> str | None:
        """Resolve a user id or (case-insensitive, exact) display name to a user id."""

    # -- scores -------------------------------------------------------------------------
    async def save_scores(self, ref: CommunityRef, as_of: datetime, period: str,
                          scores: Sequence[MemberScore]) -> None:
        """Replace the stored scores of (community, period). For period 'all' they are also the
        snapshot of their day (`score_history`): a day's snapshot is its last save."""

    async def stored_scores(self, ref: CommunityRef, period: str = "all") -> StoredScores | None: ...

    async def leaderboard(self, ref: CommunityRef, period: str = "all", offset: int = 0,
                          limit: int = 10) -> list[MemberScore]:
        """Stored scores in rank order (limit <= 0 means everyone)."""

    async def score_of(self, ref: CommunityRef, user: str, period: str = "all") -> MemberScore | None: ...

    async def score_history(self, ref: CommunityRef, user: str, since: datetime) -> list[tuple[datetime, int]]:
        """Daily snapshot scores (period 'all') of a member since a time, oldest first."""


# -- chat layer: settings, member preferences, privacy, links (issue #3) -------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class CommunitySettings:
    """Per-community settings changed by admins with /settings. Defaults apply until changed."""

    summary_channel: str | None = None     # where the weekly digest goes (None: not posted)
    weekday: str = "mon"                   # one of WEEKDAYS
    hour: int = 9                          # 0..23, local time in `timezone`
    timezone: str = "UTC"                  # an IANA zone name
    language: str = "en"                   # fallback language of the community
    excluded_channels: tuple[str, ...] = ()  # events there are dropped at ingest
    mode: str = "open"                     # "open": everyone scored; "optin": only members who joined


@dataclass(frozen=True, slots=True)
class MemberPrefs:
    """One member's choices in one community."""

    hidden: bool = False      # /privacy hide: not on leaderboards or in others' summaries (still scored)
    opted_out: bool = False   # /optout: not scored, data deleted, new events dropped at ingest
    opted_in: bool = False    # joined an opt-in community (/optin)
    weekly: bool = False      # /weekly on: personal weekly summaries
    locale: str | None = None  # last language seen from the platform (Discord locale, Telegram language_code)


@dataclass(frozen=True, slots=True)
class LinkCode:
    code: str
    owner: UserRef
    expires: datetime


class ChatStore(Protocol):
    """What the chat layer needs beyond events and scores. SqliteStore, PostgresStore and MemoryStore implement it."""

    async def community_settings(self, ref: CommunityRef) -> CommunitySettings: ...

    async def set_community_settings(self, ref: CommunityRef, settings: CommunitySettings) -> None:
        """Store settings (creating the community row if the bot has seen no event there yet; such
        a community is still not listed by `communities`). ValueError for a weekday, hour or mode
        outside WEEKDAYS, 0..23, ("open", "optin")."""

    async def member_prefs(self, ref: CommunityRef, user: str) -> MemberPrefs: ...

    async def set_member_prefs(self, ref: CommunityRef, user: str, prefs: MemberPrefs) -> None: ...

    async def invisible_members(self, ref: CommunityRef) -> set[str]:
        """Users who must not appear on leaderboards or in others' summaries: hidden, opted out,
        and, in an opt-in community, everyone seen (actors of events, scored members, members
        with prefs) who has not opted in."""

    async def weekly_subscribers(self, ref: CommunityRef) -> list[str]:
        """Users with personal weekly summaries on (and not opted out), ordered by id."""

    async def delete_member_data(self, ref: CommunityRef, user: str) -> None:
        """/optout: delete everything about the user in this community — their messages (deleted
        ones and their tombstones too) with the reactions, anonymous counts and mentions on them,
        their reactions, mentions of them, reactions crediting them by hint, scores (later ranks
        move up a position; ranks and values stay until the next scoring), snapshots, name and username —
        and refresh the aggregates of the days touched, so no aggregate row names them. Replies
        to their messages stay as plain messages (reply_to is cleared, so they never re-resolve);
        hints naming them are cleared. Events queued before the call are written first. Their
        MemberPrefs row stays (it records opted_out so that new events are dropped at ingest)."""

    async def forget_user(self, user: UserRef) -> int:
        """/forgetme: delete_member_data in every community of their platform, plus their prefs,
        the link codes they own, their account links (the rest of a linked group stays
        linked) and their DM contact mark; afterwards no row names them. Returns how many communities `communities_of`
        listed before the call."""

    async def export_user(self, user: UserRef) -> dict[str, object]:
        """/mydata: everything stored about the user, as JSON-ready data (no message text exists).

        {"user": {platform, id}, "communities": [{"community": key, "community_name", "name": their
        display name, "prefs", "messages": {count, items: [{message_id, channel, ts, reply_to,
        deleted, length, has_link, has_attachment, mentions}], truncated}, "reactions_given":
        {count, items: [{message_id, emoji, ts, removed}], truncated}, "scores": {period: {score,
        percentile, rank, influence, reach, resonance, network, activity, algorithm, as_of}},
        "snapshots": [{day, score}], "summaries": [{week, state, done_at}], "username": their
        remembered @username (only when there is one)}] (one per `communities_of`; summaries are the
        personal weekly summaries addressed to them, by week), "linked_accounts": [{platform, id}],
        "link_codes": [{expires}], "dm_open": true (only when they started a private chat with the
        bot)}. Times are ISO 8601 UTC; each list holds at most
        `storage.records.EXPORT_LIMIT` items, oldest first (counts are exact). Link codes are
        listed without the code itself: it is a credential, not data about the user.
        """

    async def communities_of(self, user: UserRef) -> list[CommunityRef]:
        """Communities of the user's platform where they acted (authored, reacted, deleted), have
        prefs, scores or snapshots, ordered by id. Being mentioned or replied to does not count."""

    async def save_link_code(self, link: LinkCode) -> None: ...

    async def redeem_link_code(self, code: str, user: UserRef, now: datetime) -> UserRef | None:
        """Consume a code (single use). Returns the code's owner when the code exists, has not
        expired (now < expires) and belongs to another platform, and links the two accounts;
        links are transitive (A-B and B-C put A, B and C in one group). None otherwise: a code
        tried on its own platform is not consumed; expired codes are dropped."""

    async def linked_accounts(self, user: UserRef) -> list[UserRef]:
        """Every account in `user`'s linked group (not including `user`), ordered by (platform, id)."""

    # -- platform adapters (issue #5) -------------------------------------------------------------
    async def remember_usernames(self, ref: CommunityRef, names: Mapping[str, str]) -> None:
        """Record usernames seen in this community, {username: user id}, in one write (usernames are
        matched case-insensitively, a leading '@' ignored). A member has one current username:
        their older one is dropped, and a username taken over by another member moves to them."""

    async def user_by_username(self, ref: CommunityRef, username: str) -> str | None:
        """The member last seen with this username here (case-insensitive, '@' ignored), or None."""

    async def set_dm_open(self, user: UserRef, open: bool) -> None:
        """Record whether the bot may send the user private messages (Telegram: they pressed Start;
        a 403 turns it off)."""

    async def dm_open(self, user: UserRef) -> bool:
        """Whether `set_dm_open(user, True)` was the last word (False for unknown users)."""

    async def claim_notice(self, ref: CommunityRef, notice: str) -> bool:
        """Mark a one-time notice (e.g. "privacy-mode") as sent to a community. True the first time
        only, so a notice is sent once even across restarts; creates the community row if needed."""

    async def latest_message_ids(self, ref: CommunityRef) -> dict[str, str]:
        """The id of the newest stored message of every channel of a community (channel → message id),
        for adapters that backfill history after downtime. Newest means the latest `ts`; ties go to
        the numerically greater id (longer, then greater string: Discord snowflakes). Deleted
        messages count (they were seen); messages without a channel are left out."""


# -- weekly summaries: the durable outbox and the record of runs (issue #6) ----------------------

OUTBOX_KINDS = ("digest", "personal")
# pending → claimed → sent; or a final failure state. `uncertain`: a claim left by a crash on a
# platform that delivers at most once (it may have been sent; it is never resent).
OUTBOX_STATES = ("pending", "claimed", "sent", "unreachable", "gone", "failed", "uncertain")


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One summary to deliver: a row per (community, ISO week, recipient, kind).

    `recipient` is a member's platform user id for kind "personal" and the channel id for kind
    "digest". `nonce` is derived from the key (`storage.records.nonce`), so a resend carries the
    same one. `detail` is a short machine reason for a failure state (never message text).
    """

    week: str
    recipient: str
    kind: str
    state: str
    nonce: str
    attempts: int = 0
    claimed_at: datetime | None = None
    done_at: datetime | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class SummaryRun:
    """One community's weekly run: its ISO week (of the scheduled time), when it was due, when it finished."""

    week: str
    scheduled: datetime
    completed: datetime | None = None
    algorithm: str | None = None


class OutboxStore(Protocol):
    """Weekly-summary bookkeeping. SqliteStore, PostgresStore and MemoryStore implement it."""

    async def outbox_enqueue(self, ref: CommunityRef, week: str, items: Iterable[tuple[str, str]]) -> int:
        """Add a pending row for each (recipient, kind) the run of `week` does not have yet (rows that
        exist keep their state). Returns how many rows were added. ValueError for an unknown kind."""

    async def outbox_claim(self, ref: CommunityRef, week: str, recipient: str, kind: str,
                           now: datetime) -> OutboxItem | None:
        """Atomically move a pending row to claimed (attempts + 1, claimed_at = now) and return it;
        None when the row is absent or not pending (someone claimed or finished it)."""

    async def outbox_mark(self, ref: CommunityRef, week: str, recipient: str, kind: str, state: str,
                          now: datetime, detail: str | None = None) -> None:
        """Set a row's state: a final one (sent, unreachable, gone, failed, uncertain; done_at = now)
        or pending (releases a claim, for a retry). ValueError for an unknown state."""

    async def outbox_items(self, ref: CommunityRef, week: str, *, kind: str | None = None,
                           state: str | None = None) -> list[OutboxItem]:
        """Rows of one run, optionally of one kind and/or state, ordered by (kind, recipient)."""

    async def start_summary_run(self, ref: CommunityRef, week: str, scheduled: datetime,
                                algorithm: str | None = None) -> SummaryRun:
        """Record that the run of `week` started, with the scoring algorithm it uses (idempotent: an
        existing run is returned unchanged)."""

    async def finish_summary_run(self, ref: CommunityRef, week: str, now: datetime) -> None:
        """Mark the run of `week` completed (nothing left to deliver)."""

    async def summary_runs(self, ref: CommunityRef, limit: int = 10) -> list[SummaryRun]:
        """The community's runs, latest scheduled first, at most `limit`."""

    async def channel_responders(self, ref: CommunityRef, start: datetime,
                                 end: datetime) -> dict[str, dict[str, int]]:
        """For messages posted with start < ts <= end: per author, per channel, how many distinct
        other members (not bots) replied to or reacted to them by `end`. Authors without any
        responder are left out. Deleted messages, removed reactions and self-responses do not count."""


class LockStore(Protocol):
    """Coordination of bot processes sharing a database (docs/deployment.md). PostgreSQL uses
    advisory locks; SQLite and memory serve one process, which always leads (SQLite refuses a
    second `clout run` on the same file)."""

    async def begin_run(self) -> None:
        """Called once by a bot process (`clout run`) before it starts: SQLite takes a lock on the
        file and raises StoreError when another bot process runs on it; PostgreSQL allows many."""

    async def try_lead(self) -> bool:
        """Become the one process that runs the scheduler and the outbox, if no other does; True
        while this process leads. Never blocks on another process."""

    async def still_leading(self) -> bool:
        """A cheap check that leadership still holds (the lock's session is alive); False once lost."""

    async def stop_leading(self) -> None:
        """Give up leadership so another process can take it."""

    def refresh_lock(self, ref: CommunityRef) -> AbstractAsyncContextManager[bool]:
        """An async context holding the community's cross-process refresh lock: yields True when
        held for the block, False when another process holds it (then do not refresh)."""
