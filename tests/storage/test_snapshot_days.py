"""Daily score snapshots keyed by day (migration 8): a day keeps its last save (written as snapshot
rows when a later day's scores replace it; until then the stored scores are that day's snapshot); a
member's snapshots are read and deleted through `snapshot_days` (one seek per day), on every
backend; old JSON rows are converted by the migration."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

import storage.migrations as migrations_module
import storage.postgres as postgres_module
import storage.sqlite as sqlite_module
from scoring.model import CommunityRef, UserRef, epoch
from scoring.result import MemberScore
from storage.base import Store
from storage.migrations import MIGRATIONS
from storage.postgres import PostgresStore
from storage.sqlite import _COMMUNITIES_OF, _DELETE_MEMBER, SqliteStore
from tests.factories import BASE, COMMUNITY
from tests.postgres import fresh_schema, require_postgres

OTHER = CommunityRef(COMMUNITY.platform, "other-guild")
DAY = epoch(BASE) // 86_400


def _board(scores: dict[str, int], algorithm: str = "clout-v1") -> list[MemberScore]:
    ranked = sorted(scores, key=lambda u: (-scores[u], u))
    return [MemberScore(user=u, score=scores[u], percentile=100.0 - i, rank=i + 1, influence=float(scores[u]),
                        reach=1.5, resonance=0.25, network=2.0, activity=1 / 3, algorithm=algorithm)
            for i, u in enumerate(ranked)]


async def _save(store: Store, ref: CommunityRef, day: int, scores: dict[str, int], hour: int = 12) -> None:
    await store.save_scores(ref, BASE + timedelta(days=day, hours=hour), "all", _board(scores))


async def _history(store: Store, ref: CommunityRef, user: str, since_day: int = -30) -> list[tuple[int, int]]:
    found = await store.score_history(ref, user, BASE + timedelta(days=since_day))
    return [(epoch(ts) // 86_400 - DAY, score) for ts, score in found]


def _exported(export: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    return {c["community"]: [(s["day"], s["score"]) for s in c["snapshots"]] for c in export["communities"]}


async def _three_days(store: Store) -> None:
    await _save(store, COMMUNITY, 0, {"ann": 50, "bob": 40, "cid": 30})
    await _save(store, COMMUNITY, 1, {"ann": 60, "bob": 45})
    await _save(store, COMMUNITY, 3, {"ann": 70, "bob": 20, "cid": 35})
    await _save(store, OTHER, 1, {"ann": 9, "dan": 8})


async def test_history_reads_each_members_days_in_each_community(store: Store) -> None:
    await _three_days(store)
    assert await _history(store, COMMUNITY, "ann") == [(0, 50), (1, 60), (3, 70)]
    assert await _history(store, COMMUNITY, "cid") == [(0, 30), (3, 35)]
    assert await _history(store, COMMUNITY, "ann", since_day=1) == [(1, 60), (3, 70)]
    assert await _history(store, OTHER, "ann") == [(1, 9)]
    assert await _history(store, OTHER, "bob") == []
    assert await _history(store, CommunityRef(COMMUNITY.platform, "nowhere"), "ann") == []


async def test_resaving_a_day_replaces_that_day_only(store: Store) -> None:
    await _three_days(store)
    # a later refresh of day 3: cid is no longer scored, bob's score changed
    await _save(store, COMMUNITY, 3, {"ann": 71, "bob": 25}, hour=18)
    assert await _history(store, COMMUNITY, "cid") == [(0, 30)]
    assert await _history(store, COMMUNITY, "bob") == [(0, 40), (1, 45), (3, 25)]
    assert await _history(store, COMMUNITY, "ann") == [(0, 50), (1, 60), (3, 71)]
    await _save(store, COMMUNITY, 3, {}, hour=20)  # an empty run empties its day
    assert await _history(store, COMMUNITY, "ann") == [(0, 50), (1, 60)]
    assert await _history(store, OTHER, "ann") == [(1, 9)]


async def test_other_periods_take_no_snapshot(store: Store) -> None:
    await _save(store, COMMUNITY, 0, {"ann": 50})
    await store.save_scores(COMMUNITY, BASE + timedelta(days=2), "week", _board({"ann": 10}))
    assert await _history(store, COMMUNITY, "ann") == [(0, 50)]


async def test_export_lists_the_snapshots_of_every_community(store: Store) -> None:
    await _three_days(store)
    ann = _exported(await store.export_user(UserRef(COMMUNITY.platform, "ann")))
    day = [(BASE + timedelta(days=d)).date().isoformat() for d in range(4)]
    assert ann == {COMMUNITY.key: [(day[0], 50), (day[1], 60), (day[3], 70)], OTHER.key: [(day[1], 9)]}
    assert _exported(await store.export_user(UserRef(COMMUNITY.platform, "dan"))) == {OTHER.key: [(day[1], 8)]}


async def test_snapshots_alone_make_a_community_the_members(store: Store) -> None:
    await _save(store, COMMUNITY, 0, {"ann": 50, "bob": 40})
    await _save(store, COMMUNITY, 1, {"bob": 41})  # ann has no current score, only a snapshot
    assert await store.score_of(COMMUNITY, "ann") is None
    assert await store.communities_of(UserRef(COMMUNITY.platform, "ann")) == [COMMUNITY]
    assert await store.communities_of(UserRef(COMMUNITY.platform, "eve")) == []


async def test_member_deletion_deletes_every_snapshot_of_the_member_in_that_community(store: Store) -> None:
    await _three_days(store)
    await _save(store, OTHER, 2, {"dan": 7})  # OTHER's day 1 becomes snapshot rows
    await store.delete_member_data(COMMUNITY, "ann")
    assert await _history(store, COMMUNITY, "ann") == []
    assert await _history(store, OTHER, "ann") == [(1, 9)]
    assert await _history(store, COMMUNITY, "bob") == [(0, 40), (1, 45), (3, 20)]
    assert await store.communities_of(UserRef(COMMUNITY.platform, "ann")) == [OTHER]
    if isinstance(store, SqliteStore | PostgresStore):
        assert await _raw_rows(store, "ann") == [(OTHER.id, DAY + 1)]


async def test_forget_user_deletes_their_snapshots_in_every_community(store: Store) -> None:
    await _three_days(store)
    ann = UserRef(COMMUNITY.platform, "ann")
    assert await store.forget_user(ann) == 2
    assert await _history(store, COMMUNITY, "ann") == [] and await _history(store, OTHER, "ann") == []
    assert _exported(await store.export_user(ann)) == {}
    assert await store.communities_of(ann) == []
    assert await _history(store, OTHER, "dan") == [(1, 8)]
    if isinstance(store, SqliteStore | PostgresStore):
        assert await _raw_rows(store, "ann") == []


async def test_a_day_saved_again_keeps_only_its_last_save_whatever_the_order_of_days(store: Store) -> None:
    await _save(store, COMMUNITY, 3, {"ann": 70, "cid": 35})
    await _save(store, COMMUNITY, 1, {"ann": 10})  # an earlier day saved after (e.g. a recompute as of then)
    assert await _history(store, COMMUNITY, "ann") == [(1, 10), (3, 70)]
    await _save(store, COMMUNITY, 3, {"ann": 75}, hour=18)  # day 3 again: cid no longer scored
    assert await _history(store, COMMUNITY, "ann") == [(1, 10), (3, 75)]
    assert await _history(store, COMMUNITY, "cid") == []
    await _save(store, COMMUNITY, 4, {"ann": 80})
    assert await _history(store, COMMUNITY, "ann") == [(1, 10), (3, 75), (4, 80)]
    assert await _history(store, COMMUNITY, "ann", since_day=3) == [(3, 75), (4, 80)]
    assert await _history(store, COMMUNITY, "cid") == []
    day = [(BASE + timedelta(days=d)).date().isoformat() for d in range(5)]
    assert _exported(await store.export_user(UserRef(COMMUNITY.platform, "ann"))) == {
        COMMUNITY.key: [(day[1], 10), (day[3], 75), (day[4], 80)]}


async def test_saves_of_one_day_write_no_snapshot_rows_until_another_day_replaces_them(store: Store) -> None:
    if not isinstance(store, SqliteStore | PostgresStore):
        pytest.skip("the memory store keeps only (day, score)")
    members = {f"u{i}": i + 1 for i in range(50)}
    for hour in (1, 5, 9, 13):  # a day's refreshes
        await _save(store, COMMUNITY, 0, members, hour=hour)
    assert await _raw_count(store) == 0
    assert await _history(store, COMMUNITY, "u7") == [(0, 8)]
    await _save(store, COMMUNITY, 1, {"u7": 9})
    assert await _raw_count(store) == 50  # day 0, in one insert
    assert await _history(store, COMMUNITY, "u7") == [(0, 8), (1, 9)]
    assert await _history(store, COMMUNITY, "u8") == [(0, 9)]


async def _raw_count(store: SqliteStore | PostgresStore) -> int:
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            (n,) = conn.execute("SELECT count(*) FROM score_snapshots").fetchone()
        conn.close()
        return int(n)
    async with store._reading() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM score_snapshots"))


async def _raw_rows(store: SqliteStore | PostgresStore, user: str) -> list[tuple[str, int]]:
    """(community external id, day) of every stored snapshot row of `user`, by a full scan."""
    sql = ("SELECT c.external_id, s.day FROM score_snapshots s JOIN communities c ON c.id = s.community"
           " WHERE s.user_id = {} ORDER BY 1, 2")
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            return [tuple(r) for r in conn.execute(sql.format("?"), (user,))]
    async with store._reading() as conn:
        return [tuple(r) for r in await conn.fetch(sql.format("$1"), user)]


async def test_snapshot_days_list_each_saved_day_with_its_algorithm(store: Store) -> None:
    if not isinstance(store, SqliteStore | PostgresStore):
        pytest.skip("the memory store keeps only (day, score)")
    await _save(store, COMMUNITY, 0, {"ann": 50})
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "all", _board({"ann": 5}, algorithm="clout-v2"))
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1, hours=3), "all", _board({"ann": 6}, "clout-v3"))
    await _save(store, COMMUNITY, 2, {"ann": 7})  # day 1 is listed when day 2's scores replace its own
    sql = "SELECT day, algorithm FROM snapshot_days ORDER BY day"
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            found = [tuple(r) for r in conn.execute(sql)]
    else:
        async with store._reading() as conn:
            found = [tuple(r) for r in await conn.fetch(sql)]
    assert found == [(DAY, "clout-v1"), (DAY + 1, "clout-v3")]


# -- migration 8 --------------------------------------------------------------------------------

@contextmanager
def _schema_cut_at(version: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Stores opened inside write the schema as it was at `version` (the migrations list cut there)."""
    cut = tuple(m for m in MIGRATIONS if m.version <= version)
    with monkeypatch.context() as patch:
        for module in (migrations_module, sqlite_module, postgres_module):
            patch.setattr(module, "MIGRATIONS", cut)
        if version < 9:  # PostgreSQL had no aggregate_rebuild queue to look at on open before migration 9
            patch.setattr(PostgresStore, "_rebuild_pending", _nothing)
        yield


