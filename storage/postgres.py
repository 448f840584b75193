"""PostgreSQL store (asyncpg): the same event log, daily aggregates and scores as SQLite, on a server.

Selected by a `postgresql://` URL (`storage.open_store`). The tables and their columns are the
SQLite ones (storage/migrations.py carries both schemas under the same version numbers), and so is
the write path: `ingest` queues events; one writer task drains the queue in batches on one
dedicated connection and writes each batch in one transaction. A chunk is copied into temp staging
tables with COPY (`copy_records_to_table`), then moved into the log with INSERT ... SELECT ... ON
CONFLICT (the natural keys make every write idempotent); set-based statements resolve references
and mark the (community, day) pairs the chunk touched, which are re-aggregated from the log at the
end of the transaction with the same SQL that answers partial-day reads, packed in numpy into one
`day_aggregates` row per day (migration 9, SQLite's layout: storage/packed.py), so a 90-day read
is 90 rows assembled by the same code as SQLite's. What SQLite does with TEMP
triggers (tombstones, anonymous counts, new bots) is done here by explicit statements on the rows a
chunk inserted (RETURNING). `import_events` runs the same chunk writer inside one transaction.

Why one writer connection rather than a pool of short transactions: the live path stays a single
ordered stream (as on SQLite), the staging tables are per-session temp tables, and no two
transactions of this process can conflict on the aggregate rows of one day. Reads use a small
pool of other connections and see only committed data. Several processes writing one database
(issue #7, part 2) will need the leader or a per-community lock; that is not done yet.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import numpy as np

from scoring.daily import DailyAggregates
from scoring.model import SECONDS_PER_DAY, CommunityRef, Event, UserRef, day_of
from scoring.result import MemberScore
from storage import records
from storage.advisory import AdvisoryLocks
from storage.base import (
    CommunityInfo,
    CommunitySettings,
    ImportStats,
    LinkCode,
    MemberPrefs,
    OutboxItem,
    SchemaTooNewError,
    StoredScores,
    StoreError,
    SummaryRun,
)
from storage.migrations import MIGRATIONS, latest_version
from storage.packed import Day, assemble, day_row, pack_day
from storage.sqlite import (  # shared staging, user and score rows, snapshots
    _member_history,
    _member_snapshots,
    _score_rows,
    _scored,
    _snapshot_sql,
    _stage,
    _unpack,
    _user_rows,
    _Users,
)
from storage.writer import STOP, QueuedWriter, WriteFailedError

__all__ = ["DERIVED_TABLES", "PostgresStore", "WriteFailedError", "redact"]

# The daily aggregates, derived from the event log (storage.sqlite.DERIVED_TABLES says why they
# are not copied by `clout migrate`).
DERIVED_TABLES = ("day_aggregates", "aggregate_rebuild")

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_MIGRATION_LOCK = 0x636C6F7574  # advisory lock key ("clout"): one process migrates at a time



def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def _status_count(status: str) -> int:
    """Rows affected, from a command status such as 'INSERT 0 12' or 'UPDATE 3'."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


# -- SQL --------------------------------------------------------------------------------------

# Per-session staging and bookkeeping tables of the writer connection (emptied at each commit).
_TEMP_SCHEMA = (
    "CREATE TEMP TABLE dirty (cid BIGINT, day INTEGER, PRIMARY KEY (cid, day)) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE newbots (cid BIGINT, user_id TEXT COLLATE \"C\", PRIMARY KEY (cid, user_id))"
    " ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE s_msg (cid BIGINT, mid TEXT COLLATE \"C\", author TEXT COLLATE \"C\","
    " channel TEXT COLLATE \"C\", ts BIGINT, day INTEGER, reply_to TEXT COLLATE \"C\","
    " reply_hint TEXT COLLATE \"C\", length INTEGER, has_link INTEGER, has_attachment INTEGER)"
    " ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE s_men (cid BIGINT, mid TEXT COLLATE \"C\", user_id TEXT COLLATE \"C\") ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE s_del (cid BIGINT, mid TEXT COLLATE \"C\", ts BIGINT) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE s_react (cid BIGINT, mid TEXT COLLATE \"C\", actor TEXT COLLATE \"C\","
    " emoji TEXT COLLATE \"C\", ts BIGINT, day INTEGER, removed INTEGER, hint TEXT COLLATE \"C\")"
    " ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE s_count (cid BIGINT, mid TEXT COLLATE \"C\", emoji TEXT COLLATE \"C\", ts BIGINT,"
    " count INTEGER) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE s_users (cid BIGINT, user_id TEXT COLLATE \"C\", name TEXT COLLATE \"C\","
    " name_key TEXT COLLATE \"C\", name_ts BIGINT, is_bot INTEGER, member INTEGER) ON COMMIT DELETE ROWS",
    # Rows a chunk inserted: their follow-ups (what SQLite's temp triggers do) run set-based.
    "CREATE TEMP TABLE newmsg (cid BIGINT, mid TEXT COLLATE \"C\", author TEXT COLLATE \"C\", day INTEGER,"
    " deleted INTEGER) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE newdel (cid BIGINT, mid TEXT COLLATE \"C\") ON COMMIT DELETE ROWS",
    # The message ids of the member whose data is being deleted (one community at a time).
    "CREATE TEMP TABLE gone (mid TEXT COLLATE \"C\" PRIMARY KEY) ON COMMIT DELETE ROWS",
)

_IS_BOT = ("EXISTS (SELECT 1 FROM users u WHERE u.community = {c} AND u.user_id = {u} AND u.is_bot = 1)")

_NEWER_NAME = ("(excluded.name IS NOT NULL AND (users.name IS NULL OR excluded.name_ts > users.name_ts"
               " OR (excluded.name_ts = users.name_ts AND excluded.name > users.name)))")
_NEW_BOTS = """
INSERT INTO newbots SELECT s.cid, s.user_id FROM s_users s
WHERE s.is_bot = 1 AND NOT EXISTS (
    SELECT 1 FROM users u WHERE u.community = s.cid AND u.user_id = s.user_id AND u.is_bot = 1)
ON CONFLICT DO NOTHING
"""
_UPSERT_USERS = f"""
INSERT INTO users (community, user_id, name, name_key, name_ts, is_bot, member)
SELECT cid, user_id, name, name_key, name_ts, is_bot, member FROM s_users
ON CONFLICT (community, user_id) DO UPDATE SET
    name = CASE WHEN {_NEWER_NAME} THEN excluded.name ELSE users.name END,
    name_key = CASE WHEN {_NEWER_NAME} THEN excluded.name_key ELSE users.name_key END,
    name_ts = CASE WHEN {_NEWER_NAME} THEN excluded.name_ts ELSE users.name_ts END,
    is_bot = greatest(users.is_bot, excluded.is_bot),
    member = greatest(users.member, excluded.member)
WHERE {_NEWER_NAME} OR excluded.is_bot > users.is_bot OR excluded.member > users.member
"""

# First write wins. A reply's target resolves from the log, else the hint; replies to messages of
# the same chunk (or written later) resolve in _AFTER_NEW_MESSAGES. A message whose tombstone
# came first is stored as deleted.
_INSERT_MESSAGES = """
WITH ins AS (
    INSERT INTO messages (community, message_id, author, channel, ts, day, reply_to, reply_hint,
                          reply_target, deleted, length, has_link, has_attachment)
    SELECT s.cid, s.mid, s.author, s.channel, s.ts, s.day, s.reply_to, s.reply_hint,
           CASE WHEN s.reply_to IS NULL THEN NULL ELSE coalesce(
               (SELECT t.author FROM messages t WHERE t.community = s.cid AND t.message_id = s.reply_to),
               s.reply_hint) END,
           CASE WHEN EXISTS (SELECT 1 FROM deleted_messages d WHERE d.community = s.cid AND d.message_id = s.mid)
                THEN 1 ELSE 0 END,
           s.length, s.has_link, s.has_attachment
    FROM s_msg s
    ON CONFLICT (community, message_id) DO NOTHING
    RETURNING community, message_id, author, day, deleted
), kept AS (INSERT INTO newmsg SELECT * FROM ins)
SELECT count(*) FROM ins
"""

_AFTER_NEW_MESSAGES = (
    "INSERT INTO dirty (cid, day) SELECT DISTINCT cid, day FROM newmsg ON CONFLICT DO NOTHING",
    """INSERT INTO dirty (cid, day)
       SELECT DISTINCT m.community, m.day FROM newmsg n
       JOIN messages m ON m.community = n.cid AND m.reply_to = n.mid
       WHERE m.reply_target IS DISTINCT FROM n.author ON CONFLICT DO NOTHING""",
    """UPDATE messages m SET reply_target = n.author FROM newmsg n
       WHERE m.community = n.cid AND m.reply_to = n.mid AND m.reply_target IS DISTINCT FROM n.author""",
    """INSERT INTO dirty (cid, day)
       SELECT DISTINCT r.community, r.day FROM newmsg n
       JOIN reactions r ON r.community = n.cid AND r.message_id = n.mid
       WHERE r.removed = 0 AND r.target_hint IS DISTINCT FROM n.author ON CONFLICT DO NOTHING""",
    # Mentions belong to the first write of a message.
    """INSERT INTO mentions (community, message_id, user_id)
       SELECT DISTINCT s.cid, s.mid, s.user_id FROM s_men s JOIN newmsg n ON n.cid = s.cid AND n.mid = s.mid
       WHERE n.deleted = 0 ON CONFLICT DO NOTHING""",
)

