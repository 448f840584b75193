"""PostgreSQL's daily aggregates as one packed row per community day (migration 9).

The rows must be SQLite's (migration 7) byte for byte; reads must equal SQLite's and the memory
store's for the same events (whole and cut days, numeric and other ids, bots, deletes, removed
reactions, a member's data deleted); to_json must quote ids exactly as json.dumps does, so the
day-name condition finds every id; a version-8 schema holding member_day / pair_day rows is
migrated and rebuilt from its log; `clout migrate` still moves the log both ways and rebuilds.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest

import storage.postgres as postgres_module
from scoring.daily import DailyAggregates
from scoring.engine import compute
from storage.memory import MemoryStore
from storage.migrations import MIGRATIONS
from storage.packed import pack_day
from storage.postgres import _DAY_NAMES, PostgresStore
from storage.sqlite import SqliteStore
from storage.transfer import transfer
from tests.factories import BASE, COMMUNITY, EventFactory
from tests.postgres import fresh_schema, postgres_store, require_postgres
from tests.storage.conftest import WIDE_END, WIDE_START, read, rows
from tests.storage.pg_target import schema_url
from tests.storage.test_contract import reference

DAY = 86_400
# Ids that JSON escapes (quote, backslash, every control character), non-ASCII (BMP, astral, the
# line separator Python leaves alone), the packing separator U+001F, and one id containing
# another's quoted form.
ODD = ['q"uote', "back\\slash", "".join(map(chr, range(1, 32))) + "\x7f", "ünï", 'x"ünï"', "😀\u2028", "a\x1fb",
       "Zed", "zed"]
NUMERIC = ["17", "-1002", "9007199254740993", "5"]
CUT = (BASE + timedelta(hours=5), BASE + timedelta(days=3, hours=7))  # first and last day cut


def _events(ids: list[str], tag: str = "") -> list:
    """Four days of messages, replies, mentions, named and anonymous reactions among `ids`, with a
    bot, a deleted message and a removed reaction."""
    f = EventFactory()
    out = []
    n = len(ids)
    for d in range(4):
        for i, user in enumerate(ids):
            t = d * DAY + i * 600
            a, b = ids[(i + 1) % n], ids[(i + 2) % n]
            m = f"{tag}m{d}.{i}"
            out += [f.msg(m, user, t), f.msg(f"{m}.turn", user, t + 30), f.reply(f"{m}.r", a, m, t + 70),
                    f.mention(f"{m}.n", b, user, a, when=t + 90), f.react(m, b, t + 120), f.anon(m, i + 1, t + 130)]
        out += [f.msg(f"{tag}bot{d}", "helper", d * DAY + 50, bot=True), f.react(f"{tag}m{d}.0", "helper", d * DAY + 60),
                f.reply(f"{tag}gone{d}", ids[0], f"{tag}m{d}.1", d * DAY + 800), f.delete(f"{tag}gone{d}", d * DAY + 900),
                f.react(f"{tag}m{d}.2", ids[3], d * DAY + 1000), f.unreact(f"{tag}m{d}.2", ids[3], d * DAY + 1100)]
    return out


@asynccontextmanager
async def _three(tmp_path: Path, url: str) -> AsyncIterator[tuple[MemoryStore, SqliteStore, PostgresStore]]:
    memory, sqlite = MemoryStore(), SqliteStore(tmp_path / "c.db")
    async with memory, sqlite, postgres_store(url) as pg:
        yield memory, sqlite, pg


def _columns(agg: DailyAggregates) -> tuple[Any, ...]:
    return (agg.users, *(np.asarray(getattr(agg, f), np.int64).tolist() for f in (
        "md_day", "md_user", "md_messages", "md_counted", "md_anon", "pd_day", "pd_responder", "pd_target",
        "pd_replies", "pd_mentions", "pd_reactions")))


async def _stored_days(store: SqliteStore | PostgresStore) -> list[tuple[Any, ...]]:
    sql = "SELECT day, users, members, member_rows, pairs, pair_rows FROM day_aggregates ORDER BY day"
    if isinstance(store, PostgresStore):
        async with store._reading() as conn:  # noqa: SLF001 - the stored layout is what is tested
            return [tuple(r) for r in await conn.fetch(sql)]
    with sqlite3.connect(store.path) as conn:
        found = conn.execute(sql).fetchall()
    conn.close()
    return found


@pytest.mark.parametrize("ids", [ODD, NUMERIC], ids=["odd", "numeric"])
async def test_postgres_day_rows_are_sqlites_byte_for_byte(tmp_path: Path, ids: list[str]) -> None:
    url = require_postgres()
    events = _events(ids)
    async with _three(tmp_path, url) as (_memory, sqlite, pg):
        for store in (sqlite, pg):
            await store.import_events(events)
        assert await _stored_days(pg) == await _stored_days(sqlite) != []


@pytest.mark.parametrize("ids", [ODD, NUMERIC, [*NUMERIC, "alice"]], ids=["odd", "numeric", "mixed"])
@pytest.mark.parametrize("window", [(WIDE_START, WIDE_END), CUT], ids=["whole", "cut"])
async def test_postgres_reads_equal_sqlite_and_memory(tmp_path: Path, ids: list[str], window: tuple) -> None:
    url = require_postgres()
    events = _events(ids)
    async with _three(tmp_path, url) as stores:
        for store in stores:
            for e in events:  # the live path: ingest, batches, refreshes
                await store.ingest(e)
            await store.flush()
        memory, sqlite, pg = [await s.aggregates(COMMUNITY, *window) for s in stores]
        assert rows(pg) == rows(sqlite) == rows(memory) == reference(events, *window)
        assert _columns(pg) == _columns(sqlite)  # one assembly: the same numbering, the same order
        assert rows(pg)[1]


async def test_postgres_member_deleted_and_bot_flagged_later_equal_sqlite(tmp_path: Path) -> None:
    url = require_postgres()
    events = _events(ODD)
    f = EventFactory()
    later = [f.msg("late-bot", ODD[5], 2 * DAY + 5, bot=True)]  # a member becomes a known bot
    async with _three(tmp_path, url) as stores:
        for store in stores:
            await store.import_events(events)
            await store.import_events(later)
            await store.delete_member_data(COMMUNITY, ODD[4])  # contains ODD[3]'s quoted form
        got = [await read(s) for s in stores]
        assert got[0] == got[1] == got[2]
        members, pairs = got[2]
        named = {r[1] for r in members} | {r[1] for r in pairs} | {r[2] for r in pairs}
        assert ODD[4] not in named and ODD[5] not in named and ODD[3] in named
        assert await _stored_days(stores[2]) == await _stored_days(stores[1])


async def test_to_json_quotes_ids_exactly_as_python_json() -> None:
    url = require_postgres()
    conn = await asyncpg.connect(url)
    try:
        for user in [*ODD, *map(chr, range(1, 160)), "\ufeff", "\U0010ffff"]:
            assert await conn.fetchval("SELECT to_json($1::text)::text", user) == json.dumps(user, ensure_ascii=False)
    finally:
        await conn.close()


async def test_the_day_name_condition_finds_every_odd_id() -> None:
    url = require_postgres()
    async with postgres_store(url) as store:
        await store.import_events(_events(ODD))
        sql = f"SELECT count(*) FROM day_aggregates a WHERE {_DAY_NAMES.format(a='a', u='$1')}"
        async with store._reading() as conn:  # noqa: SLF001
            counts = {user: await conn.fetchval(sql, user) for user in [*ODD, "q", "slash", "nobody", "ün", "ZED"]}
    assert all(counts[u] == 4 for u in ODD), counts
    assert counts["q"] == counts["slash"] == counts["nobody"] == counts["ün"] == counts["ZED"] == 0


async def test_ids_with_the_separator_fall_back_to_plain_rows_and_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    url = require_postgres()
    events = _events(["a\x1fb", "c", "\x1f", "d\x1f"])
    packed: list[tuple[bool, bool]] = []  # (packed rows?, split back?) of every packing
    real = postgres_module._pack_facts  # noqa: SLF001

    def spy(members: Any, pairs: Any, is_packed: bool) -> Any:
        got = real(members, pairs, is_packed)
        packed.append((is_packed, got is not None))
        return got

    monkeypatch.setattr(postgres_module, "_pack_facts", spy)
    async with postgres_store(url, batch_size=3) as store:
        for e in events:
            await store.ingest(e)
        await store.flush()
        for window in ((WIDE_START, WIDE_END), CUT):
            assert await read(store, *window) == reference(events, *window)
    assert (True, False) in packed and (False, True) in packed  # refused packed, then plain rows


def test_pack_day_sorts_users_by_code_point_and_rows_by_key() -> None:
    day = pack_day(1, 7, ["é", "Z", "a"], np.array([[1, 2, 3], [1, 1, 1], [0, 0, 4]]),
                   ["a", "Z", "a"], ["Z", "😀", "é"], np.array([[1, 0, 0], [0, 1, 0], [0, 0, 2]]))
    cid, d, users, mem, par = day
    assert (cid, d, users) == (1, 7, ["Z", "a", "é", "😀"])
    assert mem.tolist() == [[0, 1, 2], [2, 3, 1], [1, 1, 1], [0, 4, 0]]
    assert par.tolist() == [[0, 1, 1], [3, 0, 2], [0, 1, 0], [1, 0, 0], [0, 0, 2]]


# -- migration 9 -----------------------------------------------------------------------------------

_LOG_TABLES = ("communities", "users", "messages", "mentions", "reactions", "reaction_counts", "deleted_messages",
               "scores", "score_runs", "snapshot_days", "score_snapshots")


async def _version_8_copy(url: str, source: str, target: str, agg: DailyAggregates) -> None:
    """Schema `target` as version 8 left it (migrations 1..8 as released), holding the log and
    scores of schema `source` and the aggregates as member_day / pair_day rows."""
    conn = await asyncpg.connect(url, server_settings={"search_path": target})
    try:
        async with conn.transaction():
            await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                               " applied_at TEXT NOT NULL)")
            for m in MIGRATIONS:
                if m.version <= 8:
                    for sql in m.postgres:
                        await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, '2026-01-01T00:00:00+00:00')",
                                       m.version, m.name)
            for table in _LOG_TABLES:
                await conn.execute(f"INSERT INTO {target}.{table} SELECT * FROM {source}.{table}")
            for table in ("communities", "messages"):  # the copied ids are taken
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")
            cid = await conn.fetchval("SELECT id FROM communities")
            members, pairs = rows(agg)
            await conn.copy_records_to_table("member_day", records=[(cid, *r) for r in members])
            await conn.copy_records_to_table("pair_day", records=[(cid, *r) for r in pairs])
    finally:
        await conn.close()


async def test_version_8_schema_migrates_and_rebuilds_its_aggregates() -> None:
    url = require_postgres()
    events = _events(ODD)
    as_of = BASE + timedelta(days=5)
    async with fresh_schema(url) as source, fresh_schema(url) as old:
        async with PostgresStore(url, schema=source) as fresh:
            await fresh.import_events(events)
            agg = await fresh.aggregates(COMMUNITY, WIDE_START, WIDE_END)
            table = compute(await fresh.aggregates(COMMUNITY, as_of - timedelta(days=90), as_of), as_of)
            await fresh.save_scores(COMMUNITY, as_of, "all", table.members)
            fresh_days = await _stored_days(fresh)
        await _version_8_copy(url, source, old, agg)

        async with PostgresStore(url, schema=old) as store:
            assert await read(store) == rows(agg) == reference(events)
            assert await _stored_days(store) == fresh_days
            again = compute(await store.aggregates(COMMUNITY, as_of - timedelta(days=90), as_of), as_of)
            assert again.members == table.members
            late = EventFactory().reply("late", "plain", "m3.0", 3 * DAY + 5_000)
            await store.import_events([late])  # and it keeps working: the day refreshes as usual
            assert await read(store) == reference([*events, late])
        conn = await asyncpg.connect(url, server_settings={"search_path": old})
        try:
            versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
            gone = [await conn.fetchval("SELECT to_regclass($1)", t) for t in ("member_day", "pair_day")]
            pending = await conn.fetchval("SELECT count(*) FROM aggregate_rebuild")
        finally:
            await conn.close()
    assert versions == [m.version for m in MIGRATIONS]
    assert gone == [None, None]
    assert pending == 0


async def test_an_interrupted_rebuild_is_redone_on_open() -> None:
    url = require_postgres()
    events = _events(NUMERIC)
    async with fresh_schema(url) as schema:
        async with PostgresStore(url, schema=schema) as store:
            await store.import_events(events)
            before = await _stored_days(store)
            async with store._reading() as conn:  # noqa: SLF001 - as if a rebuild had not committed
                await conn.execute("INSERT INTO aggregate_rebuild SELECT community, day FROM day_aggregates")
                await conn.execute("DELETE FROM day_aggregates")
        # Two processes opening together: one rebuilds, the other finds nothing left to do.
        async with PostgresStore(url, schema=schema) as a, PostgresStore(url, schema=schema) as b:
            assert await _stored_days(a) == before
            assert await read(b) == reference(events)
            async with a._reading() as conn:  # noqa: SLF001
                assert await conn.fetchval("SELECT count(*) FROM aggregate_rebuild") == 0


async def test_concurrent_reads_each_see_the_whole_window() -> None:
    url = require_postgres()
    events = _events(NUMERIC)
    async with postgres_store(url, readers=2) as store:
        await store.import_events(events)
        reads = [store.aggregates(COMMUNITY, WIDE_START, WIDE_END) for _ in range(6)]
        got = await asyncio.wait_for(asyncio.gather(*reads), timeout=60)  # a guard, not a wait
    assert all(rows(g) == reference(events) for g in got)


# -- clout migrate -----------------------------------------------------------------------------------

async def test_clout_migrate_both_ways_rebuilds_the_packed_days(tmp_path: Path) -> None:
    url = require_postgres()
    events = _events(ODD) + _events(NUMERIC, tag="n")
    async with SqliteStore(tmp_path / "a.db") as source:
        await source.import_events(events)
        source_days = await _stored_days(source)
    async with fresh_schema(url) as schema:
        target = schema_url(url, schema)
        assert (await transfer(str(tmp_path / "a.db"), target)).status == "copied"
        async with PostgresStore(url, schema=schema) as pg:
            assert await _stored_days(pg) == source_days
            assert await read(pg) == reference(events)
        assert (await transfer(target, f"sqlite:///{tmp_path / 'back.db'}")).status == "copied"
    async with SqliteStore(tmp_path / "back.db") as back:
        assert await _stored_days(back) == source_days
        assert await read(back) == reference(events)