async def _nothing(_store: object) -> None:
    return None


INF = float("inf")
# Old `components` texts as each writer spelled them: the SQL writer (compact, 17 digits, Infinity)
# and the earlier Python json.dumps (", " / ": " separators, repr digits, -Infinity, integers).
OLD_ROWS = [
    ("ann", DAY, 90, {"influence": 84440.883350304925, "reach": 75644.778607254542, "resonance": 0.45717320763188862,
                      "network": INF, "activity": 37.882968669198753, "percentile": 99.99914857386122, "rank": 1,
                      "algorithm": "clout-v1"}, (",", ":")),
    ("bob", DAY, 12, {"influence": 1e-20, "reach": -INF, "resonance": 123456789.12345679, "network": 5e-324,
                      "activity": 0, "percentile": 0.30000000000000004, "rank": 2, "algorithm": "clout-v1"},
     (", ", ": ")),
    ("ann", DAY + 1, 91, {"influence": 1e22, "reach": 1 / 3, "resonance": 2 / 3, "network": 1.0, "activity": 3,
                          "percentile": 100.0, "rank": 1, "algorithm": "clout-v0"}, (", ", ": ")),
]
CONVERTED = {(u, d): (s, c["percentile"], c["rank"], c["influence"], c["reach"], c["resonance"], c["network"],
                      c["activity"]) for u, d, s, c, _sep in OLD_ROWS}