_INSERT_DELETES = """
WITH ins AS (
    INSERT INTO deleted_messages (community, message_id, ts) SELECT cid, mid, ts FROM s_del
    ON CONFLICT (community, message_id) DO NOTHING
    RETURNING community, message_id
), kept AS (INSERT INTO newdel SELECT * FROM ins)
SELECT count(*) FROM ins
"""

# A tombstone: the message stops counting (its row stays so replies to it still resolve), and its
# mentions and reactions go.
_AFTER_NEW_DELETES = (
    """INSERT INTO dirty SELECT DISTINCT m.community, m.day FROM newdel n
       JOIN messages m ON m.community = n.cid AND m.message_id = n.mid WHERE m.deleted = 0
       ON CONFLICT DO NOTHING""",
    """INSERT INTO dirty SELECT DISTINCT r.community, r.day FROM newdel n
       JOIN reactions r ON r.community = n.cid AND r.message_id = n.mid WHERE r.removed = 0
       ON CONFLICT DO NOTHING""",
    "UPDATE messages m SET deleted = 1 FROM newdel n WHERE m.community = n.cid AND m.message_id = n.mid",
    "DELETE FROM mentions x USING newdel n WHERE x.community = n.cid AND x.message_id = n.mid",
    "DELETE FROM reactions x USING newdel n WHERE x.community = n.cid AND x.message_id = n.mid",
    "DELETE FROM reaction_counts x USING newdel n WHERE x.community = n.cid AND x.message_id = n.mid",
)

_S_NOT_TOMBSTONED = "NOT EXISTS (SELECT 1 FROM deleted_messages d WHERE d.community = s.cid AND d.message_id = s.mid)"
_REACTION_KEY = "r.community = s.cid AND r.message_id = s.mid AND r.actor = s.actor AND r.emoji = s.emoji"

_DIRTY_REACTIONS = (
    f"""INSERT INTO dirty (cid, day)
        SELECT DISTINCT s.cid, s.day FROM s_react s
        WHERE {_S_NOT_TOMBSTONED} AND NOT EXISTS (
            SELECT 1 FROM reactions r WHERE {_REACTION_KEY}
            AND (r.ts > s.ts OR (r.ts = s.ts AND r.removed >= s.removed)))
        ON CONFLICT DO NOTHING""",
    f"""INSERT INTO dirty (cid, day)
        SELECT DISTINCT r.community, r.day FROM s_react s JOIN reactions r ON {_REACTION_KEY}
        WHERE s.ts > r.ts OR (s.ts = r.ts AND s.removed > r.removed)
           OR (s.hint IS NOT NULL AND (r.target_hint IS NULL OR s.hint > r.target_hint))
        ON CONFLICT DO NOTHING""",
)

_WIN = ("(excluded.ts > reactions.ts OR (excluded.ts = reactions.ts"
        " AND excluded.removed > reactions.removed))")
_HINT_WIN = ("(excluded.target_hint IS NOT NULL AND (reactions.target_hint IS NULL"
             " OR excluded.target_hint > reactions.target_hint))")
# One row per key and chunk (an upsert may touch a row once per statement): the last (ts,
# removed) of the chunk with the largest hint of the chunk, which is what applying them one by
# one gives.
_UPSERT_REACTIONS = f"""
INSERT INTO reactions (community, message_id, actor, emoji, ts, day, removed, target_hint)
SELECT DISTINCT ON (s.cid, s.mid, s.actor, s.emoji) s.cid, s.mid, s.actor, s.emoji, s.ts, s.day, s.removed,
       max(s.hint) OVER (PARTITION BY s.cid, s.mid, s.actor, s.emoji)
FROM s_react s
WHERE {_S_NOT_TOMBSTONED}
ORDER BY s.cid, s.mid, s.actor, s.emoji, s.ts DESC, s.removed DESC
ON CONFLICT (community, message_id, actor, emoji) DO UPDATE SET
    ts = CASE WHEN {_WIN} THEN excluded.ts ELSE reactions.ts END,
    day = CASE WHEN {_WIN} THEN excluded.day ELSE reactions.day END,
    removed = CASE WHEN {_WIN} THEN excluded.removed ELSE reactions.removed END,
    target_hint = CASE WHEN {_HINT_WIN} THEN excluded.target_hint ELSE reactions.target_hint END
WHERE {_WIN} OR {_HINT_WIN}
"""

# Anonymous counts: the latest (ts, count) wins; the days of the messages whose counts changed
# are refreshed.
_UPSERT_COUNTS = f"""
WITH up AS (
    INSERT INTO reaction_counts (community, message_id, emoji, ts, count)
    SELECT DISTINCT ON (s.cid, s.mid, s.emoji) s.cid, s.mid, s.emoji, s.ts, s.count FROM s_count s
    WHERE {_S_NOT_TOMBSTONED}
    ORDER BY s.cid, s.mid, s.emoji, s.ts DESC, s.count DESC
    ON CONFLICT (community, message_id, emoji) DO UPDATE SET ts = excluded.ts, count = excluded.count
    WHERE excluded.ts > reaction_counts.ts
       OR (excluded.ts = reaction_counts.ts AND excluded.count > reaction_counts.count)
    RETURNING community, message_id
), d AS (
    INSERT INTO dirty SELECT DISTINCT m.community, m.day FROM up
    JOIN messages m ON m.community = up.community AND m.message_id = up.message_id WHERE m.deleted = 0
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM up
"""

# SQL condition: the stored day {a} names user {u} (as member, responder or target). `users` is
# the JSON array written by json.dumps(ensure_ascii=False), which quotes a string exactly as
# to_json does (quotes, backslashes, control characters; non-ASCII kept as is: a test checks it); a
# match inside another quoted id (possible only for ids containing quotes) merely refreshes one
# day more. (storage/sqlite.py's _DAY_NAMES is the same test in SQLite's words.)
_DAY_NAMES = "strpos({a}.users, to_json({u}::text)::text) > 0"

# A user who just became a known bot changes every day they took part in, as responder or target.
_DIRTY_NEW_BOTS = (
    f"""INSERT INTO dirty (cid, day)
        SELECT a.community, a.day FROM day_aggregates a
        WHERE a.community IN (SELECT cid FROM newbots)
          AND EXISTS (SELECT 1 FROM newbots b WHERE b.cid = a.community AND {_DAY_NAMES.format(a="a", u="b.user_id")})
        ON CONFLICT DO NOTHING""",
    "DELETE FROM newbots",
)

_DAYS_GIVEN = ("days(cid, day, lo, hi) AS (SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[],"
               " $4::bigint[]))")

# The facts of the days ($1 communities, $2 days, $3..$4 the time bounds of the facts to keep: the
# whole day for a refresh, narrower for a cut day of a read): one row per (community, day, author)
# and per (community, day, responder, target), with the turn rule and the bot rules applied here.
# The turn rule needs the author's previous message of the day even when it lies before `lo`,
# so the window function runs over the whole day and the time filter comes after it.
_MEMBER_FACTS = """
WITH {days},
msg AS (
    SELECT m.community AS cid, m.day AS day, m.author AS author, m.ts AS ts, m.message_id AS mid,
           d.lo AS lo, d.hi AS hi,
           m.ts - lag(m.ts) OVER (PARTITION BY m.community, m.day, m.author ORDER BY m.ts) AS gap
    FROM days d JOIN messages m ON m.community = d.cid
        AND m.ts BETWEEN d.day::bigint * 86400 AND d.day::bigint * 86400 + 86399
    WHERE m.deleted = 0 AND NOT {author_bot}
)
SELECT cid, day, author, count(*)::bigint, sum(CASE WHEN gap IS NULL OR gap >= 60 THEN 1 ELSE 0 END)::bigint,
       coalesce(sum((SELECT sum(rc.count) FROM reaction_counts rc
                     WHERE rc.community = msg.cid AND rc.message_id = msg.mid)), 0)::bigint
FROM msg WHERE ts BETWEEN lo AND hi
GROUP BY cid, day, author
""".replace("{author_bot}", _IS_BOT.format(c="m.community", u="m.author"))

_PAIR_FACTS = """
WITH {days},
msg AS (
    SELECT m.community AS cid, m.day AS day, m.author AS author, m.message_id AS mid,
           m.reply_target AS target
    FROM days d JOIN messages m ON m.community = d.cid AND m.ts BETWEEN d.lo AND d.hi
    WHERE m.deleted = 0 AND NOT {author_bot}
),
facts (cid, day, responder, target, rep, men, rea) AS (
    SELECT cid, day, author, target, 1, 0, 0 FROM msg WHERE target IS NOT NULL
    UNION ALL
    SELECT msg.cid, msg.day, msg.author, mn.user_id, 0, 1, 0
    FROM msg JOIN mentions mn ON mn.community = msg.cid AND mn.message_id = msg.mid
    WHERE mn.user_id IS DISTINCT FROM msg.target
    UNION ALL
    SELECT r.community, r.day, r.actor, coalesce(m.author, r.target_hint), 0, 0, 1
    FROM days d JOIN reactions r ON r.community = d.cid AND r.ts BETWEEN d.lo AND d.hi
    LEFT JOIN messages m ON m.community = r.community AND m.message_id = r.message_id
    WHERE r.removed = 0 AND coalesce(m.deleted, 0) = 0 AND NOT {actor_bot}
)
SELECT cid, day, responder, target, sum(rep)::bigint, sum(men)::bigint, sum(rea)::bigint FROM facts
WHERE target IS NOT NULL AND target != responder AND NOT {target_bot}
GROUP BY cid, day, responder, target
""".replace("{author_bot}", _IS_BOT.format(c="m.community", u="m.author")).replace(
    "{actor_bot}", _IS_BOT.format(c="r.community", u="r.actor")).replace(
    "{target_bot}", _IS_BOT.format(c="facts.cid", u="facts.target"))

