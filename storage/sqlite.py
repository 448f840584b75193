"""SQLite store (aiosqlite): event log, daily aggregates and scores in one file, written by one task.

Write path: `ingest` queues events; one writer task drains the queue in batches and writes each
batch in one transaction: the batch is staged into parameter rows in a worker thread, every event
is one `executemany` row into its log table, followed by a few set-based statements per chunk
(resolve references, mark dirty days). Only the (community, day) pairs a batch touched are
re-aggregated, from the log, with the same code that answers partial-day reads (each day's facts
read by index range scans, folded with numpy in a worker thread; `_fold_facts`), and stored as one
packed `day_aggregates` row per day (migration 7). `import_events` runs the same chunk writer
inside a single transaction and refreshes once at the end; an import that writes at least as many messages as the log held drops
the log's secondary indexes inside that transaction (`_BULK_INDEXES`), reads the facts of each
community's dirty range in one pass over each table, and creates the indexes again (and writes
its users) while a worker thread folds those facts (`_refresh_whole`). Reads use a second connection (WAL lets it read while the writer
writes), except for `:memory:` databases, where one connection does both under the write lock.
`aggregates` (big for a big community) reads on a short-lived connection of its own and parses in
a worker thread, so the shared reader and the event loop stay free for score_of and pages.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import operator
import os
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice, repeat
from typing import Any

import aiosqlite
import numpy as np

from scoring.daily import DailyAggregates
from scoring.engine import RankedMembers
from scoring.model import SECONDS_PER_DAY, CommunityRef, Event, Kind, UserRef, day_of
from scoring.result import MemberScore
from storage import records
from storage.base import (
    CommunityInfo,
    CommunitySettings,
    ImportStats,
    LinkCode,
    MemberPrefs,
    OutboxItem,
    SchemaTooNewError,
    StoredScores,
    SummaryRun,
)
from storage.columns import SEP
from storage.locks import RunFileLock, SingleProcessLocks
from storage.migrations import MIGRATIONS, latest_version
from storage.packed import Day, assemble, day_row
from storage.writer import STOP, QueuedWriter, WriteFailedError

__all__ = ["DERIVED_TABLES", "SqliteStore", "WriteFailedError"]

# Tables derived from the event log (the daily aggregates packed per day, migration 7; PostgreSQL's
# have the same layout since its migration 9, but are rebuilt all the same): `clout migrate` does
# not copy them but has the target rebuild its own (`rebuild_aggregates`).
DERIVED_TABLES = ("day_aggregates", "aggregate_rebuild")

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_WRITER_CACHE_KIB = -65_536  # negative: KiB (64 MiB)
_IMPORT_CACHE_KIB = -524_288  # 512 MiB while import_events runs (released when it ends)



# -- SQL --------------------------------------------------------------------------------------

# Writer-connection-only objects. The hot paths (messages, reactions) do their bookkeeping with
# set-based statements per chunk; TEMP triggers handle the rare writes (tombstones, anonymous
# counts, bot flags), since a trigger costs several microseconds per row it fires on.
_TEMP_SCHEMA = (
    "CREATE TEMP TABLE dirty (cid INTEGER, day INTEGER, PRIMARY KEY (cid, day)) WITHOUT ROWID",
    "CREATE TEMP TABLE newbots (cid INTEGER, user_id TEXT, PRIMARY KEY (cid, user_id)) WITHOUT ROWID",
    # The message ids of the member whose data is being deleted (one community at a time).
    "CREATE TEMP TABLE gone (mid TEXT PRIMARY KEY) WITHOUT ROWID",
    # A tombstone: the message stops counting (its row stays so replies to it still resolve),
    # and its mentions and reactions go.
    """CREATE TEMP TRIGGER message_deleted AFTER INSERT ON main.deleted_messages BEGIN
        INSERT INTO dirty SELECT community, day FROM messages
            WHERE community = new.community AND message_id = new.message_id AND deleted = 0
            ON CONFLICT DO NOTHING;
        INSERT INTO dirty SELECT community, day FROM reactions
            WHERE community = new.community AND message_id = new.message_id AND removed = 0
            ON CONFLICT DO NOTHING;
        UPDATE messages SET deleted = 1 WHERE community = new.community AND message_id = new.message_id;
        DELETE FROM mentions WHERE community = new.community AND message_id = new.message_id;
        DELETE FROM reactions WHERE community = new.community AND message_id = new.message_id;
        DELETE FROM reaction_counts WHERE community = new.community AND message_id = new.message_id;
    END""",
    """CREATE TEMP TRIGGER count_added AFTER INSERT ON main.reaction_counts BEGIN
        INSERT INTO dirty SELECT community, day FROM messages
            WHERE community = new.community AND message_id = new.message_id AND deleted = 0
            ON CONFLICT DO NOTHING;
    END""",
    """CREATE TEMP TRIGGER count_changed AFTER UPDATE ON main.reaction_counts BEGIN
        INSERT INTO dirty SELECT community, day FROM messages
            WHERE community = new.community AND message_id = new.message_id AND deleted = 0
            ON CONFLICT DO NOTHING;
    END""",
    # A reaction row that changes may move to another day, and both days need a refresh: the
    # event's day (marked per chunk when the chunk changed any reaction row) and the day the row
    # had before an update (this trigger; it fires on the rare update, never on an insert).
    """CREATE TEMP TRIGGER reaction_changed AFTER UPDATE ON main.reactions BEGIN
        INSERT INTO dirty VALUES (old.community, old.day) ON CONFLICT DO NOTHING;  -- OR IGNORE would yield to the upsert
    END""",
    # A reply whose target changed (its target message arrived, or a member's data was deleted).
    """CREATE TEMP TRIGGER reply_resolved AFTER UPDATE OF reply_target ON main.messages BEGIN
        INSERT INTO dirty VALUES (new.community, new.day) ON CONFLICT DO NOTHING;
    END""",
    """CREATE TEMP TRIGGER bot_added AFTER INSERT ON main.users WHEN new.is_bot = 1 BEGIN
        INSERT INTO newbots VALUES (new.community, new.user_id) ON CONFLICT DO NOTHING;
    END""",
    """CREATE TEMP TRIGGER bot_flagged AFTER UPDATE OF is_bot ON main.users
       WHEN new.is_bot = 1 AND old.is_bot = 0 BEGIN
        INSERT INTO newbots VALUES (new.community, new.user_id) ON CONFLICT DO NOTHING;
    END""",
)

# Latest name by time (ties: the larger name) and sticky flags, whatever the arrival order. The
# WHERE skips rewriting rows that would not change.
_NEWER_NAME = ("(excluded.name IS NOT NULL AND (users.name IS NULL OR excluded.name_ts > users.name_ts"
               " OR (excluded.name_ts = users.name_ts AND excluded.name > users.name)))")
_UPSERT_USERS = f"""
INSERT INTO users (community, user_id, name, name_key, name_ts, is_bot, member) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (community, user_id) DO UPDATE SET
    name = CASE WHEN {_NEWER_NAME} THEN excluded.name ELSE users.name END,
    name_key = CASE WHEN {_NEWER_NAME} THEN excluded.name_key ELSE users.name_key END,
    name_ts = CASE WHEN {_NEWER_NAME} THEN excluded.name_ts ELSE users.name_ts END,
    is_bot = max(users.is_bot, excluded.is_bot),
    member = max(users.member, excluded.member)
WHERE {_NEWER_NAME} OR excluded.is_bot > users.is_bot OR excluded.member > users.member
"""

# An absent id (channel, reply, author hint) in SQLite parameter rows. Python's sqlite3 binds None
# through its adapter lookups, ~0.75 µs a parameter (an int: ~0.05 µs), and a message row often has
# two or three: the statements take 0 instead and make it NULL (`nullif(?, 0)`). Ids are text,
# so no id is ever the integer 0.
_ABSENT = 0

# First write wins. A reply's target resolves from the log, else the hint (replies to messages
# written later are resolved by the bookkeeping, `_AFTER_NEW_MESSAGES`). A message whose tombstone
# came first is stored as deleted. Absent ids come as `_ABSENT`.
_INSERT_MESSAGES = """
INSERT INTO messages (community, message_id, author, channel, ts, day, reply_to, reply_hint,
                      reply_target, deleted, length, has_link, has_attachment)
VALUES (?1, ?2, ?3, nullif(?4, 0), ?5, ?6, nullif(?7, 0), nullif(?8, 0),
        CASE WHEN nullif(?7, 0) IS NULL THEN NULL ELSE coalesce(
            (SELECT t.author FROM messages t WHERE t.community = ?1 AND t.message_id = ?7), nullif(?8, 0)) END,
        EXISTS (SELECT 1 FROM deleted_messages d WHERE d.community = ?1 AND d.message_id = ?2),
        ?9, ?10, ?11)
ON CONFLICT (community, message_id) DO NOTHING
"""

# Bookkeeping for the messages a chunk inserted (row id above the chunk's starting mark): their
# days change, replies waiting for them resolve (the log beats the hint), and reactions waiting
# for them now credit their author.
_AFTER_NEW_MESSAGES = (
    "INSERT OR IGNORE INTO dirty (cid, day) SELECT community, day FROM messages WHERE id > ?1",
    # (the reply_resolved trigger marks the days of the replies this changes)
    """UPDATE messages SET reply_target = (
           SELECT n.author FROM messages n WHERE n.community = messages.community AND n.message_id = messages.reply_to)
       WHERE id IN (SELECT m.id FROM messages n CROSS JOIN messages m
                        ON m.community = n.community AND m.reply_to = n.message_id
                    WHERE n.id > ?1 AND m.reply_target IS NOT n.author)""",
    """INSERT OR IGNORE INTO dirty (cid, day)
       SELECT r.community, r.day FROM messages n CROSS JOIN reactions r
           ON r.community = n.community AND r.message_id = n.message_id
       WHERE n.id > ?1 AND r.removed = 0 AND r.target_hint IS NOT n.author""",
)
# A bulk import's reply bookkeeping, instead of the second statement above (which probes
# `messages_by_reply_to` once for every new message): one pass over the replies that may still be
# waiting for their target. A reply whose target was in the log when it was written took that
# author for good (first write wins); one whose target was not took its hint (or NULL). So only
# replies with reply_target IS reply_hint can be waiting, and those are looked up among the new
# messages through UNIQUE (community, message_id). No secondary index is needed, so a bulk import
# rebuilds all the ones it dropped while its refresh folds. (The pass reads the whole table: bulk
# imports are at least as large as the log they join.)
_BULK_REPLIES = """UPDATE messages SET reply_target = (
       SELECT n.author FROM messages n WHERE n.community = messages.community AND n.message_id = messages.reply_to)
   WHERE id IN (SELECT m.id FROM messages m NOT INDEXED CROSS JOIN messages n
                    ON n.community = m.community AND n.message_id = m.reply_to
                WHERE m.reply_to IS NOT NULL AND m.reply_target IS m.reply_hint AND n.id > ?1
                  AND m.reply_target IS NOT n.author)"""

# A bulk import (one that has written at least as many messages as the log held when it began,
# and at least _BULK_MIN_MESSAGES) drops these secondary indexes inside its transaction and creates
# them again before its refresh: CREATE INDEX sorts once, where millions of incremental inserts in
# another order than the table's touch index pages all over. The import's own per-row lookups use
# the primary keys and UNIQUE (community, message_id), which stay; the per-chunk bookkeeping
# (`_AFTER_NEW_MESSAGES`) runs once at the end instead, replies through `_BULK_REPLIES`. Other
# connections see nothing until the commit (WAL), and a rollback restores the indexes with the rest.
# Tying the switch to the log's size keeps the rebuild (which sorts the whole table) within about
# twice the import's own rows: a small import into a big community never drops anything.
_LAST_MESSAGE_ID = "coalesce((SELECT max(id) FROM messages), 0)"  # row ids above it are new
_BULK_INDEXES = ("messages_by_time", "messages_by_reply_to", "messages_by_channel", "reactions_by_time")
_BULK_MIN_MESSAGES = 50_000
_WHOLE_MAX_MESSAGES = 4_000_000
# A save of at least this many scores that are at least half of all stored scores rebuilds the
# rank index once (`_write_scores`) instead of moving each of its entries.
_BULK_SCORES = 100_000


@dataclass(slots=True)
class _Bulk:
    """A bulk import's state: messages above `mark` still need `_AFTER_NEW_MESSAGES`; `indexes` are
    the (name, CREATE statement) pairs of the indexes it dropped."""

    mark: int
    indexes: list[tuple[str, str]]
    # Whether the log held reactions before the import (else every reaction row is the import's
    # own, its day already dirty, and the bookkeeping skips the reactions waiting for new messages).
    old_reactions: bool = True
    # The import's users when the refresh writes them (while it folds): none of them is a bot.
    users: _Users = field(default_factory=dict)
    # Whether the refresh reads each community's dirty range at once (`_refresh_whole`): only up to
    # `_WHOLE_MAX_MESSAGES` messages, since those facts are held in memory together.
    whole: bool = True


# Mentions belong to the first write of a message: only messages inserted by this chunk
# (row id above the chunk's starting mark) take them.
_INSERT_MENTIONS = """
INSERT OR IGNORE INTO mentions (community, message_id, user_id)
SELECT ?1, ?2, ?3 WHERE EXISTS (
    SELECT 1 FROM messages m WHERE m.community = ?1 AND m.message_id = ?2 AND m.id > ?4 AND m.deleted = 0)