CONVERTED_DAYS = [(DAY, "clout-v1"), (DAY + 1, "clout-v0")]
_NEW_COLUMNS = "user_id, day, score, percentile, rank, influence, reach, resonance, network, activity"


def _old_rows(cid: int) -> list[tuple[object, ...]]:
    return [(cid, u, d, s, json.dumps(c, separators=sep)) for u, d, s, c, sep in OLD_ROWS]


def _converted(found: list[Any]) -> dict[tuple[str, int], tuple[object, ...]]:
    return {(r[0], r[1]): tuple(r[2:]) for r in found}


async def test_migration_8_converts_old_sqlite_snapshots_exactly(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v7.db"
    with _schema_cut_at(7, monkeypatch):
        async with SqliteStore(path) as old:
            await old.save_scores(COMMUNITY, BASE, "week", _board({"ann": 1}))  # makes the community row
    with sqlite3.connect(path) as conn:
        assert [r[1] for r in conn.execute("PRAGMA table_info(score_snapshots)")] == [
            "community", "user_id", "day", "score", "components"]
        (cid,) = conn.execute("SELECT id FROM communities").fetchone()
        conn.executemany("INSERT INTO score_snapshots VALUES (?, ?, ?, ?, ?)", _old_rows(cid))
    conn.close()
    async with SqliteStore(path) as store:
        assert await _history(store, COMMUNITY, "ann") == [(0, 90), (1, 91)]
        await _save(store, COMMUNITY, 2, {"ann": 92})  # and saves go on in the new layout
        assert await _history(store, COMMUNITY, "ann") == [(0, 90), (1, 91), (2, 92)]
    with sqlite3.connect(path) as conn:
        found = conn.execute(f"SELECT {_NEW_COLUMNS} FROM score_snapshots WHERE day <= ?", (DAY + 1,)).fetchall()
        days = conn.execute("SELECT day, algorithm FROM snapshot_days WHERE day <= ? ORDER BY day",
                            (DAY + 1,)).fetchall()
        version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    conn.close()
    assert _converted(found) == CONVERTED
    assert days == CONVERTED_DAYS
    assert version == MIGRATIONS[-1].version


async def test_migration_8_runs_on_a_sqlite_database_without_snapshots(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "v7.db"
    with _schema_cut_at(7, monkeypatch):
        async with SqliteStore(path):
            pass
    async with SqliteStore(path) as store:
        assert await _history(store, COMMUNITY, "ann") == []
        await _save(store, COMMUNITY, 0, {"ann": 5})
        assert await _history(store, COMMUNITY, "ann") == [(0, 5)]


async def test_migration_8_converts_old_postgres_snapshots_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    url = require_postgres()
    async with fresh_schema(url) as schema:
        with _schema_cut_at(7, monkeypatch):
            async with PostgresStore(url, schema=schema) as old:
                await old.save_scores(COMMUNITY, BASE, "week", _board({"ann": 1}))
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
        try:
            cid = await conn.fetchval("SELECT id FROM communities")
            await conn.executemany("INSERT INTO score_snapshots VALUES ($1, $2, $3, $4, $5)", _old_rows(cid))
        finally:
            await conn.close()
        async with PostgresStore(url, schema=schema) as store:
            assert await _history(store, COMMUNITY, "ann") == [(0, 90), (1, 91)]
            async with store._reading() as conn:
                found = await conn.fetch(f"SELECT {_NEW_COLUMNS} FROM score_snapshots")
                days = [tuple(r) for r in await conn.fetch("SELECT day, algorithm FROM snapshot_days ORDER BY day")]
                keys = await conn.fetch(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                    " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'score_snapshots'::regclass"
                    " AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)")
        assert _converted(found) == CONVERTED
        assert days == CONVERTED_DAYS
        assert [k[0] for k in keys] == ["community", "day", "user_id"]


# -- query plans: a member's snapshots are seeks by (community, day, user_id), never a scan ------

_SEEK = "SEARCH score_snapshots USING PRIMARY KEY (community=? AND day=? AND user_id=?)"


def _plan(conn: sqlite3.Connection, sql: str, params: Any) -> str:
    return " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


async def test_sqlite_member_snapshot_queries_seek_one_key_per_day(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "c.db") as store:
        await _three_days(store)
    delete = next(sql for sql in _DELETE_MEMBER if sql.startswith("DELETE FROM score_snapshots"))
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("ANALYZE")  # the plans must hold with statistics, too
        plans = {
            "history": _plan(conn, sqlite_module._member_history("?1", "?2", "?3"), (1, "ann", DAY)),
            "export": _plan(conn, sqlite_module._member_history("?1", "?2"), (1, "ann")),
            "delete": _plan(conn, delete, {"cid": 1, "user": "ann"}),
            "communities_of": _plan(conn, _COMMUNITIES_OF, (COMMUNITY.platform, "ann")),
        }
        snap = sqlite_module._SNAPSHOT_SCORES
        insert, upsert, count, stale = (_plan(conn, sql, (1, DAY))
                                        for sql in (snap.insert, snap.upsert, snap.count, snap.stale))
        live = _plan(conn, sqlite_module._member_history("?1", "?2"), (1, "ann"))
    conn.close()
    for name, found in plans.items():
        assert _SEEK in found, (name, found)
        assert "SEARCH snapshot_days USING PRIMARY KEY (community=?" in found, (name, found)
        assert "SCAN score_snapshots" not in found, (name, found)
    # a save reads the scores in key order and touches only the day's key range
    assert insert == upsert == "SEARCH scores USING PRIMARY KEY (community=? AND period=?)"
    # the live day of a member: one seek in scores and one in score_runs
    assert "SEARCH r USING PRIMARY KEY (community=? AND period=?)" in live, live
    assert "SEARCH s USING PRIMARY KEY (community=? AND period=? AND user_id=?)" in live, live
    assert count == "SEARCH score_snapshots USING PRIMARY KEY (community=? AND day=?)"
    assert stale.startswith("SEARCH score_snapshots USING PRIMARY KEY (community=? AND day=?)"), stale


async def test_sqlite_one_members_scores_are_seeks_per_period(tmp_path: Path) -> None:
    """/mydata, /forgetme and /optout find a member's score rows by (community, period, user_id) for
    each period the community has scores of, not by reading the community's rank index."""
    async with SqliteStore(tmp_path / "c.db") as store:
        await _three_days(store)
    seek = "SEARCH {} USING PRIMARY KEY (community=? AND period=? AND user_id=?)"
    with sqlite3.connect(tmp_path / "c.db") as conn:
        conn.execute("ANALYZE")
        found = _plan(conn, _COMMUNITIES_OF, (COMMUNITY.platform, "ann"))
        assert seek.format("s") in found, found
        export = _plan(conn, f"SELECT period FROM scores WHERE community = ?1 AND {sqlite_module._scored('?1')}"
                             " AND user_id = ?2", (1, "ann"))
        assert export.startswith(seek.format("scores")), export
        for sql in _DELETE_MEMBER:
            if "scores" in sql and "position" not in sql and "snapshots" not in sql:
                found = _plan(conn, sql, {"cid": 1, "user": "ann"})
                assert seek.format("scores") in found and "scores_by_rank" not in found, (sql, found)
    conn.close()


async def test_postgres_stale_snapshot_rows_are_an_anti_join_not_a_scan_per_row() -> None:
    """Archiving a day saved before deletes the rows of members the scores no longer have: with a
    million scores `user_id NOT IN (SELECT …)` was a plain subplan (too big to hash), one scan of
    the scores per snapshot row; NOT EXISTS plans as an anti join."""
    url = require_postgres()
    async with fresh_schema(url) as schema, PostgresStore(url, schema=schema) as store:
        await _save(store, COMMUNITY, 0, {"ann": 50})
        async with store._reading() as conn:
            await conn.execute("SET work_mem = '64kB'")  # the smallest: nothing fits a hash of the subquery
            await conn.execute("INSERT INTO scores SELECT 1, 'all', 'u' || u, 1, 1, 1, 1, 1, 1, 1, 1, 'x', 0, u"
                               " FROM generate_series(1, 20000) u")
            await conn.execute(f"INSERT INTO score_snapshots SELECT 1, {DAY}, 'u' || u, 1, 1, 1, 1, 1, 1, 1, 1"
                               " FROM generate_series(1, 20000) u")
            await conn.execute("ANALYZE scores")
            await conn.execute("ANALYZE score_snapshots")
            found = await _pg_plan(conn, postgres_module._SNAPSHOT_SCORES.stale, 1, DAY)
    assert "Anti Join" in found and "SubPlan" not in found, found


async def test_postgres_member_snapshot_queries_seek_one_key_per_day() -> None:
    url = require_postgres()
    async with fresh_schema(url) as schema, PostgresStore(url, schema=schema) as store:
        await _three_days(store)
        async with store._reading() as conn:
            # 30 more days of 3,000 members and statistics, so the planner sees a table worth seeking in.
            await conn.execute("INSERT INTO snapshot_days SELECT 1, d, 'x' FROM generate_series(100, 129) d")
            await conn.execute("INSERT INTO score_snapshots SELECT 1, d, 'u' || u, 1, 1, 1, 1, 1, 1, 1, 1"
                               " FROM generate_series(100, 129) d, generate_series(1, 3000) u")
            await conn.execute("ANALYZE score_snapshots")
            await conn.execute("ANALYZE snapshot_days")
            plans = {
                "history": await _pg_plan(conn, sqlite_module._member_history("$1", "$2", "$3"), 1, "ann", DAY),
                "export": await _pg_plan(conn, sqlite_module._member_history("$1", "$2"), 1, "ann"),
                "delete": await _pg_plan(conn, next(sql for sql in postgres_module._DELETE_MEMBER
                                                    if sql.startswith("DELETE FROM score_snapshots")), 1, "ann"),
                "communities_of": await _pg_plan(conn, postgres_module._COMMUNITIES_OF, COMMUNITY.platform, "ann"),
            }
    for name, found in plans.items():
        assert "Seq Scan on score_snapshots" not in found, (name, found)
        assert "day = snapshot_days.day) AND (user_id = 'ann'::text))" in found, (name, found)


async def _pg_plan(conn: asyncpg.Connection, sql: str, *args: object) -> str:
    rows = await conn.fetch(f"EXPLAIN {sql}", *args)
    return " | ".join(r[0].strip() for r in rows)