_MEMBER_PLAIN = _MEMBER_FACTS.format(days=_DAYS_GIVEN)
_PAIR_PLAIN = _PAIR_FACTS.format(days=_DAYS_GIVEN)
# The same facts packed one row per (community, day): ids joined by U+001F, integers by ',' (a few
# long strings a day instead of a Record per row; `_pack_facts` checks the split and falls back to
# the plain rows). Every aggregate of a group reads its rows in the same order, so the lists line up.
_MEMBER_PACKED = ("SELECT cid, day, count(*), string_agg(author, chr(31)), string_agg(messages::text, ','),"
                  " string_agg(counted::text, ','), string_agg(anon::text, ',')"
                  f" FROM ({_MEMBER_PLAIN}) f (cid, day, author, messages, counted, anon) GROUP BY cid, day")
_PAIR_PACKED = ("SELECT cid, day, count(*), string_agg(responder, chr(31)), string_agg(target, chr(31)),"
                " string_agg(replies::text, ','), string_agg(mentions::text, ','), string_agg(reactions::text, ',')"
                f" FROM ({_PAIR_PLAIN}) f (cid, day, responder, target, replies, mentions, reactions)"
                " GROUP BY cid, day")

_REFRESH_DAYS = 8  # days read and packed together by a refresh (a live batch usually has one)
_REFRESH_DELETE = "DELETE FROM day_aggregates WHERE (community, day) IN (SELECT cid, day FROM dirty)"
# One statement per group of days. (A refresh deletes its days first; the upsert is for another
# process refreshing the same day at the same time, whose row then gives way to this one.)
_INSERT_DAYS = """
INSERT INTO day_aggregates (community, day, users, members, member_rows, pairs, pair_rows)
SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::integer[], $5::bytea[], $6::integer[],
                     $7::bytea[])
ON CONFLICT (community, day) DO UPDATE SET users = excluded.users, members = excluded.members,
    member_rows = excluded.member_rows, pairs = excluded.pairs, pair_rows = excluded.pair_rows
"""
_READ_DAYS = ("SELECT day, users, members, member_rows, pairs, pair_rows FROM day_aggregates"
              " WHERE community = $1 AND day BETWEEN $2 AND $3 ORDER BY day")

# Deleting one member's data in one community ($1 community id, $2 user), in the writer's
# transaction: the SQLite store's _DELETE_MEMBER, statement for statement (see there for why).
_DELETE_MEMBER = (
    "INSERT INTO gone (mid) SELECT message_id FROM messages WHERE community = $1 AND author = $2"
    " ON CONFLICT DO NOTHING",
    "INSERT INTO dirty (cid, day) SELECT community, day FROM day_aggregates a"
    f" WHERE community = $1 AND {_DAY_NAMES.format(a='a', u='$2')} ON CONFLICT DO NOTHING",
    "INSERT INTO dirty (cid, day) SELECT DISTINCT community, day FROM messages"
    " WHERE community = $1 AND (author = $2 OR reply_target = $2 OR reply_hint = $2) ON CONFLICT DO NOTHING",
    """INSERT INTO dirty (cid, day) SELECT DISTINCT m.community, m.day FROM mentions mn
       JOIN messages m ON m.community = mn.community AND m.message_id = mn.message_id
       WHERE mn.community = $1 AND mn.user_id = $2 ON CONFLICT DO NOTHING""",
    "INSERT INTO dirty (cid, day) SELECT DISTINCT community, day FROM reactions WHERE community = $1"
    " AND (actor = $2 OR target_hint = $2 OR message_id IN (SELECT mid FROM gone)) ON CONFLICT DO NOTHING",
    """DELETE FROM reactions WHERE community = $1 AND (actor = $2 OR message_id IN (SELECT mid FROM gone)
       OR (target_hint = $2 AND NOT EXISTS (
           SELECT 1 FROM messages m WHERE m.community = $1 AND m.message_id = reactions.message_id)))""",
    "UPDATE reactions SET target_hint = NULL WHERE community = $1 AND target_hint = $2",
    "DELETE FROM reaction_counts WHERE community = $1 AND message_id IN (SELECT mid FROM gone)",
    "DELETE FROM mentions WHERE community = $1 AND (user_id = $2 OR message_id IN (SELECT mid FROM gone))",
    "UPDATE messages SET reply_to = NULL, reply_hint = NULL, reply_target = NULL"
    " WHERE community = $1 AND reply_target = $2",
    "UPDATE messages SET reply_hint = NULL WHERE community = $1 AND reply_hint = $2",
    "DELETE FROM deleted_messages WHERE community = $1 AND message_id IN (SELECT mid FROM gone)",
    "DELETE FROM messages WHERE community = $1 AND message_id IN (SELECT mid FROM gone)",
    "DELETE FROM users WHERE community = $1 AND user_id = $2",
    """UPDATE scores SET position = position - 1 WHERE community = $1 AND position > (
           SELECT s.position FROM scores s WHERE s.community = $1 AND s.period = scores.period AND s.user_id = $2)""",
    "UPDATE score_runs SET members = members - 1 WHERE community = $1"
    f" AND period IN (SELECT period FROM scores WHERE community = $1 AND {_scored('$1')} AND user_id = $2)",
    f"DELETE FROM scores WHERE community = $1 AND {_scored('$1')} AND user_id = $2",
    f"DELETE FROM score_snapshots WHERE {_member_snapshots('$1', '$2')}",
    "DELETE FROM usernames WHERE community = $1 AND user_id = $2",
    # Summaries addressed to them (issue #6): the outbox names its recipients.
    "DELETE FROM outbox WHERE community = $1 AND recipient = $2 AND kind = 'personal'",
    "DELETE FROM gone",
)

# Communities (ids, of one platform: $1) where a user ($2) acted, set prefs or has scores.
_COMMUNITIES_OF = f"""
SELECT c.id, c.external_id FROM communities c WHERE c.platform = $1 AND (
    EXISTS (SELECT 1 FROM users u WHERE u.community = c.id AND u.user_id = $2)
    OR EXISTS (SELECT 1 FROM member_prefs p WHERE p.community = c.id AND p.user_id = $2)
    OR EXISTS (SELECT 1 FROM scores s WHERE s.community = c.id AND s.{_scored('c.id')} AND s.user_id = $2)
    OR EXISTS (SELECT 1 FROM score_snapshots WHERE {_member_snapshots('c.id', '$2')}))
ORDER BY c.external_id
"""

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

_LATEST_BY_CHANNEL = """
WITH RECURSIVE ch(channel) AS (
    SELECT min(channel) FROM messages WHERE community = $1
    UNION ALL
    SELECT (SELECT min(channel) FROM messages WHERE community = $1 AND channel > ch.channel)
    FROM ch WHERE ch.channel IS NOT NULL
)
SELECT ch.channel, (SELECT m.message_id FROM messages m WHERE m.community = $1 AND m.channel = ch.channel
                    ORDER BY m.ts DESC, length(m.message_id) DESC, m.message_id DESC LIMIT 1)
FROM ch WHERE ch.channel IS NOT NULL
"""

_CHANNEL_RESPONDERS = f"""
WITH mine AS (
    SELECT message_id, author, channel FROM messages
    WHERE community = $1 AND ts > $2 AND ts <= $3 AND deleted = 0 AND channel IS NOT NULL
),
resp (author, channel, who) AS (
    SELECT mine.author, mine.channel, r.author FROM mine
    JOIN messages r ON r.community = $1 AND r.reply_to = mine.message_id
    WHERE r.deleted = 0 AND r.ts <= $3
    UNION
    SELECT mine.author, mine.channel, x.actor FROM mine
    JOIN reactions x ON x.community = $1 AND x.message_id = mine.message_id
    WHERE x.removed = 0 AND x.ts <= $3
)
SELECT author, channel, count(*) FROM resp
WHERE who != author AND NOT {_IS_BOT.format(c="$1", u="resp.who")}
GROUP BY author, channel
"""

_SETTINGS_COLUMNS = "summary_channel, weekday, hour, timezone, language, excluded_channels, mode"
_PREFS_COLUMNS = "hidden, opted_out, opted_in, weekly, locale"
_SCORE_COLUMNS = "user_id, score, percentile, rank, influence, reach, resonance, network, activity, algorithm"
_SCORE_TABLE_COLUMNS = ["community", "period", "user_id", "score", "percentile", "rank", "influence", "reach",
                        "resonance", "network", "activity", "algorithm", "as_of", "position"]
_OUTBOX_COLUMNS = "week, recipient, kind, state, nonce, attempts, claimed_at, done_at, detail"


# -- daily aggregates (per group of days, in a worker thread) -------------------------------------

