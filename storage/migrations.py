"""Numbered schema migrations for both SQL stores, applied in order and recorded in the database.

One ordered list serves SQLite and PostgreSQL: each migration carries the statements of each
backend (`statements` for SQLite, `postgres` for PostgreSQL) under the same version number, and
either list may be empty when a step concerns only one backend. Each migration's statements run
in one transaction together with the row that records it in `schema_migrations`. Migrations are only ever appended: a released one is never edited.
No table has a column for message text (a test checks every column name).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIGRATIONS", "Migration", "latest_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]          # SQLite
    postgres: tuple[str, ...] = ()       # PostgreSQL (storage/postgres.py)


_V1 = (
    """CREATE TABLE communities (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        external_id TEXT NOT NULL,
        name TEXT,
        UNIQUE (platform, external_id)
    )""",
    # `member` marks users seen authoring or reacting (CommunityInfo.members); `name_key` is the
    # casefolded name so find_member is an index lookup that also folds non-ASCII letters.
    """CREATE TABLE users (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        name TEXT,
        name_key TEXT,
        name_ts INTEGER,
        is_bot INTEGER NOT NULL DEFAULT 0,
        member INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (community, user_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX users_by_name ON users (community, name_key)",
    # Aggregation checks every author, responder and target against the (few) bots: a tiny
    # partial index keeps that lookup cheap.
    "CREATE INDEX users_bots ON users (community, user_id) WHERE is_bot = 1",
    # The event log. `reply_target` is the resolved author of `reply_to` (log, else hint),
    # updated when the target arrives. A deleted message keeps its row (deleted = 1) so that
    # replies to it still resolve; it stops counting itself.
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        author TEXT NOT NULL,
        channel TEXT,
        ts INTEGER NOT NULL,
        day INTEGER NOT NULL,
        reply_to TEXT,
        reply_hint TEXT,
        reply_target TEXT,
        deleted INTEGER NOT NULL DEFAULT 0,
        length INTEGER NOT NULL DEFAULT 0,
        has_link INTEGER NOT NULL DEFAULT 0,
        has_attachment INTEGER NOT NULL DEFAULT 0,
        UNIQUE (community, message_id)
    )""",
    # Day refreshes and first/last-event reads scan by time.
    "CREATE INDEX messages_by_time ON messages (community, ts)",
    # Pending references: replies waiting for (or pointing at) a message id.
    "CREATE INDEX messages_by_reply_to ON messages (community, reply_to) WHERE reply_to IS NOT NULL",
    """CREATE TABLE mentions (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (community, message_id, user_id)
    ) WITHOUT ROWID""",
    # Named reactions: one row per natural key, last (ts, removed) wins. The primary key also
    # finds the pending reactions on a message when that message arrives.
    """CREATE TABLE reactions (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        emoji TEXT NOT NULL,
        ts INTEGER NOT NULL,
        day INTEGER NOT NULL,
        removed INTEGER NOT NULL DEFAULT 0,
        target_hint TEXT,
        PRIMARY KEY (community, message_id, actor, emoji)
    ) WITHOUT ROWID""",
    "CREATE INDEX reactions_by_time ON reactions (community, ts)",
    """CREATE TABLE reaction_counts (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        emoji TEXT NOT NULL,
        ts INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (community, message_id, emoji)
    ) WITHOUT ROWID""",
    # Tombstones make deletes order-independent: a message or reaction arriving after its
    # delete is stored as deleted / dropped.
    """CREATE TABLE deleted_messages (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (community, message_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE member_day (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        messages INTEGER NOT NULL,
        counted INTEGER NOT NULL,
        anon INTEGER NOT NULL,
        PRIMARY KEY (community, day, user_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE pair_day (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        responder TEXT NOT NULL,
        target TEXT NOT NULL,
        replies INTEGER NOT NULL,
        mentions INTEGER NOT NULL,
        reactions INTEGER NOT NULL,
        PRIMARY KEY (community, day, responder, target)
    ) WITHOUT ROWID""",
    """CREATE TABLE scores (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        period TEXT NOT NULL,
        user_id TEXT NOT NULL,
        score INTEGER NOT NULL,
        percentile REAL NOT NULL,
        rank INTEGER NOT NULL,
        influence REAL NOT NULL,
        reach REAL NOT NULL,
        resonance REAL NOT NULL,
        network REAL NOT NULL,
        activity REAL NOT NULL,
        algorithm TEXT NOT NULL,
        as_of INTEGER NOT NULL,        -- microseconds since the epoch (UTC)
        position INTEGER NOT NULL,     -- 0-based place in rank order: any page is an index seek
        PRIMARY KEY (community, period, user_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX scores_by_rank ON scores (community, period, position)",
    # One row per saved run, so an empty run still records when and with which algorithm.
    """CREATE TABLE score_runs (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        period TEXT NOT NULL,
        as_of INTEGER NOT NULL,        -- microseconds since the epoch (UTC)
        algorithm TEXT NOT NULL,
        members INTEGER NOT NULL,
        PRIMARY KEY (community, period)
    ) WITHOUT ROWID""",
    """CREATE TABLE score_snapshots (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        score INTEGER NOT NULL,
        components TEXT NOT NULL,
        PRIMARY KEY (community, user_id, day)
    ) WITHOUT ROWID""",
)

# The chat layer's state. Settings and prefs hang off the community row (created on first use,
# before any event); link codes and account links are per person, across platforms.
_V2 = (
    """CREATE TABLE community_settings (
        community INTEGER PRIMARY KEY REFERENCES communities(id) ON DELETE CASCADE,
        summary_channel TEXT,
        weekday TEXT NOT NULL,
        hour INTEGER NOT NULL,
        timezone TEXT NOT NULL,
        language TEXT NOT NULL,
        excluded_channels TEXT NOT NULL,   -- JSON array of channel ids
        mode TEXT NOT NULL
    )""",
    """CREATE TABLE member_prefs (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        hidden INTEGER NOT NULL,
        opted_out INTEGER NOT NULL,
        opted_in INTEGER NOT NULL,
        weekly INTEGER NOT NULL,
        locale TEXT,
        PRIMARY KEY (community, user_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE link_codes (
        code TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        expires INTEGER NOT NULL       -- microseconds since the epoch (UTC)
    ) WITHOUT ROWID""",
    "CREATE INDEX link_codes_by_owner ON link_codes (platform, user_id)",
    # Linked accounts share a `person` number, so links are transitive (A-B and B-C: one person).
    """CREATE TABLE account_links (
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        person INTEGER NOT NULL,
        PRIMARY KEY (platform, user_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX account_links_by_person ON account_links (person)",
)

# Platform adapters (issue #5): a Telegram update names a mentioned member only by @username, so
# usernames seen on authors are kept per community (one current username per member); whether a
# member has started a private chat with the bot (Telegram bots may DM only those); and which
# one-time notices a community has been sent (the privacy-mode hint), so restarts do not repeat them.
_V5 = (
    """CREATE TABLE usernames (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        username TEXT NOT NULL,          -- casefolded, without '@'
        user_id TEXT NOT NULL,
        PRIMARY KEY (community, username)
    ) WITHOUT ROWID""",
    "CREATE INDEX usernames_by_user ON usernames (community, user_id)",
    """CREATE TABLE dm_contacts (
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (platform, user_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE community_notices (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        notice TEXT NOT NULL,
        PRIMARY KEY (community, notice)
    ) WITHOUT ROWID""",
)

# Discord backfill asks for the newest message of every channel (ChatStore.latest_message_ids): an
# index on (community, channel, ts) makes that a few index seeks per channel instead of a log scan.
_V6 = (
    "CREATE INDEX messages_by_channel ON messages (community, channel, ts)",
)

# Weekly summaries (issue #6): the durable outbox, one row per (community, ISO week of the scheduled
# time, recipient, kind), and one row per weekly run so a restart knows which weeks are done.
# Only ids are stored: a member's user id (personal) or a channel id (digest), never text.
_V4 = (
    """CREATE TABLE outbox (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        week TEXT NOT NULL,            -- ISO week of the scheduled time, e.g. 2026-W47
        recipient TEXT NOT NULL,       -- user id (personal) or channel id (digest)
        kind TEXT NOT NULL,            -- digest | personal
        state TEXT NOT NULL,           -- pending | claimed | sent | unreachable | gone | failed | uncertain
        nonce TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_at INTEGER,            -- microseconds since the epoch (UTC)
        done_at INTEGER,
        detail TEXT,                   -- a short machine reason for a failure state
        PRIMARY KEY (community, week, kind, recipient)
    ) WITHOUT ROWID""",
    # /forgetme and /optout find a member's rows by recipient.
    "CREATE INDEX outbox_by_recipient ON outbox (community, recipient)",
    """CREATE TABLE summary_runs (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        week TEXT NOT NULL,
        scheduled INTEGER NOT NULL,    -- microseconds since the epoch (UTC)
        completed INTEGER,
        algorithm TEXT,                -- the scoring algorithm of the run (a change is announced)
        PRIMARY KEY (community, week)
    ) WITHOUT ROWID""",
)


# The daily aggregates as one row per (community, day) instead of one row per member-day and
# pair-day (SQLite; PostgreSQL follows in migration 9, storage/packed.py). A day's rows are stored
# column-wise: `users` is the JSON array of the user ids the day names (sorted), `member_rows`
# and `pair_rows` are little-endian integer matrices (4 × members: user index into `users`,
# messages, counted, anonymous reactions; 5 × pairs: responder, target, replies, mentions,
# reactions), 4 or 8 bytes wide (width = length / (rows × columns)). Loading 90 days is 90 rows
# parsed in C instead of millions of rows through Python, and a refresh writes one row per day.
# The old rows are not converted here: every day they had is queued in `aggregate_rebuild`, and
# the store rebuilds those days from the event log (the source of truth) when it opens, in one
# transaction, before it serves anything.
_V7 = (
    """CREATE TABLE day_aggregates (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        users TEXT NOT NULL,
        members INTEGER NOT NULL,
        member_rows BLOB NOT NULL,
        pairs INTEGER NOT NULL,
        pair_rows BLOB NOT NULL,
        PRIMARY KEY (community, day)
    )""",
    """CREATE TABLE aggregate_rebuild (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        PRIMARY KEY (community, day)
    ) WITHOUT ROWID""",
    """INSERT OR IGNORE INTO aggregate_rebuild (community, day)
       SELECT DISTINCT community, day FROM member_day UNION SELECT DISTINCT community, day FROM pair_day""",
    "DROP TABLE member_day",
    "DROP TABLE pair_day",
)


# Daily score snapshots (issue #7): keyed (community, day, user_id) with typed columns instead of
# (community, user_id, day) with a JSON `components` text. Why: a save writes one snapshot row per
# member (1M at the largest community), and refreshes re-save the same day many times a day. Keyed
# by user, those rows landed on ~1M different pages spread over a table that grows every day, and
# the JSON (218 bytes a member-day, ~20 GB over 90 days of 1M members, formatted in SQL on every
# save) was never read back. Keyed by day, a save writes one contiguous key range, in key order,
# from the score rows just written (a day saved again is rewritten in place). The scoring
# algorithm is the same for a whole save, so it is kept once per (community, day) in
# `snapshot_days`; that table also lists the days of each community, so reading or deleting one
# member's snapshots is one primary-key seek per day (`day IN (SELECT day FROM snapshot_days …)
# AND user_id = ?`) without an index on user (which would bring the scattered writes back). Every
# (community, day) of `score_snapshots` has its `snapshot_days` row: deletions rely on it.
# (Later, in code only: the stores write a day's snapshot once, when a save of another day replaces
# that day's scores, and read the stored scores as the snapshot of their own day: `_archive_scores`.)
# The old rows are converted in SQL in this migration's transaction (json_extract reads back the
# very doubles written: 17 significant digits; Python's json and the SQL writer spelled
# infinities `Infinity`, which JSON parsers refuse, so they are read as 9e999 = +/-inf; Clout's
# algorithm names never contain that word).
_SNAPSHOT_DAYS_DDL = """CREATE TABLE snapshot_days (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        algorithm TEXT NOT NULL,
        PRIMARY KEY (community, day)
    )"""
_SNAPSHOTS_BY_DAY_DDL = """CREATE TABLE score_snapshots_by_day (
        community INTEGER NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        score INTEGER NOT NULL,
        percentile REAL NOT NULL,
        rank INTEGER NOT NULL,
        influence REAL NOT NULL,
        reach REAL NOT NULL,
        resonance REAL NOT NULL,
        network REAL NOT NULL,
        activity REAL NOT NULL,
        PRIMARY KEY (community, day, user_id)
    )"""
_SNAPSHOT_FIELDS = ("percentile", "rank", "influence", "reach", "resonance", "network", "activity")
_V8 = (
    _SNAPSHOT_DAYS_DDL + " WITHOUT ROWID",
    _SNAPSHOTS_BY_DAY_DDL + " WITHOUT ROWID",
    f"""INSERT INTO score_snapshots_by_day (community, day, user_id, score, {', '.join(_SNAPSHOT_FIELDS)})
       SELECT community, day, user_id, score, {', '.join(f"json_extract(j, '$.{f}')" for f in _SNAPSHOT_FIELDS)}
       FROM (SELECT community, day, user_id, score, replace(components, 'Infinity', '9e999') AS j
             FROM score_snapshots) ORDER BY community, day, user_id""",
    """INSERT INTO snapshot_days (community, day, algorithm)
       SELECT community, day, min(json_extract(replace(components, 'Infinity', '9e999'), '$.algorithm'))
       FROM score_snapshots GROUP BY community, day""",
    "DROP TABLE score_snapshots",
    "ALTER TABLE score_snapshots_by_day RENAME TO score_snapshots",
)


# -- PostgreSQL -------------------------------------------------------------------------------------
# The same tables and columns as SQLite (times as integer epoch seconds / microseconds, flags as
# 0/1 integers), so both stores share their SQL shapes and `clout migrate` can copy rows as they are.
# Differences: BIGINT for times and ids, DOUBLE PRECISION for REAL (PostgreSQL's REAL is 4 bytes),
# plain indexes for WITHOUT ROWID.

_PG_V1 = (
    """CREATE TABLE communities (
        id BIGSERIAL PRIMARY KEY,
        platform TEXT NOT NULL,
        external_id TEXT NOT NULL,
        name TEXT,
        UNIQUE (platform, external_id)
    )""",
    """CREATE TABLE users (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        name TEXT,
        name_key TEXT,
        name_ts BIGINT,
        is_bot INTEGER NOT NULL DEFAULT 0,
        member INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (community, user_id)
    )""",
    "CREATE INDEX users_by_name ON users (community, name_key)",
    "CREATE INDEX users_bots ON users (community, user_id) WHERE is_bot = 1",
    """CREATE TABLE messages (
        id BIGSERIAL PRIMARY KEY,
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        author TEXT NOT NULL,
        channel TEXT,
        ts BIGINT NOT NULL,
        day INTEGER NOT NULL,
        reply_to TEXT,
        reply_hint TEXT,
        reply_target TEXT,
        deleted INTEGER NOT NULL DEFAULT 0,
        length INTEGER NOT NULL DEFAULT 0,
        has_link INTEGER NOT NULL DEFAULT 0,
        has_attachment INTEGER NOT NULL DEFAULT 0,
        UNIQUE (community, message_id)
    )""",
    "CREATE INDEX messages_by_time ON messages (community, ts)",
    "CREATE INDEX messages_by_reply_to ON messages (community, reply_to) WHERE reply_to IS NOT NULL",
    """CREATE TABLE mentions (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (community, message_id, user_id)
    )""",
    """CREATE TABLE reactions (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        emoji TEXT NOT NULL,
        ts BIGINT NOT NULL,
        day INTEGER NOT NULL,
        removed INTEGER NOT NULL DEFAULT 0,
        target_hint TEXT,
        PRIMARY KEY (community, message_id, actor, emoji)
    )""",
    "CREATE INDEX reactions_by_time ON reactions (community, ts)",
    """CREATE TABLE reaction_counts (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        emoji TEXT NOT NULL,
        ts BIGINT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (community, message_id, emoji)
    )""",
    """CREATE TABLE deleted_messages (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        ts BIGINT NOT NULL,
        PRIMARY KEY (community, message_id)
    )""",
    """CREATE TABLE member_day (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        messages INTEGER NOT NULL,
        counted INTEGER NOT NULL,
        anon INTEGER NOT NULL,
        PRIMARY KEY (community, day, user_id)
    )""",
    """CREATE TABLE pair_day (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        responder TEXT NOT NULL,
        target TEXT NOT NULL,
        replies INTEGER NOT NULL,
        mentions INTEGER NOT NULL,
        reactions INTEGER NOT NULL,
        PRIMARY KEY (community, day, responder, target)
    )""",
    """CREATE TABLE scores (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        period TEXT NOT NULL,
        user_id TEXT NOT NULL,
        score INTEGER NOT NULL,
        percentile DOUBLE PRECISION NOT NULL,
        rank INTEGER NOT NULL,
        influence DOUBLE PRECISION NOT NULL,
        reach DOUBLE PRECISION NOT NULL,
        resonance DOUBLE PRECISION NOT NULL,
        network DOUBLE PRECISION NOT NULL,
        activity DOUBLE PRECISION NOT NULL,
        algorithm TEXT NOT NULL,
        as_of BIGINT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (community, period, user_id)
    )""",
    "CREATE INDEX scores_by_rank ON scores (community, period, position)",
    """CREATE TABLE score_runs (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        period TEXT NOT NULL,
        as_of BIGINT NOT NULL,
        algorithm TEXT NOT NULL,
        members INTEGER NOT NULL,
        PRIMARY KEY (community, period)
    )""",
    """CREATE TABLE score_snapshots (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        score INTEGER NOT NULL,
        components TEXT NOT NULL,
        PRIMARY KEY (community, user_id, day)
    )""",
)

_PG_V2 = (
    """CREATE TABLE community_settings (
        community BIGINT PRIMARY KEY REFERENCES communities(id) ON DELETE CASCADE,
        summary_channel TEXT,
        weekday TEXT NOT NULL,
        hour INTEGER NOT NULL,
        timezone TEXT NOT NULL,
        language TEXT NOT NULL,
        excluded_channels TEXT NOT NULL,
        mode TEXT NOT NULL
    )""",
    """CREATE TABLE member_prefs (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        hidden INTEGER NOT NULL,
        opted_out INTEGER NOT NULL,
        opted_in INTEGER NOT NULL,
        weekly INTEGER NOT NULL,
        locale TEXT,
        PRIMARY KEY (community, user_id)
    )""",
    """CREATE TABLE link_codes (
        code TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        expires BIGINT NOT NULL
    )""",
    "CREATE INDEX link_codes_by_owner ON link_codes (platform, user_id)",
    """CREATE TABLE account_links (
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        person BIGINT NOT NULL,
        PRIMARY KEY (platform, user_id)
    )""",
    "CREATE INDEX account_links_by_person ON account_links (person)",
)

_PG_V4 = (
    """CREATE TABLE outbox (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        week TEXT NOT NULL,
        recipient TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        nonce TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        claimed_at BIGINT,
        done_at BIGINT,
        detail TEXT,
        PRIMARY KEY (community, week, kind, recipient)
    )""",
    "CREATE INDEX outbox_by_recipient ON outbox (community, recipient)",
    """CREATE TABLE summary_runs (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        week TEXT NOT NULL,
        scheduled BIGINT NOT NULL,
        completed BIGINT,
        algorithm TEXT,
        PRIMARY KEY (community, week)
    )""",
)

_PG_V5 = (
    """CREATE TABLE usernames (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        username TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (community, username)
    )""",
    "CREATE INDEX usernames_by_user ON usernames (community, user_id)",
    """CREATE TABLE dm_contacts (
        platform TEXT NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (platform, user_id)
    )""",
    """CREATE TABLE community_notices (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        notice TEXT NOT NULL,
        PRIMARY KEY (community, notice)
    )""",
)

_PG_V6 = (
    "CREATE INDEX messages_by_channel ON messages (community, channel, ts)",
)


# Migration 8 on PostgreSQL (see _V8): jsonb refuses `Infinity` too, so it is quoted and read as
# the string float8 parses; finite numbers are kept exactly by jsonb (numeric) and parsed by float8.
_PG_SNAPSHOT_JSON = """(SELECT community, day, user_id, score,
        regexp_replace(components, '(-?Infinity)', '"\\1"', 'g')::jsonb AS j FROM score_snapshots)"""
_PG_V8 = (
    *(ddl.replace(" REAL", " DOUBLE PRECISION").replace("INTEGER NOT NULL REFERENCES", "BIGINT NOT NULL REFERENCES")
      for ddl in (_SNAPSHOT_DAYS_DDL, _SNAPSHOTS_BY_DAY_DDL)),
    f"""INSERT INTO score_snapshots_by_day (community, day, user_id, score, {', '.join(_SNAPSHOT_FIELDS)})
       SELECT community, day, user_id, score, {', '.join(
           f"(j->>'{f}')::{'integer' if f == 'rank' else 'float8'}" for f in _SNAPSHOT_FIELDS)}
       FROM {_PG_SNAPSHOT_JSON} old ORDER BY community, day, user_id""",
    f"""INSERT INTO snapshot_days (community, day, algorithm)
       SELECT community, day, min(j->>'algorithm') FROM {_PG_SNAPSHOT_JSON} old GROUP BY community, day""",
    "DROP TABLE score_snapshots",
    "ALTER TABLE score_snapshots_by_day RENAME TO score_snapshots",
    "ALTER INDEX score_snapshots_by_day_pkey RENAME TO score_snapshots_pkey",
)


# Migration 9 (issue #7): PostgreSQL's daily aggregates in SQLite's packed layout (see _V7 and
# storage/packed.py). PostgreSQL packed 17.8M member_day / pair_day rows into strings with
# string_agg on every 90-day read (34 s of a 95 s recompute at 1M members); now a read is 90 rows
# whose matrices numpy views as they are. `users` compares by code point ("C"), the order of its
# sorted JSON. The large values are stored out of line uncompressed (STORAGE EXTERNAL): pglz would
# compress them on every refresh and decompress them on every read, for little gain on
# integer matrices. As in migration 7 the old rows are not converted: their days are queued in
# `aggregate_rebuild` and the store rebuilds them from the event log when it opens, before serving.
_PG_V9 = (
    """CREATE TABLE day_aggregates (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        users TEXT COLLATE "C" NOT NULL,
        members INTEGER NOT NULL,
        member_rows BYTEA NOT NULL,
        pairs INTEGER NOT NULL,
        pair_rows BYTEA NOT NULL,
        PRIMARY KEY (community, day)
    )""",
    "ALTER TABLE day_aggregates ALTER COLUMN users SET STORAGE EXTERNAL,"
    " ALTER COLUMN member_rows SET STORAGE EXTERNAL, ALTER COLUMN pair_rows SET STORAGE EXTERNAL",
    """CREATE TABLE aggregate_rebuild (
        community BIGINT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
        day INTEGER NOT NULL,
        PRIMARY KEY (community, day)
    )""",
    """INSERT INTO aggregate_rebuild (community, day)
       SELECT community, day FROM member_day UNION SELECT community, day FROM pair_day""",
    "DROP TABLE member_day",
    "DROP TABLE pair_day",
)


# PostgreSQL: no foreign key from `scores` and `score_snapshots` to `communities`. Each save
# writes a million rows at the largest community (the scores, and on a new day the previous day's
# snapshot), and the key's check is a trigger per row: 6.3 s of an 18 s snapshot insert at 1M
# (EXPLAIN ANALYZE, docs/performance.md). Both tables are derived, written only by the store for a
# community row it has just made sure of, and a community row is never deleted, so the check
# guarded nothing. (SQLite checks a key with an index probe, no trigger; its tables keep theirs.)
_PG_V10 = (
    """DO $$ DECLARE r record; BEGIN
        FOR r IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
                 WHERE contype = 'f' AND conrelid IN ('scores'::regclass, 'score_snapshots'::regclass)
        LOOP EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.tbl, r.conname); END LOOP;
    END $$""",
)


def _c_collation(statements: tuple[str, ...]) -> tuple[str, ...]:
    """Text columns compare by code point ("C" collation), as SQLite and Python do, whatever the
    database's default locale: ties broken by id or name order the same on every backend."""
    return tuple(s.replace(" TEXT", ' TEXT COLLATE "C"') for s in statements)


_PG_V1, _PG_V2, _PG_V4, _PG_V5 = map(_c_collation, (_PG_V1, _PG_V2, _PG_V4, _PG_V5))
_PG_V8 = (*_c_collation(_PG_V8[:2]), *_PG_V8[2:])

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "event log, daily aggregates, scores", _V1, _PG_V1),
    Migration(2, "community settings, member prefs, link codes, account links", _V2, _PG_V2),
    Migration(4, "weekly summaries: outbox and runs", _V4, _PG_V4),
    Migration(5, "usernames, DM contacts, community notices", _V5, _PG_V5),
    Migration(6, "index of messages by channel (backfill positions)", _V6, _PG_V6),
    Migration(7, "SQLite: daily aggregates as one packed row per community day", _V7, ()),
    Migration(8, "score snapshots keyed by day, typed columns; snapshot_days", _V8, _PG_V8),
    Migration(9, "PostgreSQL: daily aggregates as one packed row per community day", (), _PG_V9),
    Migration(10, "PostgreSQL: no per-row foreign key check on scores and score snapshots", (), _PG_V10),
)


def latest_version() -> int:
    """The schema version this code writes."""
    return MIGRATIONS[-1].version