"""

_INSERT_DELETES = """
INSERT INTO deleted_messages (community, message_id, ts) VALUES (?, ?, ?)
ON CONFLICT (community, message_id) DO NOTHING
"""

_NOT_TOMBSTONED = "NOT EXISTS (SELECT 1 FROM deleted_messages d WHERE d.community = ?1 AND d.message_id = ?2)"
_WIN = ("(excluded.ts > reactions.ts OR (excluded.ts = reactions.ts"
        " AND excluded.removed > reactions.removed))")
_HINT_WIN = ("(excluded.target_hint IS NOT NULL AND (reactions.target_hint IS NULL"
             " OR excluded.target_hint > reactions.target_hint))")
# Last (ts, removed) wins, so a remove beats an add at the same second and a later re-add
# counts again; the author hint keeps the largest value seen (order-independent).
_UPSERT_REACTIONS = f"""
INSERT INTO reactions (community, message_id, actor, emoji, ts, day, removed, target_hint)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, nullif(?8, 0) WHERE {_NOT_TOMBSTONED}
ON CONFLICT (community, message_id, actor, emoji) DO UPDATE SET
    ts = CASE WHEN {_WIN} THEN excluded.ts ELSE reactions.ts END,
    day = CASE WHEN {_WIN} THEN excluded.day ELSE reactions.day END,
    removed = CASE WHEN {_WIN} THEN excluded.removed ELSE reactions.removed END,
    target_hint = CASE WHEN {_HINT_WIN} THEN excluded.target_hint ELSE reactions.target_hint END
WHERE {_WIN} OR {_HINT_WIN}
"""

# A community without any tombstone can store nothing as deleted or dropped for one: while none of
# a chunk's communities has one (checked per chunk inside the write transaction, so no other writer
# can add one meanwhile; a chunk's own tombstones are written between its messages and its
# reactions), messages and reactions are written without the lookup (a quarter of the reactions
# statement's cost in a replay of 1M events' rows).
_TOMBSTONED = "EXISTS (SELECT 1 FROM deleted_messages d WHERE d.community = ?1 AND d.message_id = ?2)"
_INSERT_MESSAGES_UNDELETED = _INSERT_MESSAGES.replace(_TOMBSTONED, "0")
_UPSERT_REACTIONS_UNDELETED = _UPSERT_REACTIONS.replace(
    f"SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, nullif(?8, 0) WHERE {_NOT_TOMBSTONED}",
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, nullif(?8, 0))")
assert _TOMBSTONED in _INSERT_MESSAGES and "deleted_messages" not in _UPSERT_REACTIONS_UNDELETED


def _many_rows(sql: str, width: int, rows: int) -> str:
    """`sql`, whose one `VALUES (...)` row takes parameters ?1..?width, made to take `rows` rows at
    once: each row's parameters numbered on from the previous row's."""
    match = re.fullmatch(r"(?s)(.*?VALUES\s*)(\(.*\))(\s*ON CONFLICT.*)", sql)
    assert match is not None
    head, values, tail = match.groups()
    return head + ",\n".join(re.sub(r"\?(\d+)", lambda m, j=j: f"?{int(m.group(1)) + j * width}", values)
                              for j in range(rows)) + tail


# Reactions without the tombstone lookup go _REACTION_ROWS to an execution (one multi-row VALUES):
# the per-execution work (cursors opened, the row's trip through executemany) is shared, ~35 % less
# time than a row per execution when 1M events' rows are replayed. The rows of one statement are
# upserted one after another, conflicts among themselves included, as separate executions are.
# (Messages gain nothing this way: their reply lookup reads the table they go into, so SQLite
# materialises the rows first, and a reply could not see its target in the same statement.)
_REACTION_ROWS = 50
_UPSERT_REACTIONS_MANY = _many_rows(_UPSERT_REACTIONS_UNDELETED, 8, _REACTION_ROWS)

_UPSERT_COUNTS = f"""
INSERT INTO reaction_counts (community, message_id, emoji, ts, count)
SELECT ?1, ?2, ?3, ?4, ?5 WHERE {_NOT_TOMBSTONED}
ON CONFLICT (community, message_id, emoji) DO UPDATE SET ts = excluded.ts, count = excluded.count
WHERE excluded.ts > reaction_counts.ts
   OR (excluded.ts = reaction_counts.ts AND excluded.count > reaction_counts.count)
