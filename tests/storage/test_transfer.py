"""`storage.transfer`: a whole Clout database copied SQLite → PostgreSQL (and back), table for table.

The source holds the repository's importer fixtures, the real exports of ../shared/data when present,
and chat-layer state (settings, prefs, link codes and links, usernames, DM contacts, notices, scores
and snapshots, outbox and summary runs). The PostgreSQL side runs in a fresh schema of the
CLOUT_TEST_POSTGRES server and skips without one.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.chat.service import ScoreService
from bot.importers import READERS
from scoring.model import CommunityRef, UserRef
from storage import transfer as transfer_module
from storage.base import CommunitySettings, LinkCode, MemberPrefs, SchemaTooNewError
from storage.postgres import PostgresStore
from storage.sqlite import DERIVED_TABLES as SQLITE_DERIVED
from storage.sqlite import SqliteStore
from storage.transfer import PROGRESS_TABLE, TransferError, convert_rows, converters, transfer
from tests.factories import BASE, EventFactory
from tests.postgres import fresh_schema
from tests.storage.conftest import rows
from tests.storage.pg_target import pg_fixture, schema_url, target_fixture  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "importers"
SHARED = ROOT.parent / "shared" / "data"
REAL_EXPORTS = [("discord", SHARED / "discord-tyrrrz-open-source" / "discord-chat-exporter-channel.json"),
                ("telegram", SHARED / "telegram-personal-adobyy" / "result.json"),
                ("telegram", SHARED / "telegram-channel-cs-programming" / "result.json")]
CHAT = CommunityRef("test", "chat")
# Not copied: bookkeeping, and the daily aggregates (each backend rebuilds its own from the log).
BOOKKEEPING = {"schema_migrations", PROGRESS_TABLE, *SQLITE_DERIVED}


async def _fill(path: Path) -> None:
    """Import every fixture (and the real exports when present) and add chat-layer state."""
    store = SqliteStore(path)
    await store.open()
    try:
        for fmt, file in [("discord", FIXTURES / "discordchatexporter.json"), ("events", FIXTURES / "events.jsonl"),
                          ("telegram", FIXTURES / "telegram_supergroup.json"), *REAL_EXPORTS]:
            if file.is_file():
                await store.import_events(READERS[fmt](file))
        f = EventFactory(community=CHAT)
        await store.import_events([
            f.msg("m1", "alice", 0, name="Alice"), f.reply("m2", "bob", "m1", 70, mentions=["carol"]),
            f.react("m1", "carol", 90), f.anon("m2", 3, 100), f.msg("m3", "dave", 200, bot=True),
            f.msg("m4", "carol", 300), f.delete("m4", 400), f.reply("m5", "alice", "m2", 86_400 * 3)])
        await store.set_community_settings(CHAT, CommunitySettings(summary_channel="general", weekday="fri", hour=17,
                                                                   timezone="Europe/Berlin", language="de",
                                                                   excluded_channels=("spam",), mode="optin"))
        await store.set_member_prefs(CHAT, "alice", MemberPrefs(hidden=True, opted_in=True, weekly=True, locale="de"))
        await store.set_member_prefs(CHAT, "bob", MemberPrefs(weekly=True))
        now = BASE + timedelta(days=5)
        await store.save_link_code(LinkCode("LINKAB", UserRef("test", "alice"), now + timedelta(hours=1)))
        assert await store.redeem_link_code("LINKAB", UserRef("discord", "alice-d"), now) is not None
        await store.save_link_code(LinkCode("OPENCD", UserRef("test", "bob"), now + timedelta(hours=1)))
        await store.remember_usernames(CHAT, {"Alice_A": "alice", "bobby": "bob"})
        await store.set_dm_open(UserRef("test", "alice"), True)
        assert await store.claim_notice(CHAT, "privacy-mode")
        for info in await store.communities():
            assert info.last_event is not None
            await ScoreService(store, clock=lambda: now).refresh(info.ref, as_of=info.last_event)
        await store.outbox_enqueue(CHAT, "2026-W10", [("general", "digest"), ("alice", "personal"),
                                                      ("bob", "personal")])
        await store.outbox_claim(CHAT, "2026-W10", "alice", "personal", now)
        await store.outbox_mark(CHAT, "2026-W10", "alice", "personal", "sent", now)
        await store.outbox_mark(CHAT, "2026-W10", "bob", "personal", "unreachable", now, detail="dm-closed")
        await store.start_summary_run(CHAT, "2026-W10", now, algorithm="clout-v1")
        await store.finish_summary_run(CHAT, "2026-W10", now + timedelta(minutes=5))
    finally:
        await store.close()


@pytest.fixture(scope="module")
def source_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The filled SQLite source, built once; tests copy the file when they change it."""
    path = tmp_path_factory.mktemp("transfer") / "source.db"
    asyncio.run(_fill(path))
    return path