def _pack_facts(members: Sequence[Sequence[Any]], pairs: Sequence[Sequence[Any]], packed: bool) -> list[Day] | None:
    """The `Day`s of fact rows (`_MEMBER_PACKED` / `_PAIR_PACKED` rows if `packed`, else
    `_MEMBER_PLAIN` / `_PAIR_PLAIN` rows), in (community, day) order; None when packed ids do not
    split back exactly (an id containing the separator), so the caller reads the plain rows."""
    none = np.zeros((3, 0), np.int64)
    facts: dict[tuple[int, int], list[Any]] = {}  # (cid, day) -> [users, ints, responders, targets, ints]

    def add(key: tuple[int, int], at: int, ids: list[list[str]], ints: np.ndarray) -> None:
        slot = facts.setdefault(key, [[], none, [], [], none])
        slot[at:at + len(ids)] = ids
        slot[at + len(ids)] = ints

    if packed:
        for rows, at, n_ids in ((members, 0, 1), (pairs, 2, 2)):
            for cid, day, *row in rows:
                cols = _unpack("s" * n_ids + "iii", row)  # SQLite's split of a packed fact row
                if cols is None:
                    return None
                add((cid, day), at, cols[:n_ids], np.vstack(cols[n_ids:]))
    else:
        for rows, at, n_ids in ((members, 0, 1), (pairs, 2, 2)):
            grouped: dict[tuple[int, int], list[Sequence[Any]]] = {}
            for r in rows:
                grouped.setdefault((r[0], r[1]), []).append(r)
            for key, group in grouped.items():
                columns = list(zip(*group, strict=True))
                add(key, at, [list(c) for c in columns[2:2 + n_ids]], np.array(columns[2 + n_ids:], np.int64))
    return [pack_day(cid, day, *slot) for (cid, day), slot in sorted(facts.items())]