"""

# SQL condition: the stored day {a} names user {u} (as member, responder or target). `users` is
# the JSON array written by json.dumps(ensure_ascii=False), which quotes a string exactly as
# json_quote does; a match inside another quoted id (possible only for ids containing quotes)
# merely refreshes one day more.
_DAY_NAMES = "instr({a}.users, json_quote({u})) > 0"

# A user who just became a known bot changes every day they took part in, as responder or target.
_DIRTY_NEW_BOTS = (
    f"""INSERT OR IGNORE INTO dirty (cid, day)
        SELECT a.community, a.day FROM day_aggregates a
        WHERE a.community IN (SELECT cid FROM newbots)
          AND EXISTS (SELECT 1 FROM newbots b WHERE b.cid = a.community AND {_DAY_NAMES.format(a="a", u="b.user_id")})""",
    "DELETE FROM newbots",
)

# The facts behind the day rows. SQLite's window function and GROUP BY over TEXT
# ids cost ~10 µs a message (the turn rule's lag() sorts every message of the day), so each day's
# facts are read with plain index range scans, packed into a few long strings per day (millions
# of row tuples would cost more in Python and its garbage collector than the query itself), and
# folded with numpy in a worker thread. Parameters: ?1 community, ?2 day, ?3..?4 the time bounds
# of the facts to keep (the whole day for a refresh, narrower for a partial-day read). The turn
# rule looks at the whole day, so the messages query reads every message of the day and flags
# the ones inside the bounds.
_DAY_MESSAGES = ("FROM messages m WHERE m.community = ?1 AND m.ts BETWEEN ?2 * 86400 AND ?2 * 86400 + 86399"
                 " AND m.deleted = 0")
_ANON = ("coalesce((SELECT sum(rc.count) FROM reaction_counts rc"
         " WHERE rc.community = m.community AND rc.message_id = m.message_id), 0)")
_DAY_MENTIONS = ("FROM messages m JOIN mentions mn ON mn.community = m.community AND mn.message_id = m.message_id"
                 " WHERE m.community = ?1 AND m.ts BETWEEN ?3 AND ?4 AND m.deleted = 0"
                 " AND mn.user_id IS NOT m.reply_target")
_DAY_REACTIONS = ("FROM reactions r LEFT JOIN messages m ON m.community = r.community AND m.message_id = r.message_id"
                  " WHERE r.community = ?1 AND r.ts BETWEEN ?3 AND ?4 AND r.removed = 0"
                  " AND coalesce(m.deleted, 0) = 0")
_R_TARGET = "coalesce(m.author, r.target_hint)"
# (packed, plain) per kind. Packed ids are joined by char(31); group_concat drops NULLs, so a
# NULL id is packed as char(30) and counted, and the split is checked against the counts.
_FACT_SQL = (
    (f"SELECT count(*), group_concat(m.author, char(31)), group_concat(m.ts), group_concat(m.ts BETWEEN ?3 AND ?4),"
     f" group_concat(coalesce(m.reply_target, char(30)), char(31)), count(*) - count(m.reply_target),"
     f" group_concat({_ANON}) {_DAY_MESSAGES}",
     f"SELECT m.author, m.ts, m.ts BETWEEN ?3 AND ?4, m.reply_target, {_ANON} {_DAY_MESSAGES}"),
    (f"SELECT count(*), group_concat(m.ts), group_concat(m.author, char(31)), group_concat(mn.user_id, char(31))"
     f" {_DAY_MENTIONS}",
     f"SELECT m.ts, m.author, mn.user_id {_DAY_MENTIONS}"),
    (f"SELECT count(*), group_concat(r.ts), group_concat(r.actor, char(31)),"
     f" group_concat(coalesce({_R_TARGET}, char(30)), char(31)), count(*) - count({_R_TARGET}) {_DAY_REACTIONS}",
     f"SELECT r.ts, r.actor, {_R_TARGET} {_DAY_REACTIONS}"),
)
# A bulk import's refresh (`_refresh_whole`) reads the facts of a community's whole dirty
# range at once, ?3..?4, with one pass over each table in its own order instead of a range scan of
# a time index per day (the time indexes are built meanwhile, while the facts are folded). Same
# columns and conditions as `_FACT_SQL`; the messages query flags every row as inside the bounds.
_WHOLE_MESSAGES = ("FROM messages m NOT INDEXED WHERE m.community = ?1 AND m.ts BETWEEN ?3 AND ?4"
                   " AND m.deleted = 0")
_WHOLE_FACT_SQL = tuple(
    tuple(sql.replace(_DAY_MESSAGES, _WHOLE_MESSAGES)
          .replace("FROM messages m JOIN mentions mn", "FROM mentions mn CROSS JOIN messages m")
          .replace("WHERE m.community = ?1 AND m.ts BETWEEN ?3 AND ?4 AND m.deleted = 0 AND mn.",
                   "WHERE mn.community = ?1 AND m.ts BETWEEN ?3 AND ?4 AND m.deleted = 0 AND mn.")
          for sql in kind)
    for kind in _FACT_SQL)
# SQL condition: user {u} is a bot in community {c} (used by per-channel responder counts).
_IS_BOT = ("EXISTS (SELECT 1 FROM users u INDEXED BY users_bots WHERE u.community = {c} AND u.user_id = {u}"
           " AND u.is_bot = 1)")
_FACT_BOTS = "SELECT user_id FROM users INDEXED BY users_bots WHERE community = ? AND is_bot = 1"
_TURN_GAP = 60  # seconds: the turn rule of scoring.daily.aggregate_events
_NULL = "\x1e"  # ASCII record separator: a NULL id in packed columns (checked, with a fallback)

_REFRESH_DAYS = 8  # days read and folded together by a refresh (a live batch usually has one)
_REFRESH_DELETE = "DELETE FROM day_aggregates WHERE (community, day) IN (SELECT cid, day FROM dirty)"
_INSERT_DAY = ("INSERT INTO day_aggregates (community, day, users, members, member_rows, pairs, pair_rows)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)")
_READ_DAYS = ("SELECT day, users, members, member_rows, pairs, pair_rows FROM day_aggregates"
              " WHERE community = ? AND day BETWEEN ? AND ? ORDER BY day")


def _member_snapshots(cid: str, user: str, since: str | None = None) -> str:
    """The condition selecting one member's snapshot rows (from day `since` on, if given), for a
    dialect's placeholders: one primary-key seek per day the community has snapshots of, listed in
    `snapshot_days` (there is no index by user: it would scatter every save's writes again)."""
    after = "" if since is None else f" AND day >= {since}"
    return (f"community = {cid} AND day IN (SELECT day FROM snapshot_days WHERE community = {cid}{after})"
            f" AND user_id = {user}")


def _scored(cid: str) -> str:
    """SQL condition on `scores`: the periods the community has scores of. The key is (community,
    period, user_id): with the periods listed, one member's rows are a seek per period instead of
    a read of the community's whole rank index (a million entries at the largest community)."""
    return f"period IN (SELECT period FROM score_runs WHERE community = {cid})"


def _member_history(cid: str, user: str, since: str | None = None) -> str:
    """One member's snapshot rows as (0, day, score) (from day `since` on, if given), and (1, as_of,
    score or NULL) of the stored 'all' scores and the member's among them: the snapshot of the
    scores' own day, which `score_snapshots` gets only when another day's save replaces them
    (`_snapshot_sql`; any older snapshot row of that day is out of date). `records.snapshot_history`
    makes the history of both. One statement: the weekly build reads this once per recipient."""
    return (f"SELECT 0, day, score FROM score_snapshots WHERE {_member_snapshots(cid, user, since)}"
            " UNION ALL SELECT 1, r.as_of, s.score FROM score_runs r LEFT JOIN scores s"
            f" ON s.community = r.community AND s.period = r.period AND s.user_id = {user}"
            f" WHERE r.community = {cid} AND r.period = 'all'")


# Deleting one member's data in one community (:cid, :user), in the writer's
# transaction. First every day they take part in is marked dirty (as member, responder or target,
# and the days of every log row about to change), then the log loses them: their messages with
# the reactions, counts, mentions and tombstones on them; their reactions; reactions crediting
# them by hint on a message not in the log; mentions of them; replies to them stop resolving
# (reply_to goes too, so the reply never re-resolves); hints naming them are cleared. Then their
# user row, scores (later ones move up a position, so pages stay gapless) and snapshots. The
# refresh that follows rebuilds the dirty days from the log, so no aggregate row names them.
# These scan the community's rows (no index by author or target): /optout and /forgetme are rare.
_DELETE_MEMBER = (
    "INSERT OR IGNORE INTO gone (mid) SELECT message_id FROM messages WHERE community = :cid AND author = :user",
    "INSERT OR IGNORE INTO dirty (cid, day) SELECT community, day FROM day_aggregates a"
    f" WHERE community = :cid AND {_DAY_NAMES.format(a='a', u=':user')}",
    "INSERT OR IGNORE INTO dirty (cid, day) SELECT community, day FROM messages"
    " WHERE community = :cid AND (author = :user OR reply_target = :user OR reply_hint = :user)",
    """INSERT OR IGNORE INTO dirty (cid, day) SELECT m.community, m.day FROM mentions mn
       JOIN messages m ON m.community = mn.community AND m.message_id = mn.message_id
       WHERE mn.community = :cid AND mn.user_id = :user""",
    "INSERT OR IGNORE INTO dirty (cid, day) SELECT community, day FROM reactions WHERE community = :cid"
    " AND (actor = :user OR target_hint = :user OR message_id IN (SELECT mid FROM gone))",
    """DELETE FROM reactions WHERE community = :cid AND (actor = :user OR message_id IN (SELECT mid FROM gone)
       OR (target_hint = :user AND NOT EXISTS (
           SELECT 1 FROM messages m WHERE m.community = :cid AND m.message_id = reactions.message_id)))""",
    "UPDATE reactions SET target_hint = NULL WHERE community = :cid AND target_hint = :user",
    "DELETE FROM reaction_counts WHERE community = :cid AND message_id IN (SELECT mid FROM gone)",
    "DELETE FROM mentions WHERE community = :cid AND (user_id = :user OR message_id IN (SELECT mid FROM gone))",
    "UPDATE messages SET reply_to = NULL, reply_hint = NULL, reply_target = NULL"
    " WHERE community = :cid AND reply_target = :user",
    "UPDATE messages SET reply_hint = NULL WHERE community = :cid AND reply_hint = :user",
    "DELETE FROM deleted_messages WHERE community = :cid AND message_id IN (SELECT mid FROM gone)",
    "DELETE FROM messages WHERE community = :cid AND message_id IN (SELECT mid FROM gone)",
    "DELETE FROM users WHERE community = :cid AND user_id = :user",
    """UPDATE scores SET position = position - 1 WHERE community = :cid AND position > (
           SELECT s.position FROM scores s WHERE s.community = :cid AND s.period = scores.period AND s.user_id = :user)""",
    "UPDATE score_runs SET members = members - 1 WHERE community = :cid"
    f" AND period IN (SELECT period FROM scores WHERE community = :cid AND {_scored(':cid')} AND user_id = :user)",
    f"DELETE FROM scores WHERE community = :cid AND {_scored(':cid')} AND user_id = :user",
    f"DELETE FROM score_snapshots WHERE {_member_snapshots(':cid', ':user')}",
    "DELETE FROM gone",
)

# Communities (ids, of one platform: ?1) where a user (?2) acted, set prefs or has scores.
_COMMUNITIES_OF = f"""
SELECT c.id, c.external_id FROM communities c WHERE c.platform = ?1 AND (
    EXISTS (SELECT 1 FROM users u WHERE u.community = c.id AND u.user_id = ?2)
    OR EXISTS (SELECT 1 FROM member_prefs p WHERE p.community = c.id AND p.user_id = ?2)
    OR EXISTS (SELECT 1 FROM scores s WHERE s.community = c.id AND s.{_scored('c.id')} AND s.user_id = ?2)
    OR EXISTS (SELECT 1 FROM score_snapshots WHERE {_member_snapshots('c.id', '?2')}))
ORDER BY c.external_id
"""

_SETTINGS_COLUMNS = "summary_channel, weekday, hour, timezone, language, excluded_channels, mode"
_PREFS_COLUMNS = "hidden, opted_out, opted_in, weekly, locale"


# -- staging (pure Python, per chunk) -----------------------------------------------------------

@dataclass(slots=True)
class _Stage:
    """One chunk as parameter rows, one list per statement."""

    messages: list[tuple[Any, ...]] = field(default_factory=list)
    mentions: list[tuple[Any, ...]] = field(default_factory=list)
    reactions: list[tuple[Any, ...]] = field(default_factory=list)
    counts: list[tuple[Any, ...]] = field(default_factory=list)
    deletes: list[tuple[Any, ...]] = field(default_factory=list)
    communities: set[int] = field(default_factory=set)  # the chunk's community ids


# Pending user rows, merged in Python: community id -> user id -> [name, name_ts, is_bot, member].
_Users = dict[int, dict[str, list[Any]]]


def _stage(events: Sequence[Event], cids: dict[CommunityRef, int], users: _Users, absent: Any = None) -> _Stage:
    """Turn a chunk into rows (SQLite parameters, PostgreSQL COPY records), merging user facts into
    `users`; the first write of a message (and of a tombstone) in the chunk wins, as in the log.
    An absent channel, reply or author hint is written as `absent` (SQLite: `_ABSENT`)."""
    st = _Stage()
    messages, mentions, reactions = st.messages, st.mentions, st.reactions
    msg_kind, add_kind, remove_kind = Kind.MESSAGE, Kind.REACTION_ADD, Kind.REACTION_REMOVE
    count_kind = Kind.REACTION_COUNT
    # Per-event costs add up over millions of events: the community's id, users and seen ids are
    # looked up only when the chunk moves to another community object (ids then need no tuple
    # keys), and kinds compare by identity (an Enum's hash runs Python code).
    seen: dict[int, tuple[set[str], set[str]]] = {}  # per community: message ids, tombstoned ids
    last_ref: object = None
    cid = 0
    members: dict[str, list[Any]] = {}
    seen_msgs: set[str] = set()
    for e in events:
        ref = e.community
        if ref is not last_ref:
            cid, last_ref = cids[ref], ref
            st.communities.add(cid)
            members = users.setdefault(cid, {})
            seen_msgs = seen.setdefault(cid, (set(), set()))[0]
        ts = int(e.ts.timestamp())
        day = ts // SECONDS_PER_DAY
        kind = e.kind
        actor = e.actor
        if actor:
            u = members.get(actor)
            name = e.actor_name
            if u is None:
                members[actor] = [name, ts if name is not None else None, e.actor_is_bot,
                                  kind is msg_kind or kind is add_kind or kind is remove_kind]
            else:
                if name is not None and (u[0] is None or ts > u[1] or (ts == u[1] and name > u[0])):
                    u[0], u[1] = name, ts
                if e.actor_is_bot:
                    u[2] = True
                if not u[3] and (kind is msg_kind or kind is add_kind or kind is remove_kind):
                    u[3] = True
        mid = e.message_id
        if kind is msg_kind:
            if mid in seen_msgs:
                continue  # first write wins, within the chunk too
            seen_msgs.add(mid)
            channel, reply_to, hint = e.channel, e.reply_to, e.reply_to_author
            messages.append((cid, mid, actor, absent if channel is None else channel, ts, day,
                             absent if reply_to is None else reply_to, absent if hint is None else hint,
                             e.length, int(e.has_link), int(e.has_attachment)))
            if e.mentions:
                for user in dict.fromkeys(e.mentions):
                    mentions.append((cid, mid, user))
        elif kind is add_kind or kind is remove_kind:
            hint = e.target_author
            reactions.append((cid, mid, actor, e.emoji or "", ts, day, int(kind is remove_kind),
                              absent if hint is None else hint))
        elif kind is count_kind:
            st.counts.append((cid, mid, e.emoji or "", ts, e.count))
        else:
            seen_dels = seen[cid][1]
            if mid not in seen_dels:  # the first tombstone wins, as in the log
                seen_dels.add(mid)
                st.deletes.append((cid, mid, ts))
    return st


def _user_rows(users: _Users) -> list[tuple[Any, ...]]:
    # In key order, so the upsert walks the table's b-tree forwards instead of all over it.
    return [(cid, user, u[0], u[0].casefold() if u[0] is not None else None, u[1], int(u[2]), int(u[3]))
            for cid, members in sorted(users.items()) for user, u in sorted(members.items())]


def _has_bots(users: _Users) -> bool:
    return any(u[2] for members in users.values() for u in members.values())


# One day's facts: (community, day, messages, mentions, reactions), each kind as the packed row
# of `_FACT_SQL` or, after a failed split, as plain rows; or a community's range (day None,
# `_WHOLE_FACT_SQL`). The fold takes each fact's day from its time.
_DayFacts = tuple[int, int | None, Any, Any, Any]
_FACT_SHAPES = ("sii?i", "iss", "is?")  # per kind, the columns: s id, ? nullable id, i integer


def _unpack(shape: str, packed: Sequence[Any]) -> list[Any] | None:
    """Columns of one packed fact row, or None when the ids cannot be split back exactly."""
    n = packed[0]
    cols: list[Any] = []
    pos = 1
    for kind in shape:
        text = packed[pos]
        pos += 1
        if not n:
            cols.append([])
            if kind == "?":
                pos += 1
            continue
        if kind == "i":
            values = np.fromstring(str(text), dtype=np.int64, sep=",")
            if len(values) != n:
                return None
            cols.append(values)
            continue
        parts = str(text).split(SEP)
        if len(parts) != n:
            return None
        # An id that is exactly the NULL marker would read as NULL: read plain rows instead.
        if kind == "?":
            nulls = packed[pos]
            pos += 1
            if parts.count(_NULL) != nulls:
                return None
        elif _NULL in parts:
            return None
        cols.append(parts)
    return cols


def _plain(shape: str, rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    # NULL ids stay None here (an id may be the packed NULL marker itself).
    return [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in shape]


def _fold_facts(days: Sequence[_DayFacts], bots: Sequence[tuple[int, str]], packed: bool
                ) -> list[Day] | None:
    """The aggregates of the days' facts, one `Day` per (community, day) with any row, or None
    if packed ids did not split back (the caller re-reads plain rows)."""
    # Ids are interned to ints, NULL (None, or the marker in packed columns) first as 0; the ints
    # only have to agree within this call. A defaultdict numbers new ids in C, one lookup each.
    # Each day's id columns become ints as soon as they are split, so the strings of a whole
    # range (`_refresh_whole`) are never all held at once.
    null = _NULL if packed else None
    index: defaultdict[str | None, int] = defaultdict(itertools.count().__next__)
    index[null]  # noqa: B018 - takes number 0
    intern = index.__getitem__
    columns: list[list[list[Any]]] = [[], [], []]  # per kind, per day: the columns
    sizes: list[list[int]] = [[], [], []]
    for _cid, _day, *kinds in days:
        for k, (shape, facts) in enumerate(zip(_FACT_SHAPES, kinds, strict=True)):
            cols = _unpack(shape, facts) if packed else _plain(shape, facts)
            if cols is None:
                return None
            columns[k].append([col if kind == "i" else np.fromiter(map(intern, col), np.int64, len(col))
                               for kind, col in zip(shape, cols, strict=True)])
            sizes[k].append(len(cols[0]))
            del cols

    def ints(k: int, j: int) -> np.ndarray:
        parts = [np.asarray(cols[j], np.int64) for cols in columns[k]]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def per_day(k: int) -> tuple[np.ndarray, np.ndarray]:
        # Each fact's day is its time's (the messages' and the mentions' the message's time).
        return (np.repeat(np.array([f[0] for f in days], np.int64), sizes[k]),
                ints(k, 1 if k == 0 else 0) // SECONDS_PER_DAY)

    # Every id is interned first, then renumbered in text order (0, NULL, stays first) so each
    # day's users and rows come out in key order, the order the engine has always been given.
    raw = [ints(0, 0), ints(0, 3), ints(1, 1), ints(1, 2), ints(2, 1), ints(2, 2)]
    for _cid, user in bots:
        index[user]  # noqa: B018 - numbers the bot
    names: list[str | None] = [null, *sorted(v for v in index if v is not null)]  # type: ignore[type-var]
    rank = np.zeros(len(index), np.int64)
    rank[np.fromiter(map(index.__getitem__, names), np.int64, len(names))] = np.arange(len(names))
    author, reply_target, m_author, m_user, r_actor, r_target = (rank[x] for x in raw)
    bot_keys = np.array([cid * (1 << 32) + rank[index[user]] for cid, user in bots], np.int64)

    def not_bot(cid: np.ndarray, user: np.ndarray) -> np.ndarray:
        if not bot_keys.size:
            return np.ones(cid.size, bool)
        return ~np.isin(cid * (1 << 32) + user, bot_keys)

    # -- member days: the turn rule within (community, day, author) in time order: a message
    # counts if it is the author's first of the day or 60 s or more after the previous one (ties
    # in time: gap 0, whatever their order).
    c, d = per_day(0)
    a, t, w, tg, an = author, ints(0, 1), ints(0, 2).astype(bool), reply_target, ints(0, 4)
    keep = not_bot(c, a)
    order = _order(c[keep], d[keep], a[keep], t[keep])
    c, d, a, t, w, tg, an = (x[keep][order] for x in (c, d, a, t, w, tg, an))
    same = np.zeros(c.size, bool)
    same[1:] = (c[1:] == c[:-1]) & (d[1:] == d[:-1]) & (a[1:] == a[:-1])
    gap = np.zeros(c.size, np.int64)
    gap[1:] = t[1:] - t[:-1]
    counted = (~same | (gap >= _TURN_GAP)).astype(np.int64)
    c, d, a, counted, tg, an = (x[w] for x in (c, d, a, counted, tg, an))
    at = _group_starts(c, d, a)
    member = (c[at], d[at], np.vstack([a[at], np.diff(np.append(at, c.size)), _sums(counted, at), _sums(an, at)]))

    # -- pair days: replies (from the messages above), mentions and named reactions.
    replied = tg != 0
    parts = [(c[replied], d[replied], a[replied], tg[replied], np.zeros(int(replied.sum()), np.int64))]
    for k, pr, pt in ((1, m_author, m_user), (2, r_actor, r_target)):
        pc, pd = per_day(k)
        keep = not_bot(pc, pr)
        parts.append((pc[keep], pd[keep], pr[keep], pt[keep], np.full(int(keep.sum()), k, np.int64)))
    c, d, r, tg, kind = (np.concatenate([p[j] for p in parts]) for j in range(5))
    keep = (tg != 0) & (tg != r) & not_bot(c, tg)
    order = _order(c[keep], d[keep], r[keep], tg[keep])
    c, d, r, tg, kind = (x[keep][order] for x in (c, d, r, tg, kind))
    at = _group_starts(c, d, r, tg)
    pair = (c[at], d[at], np.vstack([r[at], tg[at], *(_sums((kind == k).astype(np.int64), at) for k in range(3))]))
    return _split_days(names, member, pair)


def _order(*keys: np.ndarray) -> np.ndarray:
    """The permutation that sorts by the keys, the first the most significant: one argsort of the
    keys packed into one int64 when their ranges fit in 62 bits (a lexsort makes a stable pass per
    key, several times slower), else a lexsort. Rows equal in every key come out in any order: the
    folds only count and sum over runs of equal keys."""
    packed = np.zeros(keys[0].size, np.int64)
    if not packed.size:
        return np.zeros(0, np.intp)
    bits = 0
    for key in keys:
        lo = int(key.min())
        width = (int(key.max()) - lo).bit_length()
        bits += width
        if bits > 62:
            return np.lexsort(keys[::-1])
        packed = (packed << width) | (key - lo)
    return np.argsort(packed)


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """Indexes where a run of equal keys starts (the arrays are sorted by those keys)."""
    n = keys[0].size
    start = np.ones(n, bool)
    if n:
        start[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in keys])
    return np.flatnonzero(start)


def _sums(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, at) if at.size else np.zeros(0, np.int64)


def _split_days(names: Sequence[str | None], member: tuple[np.ndarray, np.ndarray, np.ndarray],
                pair: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[Day]:
    """Cut the folded groups (sorted by community, day, then ids in text order) into days, each
    with its own user list; a day's matrices index that list."""
    def key(c: np.ndarray, d: np.ndarray) -> np.ndarray:
        return c * (1 << 34) + (d + (1 << 32))

    mkey, pkey = key(member[0], member[1]), key(pair[0], pair[1])
    keys = np.union1d(mkey, pkey)
    m_lo, m_hi = np.searchsorted(mkey, keys, "left"), np.searchsorted(mkey, keys, "right")
    p_lo, p_hi = np.searchsorted(pkey, keys, "left"), np.searchsorted(pkey, keys, "right")
    out: list[Day] = []
    for i, k in enumerate(keys.tolist()):
        mem, par = member[2][:, m_lo[i]:m_hi[i]], pair[2][:, p_lo[i]:p_hi[i]]
        ranks = np.unique(np.concatenate((mem[0], par[0], par[1])))
        mem, par = mem.copy(), par.copy()
        mem[0] = np.searchsorted(ranks, mem[0])
        par[:2] = np.searchsorted(ranks, par[:2])
        out.append((k >> 34, (k & ((1 << 34) - 1)) - (1 << 32), list(map(names.__getitem__, ranks.tolist())),
                    mem, par))
    return out


def _day_rows(days: Sequence[_DayFacts], bots: Sequence[tuple[int, str]], packed: bool
              ) -> list[tuple[Any, ...]] | None:
    """`day_aggregates` rows of the days' facts (or None, as `_fold_facts`)."""
    folded = _fold_facts(days, bots, packed)
    return None if folded is None else [day_row(d) for d in folded]


# -- conversions ----------------------------------------------------------------------------------

def _floor_epoch(ts: datetime) -> int:
    """Whole epoch seconds, rounded down (so `ts > start` on whole seconds is exact)."""
    if ts.tzinfo is None:
        raise ValueError("times passed to the store must be timezone-aware")
    return (ts - _EPOCH) // timedelta(seconds=1)


def _micros(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("times passed to the store must be timezone-aware")
    return (ts - _EPOCH) // _US


def _from_micros(us: int) -> datetime:
    return _EPOCH + us * _US


def _day_start(day: int) -> datetime:
    return _EPOCH + timedelta(days=day)


def _score_rows(cid: int, period: str, as_of_us: int, scores: Sequence[MemberScore]) -> Iterable[tuple[Any, ...]]:
    """Score rows (position = place in rank order) in key order (by user), so the inserts walk the
    primary key forwards: at a million members, writes in rank order seek all over the scores
    table (1.8x the time). From compute()'s RankedMembers the rows are a zip over the columns taken
    in key order, each tuple made as executemany reads it: no list of a million tuples, which
    took longer to build and bind than the columns and the zip (alternating runs, docs/performance.md)."""
    if isinstance(scores, RankedMembers):
        c = scores.columns
        order = c.by_user
        positions = order.tolist()

        def take(column: Any) -> list[Any]:
            return column[order].tolist()  # type: ignore[no-any-return]

        return zip(repeat(cid), repeat(period), list(map(c.users.__getitem__, positions)), take(c.score),
                   take(c.percentile), (order + 1).tolist(), take(c.influence), take(c.reach), take(c.resonance),
                   take(c.network), take(c.activity), repeat(c.algorithm), repeat(as_of_us), positions)
    fields = _ranked_fields(scores)
    by_user = sorted(range(len(fields)), key=[f[0] for f in fields].__getitem__)
    return [(cid, period, *fields[pos], as_of_us, pos) for pos in by_user]


_SNAPSHOT_COLUMNS = "score, percentile, rank, influence, reach, resonance, network, activity"


@dataclass(frozen=True, slots=True)
class _SnapshotSql:
    """The statements that make the snapshot of one (community, day) from the stored 'all' scores,
    for one dialect's placeholders; each takes (cid, day), `listed` takes (cid, day, algorithm)."""

    run: str     # (as_of, algorithm) of the stored 'all' scores; takes (cid)
    known: str   # whether the day has a snapshot already (1 or no row)
    scored: str  # how many 'all' scores are stored; takes (cid)
    insert: str  # a day not snapshotted yet: every member's row, in key order
    upsert: str  # a day that has rows already: every member's row rewritten in place, in key order
    count: str   # rows the day holds after the upsert
    stale: str   # rows of members the day had and the scores have not (only when count says so)
    listed: str  # the day in snapshot_days, with the scores' algorithm


def _snapshot_sql(cid: str, day: str, algorithm: str) -> _SnapshotSql:
    """A day's snapshot is one contiguous key range of score_snapshots, written in key order in SQL
    from the 'all' scores (no Python value per member). The snapshot of the day of the stored
    scores is those scores themselves: `save_scores` writes the snapshot of a day only when a save
    of another day replaces them (see `_archive_scores`), so the many saves of one day write none."""
    ranged = f"community = {cid} AND day = {day}"
    updates = ", ".join(f"{c} = excluded.{c}" for c in _SNAPSHOT_COLUMNS.split(", "))
    rows = (f"INSERT INTO score_snapshots (community, day, user_id, {_SNAPSHOT_COLUMNS})"
            f" SELECT community, {day}, user_id, {_SNAPSHOT_COLUMNS} FROM scores"
            f" WHERE community = {cid} AND period = 'all' ORDER BY user_id")
    return _SnapshotSql(
        run=f"SELECT as_of, algorithm FROM score_runs WHERE community = {cid} AND period = 'all'",
        known=f"SELECT 1 FROM snapshot_days WHERE community = {cid} AND day = {day}",
        scored=f"SELECT count(*) FROM scores WHERE community = {cid} AND period = 'all'",
        insert=rows,
        upsert=f"{rows} ON CONFLICT (community, day, user_id) DO UPDATE SET {updates}",
        count=f"SELECT count(*) FROM score_snapshots WHERE {ranged}",
        # NOT EXISTS, one key seek per row: PostgreSQL ran `user_id NOT IN (SELECT …)` over a
        # million scores as a plain subplan (too big to hash in work_mem), a scan per row.
        stale=f"DELETE FROM score_snapshots WHERE {ranged} AND NOT EXISTS (SELECT 1 FROM scores s"
              f" WHERE s.community = {cid} AND s.period = 'all' AND s.user_id = score_snapshots.user_id)",
        listed=f"INSERT INTO snapshot_days (community, day, algorithm) VALUES ({cid}, {day}, {algorithm})"
               " ON CONFLICT (community, day) DO UPDATE SET algorithm = excluded.algorithm")


_SNAPSHOT_SCORES = _snapshot_sql("?1", "?2", "?3")


def _ranked_fields(scores: Sequence[MemberScore]) -> list[tuple[Any, ...]]:
    """Each member's MemberScore fields as a plain tuple (in field order), in rank order; straight
    from the columns when `scores` is compute()'s RankedMembers, so no objects are made."""
    if isinstance(scores, RankedMembers):
        c, n = scores.columns, len(scores)
        return list(zip(c.users, c.score.tolist(), c.percentile.tolist(), range(1, n + 1), c.influence.tolist(),
                        c.reach.tolist(), c.resonance.tolist(), c.network.tolist(), c.activity.tolist(),
                        repeat(c.algorithm, n), strict=True))
    ranks = [s.rank for s in scores]
    ranked = scores if all(map(operator.lt, ranks, islice(ranks, 1, None))) else sorted(
        scores, key=lambda s: (s.rank, s.user))
    return [(s.user, s.score, s.percentile, s.rank, s.influence, s.reach, s.resonance, s.network, s.activity,
             s.algorithm) for s in ranked]


def _score_from_row(row: Sequence[Any]) -> MemberScore:
    user, score, percentile, rank, influence, reach, resonance, network, activity, algorithm = row
    return MemberScore(user=user, score=score, percentile=percentile, rank=rank, influence=influence,
                       reach=reach, resonance=resonance, network=network, activity=activity,
                       algorithm=algorithm)


_SCORE_COLUMNS = "user_id, score, percentile, rank, influence, reach, resonance, network, activity, algorithm"
_INSERT_SCORES = ("INSERT INTO scores (community, period, user_id, score, percentile, rank, influence, reach,"
                  " resonance, network, activity, algorithm, as_of, position)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


# -- the store ------------------------------------------------------------------------------------

class SqliteStore(SingleProcessLocks, QueuedWriter):
    """The embedded store: one SQLite file (or `:memory:`), WAL, one writer task, one reader."""

    def __init__(self, path: str | os.PathLike[str], *, batch_size: int = 5_000,
                 queue_size: int = 100_000, busy_timeout_ms: int = 5_000,
                 bulk_messages: int = _BULK_MIN_MESSAGES, whole_messages: int = _WHOLE_MAX_MESSAGES) -> None:
        """`bulk_messages`: an import becomes a bulk import (see `_BULK_INDEXES`) once it has
        written this many messages and at least as many as the log held; 0 (tests): after its
        first chunk, whatever the log holds. `whole_messages`: the most messages a bulk import may
        write and still refresh whole ranges at once (`_refresh_whole`); 0 (tests): day by day."""
        self.path = os.fspath(path)
        self._bulk_messages = bulk_messages
        self._whole_messages = whole_messages
        self._target = self.path
        self.batch_size = max(1, batch_size)
        self._queue_size = queue_size
        self._busy_timeout_ms = busy_timeout_ms
        self._memory = self.path == ":memory:" or self.path.startswith("file::memory:")
        self._wconn: aiosqlite.Connection | None = None
        self._rconn: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[object] = asyncio.Queue(queue_size)
        self._writer: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._cids: dict[CommunityRef, int] = {}  # writer-side cache; cleared on rollback
        self._read_cids: dict[CommunityRef, int] = {}  # ids seen by reads (committed rows)
        self._failures: list[BaseException] = []
        self._closed = False
        self._run_lock = None if self._memory else RunFileLock(self.path)

    # -- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Open both connections, migrate the schema and start the writer. Raises SchemaTooNewError."""
        if self._wconn is not None:
            return
        wconn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await self._pragma(wconn)
            # Check before writing anything (even the WAL switch writes the file header).
            await self._check_version(wconn)
            if not self._memory:
                async with wconn.execute("PRAGMA journal_mode") as cur:
                    mode = (await cur.fetchone() or ("",))[0]
                if str(mode).lower() != "wal":
                    await wconn.execute("PRAGMA journal_mode=WAL")
            await wconn.execute("PRAGMA synchronous=NORMAL")
            await wconn.execute("PRAGMA temp_store=MEMORY")
            await wconn.execute(f"PRAGMA cache_size={_WRITER_CACHE_KIB}")
            await self._migrate(wconn)
            for sql in _TEMP_SCHEMA:
                await wconn.execute(sql)
            self._wconn = wconn
            await self._rebuild_pending()
            if self._memory:
                rconn = wconn  # a second connection would see a different empty database
            else:
                rconn = await aiosqlite.connect(self.path, isolation_level=None)
                await self._pragma(rconn)
                await rconn.execute("PRAGMA query_only=ON")
        except BaseException:
            self._wconn = None
            await wconn.close()
            raise
        self._wconn, self._rconn = wconn, rconn
        if self._memory:
            self._read_lock = self._write_lock  # reads must not see a half-written transaction
        self._queue = asyncio.Queue(self._queue_size)
        self._closed = False
        self._writer = asyncio.create_task(self._write_loop(), name=f"clout-sqlite-writer:{self.path}")
        self._writer.add_done_callback(self._writer_done)

    async def close(self) -> None:
        """Flush pending events, stop the writer and close both connections (raises a write failure)."""
        if self._wconn is None or self._closed:
            return
        self._closed = True  # no new events from here on
        try:
            await self._flush()
        finally:
            writer = self._writer
            if writer is not None and not writer.done():
                await self._queue.put(STOP)
                await asyncio.wait({writer})
            if self._rconn is not None and self._rconn is not self._wconn:
                await self._rconn.close()
            await self._wconn.close()
            self._wconn = self._rconn = None
            self._writer = None
            if self._run_lock is not None:
                self._run_lock.release()

    async def begin_run(self) -> None:
        """One bot process per file: take the run lock (`<path>.lock`, released by `close`) or raise
        StoreError naming the database."""
        if self._run_lock is not None:
            self._run_lock.acquire()

    async def _rebuild_pending(self) -> None:
        """Rebuild the aggregates of the days queued in `aggregate_rebuild` (by migration 7) from
        the log, in one transaction; an interrupted rebuild is redone on the next open."""
        conn = self._wconn
        assert conn is not None
        if not (await self._fetchone(conn, "SELECT EXISTS (SELECT 1 FROM aggregate_rebuild)"))[0]:
            return
        async with self._transaction():
            await conn.execute("INSERT OR IGNORE INTO dirty (cid, day) SELECT community, day FROM aggregate_rebuild")
            await self._refresh()
            await conn.execute("DELETE FROM aggregate_rebuild")
        log.info("rebuilt the daily aggregates of %s from its event log", self.path)

    async def rebuild_aggregates(self) -> None:
        """Recompute every day's aggregates from the event log (`clout migrate` copies the log, not
        the aggregates, whose layout differs between the backends)."""
        self._check_open()
        conn = self._wconn
        assert conn is not None
        async with self._write_lock, self._transaction():
            await conn.execute("DELETE FROM day_aggregates")
            await conn.execute("INSERT OR IGNORE INTO dirty (cid, day) SELECT community, day FROM messages"
                               " UNION SELECT community, day FROM reactions")
            await self._refresh()

    async def _pragma(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        await conn.execute("PRAGMA foreign_keys=ON")

    async def _recorded_version(self, conn: aiosqlite.Connection) -> int:
        async with conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'") as cur:
            if await cur.fetchone() is None:
                return 0
        async with conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _check_version(self, conn: aiosqlite.Connection) -> None:
        found, known = await self._recorded_version(conn), latest_version()
        if found > known:
            raise SchemaTooNewError(
                f"The database {self.path} was written by a newer Clout (schema {found}, this version "
                f"knows {known}); upgrade Clout to use it.")

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        """Apply each missing migration in its own transaction, recording it as it commits."""
        for migration in MIGRATIONS:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read inside the write transaction: another process may have migrated meanwhile.
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                current = await self._recorded_version(conn)
                if current > latest_version():
                    raise SchemaTooNewError(
                        f"The database {self.path} was written by a newer Clout (schema {current}, this "
                        f"version knows {latest_version()}); upgrade Clout to use it.")
                if current >= migration.version:
                    await conn.execute("COMMIT")
                    continue
                for statement in migration.statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, datetime.now(UTC).isoformat(timespec="seconds")))
                await conn.execute("COMMIT")
                log.info("applied schema migration %d (%s) to %s", migration.version, migration.name,
                         self.path)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = self._wconn
        assert conn is not None
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            self._cids.clear()  # ids of communities created in this transaction are gone
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")

    async def _ensure_communities(self, names: dict[CommunityRef, str | None]) -> None:
        """Give every community an id in the cache, creating rows as needed; store names given."""
        conn = self._wconn
        assert conn is not None
        for ref, name in names.items():
            cid = self._cids.get(ref)
            if cid is None:
                await conn.execute(
                    "INSERT INTO communities (platform, external_id, name) VALUES (?, ?, ?)"
                    " ON CONFLICT (platform, external_id) DO NOTHING", (ref.platform, ref.id, name))
                async with conn.execute("SELECT id FROM communities WHERE platform = ? AND external_id = ?",
                                        (ref.platform, ref.id)) as cur:
                    row = await cur.fetchone()
                assert row is not None
                cid = self._cids[ref] = int(row[0])
            if name is not None:
                await conn.execute("UPDATE communities SET name = ? WHERE id = ? AND name IS NOT ?",
                                   (name, cid, name))

    async def _write_chunk(self, events: Sequence[Event], users: _Users) -> int:
        """Write one chunk inside the caller's transaction; returns how many events changed state.

        User facts are merged into `users`; the caller writes them with `_write_users` (once
        per live batch, once per import) before refreshing.
        """
        return await self._write_stage(await self._prepare(events, users))

    def _prepare(self, events: Sequence[Event], users: _Users) -> asyncio.Future[_Stage]:
        """Give the chunk's communities ids (SQL, in the caller's transaction), then stage it in a
        worker thread, never on the event loop; `users` must not be used until the future is done."""
        return asyncio.ensure_future(self._prepare_async(events, users))

    async def _prepare_async(self, events: Sequence[Event], users: _Users) -> _Stage:
        names: dict[CommunityRef, str | None] = {}
        last: object = None
        for e in events:
            # (a run of events on one community object skips hashing it: a dataclass hash is Python code)
            ref = e.community
            if e.community_name is not None or (ref is not last and ref not in names):
                names[ref] = e.community_name or names.get(ref)
            last = ref
        await self._ensure_communities(names)
        return await asyncio.to_thread(_stage, events, dict(self._cids), users, _ABSENT)

    async def _write_stage(self, st: _Stage, deferred: bool = False) -> int:
        """Write one staged chunk; returns how many events changed state. `deferred`: the
        bookkeeping for new messages (`_AFTER_NEW_MESSAGES`) is left to the caller, who runs it
        once for every message above a mark (a bulk import, see `_Bulk`)."""
        conn = self._wconn
        assert conn is not None
        new = 0
        # (one trip: the last message row id, and whether the chunk's communities have tombstones)
        mark, tombstoned = await self._chunk_state(st.communities)
        tombstoned = tombstoned or bool(st.deletes)
        # Order matters only within a chunk, and is chosen so that any arrival order ends the
        # same: messages, then tombstones (which see those messages), then reactions (which
        # see the tombstones).
        if st.messages:
            async with conn.executemany(_INSERT_MESSAGES if tombstoned else _INSERT_MESSAGES_UNDELETED,
                                        st.messages) as cur:
                inserted = cur.rowcount
            if inserted:
                new += inserted
                if not deferred:
                    await self._after_new_messages(mark)
                if st.mentions:
                    await conn.executemany(_INSERT_MENTIONS, [(*m, mark) for m in st.mentions])
        if st.deletes:
            async with conn.executemany(_INSERT_DELETES, st.deletes) as cur:
                new += cur.rowcount
        if st.reactions:
            changed = await self._upsert_reactions(st.reactions, tombstoned)
            if changed:
                new += changed
                await conn.executemany("INSERT OR IGNORE INTO dirty (cid, day) VALUES (?, ?)",
                                       sorted({(r[0], r[5]) for r in st.reactions}))
        if st.counts:
            async with conn.executemany(_UPSERT_COUNTS, st.counts) as cur:
                new += cur.rowcount
        return new

    async def _upsert_reactions(self, rows: list[tuple[Any, ...]], tombstoned: bool) -> int:
        """Write reaction rows (`_REACTION_ROWS` to an execution unless tombstones need the lookup);
        returns how many rows changed."""
        conn = self._wconn
        assert conn is not None
        many = 0 if tombstoned else len(rows) - len(rows) % _REACTION_ROWS
        changed = 0
        if many:
            async with conn.executemany(_UPSERT_REACTIONS_MANY, [
                    tuple(itertools.chain.from_iterable(rows[i:i + _REACTION_ROWS]))
                    for i in range(0, many, _REACTION_ROWS)]) as cur:
                changed += cur.rowcount
        if many < len(rows):
            async with conn.executemany(_UPSERT_REACTIONS if tombstoned else _UPSERT_REACTIONS_UNDELETED,
                                        rows[many:]) as cur:
                changed += cur.rowcount
        return changed

    async def _chunk_state(self, communities: set[int]) -> tuple[int, bool]:
        """The log's last message row id, and whether any of these communities has a tombstone
        (see `_INSERT_MESSAGES_UNDELETED`)."""
        assert self._wconn is not None
        marks = ", ".join("?" * len(communities))
        row = await self._fetchone(
            self._wconn, f"SELECT {_LAST_MESSAGE_ID}, EXISTS (SELECT 1 FROM deleted_messages WHERE community IN ({marks}))",
            tuple(communities))
        return int(row[0]), bool(row[1])

    async def _last_message_id(self) -> int:
        assert self._wconn is not None
        row = await self._fetchone(self._wconn, f"SELECT {_LAST_MESSAGE_ID}")
        return int(row[0]) if row else 0

    async def _after_new_messages(self, mark: int, waiting_reactions: bool = True, bulk: bool = False) -> None:
        assert self._wconn is not None
        days, replies, reactions = _AFTER_NEW_MESSAGES
        for sql in (days, _BULK_REPLIES if bulk else replies, *((reactions,) if waiting_reactions else ())):
            await self._wconn.execute(sql, (mark,))

    async def _write_users(self, users: _Users) -> None:
        if users:
            await self._write_user_rows(await asyncio.to_thread(_user_rows, users))
            users.clear()

    async def _write_user_rows(self, rows: list[tuple[Any, ...]]) -> None:
        assert self._wconn is not None
        await self._wconn.executemany(_UPSERT_USERS, rows)

    async def _refresh(self, bulk: _Bulk | None = None) -> None:
        """Recompute the aggregates of every dirty (community, day) from the log. `bulk`: a bulk
        import's, whose dropped time indexes (`_BULK_INDEXES`) are created meanwhile (`_refresh_whole`)."""
        conn = self._wconn
        assert conn is not None
        async with conn.execute("SELECT EXISTS (SELECT 1 FROM newbots)") as cur:
            row = await cur.fetchone()
        if row and row[0]:
            for sql in _DIRTY_NEW_BOTS:
                await conn.execute(sql)
        await conn.execute(_REFRESH_DELETE)
        dirty = await self._fetchall(conn, "SELECT cid, day FROM dirty")
        if bulk is not None and bulk.whole:
            await self._refresh_whole(conn, dirty, bulk)
            await conn.execute("DELETE FROM dirty")
            return
        if bulk is not None:
            await self._bulk_writes(bulk, asyncio.to_thread(_user_rows, bulk.users))
        days = [(cid, day, day * SECONDS_PER_DAY, day * SECONDS_PER_DAY + 86_399) for cid, day in dirty]
        # A few days at a time, pipelined: while a worker thread folds one group, the connection's
        # thread reads the next group's facts (a day's rows do not depend on the other days'
        # folds, and ids are renumbered in text order within each day either way).
        folding: asyncio.Future[list[tuple[Any, ...]]] | None = None
        try:
            for lo in range(0, len(days), _REFRESH_DAYS):
                ahead = asyncio.ensure_future(self._facts(conn, days[lo:lo + _REFRESH_DAYS], _day_rows))
                done, folding = folding, ahead
                if done is not None:
                    await conn.executemany(_INSERT_DAY, await done)
            if folding is not None:
                done, folding = folding, None
                await conn.executemany(_INSERT_DAY, await done)
        finally:
            if folding is not None:  # a group failed: let the one ahead finish before rolling back
                await asyncio.gather(folding, return_exceptions=True)
        await conn.execute("DELETE FROM dirty")

    async def _refresh_whole(self, conn: aiosqlite.Connection, dirty: Sequence[tuple[int, int]],
                             bulk: _Bulk) -> None:
        """A bulk import's refresh: each community's dirty range is read at once, one pass over
        each table (`_WHOLE_FACT_SQL`; the time indexes are not there yet), and while a worker
        thread folds those facts the connection's thread creates the dropped indexes (SQLite
        sorts without holding the GIL). Days of the range that are not dirty are folded too and
        left as they are."""
        spans: dict[int, tuple[int, int]] = {}
        for cid, day in dirty:
            lo, hi = spans.get(cid, (day, day))
            spans[cid] = (min(lo, day), max(hi, day))
        whole = [(cid, None, lo * SECONDS_PER_DAY, hi * SECONDS_PER_DAY + 86_399)
                 for cid, (lo, hi) in sorted(spans.items())]
        # The user rows are made while the facts are read (SQLite reads them without the GIL).
        making = asyncio.ensure_future(asyncio.to_thread(_user_rows, bulk.users))
        try:
            rows = await self._facts(conn, whole, _day_rows, whole=True,
                                     meanwhile=lambda: self._bulk_writes(bulk, making))
        finally:
            await asyncio.gather(making, return_exceptions=True)  # (never left running)
        wanted = set(map(tuple, dirty))
        await conn.executemany(_INSERT_DAY, [row for row in rows if (row[0], row[1]) in wanted])

    async def _bulk_writes(self, bulk: _Bulk, user_rows: Awaitable[list[tuple[Any, ...]]]) -> None:
        """What a bulk import leaves to its refresh: the dropped indexes, and its users' rows (none
        if they were written before)."""
        await self._create_indexes(bulk.indexes)
        await self._write_user_rows(await user_rows)

    async def _facts(self, conn: aiosqlite.Connection, days: Sequence[tuple[int, int | None, int, int]],
                     fold: Any = _fold_facts, *, whole: bool = False,
                     meanwhile: Callable[[], Awaitable[None]] | None = None) -> Any:
        """What `fold` (`_fold_facts` or `_day_rows`) makes of the facts of (community, day, lo, hi)
        from the log, run off the loop. `whole`: each entry is a community's range (day None),
        read with `_WHOLE_FACT_SQL`. `meanwhile` runs on the connection while the first fold does."""
        bots = []
        for cid in sorted({day[0] for day in days}):
            bots += [(cid, user) for (user,) in await self._fetchall(conn, _FACT_BOTS, (cid,))]
        queries = _WHOLE_FACT_SQL if whole else _FACT_SQL
        for packed in (True, False):
            facts = []
            for cid, day, lo, hi in days:
                params = (cid, day, lo, hi)
                if packed:
                    kinds = [await self._fetchone(conn, sql, params) for sql, _plain_sql in queries]
                else:
                    kinds = [await self._fetchall(conn, sql, params) for _packed_sql, sql in queries]
                facts.append((cid, day, *kinds))
            folding = asyncio.ensure_future(asyncio.to_thread(fold, facts, bots, packed))
            if meanwhile is not None:
                work, meanwhile = meanwhile, None
                try:
                    await work()
                except BaseException:
                    await asyncio.gather(folding, return_exceptions=True)
                    raise
            folded = await folding
            if folded is not None:
                return folded
        raise AssertionError("plain fact rows always fold")

    async def _begin_bulk(self) -> _Bulk:
        """Drop the log's secondary indexes (`_BULK_INDEXES`) inside the import's transaction."""
        return _Bulk(await self._last_message_id(), await self._drop_indexes(_BULK_INDEXES))

    async def _end_bulk(self, bulk: _Bulk, users: _Users) -> None:
        """The deferred bookkeeping of the new messages (`_BULK_REPLIES` needs none of the dropped
        indexes). The indexes, and the users unless one is a bot (which may change other days, so
        the refresh must know it first), are written during the refresh (`_bulk_writes`)."""
        await self._after_new_messages(bulk.mark, bulk.old_reactions, bulk=True)
        if _has_bots(users):
            await self._write_users(users)
        else:
            bulk.users = users.copy()
            users.clear()

    async def _drop_indexes(self, names: Sequence[str]) -> list[tuple[str, str]]:
        """Drop indexes inside the writer's open transaction (other connections see nothing of it;
        a rollback brings them back); returns their (name, CREATE statement) for `_create_indexes`."""
        conn = self._wconn
        assert conn is not None
        marks = ", ".join("?" * len(names))
        indexes = [(name, sql) for name, sql in await self._fetchall(
            conn, f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN ({marks})"
                  " ORDER BY name", tuple(names))]
        for name, _sql in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
        return indexes

    async def _create_indexes(self, indexes: list[tuple[str, str]]) -> None:
        conn = self._wconn
        assert conn is not None
        for _name, sql in indexes:
            await conn.execute(sql)

    # -- writes ---------------------------------------------------------------------------------
    async def import_events(self, events: Iterable[Event]) -> ImportStats:
        """Write a whole source in one transaction; if iterating `events` raises, nothing is kept."""
        self._check_open()
        read = new = 0
        iterator = iter(events)
        users: _Users = {}  # merged over the whole import: one row per user, written at the end
        async with self._write_lock:
            conn = self._wconn
            assert conn is not None
            # A big import touches the log's indexes all over: a larger page cache for its
            # duration keeps them in memory (the writer's usual cache comes back afterwards).
            await conn.execute(f"PRAGMA cache_size={_IMPORT_CACHE_KIB}")
            # Every row an import writes names a community it has ensured itself, in its own
            # transaction (`_ensure_communities`), and every foreign key points at communities:
            # the per-row checks (~8 % of the chunk statements) are off until it ends. (The pragma
            # does nothing inside a transaction, hence here.)
            await conn.execute("PRAGMA foreign_keys=OFF")
            try:
                async with self._transaction():
                    # The log's size (or more: ids are not reused) sets when the import goes bulk.
                    logged = await self._last_message_id()
                    old_reactions = bool((await self._fetchone(conn, "SELECT EXISTS (SELECT 1 FROM reactions)"))[0])
                    threshold = max(self._bulk_messages, logged) if self._bulk_messages else 0
                    written = 0
                    bulk: _Bulk | None = None
                    # One chunk at a time: staged in a worker thread, then written. (Staging the
                    # next chunk while SQLite writes one measured slower: both threads need the
                    # GIL for every row, SQLite to bind its parameters, and hand it back and forth.)
                    while chunk := list(islice(iterator, self.batch_size)):
                        read += len(chunk)
                        st = await self._prepare(chunk, users)
                        new += await self._write_stage(st, deferred=bulk is not None)
                        written += len(st.messages)
                        if bulk is None and written >= threshold:
                            bulk = await self._begin_bulk()
                    if bulk is not None:
                        bulk.old_reactions, bulk.whole = old_reactions, written <= self._whole_messages
                        await self._end_bulk(bulk, users)
                    await self._write_users(users)  # (a bulk import's are written by now or by its refresh)
                    await self._refresh(bulk)
            finally:
                await conn.execute(f"PRAGMA cache_size={_WRITER_CACHE_KIB}")
                await conn.execute("PRAGMA foreign_keys=ON")
        return ImportStats(events=read, new=new)

    # -- reads ----------------------------------------------------------------------------------
    @asynccontextmanager
    async def _reading(self, snapshot: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """The read connection under the read lock, optionally inside one read transaction."""
        self._check_open()
        conn = self._rconn
        assert conn is not None
        async with self._read_lock:
            if not snapshot:
                yield conn
                return
            await conn.execute("BEGIN")
            try:
                yield conn
            finally:
                await conn.execute("COMMIT")

    # One trip to the connection's thread per query (execute, fetch and close as one job): while
    # worker threads compute, every trip waits for the GIL, so a command's latency grows with trips.
    @staticmethod
    async def _fetchall(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await conn.execute_fetchall(sql, params))

    @staticmethod
    async def _fetchone(conn: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def _cid(self, conn: aiosqlite.Connection, ref: CommunityRef) -> int | None:
        # A committed community row is never deleted or renumbered: its id is cached once read.
        cid = self._read_cids.get(ref)
        if cid is not None:
            return cid
        row = await self._fetchone(conn, "SELECT id FROM communities WHERE platform = ? AND external_id = ?",
                                   (ref.platform, ref.id))
        if row is None:
            return None
        cid = self._read_cids[ref] = int(row[0])
        return cid

    _INFO_SQL = """
    SELECT c.platform, c.external_id, c.name,
        (SELECT count(*) FROM users u WHERE u.community = c.id AND u.member = 1 AND u.is_bot = 0),
        (SELECT count(*) FROM messages m WHERE m.community = c.id AND m.deleted = 0),
        (SELECT min(ts) FROM messages m WHERE m.community = c.id AND m.deleted = 0),
        (SELECT max(ts) FROM messages m WHERE m.community = c.id AND m.deleted = 0),
        (SELECT min(ts) FROM reactions r WHERE r.community = c.id AND r.removed = 0),
        (SELECT max(ts) FROM reactions r WHERE r.community = c.id AND r.removed = 0)
    FROM communities c
    WHERE {where} AND (EXISTS (SELECT 1 FROM messages m WHERE m.community = c.id)
        OR EXISTS (SELECT 1 FROM reactions r WHERE r.community = c.id)
        OR EXISTS (SELECT 1 FROM reaction_counts rc WHERE rc.community = c.id)
        OR EXISTS (SELECT 1 FROM deleted_messages d WHERE d.community = c.id))
    """

    @staticmethod
    def _info(row: Sequence[Any]) -> CommunityInfo:
        platform, ext, name, members, messages, m_first, m_last, r_first, r_last = row
        firsts = [t for t in (m_first, r_first) if t is not None]
        lasts = [t for t in (m_last, r_last) if t is not None]
        return CommunityInfo(
            ref=CommunityRef(platform, ext), name=name, members=members, messages=messages,
            first_event=datetime.fromtimestamp(min(firsts), UTC) if firsts else None,
            last_event=datetime.fromtimestamp(max(lasts), UTC) if lasts else None)

    async def communities(self) -> list[CommunityInfo]:
        """Every community with at least one stored event, ordered by key."""
        async with self._reading(snapshot=True) as conn:
            rows = await self._fetchall(conn, self._INFO_SQL.format(where="1"))
        return sorted((self._info(r) for r in rows), key=lambda info: info.ref.key)

    async def community(self, ref: CommunityRef) -> CommunityInfo | None:
        """One community's summary, or None when nothing of it is stored."""
        async with self._reading(snapshot=True) as conn:
            row = await self._fetchone(conn, self._INFO_SQL.format(where="c.platform = ? AND c.external_id = ?"),
                                       (ref.platform, ref.id))
        return None if row is None else self._info(row)

    async def aggregates(self, ref: CommunityRef, start: datetime, end: datetime) -> DailyAggregates:
        """Daily aggregates of events with start < ts <= end (whole days from the tables, cut days from the log)."""
        lo, hi = _floor_epoch(start), _floor_epoch(end)
        if hi <= lo:
            return DailyAggregates.empty()
        first_day, last_day = day_of(lo + 1), day_of(hi)
        whole_lo = first_day if (lo + 1) % SECONDS_PER_DAY == 0 else first_day + 1
        whole_hi = last_day if (hi + 1) % SECONDS_PER_DAY == 0 else last_day - 1
        partial = sorted({d for d in (first_day, last_day) if not whole_lo <= d <= whole_hi})
        # Parsing runs in a worker thread (never on the event loop); file databases read on a
        # connection of their own, so score_of/leaderboard answer while a big read runs.
        async with self._aggregate_reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return DailyAggregates.empty()
            stored = []
            if whole_lo <= whole_hi:
                stored = await self._fetchall(conn, _READ_DAYS, (cid, whole_lo, whole_hi))
            cut: list[Day] = []
            if partial:
                cut = await self._facts(conn, [
                    (cid, d, max(lo + 1, d * SECONDS_PER_DAY), min(hi, d * SECONDS_PER_DAY + 86_399))
                    for d in partial])
        return await asyncio.to_thread(assemble, stored, cut)

    @asynccontextmanager
    async def _aggregate_reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """A snapshot for one aggregates read: a short-lived read-only connection of its own for a
        file database (so the shared reader stays free), the shared reader for `:memory:`."""
        if self._memory:
            async with self._reading(snapshot=True) as conn:
                yield conn
            return
        self._check_open()
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await self._pragma(conn)
            await conn.execute("PRAGMA query_only=ON")
            await conn.execute("PRAGMA cache_size=-65536")
            await conn.execute("BEGIN")
            try:
                yield conn
            finally:
                await conn.execute("COMMIT")
        finally:
            await conn.close()

    async def member_names(self, ref: CommunityRef) -> dict[str, str]:
        """Latest display name of every user seen in the community (platform-local id → name)."""
        async with self._reading() as conn:
            rows = await self._fetchall(
                conn, "SELECT u.user_id, u.name FROM users u JOIN communities c ON c.id = u.community"
                      " WHERE c.platform = ? AND c.external_id = ? AND u.name IS NOT NULL", (ref.platform, ref.id))
        return dict(rows)

    async def names_of(self, ref: CommunityRef, users: Iterable[str]) -> dict[str, str]:
        """Display names of just these users (an index lookup each; for a page or an explanation)."""
        wanted = sorted(set(users))
        if not wanted:
            return {}
        out: dict[str, str] = {}
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return {}
            for i in range(0, len(wanted), 500):
                chunk = wanted[i:i + 500]
                rows = await self._fetchall(
                    conn, f"SELECT user_id, name FROM users WHERE community = ? AND name IS NOT NULL"
                          f" AND user_id IN ({','.join('?' * len(chunk))})", (cid, *chunk))
                out.update(rows)
        return out

    async def find_member(self, ref: CommunityRef, query: str) -> str | None:
        """Resolve a user id, else a case-insensitive exact display name (None if absent or ambiguous)."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return None
            if await self._fetchone(conn, "SELECT 1 FROM users WHERE community = ? AND user_id = ?", (cid, query)):
                return query
            rows = await self._fetchall(
                conn, "SELECT user_id FROM users WHERE community = ? AND name_key = ? LIMIT 2",
                (cid, query.casefold()))
        return rows[0][0] if len(rows) == 1 else None

    # -- scores ---------------------------------------------------------------------------------
    async def save_scores(self, ref: CommunityRef, as_of: datetime, period: str,
                          scores: Sequence[MemberScore]) -> None:
        """Replace the stored scores of (community, period); for period 'all', scores of another
        day that they replace become that day's snapshot (`_archive_scores`)."""
        self._check_open()
        as_of_us = _micros(as_of)
        day = day_of(_floor_epoch(as_of))
        algorithm = scores[0].algorithm if scores else ""
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            cid = self._cids[ref]
            if period == "all":
                await self._archive_scores(conn, cid, day)
            # 100k members make this seconds of Python: never on the event loop's thread. (Not
            # overlapped with the writes: executemany takes the GIL back for every row, so a thread
            # formatting meanwhile stalls it.)
            rows = await asyncio.to_thread(_score_rows, cid, period, as_of_us, scores)
            await self._write_scores(conn, cid, period, rows, len(scores))
            await conn.execute(
                "INSERT INTO score_runs (community, period, as_of, algorithm, members) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (community, period) DO UPDATE SET as_of = excluded.as_of,"
                " algorithm = excluded.algorithm, members = excluded.members",
                (cid, period, as_of_us, algorithm, len(scores)))

    async def _archive_scores(self, conn: aiosqlite.Connection, cid: int, day: int) -> None:
        """Before 'all' scores of `day` replace the stored ones: if those are of another day, they
        become that day's snapshot (`_snapshot_sql`); saves of the same day write no snapshot."""
        snap = _SNAPSHOT_SCORES
        run = await self._fetchone(conn, snap.run, (cid,))
        if run is None or (kept := records.snapshot_day(run[0])) == day:
            return
        if await self._fetchone(conn, snap.known, (cid, kept)):
            await conn.execute(snap.upsert, (cid, kept))
            (rows,) = await self._fetchone(conn, snap.count, (cid, kept))
            (scored,) = await self._fetchone(conn, snap.scored, (cid,))
            if rows != scored:  # members the day had from an earlier save, not scored now
                await conn.execute(snap.stale, (cid, kept))
        else:
            await conn.execute(snap.insert, (cid, kept))
        await conn.execute(snap.listed, (cid, kept, run[1]))

    async def _write_scores(self, conn: aiosqlite.Connection, cid: int, period: str,
                            rows: Iterable[tuple[Any, ...]], count: int) -> None:
        """Replace the period's score rows with `rows` (`count` of them, sorted by user; in the
        caller's transaction); a repeated user makes the insert raise the integrity error."""
        # Deleting the period and inserting it again in key order measured a little faster at a
        # million rows than upserting them in place (docs/performance.md). When these rows are most of
        # the table, the rank index (whose every entry moves when ranks change) is dropped first and
        # sorted once afterwards instead of updated row by row.
        rebuild: list[tuple[str, str]] = []
        if count >= _BULK_SCORES:
            (saved,) = await self._fetchone(conn, "SELECT coalesce(sum(members), 0) FROM score_runs", ())
            if 2 * count >= saved:
                rebuild = await self._drop_indexes(("scores_by_rank",))
        await conn.execute("DELETE FROM scores WHERE community = ? AND period = ?", (cid, period))
        await conn.executemany(_INSERT_SCORES, rows)
        await self._create_indexes(rebuild)

    async def stored_scores(self, ref: CommunityRef, period: str = "all") -> StoredScores | None:
        """When and with which algorithm the scores of (community, period) were last saved."""
        async with self._reading() as conn:
            row = await self._fetchone(
                conn, "SELECT r.as_of, r.algorithm, r.members FROM score_runs r JOIN communities c"
                      " ON c.id = r.community WHERE c.platform = ? AND c.external_id = ? AND r.period = ?",
                (ref.platform, ref.id, period))
        if row is None:
            return None
        return StoredScores(community=ref, as_of=_from_micros(row[0]), period=period, algorithm=row[1],
                            members=row[2])

    async def leaderboard(self, ref: CommunityRef, period: str = "all", offset: int = 0,
                          limit: int = 10) -> list[MemberScore]:
        """Stored scores in rank order (limit <= 0 means everyone)."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return []
            rows = await self._fetchall(
                conn, f"SELECT {_SCORE_COLUMNS} FROM scores WHERE community = ? AND period = ? AND position >= ?"
                      " ORDER BY position LIMIT ?", (cid, period, max(0, offset), limit if limit > 0 else -1))
        if len(rows) > 2_000:  # a whole board: convert off the event loop
            return await asyncio.to_thread(lambda: [_score_from_row(r) for r in rows])
        return [_score_from_row(r) for r in rows]

    async def score_of(self, ref: CommunityRef, user: str, period: str = "all") -> MemberScore | None:
        """One member's stored score, or None."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return None
            row = await self._fetchone(
                conn, f"SELECT {_SCORE_COLUMNS} FROM scores WHERE community = ? AND period = ? AND user_id = ?",
                (cid, period, user))
        return None if row is None else _score_from_row(row)

    async def score_history(self, ref: CommunityRef, user: str, since: datetime) -> list[tuple[datetime, int]]:
        """Daily snapshot scores (period 'all') of a member since a time, oldest first."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return []
            since_day = day_of(_floor_epoch(since))
            rows = await self._fetchall(conn, _member_history("?1", "?2", "?3"), (cid, user, since_day))
        return [(_day_start(d), s) for d, s in records.snapshot_history(rows, since_day)]

    # -- chat layer -----------------------------------------------------------------------------
    async def community_settings(self, ref: CommunityRef) -> CommunitySettings:
        """The community's settings, or the defaults until an admin changes them."""
        async with self._reading() as conn:
            row = await self._fetchone(
                conn, f"SELECT {_SETTINGS_COLUMNS} FROM community_settings s JOIN communities c"
                      " ON c.id = s.community WHERE c.platform = ? AND c.external_id = ?", (ref.platform, ref.id))
        if row is None:
            return CommunitySettings()
        channel, weekday, hour, timezone, language, excluded, mode = row
        return CommunitySettings(summary_channel=channel, weekday=weekday, hour=hour, timezone=timezone,
                                 language=language, excluded_channels=tuple(json.loads(excluded)), mode=mode)

    async def set_community_settings(self, ref: CommunityRef, settings: CommunitySettings) -> None:
        """Store settings, creating the community row if no event was seen there yet (ValueError for a
        weekday, hour or mode no command produces)."""
        self._check_open()
        records.check_settings(settings)
        s = settings
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            await conn.execute(
                f"INSERT OR REPLACE INTO community_settings (community, {_SETTINGS_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (self._cids[ref], s.summary_channel, s.weekday, s.hour, s.timezone, s.language,
                 json.dumps(list(s.excluded_channels)), s.mode))

    async def member_prefs(self, ref: CommunityRef, user: str) -> MemberPrefs:
        """One member's choices in a community, or the defaults."""
        async with self._reading() as conn:
            row = await self._fetchone(
                conn, f"SELECT {_PREFS_COLUMNS} FROM member_prefs p JOIN communities c ON c.id = p.community"
                      " WHERE c.platform = ? AND c.external_id = ? AND p.user_id = ?", (ref.platform, ref.id, user))
        if row is None:
            return MemberPrefs()
        hidden, opted_out, opted_in, weekly, locale = row
        return MemberPrefs(hidden=bool(hidden), opted_out=bool(opted_out), opted_in=bool(opted_in),
                           weekly=bool(weekly), locale=locale)

    async def set_member_prefs(self, ref: CommunityRef, user: str, prefs: MemberPrefs) -> None:
        """Store one member's choices in a community (creating the community row if needed)."""
        self._check_open()
        p = prefs
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            await conn.execute(
                f"INSERT OR REPLACE INTO member_prefs (community, user_id, {_PREFS_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._cids[ref], user, int(p.hidden), int(p.opted_out), int(p.opted_in), int(p.weekly), p.locale))

    async def invisible_members(self, ref: CommunityRef) -> set[str]:
        """Hidden and opted-out members, plus (opt-in mode) everyone seen who has not opted in:
        actors of events, scored members and members with prefs."""
        mode = (await self.community_settings(ref)).mode
        async with self._reading(snapshot=True) as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return set()
            rows = await self._fetchall(
                conn, "SELECT user_id FROM member_prefs WHERE community = ?1 AND (hidden = 1 OR opted_out = 1)",
                (cid,))
            if mode == "optin":
                rows += await self._fetchall(
                    conn, """SELECT seen.user_id FROM (
                                 SELECT user_id FROM users WHERE community = ?1
                                 UNION SELECT user_id FROM scores WHERE community = ?1
                                 UNION SELECT user_id FROM member_prefs WHERE community = ?1) seen
                             WHERE NOT EXISTS (SELECT 1 FROM member_prefs p WHERE p.community = ?1
                                               AND p.user_id = seen.user_id AND p.opted_in = 1)""", (cid,))
        return {r[0] for r in rows}

    async def weekly_subscribers(self, ref: CommunityRef) -> list[str]:
        """Members with weekly summaries on and not opted out, ordered by id."""
        async with self._reading() as conn:
            rows = await self._fetchall(
                conn, "SELECT p.user_id FROM member_prefs p JOIN communities c ON c.id = p.community"
                      " WHERE c.platform = ? AND c.external_id = ? AND p.weekly = 1 AND p.opted_out = 0"
                      " ORDER BY p.user_id", (ref.platform, ref.id))
        return [r[0] for r in rows]

    @asynccontextmanager
    async def _erasing(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction for privacy deletes, after every queued event is written.

        Draining first means no event queued before the request lands after the delete. Deleted
        cells are overwritten (secure_delete) and the WAL is checkpointed and truncated, so the
        data is gone from the files too, not only from the tables.
        """
        self._check_open()
        await self._drain()
        async with self._write_lock:
            conn = self._wconn
            assert conn is not None
            await conn.execute("PRAGMA secure_delete=ON")
            try:
                async with self._transaction():
                    yield conn
            finally:
                await conn.execute("PRAGMA secure_delete=OFF")
            if not self._memory:
                # Best effort: a reader in the middle of a read makes it partial, never fail.
                await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def _delete_member(self, conn: aiosqlite.Connection, cid: int, user: str) -> None:
        for sql in _DELETE_MEMBER:
            await conn.execute(sql, {"cid": cid, "user": user})
        await conn.execute("DELETE FROM usernames WHERE community = ? AND user_id = ?", (cid, user))
        # Summaries addressed to them (issue #6): the outbox names its recipients.
        await conn.execute(_DELETE_OUTBOX, {"cid": cid, "user": user})
        await self._refresh()

    async def delete_member_data(self, ref: CommunityRef, user: str) -> None:
        """/optout: delete everything about the user in this community in one transaction (after the
        queued events are written) and refresh the days touched; their MemberPrefs row stays."""
        async with self._erasing() as conn:
            cid = await self._cid(conn, ref)
            if cid is not None:
                await self._delete_member(conn, cid, user)

    async def forget_user(self, user: UserRef) -> int:
        """/forgetme: delete_member_data in every community of the user's platform, plus their prefs,
        link codes and account links, in one transaction. Returns how many communities had
        their events, prefs or scores (as `communities_of` listed them before)."""
        async with self._erasing() as conn:
            touched = len(await self._fetchall(conn, _COMMUNITIES_OF, (user.platform, user.id)))
            cids = await self._fetchall(conn, "SELECT id FROM communities WHERE platform = ?", (user.platform,))
            for (cid,) in cids:
                await self._delete_member(conn, cid, user.id)
                await conn.execute("DELETE FROM member_prefs WHERE community = ? AND user_id = ?", (cid, user.id))
            await conn.execute("DELETE FROM link_codes WHERE platform = ? AND user_id = ?", (user.platform, user.id))
            await conn.execute("DELETE FROM dm_contacts WHERE platform = ? AND user_id = ?", (user.platform, user.id))
            row = await self._fetchone(conn, "SELECT person FROM account_links WHERE platform = ? AND user_id = ?",
                                       (user.platform, user.id))
            if row is not None:
                await conn.execute("DELETE FROM account_links WHERE platform = ? AND user_id = ?",
                                   (user.platform, user.id))
                # A group of one links nothing.
                await conn.execute("DELETE FROM account_links WHERE person = ?1"
                                   " AND (SELECT count(*) FROM account_links WHERE person = ?1) = 1", (row[0],))
        return touched

    async def communities_of(self, user: UserRef) -> list[CommunityRef]:
        """Communities of the user's platform where they acted, set prefs or have scores."""
        async with self._reading() as conn:
            rows = await self._fetchall(conn, _COMMUNITIES_OF, (user.platform, user.id))
        return [CommunityRef(user.platform, ext) for _cid, ext in rows]

    async def export_user(self, user: UserRef) -> dict[str, object]:
        """/mydata: everything stored about the user, in the shape `ChatStore.export_user` describes."""
        limit = records.EXPORT_LIMIT
        communities: list[dict[str, Any]] = []
        async with self._reading(snapshot=True) as conn:
            for cid, ext in await self._fetchall(conn, _COMMUNITIES_OF, (user.platform, user.id)):
                ref = CommunityRef(user.platform, ext)
                key = (cid, user.id)
                (community_name,) = await self._fetchone(conn, "SELECT name FROM communities WHERE id = ?", (cid,))
                named = await self._fetchone(conn, "SELECT name FROM users WHERE community = ? AND user_id = ?", key)
                prefs = await self._fetchone(
                    conn, f"SELECT {_PREFS_COLUMNS} FROM member_prefs WHERE community = ? AND user_id = ?", key)
                (n_messages,) = await self._fetchone(
                    conn, "SELECT count(*) FROM messages WHERE community = ? AND author = ?", key)
                messages = await self._fetchall(
                    conn, "SELECT message_id, channel, ts, reply_to, deleted, length, has_link, has_attachment"
                          " FROM messages WHERE community = ? AND author = ? ORDER BY ts, message_id LIMIT ?",
                    (*key, limit))
                mentions: dict[str, list[str]] = {}
                for mid, mentioned in await self._fetchall(
                        conn, "SELECT mn.message_id, mn.user_id FROM mentions mn JOIN messages m"
                              " ON m.community = mn.community AND m.message_id = mn.message_id"
                              " WHERE m.community = ? AND m.author = ? ORDER BY mn.user_id", key):
                    mentions.setdefault(mid, []).append(mentioned)
                (n_reactions,) = await self._fetchone(
                    conn, "SELECT count(*) FROM reactions WHERE community = ? AND actor = ?", key)
                reactions = await self._fetchall(
                    conn, "SELECT message_id, emoji, ts, removed FROM reactions WHERE community = ? AND actor = ?"
                          " ORDER BY ts, message_id, emoji LIMIT ?", (*key, limit))
                scores = await self._fetchall(
                    conn, f"SELECT period, as_of, {_SCORE_COLUMNS} FROM scores WHERE community = ?1"
                          f" AND {_scored('?1')} AND user_id = ?2"
                          " ORDER BY period", key)
                snapshots = records.snapshot_history(await self._fetchall(conn, _member_history("?1", "?2"), key))
                username = await self._fetchone(
                    conn, "SELECT username FROM usernames WHERE community = ? AND user_id = ?", key)
                summaries = await self._fetchall(
                    conn, "SELECT week, state, done_at FROM outbox WHERE community = ? AND recipient = ?"
                          " AND kind = 'personal' ORDER BY week", key)
                communities.append({
                    "community": ref.key, "community_name": community_name,
                    "name": named[0] if named is not None else None,
                    "prefs": records.prefs_dict(MemberPrefs() if prefs is None else MemberPrefs(
                        hidden=bool(prefs[0]), opted_out=bool(prefs[1]), opted_in=bool(prefs[2]),
                        weekly=bool(prefs[3]), locale=prefs[4])),
                    "messages": records.listing(n_messages, [
                        {"message_id": mid, "channel": channel, "ts": records.iso(ts), "reply_to": reply_to,
                         "deleted": bool(deleted), "length": length, "has_link": bool(link),
                         "has_attachment": bool(attachment), "mentions": mentions.get(mid, [])}
                        for mid, channel, ts, reply_to, deleted, length, link, attachment in messages]),
                    "reactions_given": records.listing(n_reactions, [
                        {"message_id": mid, "emoji": emoji, "ts": records.iso(ts), "removed": bool(removed)}
                        for mid, emoji, ts, removed in reactions]),
                    "scores": {period: records.score_dict(_score_from_row(rest), _from_micros(as_of))
                               for period, as_of, *rest in scores},
                    "snapshots": [{"day": records.day_iso(day), "score": score} for day, score in snapshots],
                    "summaries": [records.summary_dict(week, state, None if done is None else _from_micros(done))
                                  for week, state, done in summaries],
                    **({"username": username[0]} if username is not None else {})})
            linked = await self._linked(conn, user)
            codes = await self._fetchall(
                conn, "SELECT expires FROM link_codes WHERE platform = ? AND user_id = ? ORDER BY expires",
                (user.platform, user.id))
            dm = await self._fetchone(conn, "SELECT 1 FROM dm_contacts WHERE platform = ? AND user_id = ?",
                                      (user.platform, user.id))
        return {"user": records.user_dict(user), "communities": communities,
                "linked_accounts": [records.user_dict(u) for u in linked],
                "link_codes": [{"expires": _from_micros(e).isoformat()} for (e,) in codes],
                **({"dm_open": True} if dm is not None else {})}

    async def save_link_code(self, link: LinkCode) -> None:
        """Store a link code (a code already stored is replaced)."""
        self._check_open()
        expires = _micros(link.expires)
        async with self._write_lock, self._transaction() as conn:
            await conn.execute("INSERT OR REPLACE INTO link_codes (code, platform, user_id, expires)"
                               " VALUES (?, ?, ?, ?)", (link.code, link.owner.platform, link.owner.id, expires))

    async def redeem_link_code(self, code: str, user: UserRef, now: datetime) -> UserRef | None:
        """Consume an unexpired code of another platform, link both accounts and return the owner.

        Expired codes (expires <= now) are dropped on the way. A code from the user's own platform
        is left unused (its owner may still redeem it on the right platform)."""
        self._check_open()
        now_us = _micros(now)
        async with self._write_lock, self._transaction() as conn:
            await conn.execute("DELETE FROM link_codes WHERE expires <= ?", (now_us,))
            row = await self._fetchone(conn, "SELECT platform, user_id FROM link_codes WHERE code = ?", (code,))
            if row is None or row[0] == user.platform:
                return None
            await conn.execute("DELETE FROM link_codes WHERE code = ?", (code,))
            owner = UserRef(row[0], row[1])
            await self._link(conn, owner, user)
        return owner

    async def _link(self, conn: aiosqlite.Connection, a: UserRef, b: UserRef) -> None:
        """Put two accounts in one group: a new one, the one either is in, or both groups merged."""
        people = []
        for u in (a, b):
            row = await self._fetchone(conn, "SELECT person FROM account_links WHERE platform = ? AND user_id = ?",
                                       (u.platform, u.id))
            people.append(None if row is None else int(row[0]))
        known = [p for p in people if p is not None]
        if not known:
            (person,) = await self._fetchone(conn, "SELECT coalesce(max(person), 0) + 1 FROM account_links")
        else:
            person = min(known)
            if len(known) == 2 and known[0] != known[1]:
                await conn.execute("UPDATE account_links SET person = ? WHERE person = ?", (person, max(known)))
        await conn.executemany(
            "INSERT INTO account_links (platform, user_id, person) VALUES (?, ?, ?)"
            " ON CONFLICT (platform, user_id) DO UPDATE SET person = excluded.person",
            [(a.platform, a.id, person), (b.platform, b.id, person)])

    async def _linked(self, conn: aiosqlite.Connection, user: UserRef) -> list[UserRef]:
        rows = await self._fetchall(
            conn, "SELECT o.platform, o.user_id FROM account_links me JOIN account_links o ON o.person = me.person"
                  " WHERE me.platform = ?1 AND me.user_id = ?2 AND NOT (o.platform = ?1 AND o.user_id = ?2)"
                  " ORDER BY o.platform, o.user_id", (user.platform, user.id))
        return [UserRef(p, u) for p, u in rows]

    async def linked_accounts(self, user: UserRef) -> list[UserRef]:
        """Every account in the user's linked group except the user, ordered by (platform, id)."""
        async with self._reading() as conn:
            return await self._linked(conn, user)

    # -- platform adapters (issue #5) -------------------------------------------------------------
    async def remember_usernames(self, ref: CommunityRef, names: Mapping[str, str]) -> None:
        """Map usernames (casefolded, '@' dropped) to members here in one transaction; a member's
        older username goes."""
        self._check_open()
        rows = {key: user for key, user in ((_username_key(n), u) for n, u in names.items()) if key}
        if not rows:
            return
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            cid = self._cids[ref]
            await conn.executemany("DELETE FROM usernames WHERE community = ? AND user_id = ? AND username != ?",
                                   [(cid, user, key) for key, user in rows.items()])
            await conn.executemany("INSERT OR REPLACE INTO usernames (community, username, user_id) VALUES (?, ?, ?)",
                                   [(cid, key, user) for key, user in rows.items()])

    async def user_by_username(self, ref: CommunityRef, username: str) -> str | None:
        """The member last seen with this username here, or None."""
        async with self._reading() as conn:
            row = await self._fetchone(
                conn, "SELECT u.user_id FROM usernames u JOIN communities c ON c.id = u.community"
                      " WHERE c.platform = ? AND c.external_id = ? AND u.username = ?",
                (ref.platform, ref.id, _username_key(username)))
        return None if row is None else str(row[0])

    async def set_dm_open(self, user: UserRef, open: bool) -> None:
        """Record whether the bot may DM the user."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            if open:
                await conn.execute("INSERT OR IGNORE INTO dm_contacts (platform, user_id) VALUES (?, ?)",
                                   (user.platform, user.id))
            else:
                await conn.execute("DELETE FROM dm_contacts WHERE platform = ? AND user_id = ?",
                                   (user.platform, user.id))

    async def dm_open(self, user: UserRef) -> bool:
        """Whether the bot may DM the user."""
        async with self._reading() as conn:
            row = await self._fetchone(conn, "SELECT 1 FROM dm_contacts WHERE platform = ? AND user_id = ?",
                                       (user.platform, user.id))
        return row is not None

    async def claim_notice(self, ref: CommunityRef, notice: str) -> bool:
        """True the first time a notice is claimed for a community, False ever after."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            cur = await conn.execute("INSERT OR IGNORE INTO community_notices (community, notice) VALUES (?, ?)",
                                     (self._cids[ref], notice))
            claimed = cur.rowcount == 1
            await cur.close()
        return claimed

    async def latest_message_ids(self, ref: CommunityRef) -> dict[str, str]:
        """The newest stored message id per channel: a skip scan over messages_by_channel (one seek
        per channel), then the newest row of each channel (ties: numerically greater id)."""
        async with self._reading(snapshot=True) as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return {}
            rows = await self._fetchall(conn, _LATEST_BY_CHANNEL, (cid,))
        return {channel: mid for channel, mid in rows if mid is not None}


    # -- weekly summaries: outbox and runs (issue #6) ---------------------------------------------
    async def outbox_enqueue(self, ref: CommunityRef, week: str, items: Iterable[tuple[str, str]]) -> int:
        """Add a pending row per (recipient, kind) the run does not have yet; returns how many were new."""
        self._check_open()
        rows = []
        for recipient, kind in items:
            records.check_outbox(kind=kind)
            rows.append((recipient, kind, records.nonce(ref.key, week, recipient, kind)))
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            cid = self._cids[ref]
            before = conn.total_changes
            await conn.executemany(
                "INSERT INTO outbox (community, week, recipient, kind, state, nonce) VALUES (?, ?, ?, ?, 'pending', ?)"
                " ON CONFLICT (community, week, kind, recipient) DO NOTHING",
                [(cid, week, r, k, n) for r, k, n in rows])
            return conn.total_changes - before

    async def outbox_claim(self, ref: CommunityRef, week: str, recipient: str, kind: str,
                           now: datetime) -> OutboxItem | None:
        """pending → claimed in one statement (attempts + 1); None when the row is not pending."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return None
            row = await self._fetchone(
                conn, f"UPDATE outbox SET state = 'claimed', attempts = attempts + 1, claimed_at = ?"
                      f" WHERE community = ? AND week = ? AND kind = ? AND recipient = ? AND state = 'pending'"
                      f" RETURNING {_OUTBOX_COLUMNS}", (_micros(now), cid, week, kind, recipient))
        return None if row is None else _outbox_item(row)

    async def outbox_mark(self, ref: CommunityRef, week: str, recipient: str, kind: str, state: str,
                          now: datetime, detail: str | None = None) -> None:
        """Set a row's state (pending releases a claim; any other state is final and sets done_at)."""
        self._check_open()
        records.check_outbox(kind=kind, state=state)
        done = None if state in ("pending", "claimed") else _micros(now)
        async with self._write_lock, self._transaction() as conn:
            cid = await self._cid(conn, ref)
            if cid is not None:
                await conn.execute(
                    "UPDATE outbox SET state = ?, done_at = ?, detail = ?"
                    " WHERE community = ? AND week = ? AND kind = ? AND recipient = ?",
                    (state, done, detail, cid, week, kind, recipient))

    async def outbox_items(self, ref: CommunityRef, week: str, *, kind: str | None = None,
                           state: str | None = None) -> list[OutboxItem]:
        """Rows of one run (optionally one kind / state), ordered by (kind, recipient)."""
        records.check_outbox(kind=kind, state=state)
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return []
            rows = await self._fetchall(
                conn, f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE community = ?1 AND week = ?2"
                      " AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR state = ?4) ORDER BY kind, recipient",
                (cid, week, kind, state))
        return [_outbox_item(r) for r in rows]

    async def start_summary_run(self, ref: CommunityRef, week: str, scheduled: datetime,
                                algorithm: str | None = None) -> SummaryRun:
        """Record the start of the run of `week` (an existing run is returned unchanged)."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            cid = self._cids[ref]
            await conn.execute("INSERT INTO summary_runs (community, week, scheduled, algorithm) VALUES (?, ?, ?, ?)"
                               " ON CONFLICT (community, week) DO NOTHING", (cid, week, _micros(scheduled), algorithm))
            row = await self._fetchone(conn, "SELECT week, scheduled, completed, algorithm FROM summary_runs"
                                             " WHERE community = ? AND week = ?", (cid, week))
        return _summary_run(row)

    async def finish_summary_run(self, ref: CommunityRef, week: str, now: datetime) -> None:
        """Mark the run of `week` completed."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            cid = await self._cid(conn, ref)
            if cid is not None:
                await conn.execute("UPDATE summary_runs SET completed = ? WHERE community = ? AND week = ?",
                                   (_micros(now), cid, week))

    async def summary_runs(self, ref: CommunityRef, limit: int = 10) -> list[SummaryRun]:
        """The community's runs, latest scheduled first."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return []
            rows = await self._fetchall(conn, "SELECT week, scheduled, completed, algorithm FROM summary_runs"
                                              " WHERE community = ? ORDER BY scheduled DESC, week DESC LIMIT ?",
                                        (cid, max(0, limit)))
        return [_summary_run(r) for r in rows]

    async def channel_responders(self, ref: CommunityRef, start: datetime,
                                 end: datetime) -> dict[str, dict[str, int]]:
        """Per author and channel: distinct other (non-bot) members who replied or reacted to their
        messages of start < ts <= end, by `end`. One pass over the period's messages; replies and
        reactions are found through their indexes."""
        lo, hi = _floor_epoch(start), _floor_epoch(end)
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None or hi <= lo:
                return {}
            rows = await self._fetchall(conn, _CHANNEL_RESPONDERS, (cid, lo, hi))
        out: dict[str, dict[str, int]] = {}
        for author, channel, n in rows:
            out.setdefault(author, {})[channel] = n
        return out


def _username_key(username: str) -> str:
    return username.strip().removeprefix("@").casefold()


_LATEST_BY_CHANNEL = """
WITH RECURSIVE ch(channel) AS (
    SELECT min(channel) FROM messages WHERE community = ?1
    UNION ALL
    SELECT (SELECT min(channel) FROM messages WHERE community = ?1 AND channel > ch.channel)
    FROM ch WHERE ch.channel IS NOT NULL
)
SELECT ch.channel, (SELECT m.message_id FROM messages m WHERE m.community = ?1 AND m.channel = ch.channel
                    ORDER BY m.ts DESC, length(m.message_id) DESC, m.message_id DESC LIMIT 1)
FROM ch WHERE ch.channel IS NOT NULL
"""


# -- weekly summaries (issue #6) ------------------------------------------------------------------

_OUTBOX_COLUMNS = "week, recipient, kind, state, nonce, attempts, claimed_at, done_at, detail"
_DELETE_OUTBOX = "DELETE FROM outbox WHERE community = :cid AND recipient = :user AND kind = 'personal'"

# Responses to messages of the period: replies (through messages_by_reply_to) and reactions
# (through the reactions primary key), each responder counted once per (author, channel).
_CHANNEL_RESPONDERS = f"""
WITH mine AS (
    SELECT message_id, author, channel FROM messages
    WHERE community = ?1 AND ts > ?2 AND ts <= ?3 AND deleted = 0 AND channel IS NOT NULL
),
resp (author, channel, who) AS (
    SELECT mine.author, mine.channel, r.author FROM mine
    JOIN messages r ON r.community = ?1 AND r.reply_to = mine.message_id
    WHERE r.deleted = 0 AND r.ts <= ?3
    UNION
    SELECT mine.author, mine.channel, x.actor FROM mine
    JOIN reactions x ON x.community = ?1 AND x.message_id = mine.message_id
    WHERE x.removed = 0 AND x.ts <= ?3
)
SELECT author, channel, count(*) FROM resp
WHERE who != author AND NOT {_IS_BOT.format(c="?1", u="resp.who")}
GROUP BY author, channel
"""


def _outbox_item(row: Sequence[Any]) -> OutboxItem:
    week, recipient, kind, state, nonce, attempts, claimed, done, detail = row
    return OutboxItem(week=week, recipient=recipient, kind=kind, state=state, nonce=nonce, attempts=attempts,
                      claimed_at=None if claimed is None else _from_micros(claimed),
                      done_at=None if done is None else _from_micros(done), detail=detail)


def _summary_run(row: Sequence[Any]) -> SummaryRun:
    week, scheduled, completed, algorithm = row
    return SummaryRun(week=week, scheduled=_from_micros(scheduled),
                      completed=None if completed is None else _from_micros(completed), algorithm=algorithm)
