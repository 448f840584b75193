"""Daily aggregates stored one packed row per community day (SQLite migration 7).

Contract cases (every backend, both write paths) for what the packed rows must get right: ids
that JSON has to escape, a user who becomes a bot after their days were stored, deleting a
member's data; then SQLite-only checks of the packing itself and of migrating a version-6
database (member_day / pair_day rows) with its data intact.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from scoring.engine import compute
from scoring.model import CommunityRef, Event, day_of, epoch
from storage.base import Store
from storage.migrations import MIGRATIONS
from storage.packed import blob as _blob
from storage.packed import matrix as _matrix
from storage.sqlite import SqliteStore
from tests.factories import BASE, COMMUNITY, EventFactory, msg, react, reply
from tests.storage.conftest import WIDE_END, WIDE_START, Write, read, rows
from tests.storage.test_contract import reference

DAY = 86_400
# Ids JSON escapes (quote, backslash, control characters), non-ASCII, and one id that contains
# another's quoted form, so a substring match alone would name the wrong member.
ODD = ['q"uote', "back\\slash", "tab\tnew\nline\x01", "ünï", "x\"ünï\"", "plain"]


async def test_odd_ids_round_trip(store: Store, write: Write) -> None:
    f = EventFactory()
    events = []
    for i, user in enumerate(ODD):
        other = ODD[(i + 1) % len(ODD)]
        events += [f.msg(f"m{i}", user, i * 100), f.reply(f"r{i}", other, f"m{i}", i * 100 + 70),
                   f.react(f"m{i}", ODD[(i + 2) % len(ODD)], i * 100 + 80),
                   f.mention(f"n{i}", user, other, when=DAY + i * 100)]
    await write(events)
    got = await read(store)
    assert got == reference(events)
    assert {r[1] for r in got[0]} == set(ODD)


async def test_member_turning_bot_drops_their_stored_days(store: Store, write: Write) -> None:
    # Each odd id is first seen as a person on day 0, day 1 they are flagged as a bot: every
    # stored day they take part in, as member, responder or target, must lose them.
    f = EventFactory()
    first = []
    for i, user in enumerate(ODD):
        first += [f.msg(f"m{i}", user, i * 100), f.reply(f"r{i}", "alice", f"m{i}", i * 100 + 70),
                  f.react(f"m{i}", "bob", i * 100 + 80), f.mention(f"n{i}", "carol", user, when=i * 100 + 90)]
    await write(first)
    later = [f.msg("b1", ODD[1], DAY, bot=True), f.react("m0", ODD[4], DAY + 10, bot=True)]
    await write(later)
    members, pairs = await read(store)
    assert (members, pairs) == reference([*first, *later])
    gone = {ODD[1], ODD[4]}
    assert not gone & {r[1] for r in members}
    assert not gone & ({r[1] for r in pairs} | {r[2] for r in pairs})
    assert {ODD[0], ODD[3]} <= {r[2] for r in pairs}  # the others still count


async def test_deleting_a_member_with_an_odd_id_rebuilds_their_days(store: Store, write: Write) -> None:
    f = EventFactory()
    gone, stays = ODD[4], ODD[3]  # the gone id contains the quoted form of the one that stays
    events = [f.msg("m1", gone, 0), f.reply("m2", stays, "m1", 100), f.msg("m3", stays, DAY),
              f.reply("m4", gone, "m3", DAY + 100), f.react("m3", gone, DAY + 200)]
    await write(events)
    await store.delete_member_data(COMMUNITY, gone)
    members, pairs = await read(store)
    d0 = day_of(epoch(BASE))
    assert members == [(d0, stays, 1, 1, 0), (d0 + 1, stays, 1, 1, 0)]  # her reply stays, uncredited
    assert pairs == []


# -- SQLite only ------------------------------------------------------------------------------------

def test_blob_width_follows_the_values() -> None:
    small = np.array([[0, 1, 2], [2**31 - 1, -(2**31), 5]], np.int64)
    big = np.array([[0, 1], [2**31, -5]], np.int64)
    assert len(_blob(small)) == small.size * 4
    assert len(_blob(big)) == big.size * 8
    for m in (small, big, np.zeros((4, 0), np.int64)):
        back = _matrix(_blob(m), m.shape[0], m.shape[1])
        assert back.dtype == np.int64
        assert np.array_equal(back, m)


def _sample() -> list:
    f = EventFactory()
    events = f.conversation(("c1", "alice"), ("c2", "bob"), ("c3", "carol"), ("c4", "alice"), gap=90)
    for d in range(4):
        events += [msg(f"d{d}", "dave", d * DAY + 10, mentions=["alice", "erin"]),
                   reply(f"e{d}", "erin", f"d{d}", d * DAY + 200), react(f"d{d}", "bob", d * DAY + 300),
                   msg(f"bot{d}", "helper", d * DAY + 400, bot=True), react(f"d{d}", "helper", d * DAY + 500)]
    return events


# (Not score_snapshots: its layout changed in migration 8; tests/storage/test_snapshot_days.py covers that.)
_LOG_TABLES = ("communities", "users", "messages", "mentions", "reactions", "reaction_counts", "deleted_messages",
               "scores", "score_runs")


async def _v6_copy(source: Path, target: Path, member_rows: list, pair_rows: list) -> None:
    """A version-6 database: migrations 1..6 applied as they were released, the log and scores of
    `source` copied in, and the aggregates as member_day / pair_day rows (what version 6 stored)."""
    conn = sqlite3.connect(target)
    try:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at TEXT NOT NULL)")
        for m in MIGRATIONS:
            if m.version <= 6:
                for sql in m.statements:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00+00:00')",
                             (m.version, m.name))
        conn.execute("ATTACH DATABASE ? AS src", (str(source),))
        for table in _LOG_TABLES:
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM src.{table}")
        (cid,) = conn.execute("SELECT id FROM communities").fetchone()
        conn.executemany("INSERT INTO member_day VALUES (?, ?, ?, ?, ?, ?)", [(cid, *r) for r in member_rows])
        conn.executemany("INSERT INTO pair_day VALUES (?, ?, ?, ?, ?, ?, ?)", [(cid, *r) for r in pair_rows])
        conn.commit()
    finally:
        conn.close()


async def test_version_6_database_migrates_with_its_data_intact(tmp_path: Path) -> None:
    events = _sample()
    as_of = BASE + timedelta(days=5)
    async with SqliteStore(tmp_path / "new.db") as fresh:
        await fresh.import_events(events)
        agg = await fresh.aggregates(COMMUNITY, WIDE_START, WIDE_END)
        table = compute(await fresh.aggregates(COMMUNITY, as_of - timedelta(days=90), as_of), as_of)
        await fresh.save_scores(COMMUNITY, as_of, "all", table.members)
    members, pairs = rows(agg)
    assert (members, pairs) == reference(events) and pairs
    old = tmp_path / "v6.db"
    await _v6_copy(tmp_path / "new.db", old, members, pairs)

    async with SqliteStore(old) as store:
        assert await read(store) == (members, pairs)
        again = compute(await store.aggregates(COMMUNITY, as_of - timedelta(days=90), as_of), as_of)
        assert [(m.user, m.score, m.rank) for m in again.members] == [(m.user, m.score, m.rank) for m in table.members]
        assert await store.leaderboard(COMMUNITY, "all", 0, 0) == await _board(tmp_path / "new.db")
        # and it keeps working: a new event refreshes its day as usual
        await store.import_events([reply("late", "alice", "d3", 3 * DAY + 900)])
        assert await read(store) == reference([*events, reply("late", "alice", "d3", 3 * DAY + 900)])
    with sqlite3.connect(old) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        pending = conn.execute("SELECT count(*) FROM aggregate_rebuild").fetchone()[0]
    conn.close()
    assert versions == [m.version for m in MIGRATIONS]
    assert "member_day" not in tables and "pair_day" not in tables
    assert pending == 0


async def _board(path: Path) -> list:
    async with SqliteStore(path) as store:
        return await store.leaderboard(COMMUNITY, "all", 0, 0)


async def test_an_interrupted_rebuild_is_redone_on_open(tmp_path: Path) -> None:
    # As if the process stopped after migration 7 committed but before the rebuild did.
    events = _sample()
    path = tmp_path / "c.db"
    async with SqliteStore(path) as store:
        await store.import_events(events)
        before = await read(store)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO aggregate_rebuild SELECT community, day FROM day_aggregates")
        conn.execute("DELETE FROM day_aggregates")
    conn.close()
    async with SqliteStore(path) as store:
        assert await read(store) == before == reference(events)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM aggregate_rebuild").fetchone()[0] == 0
    conn.close()


async def test_failed_pipelined_import_keeps_nothing_and_the_next_one_works(store: Store) -> None:
    # With two events per chunk (the -batch2 stores) the chunk holding a new community is being
    # staged, its community row already created in the transaction, when the source fails.
    other = EventFactory(community=CommunityRef("test", "c2"))
    good = [msg("m1", "alice", 0), reply("m2", "bob", "m1", 60), react("m1", "carol", 90)]

    def source() -> Iterator[Event]:
        yield from good
        yield other.msg("o1", "dave", 100)
        yield other.msg("o2", "erin", 200)
        raise ValueError("line 6: not JSON")

    with pytest.raises(ValueError, match="line 6"):
        await store.import_events(source())
    assert await read(store) == ([], [])
    assert await store.community(other.community) is None
    assert await store.communities() == []
    both = [*good, other.msg("o1", "dave", 100), other.reply("o2", "erin", "o1", 200)]
    stats = await store.import_events(both)
    assert (stats.events, stats.new) == (5, 5)
    assert await read(store) == reference(good)
    assert [c.ref for c in await store.communities()] == sorted([COMMUNITY, other.community], key=lambda r: r.key)