def source_tables(path: Path) -> dict[str, list[str]]:
    """Every table of a SQLite file except bookkeeping, with its key (rowid when it has none)."""
    con = sqlite3.connect(path)
    try:
        out = {}
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"):
            if name not in BOOKKEEPING:
                info = con.execute(f'PRAGMA table_info("{name}")').fetchall()
                out[name] = [r[1] for r in info]
        return out
    finally:
        con.close()


def sqlite_rows(path: Path, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        return sorted(con.execute(f'SELECT {cols} FROM "{table}"').fetchall(), key=repr)
    finally:
        con.close()


async def pg_rows(url: str, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        return sorted((tuple(r) for r in await conn.fetch(f'SELECT {cols} FROM "{table}"')), key=repr)
    finally:
        await conn.close()


async def assert_same_tables(path: Path, url: str) -> None:
    for table, columns in source_tables(path).items():
        assert await pg_rows(url, table, columns) == sqlite_rows(path, table, columns), table


async def pg_schema_objects(url: str) -> set[tuple[str, str]]:
    """Index and constraint definitions of the schema a URL names."""
    conn = await asyncpg.connect(url)
    try:
        indexes = await conn.fetch("SELECT indexname, regexp_replace(indexdef, ' ON [^ ]+\\.', ' ON ')"
                                   " FROM pg_indexes WHERE schemaname = current_schema()")
        constraints = await conn.fetch("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                                       " WHERE connamespace = current_schema()::regnamespace")
    finally:
        await conn.close()
    return {(r[0], r[1]) for r in [*indexes, *constraints] if not r[0].startswith(PROGRESS_TABLE)}


def sqlite_indexes(path: Path) -> set[tuple[str, str]]:
    con = sqlite3.connect(path)
    try:
        return set(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    finally:
        con.close()


@pytest.fixture
def source_copy(source_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "source.db"
    src = sqlite3.connect(source_db)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return copy


# -- the whole copy ---------------------------------------------------------------------------------

async def test_transfer_copies_every_table_row_for_row(source_db: Path, target: str) -> None:
    tables = source_tables(source_db)
    empty = [t for t, cols in tables.items() if not sqlite_rows(source_db, t, cols)]
    assert not empty, f"populate {empty} in _fill so that their copy is checked"
    report = await transfer(str(source_db), target, chunk_rows=700)
    assert report.status == "copied"
    assert {t.table for t in report.tables} == set(tables)  # no table left behind
    assert report.rows == report.copied == sum(len(sqlite_rows(source_db, t, c)) for t, c in tables.items())
    await assert_same_tables(source_db, target)


async def test_transfer_real_exports_are_copied(source_db: Path, target: str) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    await transfer(str(source_db), target)
    conn = await asyncpg.connect(target)
    try:
        keys = {(r[0], r[1]) for r in await conn.fetch("SELECT platform, external_id FROM communities")}
        messages = await conn.fetchval(
            "SELECT count(*) FROM messages m JOIN communities c ON c.id = m.community WHERE c.platform = 'discord'"
            " AND c.external_id = '869237470565392384'")
    finally:
        await conn.close()
    assert {("discord", "869237470565392384"), ("telegram", "836495468"), ("telegram", "-1001309924870")} <= keys
    assert messages == 1_691


async def _store_view(store: Any) -> dict[str, Any]:
    """What the bot reads, through the store contract."""
    view: dict[str, Any] = {"communities": await store.communities()}
    for info in view["communities"]:
        ref = info.ref
        view[f"{ref.key}/scores"] = await store.stored_scores(ref)
        view[f"{ref.key}/leaderboard"] = await store.leaderboard(ref, "all", 0, 0)
        view[f"{ref.key}/week"] = await store.leaderboard(ref, "week", 0, 0)
        view[f"{ref.key}/settings"] = await store.community_settings(ref)
        view[f"{ref.key}/invisible"] = await store.invisible_members(ref)
        view[f"{ref.key}/weekly"] = await store.weekly_subscribers(ref)
        last = info.last_event
        assert last is not None
        view[f"{ref.key}/recomputed"] = (await ScoreService(store, clock=lambda last=last: last).table(
            ref, last)).members
        view[f"{ref.key}/aggregates"] = rows(await store.aggregates(ref, last - timedelta(days=400), last))
        top = view[f"{ref.key}/leaderboard"][:3]
        for m in top:
            view[f"{ref.key}/{m.user}"] = (await store.score_of(ref, m.user),
                                           await store.score_history(ref, m.user, last - timedelta(days=90)))
    view["prefs"] = await store.member_prefs(CHAT, "alice")
    view["links"] = await store.linked_accounts(UserRef("test", "alice"))
    view["username"] = await store.user_by_username(CHAT, "bobby")
    view["dm"] = await store.dm_open(UserRef("test", "alice"))
    view["outbox"] = await store.outbox_items(CHAT, "2026-W10")
    view["runs"] = await store.summary_runs(CHAT)
    view["export"] = await store.export_user(UserRef("test", "alice"))
    return view


async def test_transfer_scores_and_chat_state_read_the_same_through_postgres(source_db: Path, pg: str) -> None:
    async with fresh_schema(pg) as schema:
        await transfer(str(source_db), schema_url(pg, schema))
        sqlite_store = SqliteStore(source_db)
        await sqlite_store.open()
        try:
            expected = await _store_view(sqlite_store)
        finally:
            await sqlite_store.close()
        async with PostgresStore(pg, schema=schema) as pg_store:
            assert await _store_view(pg_store) == expected
            # The id sequence moved past the copied ids: a new community gets a fresh one.
            await pg_store.import_events([EventFactory(community=CommunityRef("test", "new")).msg("n1", "zed")])
            ids = [r[0] for r in await pg_rows(schema_url(pg, schema), "communities", ["id"])]
            assert len(ids) == len(set(ids)) == len(expected["communities"]) + 1


async def test_transfer_back_from_postgres_to_sqlite_gives_the_same_tables(source_db: Path, target: str,
                                                                           tmp_path: Path) -> None:
    await transfer(str(source_db), target)
    back = tmp_path / "back.db"
    report = await transfer(target, f"sqlite:///{back}", chunk_rows=999)
    assert report.status == "copied"
    for table, columns in source_tables(source_db).items():
        assert sqlite_rows(back, table, columns) == sqlite_rows(source_db, table, columns), table
    assert sqlite_indexes(back) == sqlite_indexes(source_db)


# -- resuming -------------------------------------------------------------------------------------

class Crash(Exception):
    pass


def crash_after(chunks: int) -> Any:
    seen = {"calls": 0}

    def progress(table: str, done: int, total: int) -> None:
        seen["calls"] += 1
        if seen["calls"] > chunks:
            raise Crash(table)

    return progress


async def test_transfer_interrupted_after_some_chunks_resumes_and_ends_equal(source_db: Path, target: str,
                                                                             pg: str) -> None:
    with pytest.raises(Crash):
        await transfer(str(source_db), target, chunk_rows=500, progress=crash_after(12))
    report = await transfer(str(source_db), target, chunk_rows=500)
    assert report.status == "resumed"
    assert 0 < report.copied < report.rows
    await assert_same_tables(source_db, target)
    again = await transfer(str(source_db), target)
    assert again.status == "already_done" and again.copied == 0 and again.rows == report.rows
    # The indexes and foreign keys dropped for the copy are all back, as a fresh schema has them.
    async with fresh_schema(pg) as schema:
        async with PostgresStore(pg, schema=schema):
            pass
        expected = await pg_schema_objects(schema_url(pg, schema))
    assert await pg_schema_objects(target) == expected
    assert any(name == "messages_by_channel" for name, _ in expected)


async def test_transfer_failure_inside_a_chunk_rolls_it_back_and_resumes(source_db: Path, target: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real = transfer_module._Postgres.write
    calls = {"n": 0}

    async def write_then_fail(self: Any, table: str, columns: Any, rows: Any, progress: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 9:
            async with self.conn.transaction():  # the rows land, then the chunk dies before its commit
                await self.conn.copy_records_to_table(table, records=rows, columns=list(columns))
                raise Crash(table)
        await real(self, table, columns, rows, progress)

    monkeypatch.setattr(transfer_module._Postgres, "write", write_then_fail)
    with pytest.raises(Crash):
        await transfer(str(source_db), target, chunk_rows=400)
    monkeypatch.setattr(transfer_module._Postgres, "write", real)
    report = await transfer(str(source_db), target, chunk_rows=400)
    assert report.status == "resumed"
    await assert_same_tables(source_db, target)


async def test_transfer_lost_connection_is_one_sentence_and_resumes(source_db: Path, target: str, pg: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real = transfer_module._Postgres.insert
    calls = {"n": 0}

    async def insert_after_the_server_drops_us(self: Any, table: str, columns: Any, rows: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 6:
            admin = await asyncpg.connect(pg)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", self.conn.get_server_pid())
            finally:
                await admin.close()
        await real(self, table, columns, rows)

    with monkeypatch.context() as patch:
        patch.setattr(transfer_module._Postgres, "insert", insert_after_the_server_drops_us)
        with pytest.raises(TransferError, match="run the same command again to continue"):
            await transfer(str(source_db), target, chunk_rows=400)
    report = await transfer(str(source_db), target, chunk_rows=400)
    assert report.status == "resumed"
    await assert_same_tables(source_db, target)


async def test_transfer_cancelled_like_ctrl_c_resumes(source_db: Path, target: str) -> None:
    task = asyncio.create_task(transfer(str(source_db), target, chunk_rows=300,
                                        progress=lambda table, done, total: done > 3000 and task.cancel()))
    with pytest.raises(asyncio.CancelledError):
        await task
    report = await transfer(str(source_db), target, chunk_rows=300)
    assert report.status == "resumed"
    await assert_same_tables(source_db, target)


# -- refusing and forcing -------------------------------------------------------------------------

async def test_transfer_refuses_a_target_with_data_and_force_replaces_it(source_db: Path, target: str,
                                                                         tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    store = SqliteStore(other)
    await store.open()
    await store.import_events([EventFactory(community=CommunityRef("test", "other")).msg("x1", "xavier")])
    await store.close()
    await transfer(str(other), target)
    with pytest.raises(TransferError, match="already holds data.*--force"):
        await transfer(str(source_db), target)
    assert [r[0] for r in await pg_rows(target, "communities", ["external_id"])] == ["other"]  # untouched
    report = await transfer(str(source_db), target, force=True)
    assert report.status == "copied"
    await assert_same_tables(source_db, target)


async def test_transfer_rerun_after_done_says_so_and_force_copies_again(source_db: Path, target: str) -> None:
    await transfer(str(source_db), target)
    assert (await transfer(str(source_db), target)).status == "already_done"
    assert (await transfer(str(source_db), target, force=True)).status == "copied"
    await assert_same_tables(source_db, target)


def sabotage_before_verify(monkeypatch: pytest.MonkeyPatch, sql: str) -> None:
    """Run one statement on the target just before the run verifies it."""
    real = transfer_module._Run._verify

    async def sabotaged(self: Any, *args: Any) -> None:
        await self.dst.execute(sql)
        await real(self, *args)

    monkeypatch.setattr(transfer_module._Run, "_verify", sabotaged)


async def test_transfer_mismatch_found_by_verification_names_the_table(source_db: Path, target: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        sabotage_before_verify(patch, "DELETE FROM member_prefs WHERE user_id = 'bob'")
        with pytest.raises(TransferError, match="Table member_prefs has 2 rows in the source but 1 in the target"):
            await transfer(str(source_db), target)
    with pytest.raises(TransferError, match="member_prefs"):  # not marked done: a re-run verifies again
        await transfer(str(source_db), target)


async def test_transfer_checksum_catches_a_changed_value(source_db: Path, target: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    sabotage_before_verify(monkeypatch, "UPDATE scores SET rank = rank + 1 WHERE position = 0")
    with pytest.raises(TransferError, match="Table scores differs between source and target in column rank"):
        await transfer(str(source_db), target)


async def test_transfer_refuses_a_source_newer_than_this_code(source_copy: Path, target: str) -> None:
    con = sqlite3.connect(source_copy)
    con.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')")
    con.commit()
    con.close()
    with pytest.raises(SchemaTooNewError, match="newer Clout"):
        await transfer(str(source_copy), target)


# -- conversions (pure) ---------------------------------------------------------------------------

@pytest.mark.parametrize(("src", "dst", "value", "expected"), [
    ("int", "bool", 1, True), ("int", "bool", 0, False), ("bool", "int", True, 1),
    ("int", "float", 3, 3.0), ("float", "int", 4.0, 4), ("int", "text", 12, "12"),
    ("text", "json", '{"a": 1}', '{"a": 1}'), ("text", "blob", "ä", "ä".encode()),
    ("int", "timestamp", 1_700_000_000, "2023-11-14T22:13:20+00:00"),
    ("int", "timestamp", 1_700_000_000_000_000, "2023-11-14T22:13:20+00:00"),
    ("text", "timestamp", "2026-03-02T00:00:00Z", "2026-03-02T00:00:00+00:00"),
    ("int", "date", 20_514, "2026-03-02"), ("int", "int", 5, 5), ("text", "int", None, None),
])
def test_transfer_converts_values_where_column_kinds_differ(src: str, dst: str, value: Any, expected: Any) -> None:
    a = transfer_module._Table("t", [transfer_module._Column("c", src)], ("c",))
    b = transfer_module._Table("t", [transfer_module._Column("c", dst)], ("c",))
    [[out]] = convert_rows([(value,)], converters(a, b, ["c"]))
    assert (out.isoformat() if hasattr(out, "isoformat") else out) == expected


def test_transfer_refuses_a_fractional_number_for_an_integer_column() -> None:
    a = transfer_module._Table("t", [transfer_module._Column("c", "float")], ())
    b = transfer_module._Table("t", [transfer_module._Column("c", "int")], ())
    with pytest.raises(ValueError, match="whole number"):
        convert_rows([(1.5,)], converters(a, b, ["c"]))


def test_transfer_orders_parents_before_children() -> None:
    t = transfer_module._Table
    tables = {"a_child": t("a_child", [], (), {"parent"}), "parent": t("parent", [], ()),
              "z_grandchild": t("z_grandchild", [], (), {"a_child"}), "b": t("b", [], (), {"b"})}
    order = [x.name for x in transfer_module._order(tables)]
    assert order.index("parent") < order.index("a_child") < order.index("z_grandchild")
    assert sorted(order) == sorted(tables)