def _whole(days: Sequence[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """(community, day, first second, last second) of whole days."""
    return [(cid, day, day * SECONDS_PER_DAY, day * SECONDS_PER_DAY + 86_399) for cid, day in days]


def _day_rows(members: Sequence[Sequence[Any]], pairs: Sequence[Sequence[Any]], packed: bool
              ) -> list[tuple[Any, ...]] | None:
    """`day_aggregates` rows of fact rows (or None, as `_pack_facts`)."""
    days = _pack_facts(members, pairs, packed)
    return None if days is None else [day_row(d) for d in days]


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


def _score_from_row(row: Sequence[Any]) -> MemberScore:
    user, score, percentile, rank, influence, reach, resonance, network, activity, algorithm = row
    return MemberScore(user=user, score=score, percentile=percentile, rank=rank, influence=influence,
                       reach=reach, resonance=resonance, network=network, activity=activity,
                       algorithm=algorithm)


def _score_records(cid: int, period: str, as_of_us: int, scores: Sequence[MemberScore]) -> list[tuple[Any, ...]]:
    """COPY records of the scores: SQLite's score rows, in key (user id) order, so the table's pages
    hold them in key order: a day's snapshot, made from them in key order, then reads the heap
    sequentially (in rank order it fetched a random page per member, 7.7 s at 1M with the default
    shared_buffers)."""
    return list(_score_rows(cid, period, as_of_us, scores))


_SNAPSHOT_SCORES = _snapshot_sql("$1", "$2", "$3")


def _outbox_item(row: Sequence[Any]) -> OutboxItem:
    week, recipient, kind, state, nonce, attempts, claimed, done, detail = row
    return OutboxItem(week=week, recipient=recipient, kind=kind, state=state, nonce=nonce, attempts=attempts,
                      claimed_at=None if claimed is None else _from_micros(claimed),
                      done_at=None if done is None else _from_micros(done), detail=detail)


def _summary_run(row: Sequence[Any]) -> SummaryRun:
    week, scheduled, completed, algorithm = row
    return SummaryRun(week=week, scheduled=_from_micros(scheduled),
                      completed=None if completed is None else _from_micros(completed), algorithm=algorithm)


def _username_key(username: str) -> str:
    return username.strip().removeprefix("@").casefold()


def _info(row: Sequence[Any]) -> CommunityInfo:
    platform, ext, name, members, messages, m_first, m_last, r_first, r_last = row
    firsts = [t for t in (m_first, r_first) if t is not None]
    lasts = [t for t in (m_last, r_last) if t is not None]
    return CommunityInfo(
        ref=CommunityRef(platform, ext), name=name, members=members, messages=messages,
        first_event=datetime.fromtimestamp(min(firsts), UTC) if firsts else None,
        last_event=datetime.fromtimestamp(max(lasts), UTC) if lasts else None)


# -- the store ------------------------------------------------------------------------------------

class PostgresStore(QueuedWriter):
    """The server store: one writer connection fed by a queue, a small pool of readers."""

    def __init__(self, url: str, *, schema: str | None = None, batch_size: int = 5_000,
                 queue_size: int = 100_000, readers: int = 4, reconnect_timeout: float = 300.0) -> None:
        scheme, sep, rest = url.partition("://")
        # SQLAlchemy-style URLs (postgresql+asyncpg://) name a driver; asyncpg wants the plain scheme.
        self.url = f"postgresql://{rest}" if sep and scheme.lower().startswith("postgres") else url
        self._target = "PostgreSQL"
        self.schema = schema  # tables live in this schema (search_path) instead of the default
        self.batch_size = max(1, batch_size)
        self._queue_size = queue_size
        self._readers = max(1, readers)
        self._wconn: asyncpg.Connection | None = None
        self._pool: asyncpg.Pool | None = None
        self._queue: asyncio.Queue[object] = asyncio.Queue(queue_size)
        self._writer: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._cids: dict[CommunityRef, int] = {}  # writer-side cache; cleared on rollback
        self._read_cids: dict[CommunityRef, int] = {}  # reader-side: only committed rows
        self._failures: list[BaseException] = []
        self._closed = False
        # How long the writer keeps trying to reconnect (events stay queued) before a batch fails.
        self.reconnect_timeout = reconnect_timeout
        self.reconnects = 0  # writer reconnections so far (logs and tests)
        self._locks: AdvisoryLocks | None = None  # leader and refresh locks, connected on first use

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"

    # -- lifecycle --------------------------------------------------------------------------
    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _settings(self) -> dict[str, str]:
        settings = {"application_name": "clout"}
        if self.schema is not None:
            settings["search_path"] = self.schema
        return settings

    async def open(self) -> None:
        """Connect, migrate the schema and start the writer. Raises SchemaTooNewError."""
        if self._wconn is not None:
            return
        try:
            wconn = await asyncpg.connect(self.url, server_settings=self._settings())
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreError(f"Cannot connect to the PostgreSQL database {redact(self.url)}: {exc}") from exc
        try:
            await self._check_version(wconn)
            await self._migrate(wconn)
            for sql in _TEMP_SCHEMA:
                await wconn.execute(sql)
            self._wconn = wconn
            await self._rebuild_pending()
            wconn = self._wconn  # (a lost session was replaced)
            pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self._readers,
                                             server_settings=self._settings())
        except BaseException:
            self._wconn = None
            await wconn.close()
            raise
        assert pool is not None
        self._wconn, self._pool = wconn, pool
        self._queue = asyncio.Queue(self._queue_size)
        self._closed = False
        self._cids.clear()
        self._writer = asyncio.create_task(self._write_loop(), name="clout-postgres-writer")
        self._writer.add_done_callback(self._writer_done)

    async def close(self) -> None:
        """Flush pending events, stop the writer and close the connections (raises a write failure)."""
        if self._wconn is None or self._closed:
            return
        self._closed = True
        try:
            await self._flush()
        finally:
            writer = self._writer
            if writer is not None and not writer.done():
                await self._queue.put(STOP)
                await asyncio.wait({writer})
            if self._pool is not None:
                await self._pool.close()
            if self._locks is not None:
                await self._locks.close()
            await self._wconn.close()
            self._wconn = self._pool = None
            self._writer = None

    async def _recorded_version(self, conn: asyncpg.Connection) -> int:
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            return 0
        return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    def _too_new(self, found: int) -> SchemaTooNewError:
        return SchemaTooNewError(
            f"The database {redact(self.url)} was written by a newer Clout (schema {found}, this version "
            f"knows {latest_version()}); upgrade Clout to use it.")

    async def _check_version(self, conn: asyncpg.Connection) -> None:
        found = await self._recorded_version(conn)
        if found > latest_version():
            raise self._too_new(found)

    async def _migrate(self, conn: asyncpg.Connection) -> None:
        """Apply each missing migration in its own transaction, recording it as it commits; an
        advisory lock makes processes starting together migrate one after the other."""
        for migration in MIGRATIONS:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                    " name TEXT NOT NULL, applied_at TEXT NOT NULL)")
                current = await self._recorded_version(conn)
                if current > latest_version():
                    raise self._too_new(current)
                if current >= migration.version:
                    continue
                for statement in migration.postgres:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version, migration.name, datetime.now(UTC).isoformat(timespec="seconds"))
            log.info("applied schema migration %d (%s) to %s", migration.version, migration.name,
                     redact(self.url))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        conn = self._wconn
        assert conn is not None
        if conn.is_closed():  # the server restarted or ended the session: a new one (callers hold _write_lock)
            conn = await self._reconnect_writer()
        tx = conn.transaction()
        try:
            await tx.start()
        except Exception as exc:  # a session ended while idle shows here first: nothing was done yet
            if not self._connection_lost(exc):
                raise
            conn = await self._reconnect_writer()
            tx = conn.transaction()
            await tx.start()
        try:
            yield conn
        except BaseException:
            self._cids.clear()  # ids of communities created in this transaction are gone
            if not conn.is_closed():
                try:
                    await tx.rollback()
                except Exception as exc:  # the session broke mid-transaction: the server rolls back
                    if not self._connection_lost(exc):
                        raise
            raise
        else:
            await tx.commit()

    async def _ensure_communities(self, names: dict[CommunityRef, str | None]) -> None:
        """Give every community an id in the cache, creating rows as needed; store names given."""
        conn = self._wconn
        assert conn is not None
        for ref, name in names.items():
            cid = self._cids.get(ref)
            if cid is None:
                await conn.execute(
                    "INSERT INTO communities (platform, external_id, name) VALUES ($1, $2, $3)"
                    " ON CONFLICT (platform, external_id) DO NOTHING", ref.platform, ref.id, name)
                cid = self._cids[ref] = int(await conn.fetchval(
                    "SELECT id FROM communities WHERE platform = $1 AND external_id = $2", ref.platform, ref.id))
            if name is not None:
                await conn.execute("UPDATE communities SET name = $1 WHERE id = $2 AND name IS DISTINCT FROM $1",
                                   name, cid)

    async def _copy(self, table: str, records_: list[tuple[Any, ...]]) -> None:
        assert self._wconn is not None
        await self._wconn.copy_records_to_table(table, records=records_)

    async def _write_chunk(self, events: Sequence[Event], users: _Users) -> int:
        """Write one chunk inside the caller's transaction; returns how many events changed state."""
        conn = self._wconn
        assert conn is not None
        names: dict[CommunityRef, str | None] = {}
        for e in events:
            if e.community_name is not None or e.community not in names:
                names[e.community] = e.community_name or names.get(e.community)
        await self._ensure_communities(names)
        st = _stage(events, self._cids, users)
        new = 0
        # Messages, then tombstones (which see those messages), then reactions (which see the
        # tombstones): any arrival order ends the same.
        if st.messages:
            await self._copy("s_msg", st.messages)
            if st.mentions:
                await self._copy("s_men", st.mentions)
            inserted = int(await conn.fetchval(_INSERT_MESSAGES))
            if inserted:
                new += inserted
                for sql in _AFTER_NEW_MESSAGES:
                    await conn.execute(sql)
            await conn.execute("DELETE FROM s_msg; DELETE FROM s_men; DELETE FROM newmsg")
        if st.deletes:
            await self._copy("s_del", st.deletes)
            inserted = int(await conn.fetchval(_INSERT_DELETES))
            if inserted:
                new += inserted
                for sql in _AFTER_NEW_DELETES:
                    await conn.execute(sql)
            await conn.execute("DELETE FROM s_del; DELETE FROM newdel")
        if st.reactions:
            await self._copy("s_react", st.reactions)
            for sql in _DIRTY_REACTIONS:
                await conn.execute(sql)
            new += _status_count(await conn.execute(_UPSERT_REACTIONS))
            await conn.execute("DELETE FROM s_react")
        if st.counts:
            await self._copy("s_count", st.counts)
            new += int(await conn.fetchval(_UPSERT_COUNTS))
            await conn.execute("DELETE FROM s_count")
        return new

    async def _write_users(self, users: _Users) -> None:
        if users:
            conn = self._wconn
            assert conn is not None
            await self._copy("s_users", _user_rows(users))
            await conn.execute(_NEW_BOTS)
            await conn.execute(_UPSERT_USERS)
            await conn.execute("DELETE FROM s_users")
            users.clear()

    async def _refresh(self) -> None:
        """Recompute the aggregates of every dirty (community, day) from the log: each group of days'
        facts comes from SQL, is packed into day rows in a worker thread while the next group's facts
        are read, and is written with one statement."""
        conn = self._wconn
        assert conn is not None
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM newbots)"):
            for sql in _DIRTY_NEW_BOTS:
                await conn.execute(sql)
        days = [(cid, day) for cid, day in await conn.fetch("SELECT cid, day FROM dirty ORDER BY cid, day")]
        if not days:
            return
        await conn.execute(_REFRESH_DELETE)
        groups = [days[i:i + _REFRESH_DAYS] for i in range(0, len(days), _REFRESH_DAYS)]
        packing: asyncio.Future[list[tuple[Any, ...]] | None] | None = None
        try:
            for k, group in enumerate(groups):
                facts = await self._fetch_facts(conn, _whole(group), packed=True)
                ahead = asyncio.ensure_future(asyncio.to_thread(_day_rows, *facts, True))
                del facts
                done, packing = packing, ahead
                if done is not None:
                    await self._insert_days(conn, groups[k - 1], await done)
            if packing is not None:
                done, packing = packing, None
                await self._insert_days(conn, groups[-1], await done)
        finally:
            if packing is not None:  # a group failed: let the one ahead finish before rolling back
                await asyncio.gather(packing, return_exceptions=True)
        await conn.execute("DELETE FROM dirty")

    async def _insert_days(self, conn: asyncpg.Connection, group: list[tuple[int, int]],
                           rows: list[tuple[Any, ...]] | None) -> None:
        if rows is None:  # packed ids did not split back: the plain rows of the group
            rows = await asyncio.to_thread(_day_rows, *await self._fetch_facts(conn, _whole(group), packed=False),
                                           False)
            assert rows is not None
        if rows:
            await conn.execute(_INSERT_DAYS, *(list(c) for c in zip(*rows, strict=True)))

    async def _fetch_facts(self, conn: asyncpg.Connection, days: Sequence[tuple[int, int, int, int]], *,
                           packed: bool) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        """The member and pair facts of (community, day, lo, hi), packed per day or plain."""
        args = [list(c) for c in zip(*days, strict=True)]
        member_sql, pair_sql = (_MEMBER_PACKED, _PAIR_PACKED) if packed else (_MEMBER_PLAIN, _PAIR_PLAIN)
        return await conn.fetch(member_sql, *args), await conn.fetch(pair_sql, *args)

    async def _facts(self, conn: asyncpg.Connection, days: Sequence[tuple[int, int, int, int]]) -> list[Day]:
        """The `Day`s of (community, day, lo, hi) from the log (cut days of a read)."""
        for packed in (True, False):
            got = await asyncio.to_thread(_pack_facts, *await self._fetch_facts(conn, days, packed=packed), packed)
            if got is not None:
                return got
        raise AssertionError("plain fact rows always pack")

    async def _rebuild_pending(self) -> None:
        """Rebuild the aggregates of the days queued in `aggregate_rebuild` (by migration 9) from the
        log, in one transaction, before the store serves; an interrupted rebuild is redone on the next
        open. The migration lock keeps processes opening together from rebuilding the same days."""
        conn = self._wconn
        assert conn is not None
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM aggregate_rebuild)"):
            return
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute("INSERT INTO dirty (cid, day) SELECT community, day FROM aggregate_rebuild"
                               " ON CONFLICT DO NOTHING")
            await self._refresh()
            await conn.execute("DELETE FROM aggregate_rebuild")
        log.info("rebuilt the daily aggregates of %s from its event log", redact(self.url))

    async def rebuild_aggregates(self) -> None:
        """Recompute every day's aggregates from the event log (after `clout migrate`)."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            await conn.execute("DELETE FROM day_aggregates")
            await conn.execute("DELETE FROM aggregate_rebuild")
            await conn.execute("INSERT INTO dirty (cid, day) SELECT community, day FROM messages"
                               " UNION SELECT community, day FROM reactions ON CONFLICT DO NOTHING")
            await self._refresh()

    # -- reconnecting the writer (issue #7) -----------------------------------------------------
    async def _reconnect_writer(self) -> asyncpg.Connection:
        """Replace a lost writer connection (its temp staging tables are made again)."""
        conn = await asyncpg.connect(self.url, server_settings=self._settings())
        try:
            for sql in _TEMP_SCHEMA:
                await conn.execute(sql)
        except BaseException:
            conn.terminate()
            raise
        old, self._wconn = self._wconn, conn
        if old is not None and not old.is_closed():
            old.terminate()
        self._cids.clear()
        self.reconnects += 1
        log.warning("reconnected the PostgreSQL writer to %s", redact(self.url))
        return conn

    def _connection_lost(self, exc: BaseException) -> bool:
        conn = self._wconn
        return (conn is None or conn.is_closed()
                or isinstance(exc, OSError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError
                              | asyncpg.exceptions.AdminShutdownError | asyncpg.exceptions.CrashShutdownError
                              | asyncpg.exceptions.CannotConnectNowError))

    async def _write_batch(self, events: list[Event]) -> None:
        """Write one batch; when the connection is lost, keep the batch (and the queue behind it),
        reconnect with backoff and write it again (the failed transaction left nothing behind).
        Gives up after `reconnect_timeout` seconds: the batch then fails like any other."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.reconnect_timeout
        pause = 0.05
        while True:
            try:
                await super()._write_batch(events)
                return
            except Exception as exc:
                if not self._connection_lost(exc) or loop.time() >= give_up:
                    raise
                log.warning("the PostgreSQL writer lost its connection (%s); %d events are kept and written "
                            "after reconnecting", type(exc).__name__, len(events))
                if self._wconn is not None and not self._wconn.is_closed():
                    self._wconn.terminate()  # a broken session must not be reused
            await asyncio.sleep(pause)  # backoff between attempts (the server may be restarting)
            pause = min(pause * 2, 5.0)

    # -- several processes: leader and refresh locks (issue #7, storage/advisory.py) -------------
    def _advisory(self) -> AdvisoryLocks:
        if self._locks is None:
            self._locks = AdvisoryLocks(self.url, self._settings())
        return self._locks

    async def begin_run(self) -> None:
        """Several bot processes may share a PostgreSQL database: nothing to check."""
        self._check_open()

    async def try_lead(self) -> bool:
        """Take the leader lock if no other process holds it (never blocks)."""
        self._check_open()
        return await self._advisory().try_lead()

    async def still_leading(self) -> bool:
        """Whether the leader lock's session is alive (False once lost)."""
        return self._locks is not None and await self._locks.still_leading()

    async def stop_leading(self) -> None:
        """Release the leader lock."""
        if self._locks is not None:
            await self._locks.stop_leading()

    def refresh_lock(self, ref: CommunityRef) -> AbstractAsyncContextManager[bool]:
        """The community's cross-process refresh lock (yields False when another process holds it)."""
        self._check_open()
        return self._advisory().refresh_lock(ref)

    # -- writes ---------------------------------------------------------------------------------
    async def import_events(self, events: Iterable[Event]) -> ImportStats:
        """Write a whole source in one transaction; if iterating `events` raises, nothing is kept."""
        self._check_open()
        read = new = 0
        iterator = iter(events)
        users: _Users = {}
        async with self._write_lock, self._transaction():
            while chunk := list(islice(iterator, self.batch_size)):
                read += len(chunk)
                new += await self._write_chunk(chunk, users)
            await self._write_users(users)
            await self._refresh()
        return ImportStats(events=read, new=new)

    # -- reads ----------------------------------------------------------------------------------
    @asynccontextmanager
    async def _reading(self, snapshot: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """A pooled read connection, optionally inside one read-only snapshot transaction."""
        self._check_open()
        assert self._pool is not None
        async with self._pool.acquire() as conn:
            if not snapshot:
                yield conn
                return
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                yield conn

    async def _cid(self, conn: asyncpg.Connection, ref: CommunityRef) -> int | None:
        # A committed community row is never deleted or renumbered (as in the SQLite store), so its
        # id is cached once read: a /score or a leaderboard page is then one round trip, not two.
        cid = self._read_cids.get(ref)
        if cid is not None:
            return cid
        found = await conn.fetchval("SELECT id FROM communities WHERE platform = $1 AND external_id = $2",
                                    ref.platform, ref.id)
        if found is None:
            return None
        cid = self._read_cids[ref] = int(found)
        return cid

    async def communities(self) -> list[CommunityInfo]:
        """Every community with at least one stored event, ordered by key."""
        async with self._reading(snapshot=True) as conn:
            rows = await conn.fetch(_INFO_SQL.format(where="TRUE"))
        return sorted((_info(r) for r in rows), key=lambda info: info.ref.key)

    async def community(self, ref: CommunityRef) -> CommunityInfo | None:
        """One community's summary, or None when nothing of it is stored."""
        async with self._reading(snapshot=True) as conn:
            row = await conn.fetchrow(_INFO_SQL.format(where="c.platform = $1 AND c.external_id = $2"),
                                      ref.platform, ref.id)
        return None if row is None else _info(row)

    async def aggregates(self, ref: CommunityRef, start: datetime, end: datetime) -> DailyAggregates:
        """Daily aggregates of events with start < ts <= end (whole days from the tables, cut days from the log)."""
        lo, hi = _floor_epoch(start), _floor_epoch(end)
        if hi <= lo:
            return DailyAggregates.empty()
        first_day, last_day = day_of(lo + 1), day_of(hi)
        whole_lo = first_day if (lo + 1) % SECONDS_PER_DAY == 0 else first_day + 1
        whole_hi = last_day if (hi + 1) % SECONDS_PER_DAY == 0 else last_day - 1
        partial = sorted({d for d in (first_day, last_day) if not whole_lo <= d <= whole_hi})
        async with self._reading(snapshot=True) as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return DailyAggregates.empty()
            stored: list[Any] = []
            if whole_lo <= whole_hi:
                stored = list(await conn.fetch(_READ_DAYS, cid, whole_lo, whole_hi))
            cut: list[Day] = []
            if partial:
                cut = await self._facts(conn, [
                    (cid, d, max(lo + 1, d * SECONDS_PER_DAY), min(hi, d * SECONDS_PER_DAY + 86_399))
                    for d in partial])
        return await asyncio.to_thread(assemble, stored, cut)

    async def member_names(self, ref: CommunityRef) -> dict[str, str]:
        """Latest display name of every user seen in the community (platform-local id → name)."""
        async with self._reading() as conn:
            rows = await conn.fetch(
                "SELECT u.user_id, u.name FROM users u JOIN communities c ON c.id = u.community"
                " WHERE c.platform = $1 AND c.external_id = $2 AND u.name IS NOT NULL", ref.platform, ref.id)
        return {r[0]: r[1] for r in rows}

    async def names_of(self, ref: CommunityRef, users: Iterable[str]) -> dict[str, str]:
        """Display names of just these users."""
        wanted = sorted(set(users))
        if not wanted:
            return {}
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return {}
            rows = await conn.fetch("SELECT user_id, name FROM users WHERE community = $1 AND name IS NOT NULL"
                                    " AND user_id = ANY($2::text[])", cid, wanted)
        return {r[0]: r[1] for r in rows}

    async def find_member(self, ref: CommunityRef, query: str) -> str | None:
        """Resolve a user id, else a case-insensitive exact display name (None if absent or ambiguous)."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return None
            if await conn.fetchval("SELECT 1 FROM users WHERE community = $1 AND user_id = $2", cid, query):
                return query
            rows = await conn.fetch("SELECT user_id FROM users WHERE community = $1 AND name_key = $2 LIMIT 2",
                                    cid, query.casefold())
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
            # The COPY records (seconds of Python at a million members) are made in a thread while
            # the server archives and deletes the stored scores.
            making = asyncio.ensure_future(asyncio.to_thread(_score_records, cid, period, as_of_us, scores))
            try:
                if period == "all":
                    await self._archive_scores(conn, cid, day)
                await conn.execute("DELETE FROM scores WHERE community = $1 AND period = $2", cid, period)
            finally:
                rows = await making  # (also when a statement failed: the thread cannot be cancelled)
            if rows:
                await conn.copy_records_to_table("scores", records=rows, columns=_SCORE_TABLE_COLUMNS)
            await conn.execute(
                "INSERT INTO score_runs (community, period, as_of, algorithm, members) VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (community, period) DO UPDATE SET as_of = excluded.as_of,"
                " algorithm = excluded.algorithm, members = excluded.members",
                cid, period, as_of_us, algorithm, len(scores))

    async def _archive_scores(self, conn: asyncpg.Connection, cid: int, day: int) -> None:
        """The SQLite store's `_archive_scores`: stored 'all' scores of another day than `day`
        become that day's snapshot before they are replaced."""
        snap = _SNAPSHOT_SCORES
        run = await conn.fetchrow(snap.run, cid)
        if run is None or (kept := records.snapshot_day(run[0])) == day:
            return
        if await conn.fetchval(snap.known, cid, kept):
            await conn.execute(snap.upsert, cid, kept)
            if await conn.fetchval(snap.count, cid, kept) != await conn.fetchval(snap.scored, cid):
                await conn.execute(snap.stale, cid, kept)
        else:
            await conn.execute(snap.insert, cid, kept)
        await conn.execute(snap.listed, cid, kept, run[1])

    async def stored_scores(self, ref: CommunityRef, period: str = "all") -> StoredScores | None:
        """When and with which algorithm the scores of (community, period) were last saved."""
        async with self._reading() as conn:
            row = await conn.fetchrow(
                "SELECT r.as_of, r.algorithm, r.members FROM score_runs r JOIN communities c"
                " ON c.id = r.community WHERE c.platform = $1 AND c.external_id = $2 AND r.period = $3",
                ref.platform, ref.id, period)
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
            rows = await conn.fetch(
                f"SELECT {_SCORE_COLUMNS} FROM scores WHERE community = $1 AND period = $2 AND position >= $3"
                " ORDER BY position LIMIT $4", cid, period, max(0, offset), limit if limit > 0 else None)
        if len(rows) > 2_000:
            return await asyncio.to_thread(lambda: [_score_from_row(r) for r in rows])
        return [_score_from_row(r) for r in rows]

    async def score_of(self, ref: CommunityRef, user: str, period: str = "all") -> MemberScore | None:
        """One member's stored score, or None."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return None
            row = await conn.fetchrow(
                f"SELECT {_SCORE_COLUMNS} FROM scores WHERE community = $1 AND period = $2 AND user_id = $3",
                cid, period, user)
        return None if row is None else _score_from_row(row)

    async def score_history(self, ref: CommunityRef, user: str, since: datetime) -> list[tuple[datetime, int]]:
        """Daily snapshot scores (period 'all') of a member since a time, oldest first."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return []
            since_day = day_of(_floor_epoch(since))
            rows = await conn.fetch(_member_history("$1", "$2", "$3"), cid, user, since_day)
        return [(_day_start(d), s) for d, s in records.snapshot_history(rows, since_day)]

    # -- chat layer -----------------------------------------------------------------------------
    async def community_settings(self, ref: CommunityRef) -> CommunitySettings:
        """The community's settings, or the defaults until an admin changes them."""
        async with self._reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {_SETTINGS_COLUMNS} FROM community_settings s JOIN communities c"
                " ON c.id = s.community WHERE c.platform = $1 AND c.external_id = $2", ref.platform, ref.id)
        if row is None:
            return CommunitySettings()
        channel, weekday, hour, timezone, language, excluded, mode = row
        return CommunitySettings(summary_channel=channel, weekday=weekday, hour=hour, timezone=timezone,
                                 language=language, excluded_channels=tuple(json.loads(excluded)), mode=mode)

    async def set_community_settings(self, ref: CommunityRef, settings: CommunitySettings) -> None:
        """Store settings, creating the community row if needed (ValueError for impossible values)."""
        self._check_open()
        records.check_settings(settings)
        s = settings
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            await conn.execute(
                f"INSERT INTO community_settings (community, {_SETTINGS_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (community) DO UPDATE SET"
                " summary_channel = excluded.summary_channel, weekday = excluded.weekday, hour = excluded.hour,"
                " timezone = excluded.timezone, language = excluded.language,"
                " excluded_channels = excluded.excluded_channels, mode = excluded.mode",
                self._cids[ref], s.summary_channel, s.weekday, s.hour, s.timezone, s.language,
                json.dumps(list(s.excluded_channels)), s.mode)

    async def member_prefs(self, ref: CommunityRef, user: str) -> MemberPrefs:
        """One member's choices in a community, or the defaults."""
        async with self._reading() as conn:
            row = await conn.fetchrow(
                f"SELECT {_PREFS_COLUMNS} FROM member_prefs p JOIN communities c ON c.id = p.community"
                " WHERE c.platform = $1 AND c.external_id = $2 AND p.user_id = $3", ref.platform, ref.id, user)
        return MemberPrefs() if row is None else _prefs(row)

    async def set_member_prefs(self, ref: CommunityRef, user: str, prefs: MemberPrefs) -> None:
        """Store one member's choices in a community (creating the community row if needed)."""
        self._check_open()
        p = prefs
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            await conn.execute(
                f"INSERT INTO member_prefs (community, user_id, {_PREFS_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (community, user_id) DO UPDATE SET"
                " hidden = excluded.hidden, opted_out = excluded.opted_out, opted_in = excluded.opted_in,"
                " weekly = excluded.weekly, locale = excluded.locale",
                self._cids[ref], user, int(p.hidden), int(p.opted_out), int(p.opted_in), int(p.weekly), p.locale)

    async def invisible_members(self, ref: CommunityRef) -> set[str]:
        """Hidden and opted-out members, plus (opt-in mode) everyone seen who has not opted in."""
        mode = (await self.community_settings(ref)).mode
        async with self._reading(snapshot=True) as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return set()
            rows = list(await conn.fetch(
                "SELECT user_id FROM member_prefs WHERE community = $1 AND (hidden = 1 OR opted_out = 1)", cid))
            if mode == "optin":
                rows += await conn.fetch(
                    """SELECT seen.user_id FROM (
                           SELECT user_id FROM users WHERE community = $1
                           UNION SELECT user_id FROM scores WHERE community = $1
                           UNION SELECT user_id FROM member_prefs WHERE community = $1) seen
                       WHERE NOT EXISTS (SELECT 1 FROM member_prefs p WHERE p.community = $1
                                         AND p.user_id = seen.user_id AND p.opted_in = 1)""", cid)
        return {r[0] for r in rows}

    async def weekly_subscribers(self, ref: CommunityRef) -> list[str]:
        """Members with weekly summaries on and not opted out, ordered by id."""
        async with self._reading() as conn:
            rows = await conn.fetch(
                "SELECT p.user_id FROM member_prefs p JOIN communities c ON c.id = p.community"
                " WHERE c.platform = $1 AND c.external_id = $2 AND p.weekly = 1 AND p.opted_out = 0"
                " ORDER BY p.user_id", ref.platform, ref.id)
        return [r[0] for r in rows]

    @asynccontextmanager
    async def _erasing(self) -> AsyncIterator[asyncpg.Connection]:
        """A write transaction for privacy deletes, after every queued event is written.

        Deleted rows stay in the table files as dead tuples until (auto)vacuum reclaims them, and
        in the write-ahead log until it is recycled; operators who need them gone at once run
        VACUUM (docs/deployment.md)."""
        self._check_open()
        await self._drain()
        async with self._write_lock, self._transaction() as conn:
            yield conn

    async def _delete_member(self, conn: asyncpg.Connection, cid: int, user: str) -> None:
        for sql in _DELETE_MEMBER:
            await conn.execute(sql, *(cid, user)[:2 if "$2" in sql else 1 if "$1" in sql else 0])
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
        link codes, account links and DM mark, in one transaction. Returns how many communities
        `communities_of` listed before."""
        async with self._erasing() as conn:
            touched = len(await conn.fetch(_COMMUNITIES_OF, user.platform, user.id))
            for (cid,) in await conn.fetch("SELECT id FROM communities WHERE platform = $1", user.platform):
                await self._delete_member(conn, cid, user.id)
                await conn.execute("DELETE FROM member_prefs WHERE community = $1 AND user_id = $2", cid, user.id)
            await conn.execute("DELETE FROM link_codes WHERE platform = $1 AND user_id = $2", user.platform, user.id)
            await conn.execute("DELETE FROM dm_contacts WHERE platform = $1 AND user_id = $2", user.platform, user.id)
            person = await conn.fetchval("SELECT person FROM account_links WHERE platform = $1 AND user_id = $2",
                                         user.platform, user.id)
            if person is not None:
                await conn.execute("DELETE FROM account_links WHERE platform = $1 AND user_id = $2",
                                   user.platform, user.id)
                # A group of one links nothing.
                await conn.execute("DELETE FROM account_links WHERE person = $1"
                                   " AND (SELECT count(*) FROM account_links WHERE person = $1) = 1", person)
        return touched

    async def communities_of(self, user: UserRef) -> list[CommunityRef]:
        """Communities of the user's platform where they acted, set prefs or have scores."""
        async with self._reading() as conn:
            rows = await conn.fetch(_COMMUNITIES_OF, user.platform, user.id)
        return [CommunityRef(user.platform, r[1]) for r in rows]

    async def export_user(self, user: UserRef) -> dict[str, object]:
        """/mydata: everything stored about the user, in the shape `ChatStore.export_user` describes."""
        limit = records.EXPORT_LIMIT
        communities: list[dict[str, Any]] = []
        async with self._reading(snapshot=True) as conn:
            for cid, ext in await conn.fetch(_COMMUNITIES_OF, user.platform, user.id):
                ref = CommunityRef(user.platform, ext)
                key = (cid, user.id)
                community_name = await conn.fetchval("SELECT name FROM communities WHERE id = $1", cid)
                named = await conn.fetchrow("SELECT name FROM users WHERE community = $1 AND user_id = $2", *key)
                prefs = await conn.fetchrow(
                    f"SELECT {_PREFS_COLUMNS} FROM member_prefs WHERE community = $1 AND user_id = $2", *key)
                n_messages = await conn.fetchval(
                    "SELECT count(*) FROM messages WHERE community = $1 AND author = $2", *key)
                messages = await conn.fetch(
                    "SELECT message_id, channel, ts, reply_to, deleted, length, has_link, has_attachment"
                    " FROM messages WHERE community = $1 AND author = $2 ORDER BY ts, message_id LIMIT $3",
                    *key, limit)
                mentions: dict[str, list[str]] = {}
                for mid, mentioned in await conn.fetch(
                        "SELECT mn.message_id, mn.user_id FROM mentions mn JOIN messages m"
                        " ON m.community = mn.community AND m.message_id = mn.message_id"
                        " WHERE m.community = $1 AND m.author = $2 ORDER BY mn.user_id", *key):
                    mentions.setdefault(mid, []).append(mentioned)
                n_reactions = await conn.fetchval(
                    "SELECT count(*) FROM reactions WHERE community = $1 AND actor = $2", *key)
                reactions = await conn.fetch(
                    "SELECT message_id, emoji, ts, removed FROM reactions WHERE community = $1 AND actor = $2"
                    " ORDER BY ts, message_id, emoji LIMIT $3", *key, limit)
                scores = await conn.fetch(
                    f"SELECT period, as_of, {_SCORE_COLUMNS} FROM scores WHERE community = $1"
                          f" AND {_scored('$1')} AND user_id = $2"
                    " ORDER BY period", *key)
                snapshots = records.snapshot_history(await conn.fetch(_member_history("$1", "$2"), *key))
                username = await conn.fetchval(
                    "SELECT username FROM usernames WHERE community = $1 AND user_id = $2", *key)
                summaries = await conn.fetch(
                    "SELECT week, state, done_at FROM outbox WHERE community = $1 AND recipient = $2"
                    " AND kind = 'personal' ORDER BY week", *key)
                communities.append({
                    "community": ref.key, "community_name": community_name,
                    "name": named[0] if named is not None else None,
                    "prefs": records.prefs_dict(MemberPrefs() if prefs is None else _prefs(prefs)),
                    "messages": records.listing(n_messages, [
                        {"message_id": mid, "channel": channel, "ts": records.iso(ts), "reply_to": reply_to,
                         "deleted": bool(deleted), "length": length, "has_link": bool(link),
                         "has_attachment": bool(attachment), "mentions": mentions.get(mid, [])}
                        for mid, channel, ts, reply_to, deleted, length, link, attachment in messages]),
                    "reactions_given": records.listing(n_reactions, [
                        {"message_id": mid, "emoji": emoji, "ts": records.iso(ts), "removed": bool(removed)}
                        for mid, emoji, ts, removed in reactions]),
                    "scores": {r[0]: records.score_dict(_score_from_row(tuple(r)[2:]), _from_micros(r[1]))
                               for r in scores},
                    "snapshots": [{"day": records.day_iso(day), "score": score} for day, score in snapshots],
                    "summaries": [records.summary_dict(week, state, None if done is None else _from_micros(done))
                                  for week, state, done in summaries],
                    **({"username": username} if username is not None else {})})
            linked = await self._linked(conn, user)
            codes = await conn.fetch(
                "SELECT expires FROM link_codes WHERE platform = $1 AND user_id = $2 ORDER BY expires",
                user.platform, user.id)
            dm = await conn.fetchval("SELECT 1 FROM dm_contacts WHERE platform = $1 AND user_id = $2",
                                     user.platform, user.id)
        return {"user": records.user_dict(user), "communities": communities,
                "linked_accounts": [records.user_dict(u) for u in linked],
                "link_codes": [{"expires": _from_micros(r[0]).isoformat()} for r in codes],
                **({"dm_open": True} if dm is not None else {})}

    async def save_link_code(self, link: LinkCode) -> None:
        """Store a link code (a code already stored is replaced)."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            await conn.execute(
                "INSERT INTO link_codes (code, platform, user_id, expires) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (code) DO UPDATE SET platform = excluded.platform, user_id = excluded.user_id,"
                " expires = excluded.expires", link.code, link.owner.platform, link.owner.id, _micros(link.expires))

    async def redeem_link_code(self, code: str, user: UserRef, now: datetime) -> UserRef | None:
        """Consume an unexpired code of another platform, link both accounts and return the owner."""
        self._check_open()
        now_us = _micros(now)
        async with self._write_lock, self._transaction() as conn:
            await conn.execute("DELETE FROM link_codes WHERE expires <= $1", now_us)
            row = await conn.fetchrow("SELECT platform, user_id FROM link_codes WHERE code = $1", code)
            if row is None or row[0] == user.platform:
                return None
            await conn.execute("DELETE FROM link_codes WHERE code = $1", code)
            owner = UserRef(row[0], row[1])
            await self._link(conn, owner, user)
        return owner

    async def _link(self, conn: asyncpg.Connection, a: UserRef, b: UserRef) -> None:
        """Put two accounts in one group: a new one, the one either is in, or both groups merged."""
        people = []
        for u in (a, b):
            person = await conn.fetchval("SELECT person FROM account_links WHERE platform = $1 AND user_id = $2",
                                         u.platform, u.id)
            people.append(None if person is None else int(person))
        known = [p for p in people if p is not None]
        if not known:
            person = int(await conn.fetchval("SELECT coalesce(max(person), 0) + 1 FROM account_links"))
        else:
            person = min(known)
            if len(known) == 2 and known[0] != known[1]:
                await conn.execute("UPDATE account_links SET person = $1 WHERE person = $2", person, max(known))
        await conn.executemany(
            "INSERT INTO account_links (platform, user_id, person) VALUES ($1, $2, $3)"
            " ON CONFLICT (platform, user_id) DO UPDATE SET person = excluded.person",
            [(a.platform, a.id, person), (b.platform, b.id, person)])

    async def _linked(self, conn: asyncpg.Connection, user: UserRef) -> list[UserRef]:
        rows = await conn.fetch(
            "SELECT o.platform, o.user_id FROM account_links me JOIN account_links o ON o.person = me.person"
            " WHERE me.platform = $1 AND me.user_id = $2 AND NOT (o.platform = $1 AND o.user_id = $2)"
            " ORDER BY o.platform, o.user_id", user.platform, user.id)
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
            await conn.executemany("DELETE FROM usernames WHERE community = $1 AND user_id = $2 AND username != $3",
                                   [(cid, user, key) for key, user in rows.items()])
            await conn.executemany(
                "INSERT INTO usernames (community, username, user_id) VALUES ($1, $2, $3)"
                " ON CONFLICT (community, username) DO UPDATE SET user_id = excluded.user_id",
                [(cid, key, user) for key, user in rows.items()])

    async def user_by_username(self, ref: CommunityRef, username: str) -> str | None:
        """The member last seen with this username here, or None."""
        async with self._reading() as conn:
            found = await conn.fetchval(
                "SELECT u.user_id FROM usernames u JOIN communities c ON c.id = u.community"
                " WHERE c.platform = $1 AND c.external_id = $2 AND u.username = $3",
                ref.platform, ref.id, _username_key(username))
        return None if found is None else str(found)

    async def set_dm_open(self, user: UserRef, open: bool) -> None:
        """Record whether the bot may DM the user."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            if open:
                await conn.execute("INSERT INTO dm_contacts (platform, user_id) VALUES ($1, $2)"
                                   " ON CONFLICT DO NOTHING", user.platform, user.id)
            else:
                await conn.execute("DELETE FROM dm_contacts WHERE platform = $1 AND user_id = $2",
                                   user.platform, user.id)

    async def dm_open(self, user: UserRef) -> bool:
        """Whether the bot may DM the user."""
        async with self._reading() as conn:
            found = await conn.fetchval("SELECT 1 FROM dm_contacts WHERE platform = $1 AND user_id = $2",
                                        user.platform, user.id)
        return found is not None

    async def claim_notice(self, ref: CommunityRef, notice: str) -> bool:
        """True the first time a notice is claimed for a community, False ever after."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            status = await conn.execute("INSERT INTO community_notices (community, notice) VALUES ($1, $2)"
                                        " ON CONFLICT DO NOTHING", self._cids[ref], notice)
        return _status_count(status) == 1

    async def latest_message_ids(self, ref: CommunityRef) -> dict[str, str]:
        """The newest stored message id per channel (a skip scan over messages_by_channel)."""
        async with self._reading(snapshot=True) as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return {}
            rows = await conn.fetch(_LATEST_BY_CHANNEL, cid)
        return {channel: mid for channel, mid in rows if mid is not None}

    # -- weekly summaries: outbox and runs (issue #6) ---------------------------------------------
    async def outbox_enqueue(self, ref: CommunityRef, week: str, items: Iterable[tuple[str, str]]) -> int:
        """Add a pending row per (recipient, kind) the run does not have yet; returns how many were new."""
        self._check_open()
        recipients, kinds, nonces = [], [], []
        for recipient, kind in items:
            records.check_outbox(kind=kind)
            recipients.append(recipient)
            kinds.append(kind)
            nonces.append(records.nonce(ref.key, week, recipient, kind))
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            status = await conn.execute(
                "INSERT INTO outbox (community, week, recipient, kind, state, nonce)"
                " SELECT $1, $2, r, k, 'pending', n FROM unnest($3::text[], $4::text[], $5::text[]) AS x(r, k, n)"
                " ON CONFLICT (community, week, kind, recipient) DO NOTHING",
                self._cids[ref], week, recipients, kinds, nonces)
        return _status_count(status)

    async def outbox_claim(self, ref: CommunityRef, week: str, recipient: str, kind: str,
                           now: datetime) -> OutboxItem | None:
        """pending → claimed in one statement (attempts + 1); None when the row is not pending."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return None
            row = await conn.fetchrow(
                f"UPDATE outbox SET state = 'claimed', attempts = attempts + 1, claimed_at = $1"
                f" WHERE community = $2 AND week = $3 AND kind = $4 AND recipient = $5 AND state = 'pending'"
                f" RETURNING {_OUTBOX_COLUMNS}", _micros(now), cid, week, kind, recipient)
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
                    "UPDATE outbox SET state = $1, done_at = $2, detail = $3"
                    " WHERE community = $4 AND week = $5 AND kind = $6 AND recipient = $7",
                    state, done, detail, cid, week, kind, recipient)

    async def outbox_items(self, ref: CommunityRef, week: str, *, kind: str | None = None,
                           state: str | None = None) -> list[OutboxItem]:
        """Rows of one run (optionally one kind / state), ordered by (kind, recipient)."""
        records.check_outbox(kind=kind, state=state)
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return []
            rows = await conn.fetch(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE community = $1 AND week = $2"
                " AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR state = $4) ORDER BY kind, recipient",
                cid, week, kind, state)
        return [_outbox_item(r) for r in rows]

    async def start_summary_run(self, ref: CommunityRef, week: str, scheduled: datetime,
                                algorithm: str | None = None) -> SummaryRun:
        """Record the start of the run of `week` (an existing run is returned unchanged)."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            await self._ensure_communities({ref: None})
            cid = self._cids[ref]
            await conn.execute("INSERT INTO summary_runs (community, week, scheduled, algorithm)"
                               " VALUES ($1, $2, $3, $4) ON CONFLICT (community, week) DO NOTHING",
                               cid, week, _micros(scheduled), algorithm)
            row = await conn.fetchrow("SELECT week, scheduled, completed, algorithm FROM summary_runs"
                                      " WHERE community = $1 AND week = $2", cid, week)
        return _summary_run(row)

    async def finish_summary_run(self, ref: CommunityRef, week: str, now: datetime) -> None:
        """Mark the run of `week` completed."""
        self._check_open()
        async with self._write_lock, self._transaction() as conn:
            cid = await self._cid(conn, ref)
            if cid is not None:
                await conn.execute("UPDATE summary_runs SET completed = $1 WHERE community = $2 AND week = $3",
                                   _micros(now), cid, week)

    async def summary_runs(self, ref: CommunityRef, limit: int = 10) -> list[SummaryRun]:
        """The community's runs, latest scheduled first."""
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None:
                return []
            rows = await conn.fetch("SELECT week, scheduled, completed, algorithm FROM summary_runs"
                                    " WHERE community = $1 ORDER BY scheduled DESC, week DESC LIMIT $2",
                                    cid, max(0, limit))
        return [_summary_run(r) for r in rows]

    async def channel_responders(self, ref: CommunityRef, start: datetime,
                                 end: datetime) -> dict[str, dict[str, int]]:
        """Per author and channel: distinct other (non-bot) members who replied or reacted to their
        messages of start < ts <= end, by `end`."""
        lo, hi = _floor_epoch(start), _floor_epoch(end)
        async with self._reading() as conn:
            cid = await self._cid(conn, ref)
            if cid is None or hi <= lo:
                return {}
            rows = await conn.fetch(_CHANNEL_RESPONDERS, cid, lo, hi)
        out: dict[str, dict[str, int]] = {}
        for author, channel, n in rows:
            out.setdefault(author, {})[channel] = n
        return out


def _prefs(row: Sequence[Any]) -> MemberPrefs:
    hidden, opted_out, opted_in, weekly, locale = row
    return MemberPrefs(hidden=bool(hidden), opted_out=bool(opted_out), opted_in=bool(opted_in),
                       weekly=bool(weekly), locale=locale)
