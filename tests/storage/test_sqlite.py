"""SQLite-only behaviour: migrations, crash safety, the writer task, privacy, query plans."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.model import CommunityRef, Event
from storage import open_store
from storage.base import SchemaTooNewError, StoreError
from storage.memory import MemoryStore
from storage.migrations import MIGRATIONS, latest_version
from storage.sqlite import _REACTION_ROWS, SqliteStore, WriteFailedError
from tests.factories import COMMUNITY, EventFactory, anon, delete, msg, react, reply, unreact
from tests.storage.conftest import read

SAMPLE = [msg("m1", "alice", 0), reply("m2", "bob", "m1", 60, mentions=["carol"]), react("m1", "carol", 90),
          anon("m2", 3, 100), delete("m9", 120)]


def dump(path: Path) -> list[str]:
    """Every table's schema and rows, as SQL text."""
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_sqlite_migrates_empty_database(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "c.db"):
        pass
    with sqlite3.connect(tmp_path / "c.db") as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == [m.version for m in MIGRATIONS]
    assert {"communities", "users", "messages", "mentions", "reactions", "reaction_counts", "day_aggregates",
            "scores", "score_snapshots"} <= tables
    assert mode == "wal"


async def test_sqlite_reopen_is_a_noop_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteStore(path) as store:
        await store.import_events(SAMPLE)
        first = await read(store)
    before = dump(path)
    async with SqliteStore(path) as store:
        assert await read(store) == first
    assert dump(path) == before


async def test_sqlite_refuses_newer_schema_and_leaves_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteStore(path) as store:
        await store.import_events(SAMPLE)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', 'x')", (latest_version() + 1,))
    conn.close()
    digest = file_digest(path)
    store = SqliteStore(path)
    known = latest_version()
    with pytest.raises(SchemaTooNewError,
                       match=rf"newer Clout \(schema {known + 1}, this version knows {known}\); upgrade Clout"):
        await store.open()
    assert file_digest(path) == digest
    with pytest.raises(StoreError):
        await store.ingest(SAMPLE[0])  # never opened


async def test_sqlite_failed_import_leaves_file_exactly_as_before(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SqliteStore(path, batch_size=3)
    await store.open()
    await store.import_events(SAMPLE)

    def source() -> Iterator[Event]:
        yield from [msg(f"n{i}", f"user{i}", 1000 + i * 100, reply_to="m1", community_name="Renamed")
                    for i in range(10)]
        yield delete("m1", 5000)
        raise ValueError("line 12: not JSON")

    with sqlite3.connect(path) as conn:
        before = list(conn.iterdump())
    with pytest.raises(ValueError, match="line 12"):
        await store.import_events(source())
    with sqlite3.connect(path) as conn:
        assert list(conn.iterdump()) == before
    await store.import_events([msg("m3", "dave", 300)])  # and the store is still usable
    await store.close()


async def test_sqlite_failed_import_of_new_community_rolls_back_cleanly(tmp_path: Path) -> None:
    fresh = EventFactory(community=CommunityRef("test", "fresh"))

    def source() -> Iterator[Event]:
        yield fresh.msg("m1", "alice", 0)
        raise RuntimeError("boom")

    async with SqliteStore(tmp_path / "c.db") as store:
        with pytest.raises(RuntimeError):
            await store.import_events(source())
        await store.import_events([fresh.msg("m1", "alice", 0)])
        assert (await store.community(fresh.community)) is not None


@pytest.mark.parametrize("seed", [1, 2])
async def test_sqlite_reactions_written_many_to_a_statement_equal_one_at_a_time(tmp_path: Path, seed: int) -> None:
    """A chunk's reactions go `_REACTION_ROWS` to a statement: the same key several times in one
    statement (adds, removes, ties in time, hints) must end as when each row is its own execution."""
    rng = random.Random(seed)
    events: list[Event] = [msg("m1", "ann", 0), msg("m2", "bob", 10)]
    for _ in range(_REACTION_ROWS * 6 + 7):  # (and a remainder written one at a time)
        make = react if rng.random() < 0.7 else unreact
        events.append(make(rng.choice(["m1", "m2", "m3"]), rng.choice(["cy", "dee", "eve"]), rng.randrange(20, 200, 10),
                           emoji=rng.choice(["x", "y"]),
                           **({"target_author": rng.choice([None, "ann", "zed"])} if make is react else {})))
    dumps = []
    for batch_size in (5_000, 1):
        async with SqliteStore(tmp_path / f"{batch_size}.db", batch_size=batch_size) as store:
            stats = await store.import_events(events)
            assert await read(store) == await read_reference(events)
        # (every row but the migrations' times of application)
        dumps.append((stats, [line for line in dump(tmp_path / f"{batch_size}.db") if "schema_migrations" not in line]))
    assert dumps[0] == dumps[1]


async def test_sqlite_import_turns_foreign_keys_back_on_after_success_and_failure(tmp_path: Path) -> None:
    """An import runs without per-row foreign key checks; the writer has them again afterwards."""
    def source() -> Iterator[Event]:
        yield msg("m5", "alice", 500)
        raise ValueError("broken")

    async with SqliteStore(tmp_path / "c.db", bulk_messages=0) as store:
        assert store._wconn is not None
        for events in (SAMPLE, source()):
            with pytest.raises(ValueError) if events is not SAMPLE else contextlib.nullcontext():
                await store.import_events(events)
            async with store._wconn.execute("PRAGMA foreign_keys") as cur:
                assert await cur.fetchone() == (1,)
        with pytest.raises(sqlite3.IntegrityError):  # and they bite
            await store._wconn.execute("INSERT INTO users (community, user_id, is_bot, member) VALUES (999, 'x', 0, 1)")


async def test_sqlite_ingested_events_are_committed_by_close(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    store = SqliteStore(path, batch_size=7)
    await store.open()
    events = [msg(f"m{i}", f"u{i % 5}", i * 61, reply_to=f"m{i - 1}" if i else None) for i in range(100)]
    for e in events:
        await store.ingest(e)
    await store.close()  # no flush: close must drain the queue
    async with SqliteStore(path) as again:
        info = await again.community(COMMUNITY)
        assert info is not None and info.messages == 100
        members, pairs = await read(again)
    assert sum(m[2] for m in members) == 100
    assert sum(p[3] for p in pairs) == 99


async def test_sqlite_writer_failure_reaches_flush_and_writer_survives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    async with SqliteStore(tmp_path / "c.db") as store:
        real = store._write_chunk

        async def broken(*args: object) -> int:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(store, "_write_chunk", broken)
        await store.ingest(SAMPLE[0])
        with caplog.at_level(logging.ERROR, logger="storage.sqlite"), \
                pytest.raises(WriteFailedError, match="disk I/O error") as info:
            await store.flush()
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        assert any(r.exc_info for r in caplog.records)  # logged with a traceback
        monkeypatch.setattr(store, "_write_chunk", real)
        await store.ingest(SAMPLE[0])
        await store.flush()  # the failure was reported once; the writer still runs
        assert (await store.community(COMMUNITY)) is not None


async def test_sqlite_writer_failure_reaches_close(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SqliteStore(tmp_path / "c.db")
    await store.open()

    async def broken(*args: object) -> int:
        raise RuntimeError("bug")

    monkeypatch.setattr(store, "_write_chunk", broken)
    await store.ingest(SAMPLE[0])
    with pytest.raises(WriteFailedError):
        await store.close()
    assert store._wconn is None  # connections are closed anyway


async def test_sqlite_live_ingest_and_import_both_land(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "c.db", batch_size=2) as store:
        for e in SAMPLE[:2]:
            await store.ingest(e)
        await store.import_events(SAMPLE[2:])
        await store.flush()
        assert await read(store) == await read_reference(SAMPLE)


async def read_reference(events: list[Event]) -> object:
    memory = MemoryStore()
    await memory.open()
    await memory.import_events(events)
    return await read(memory)


async def test_sqlite_memory_database_works(tmp_path: Path) -> None:
    async with SqliteStore(":memory:") as store:
        await store.import_events(SAMPLE)
        await store.ingest(msg("m5", "dave", 500))
        await store.flush()
        assert await read(store) == await read_reference([*SAMPLE, msg("m5", "dave", 500)])


# -- privacy ------------------------------------------------------------------------------------

# Every TEXT column, reviewed: ids, display names, emoji and labels. A new text column must be
# added here on purpose, which is the moment to check it cannot hold message text.
ALLOWED_TEXT_COLUMNS = {
    "communities": {"platform", "external_id", "name"},
    "users": {"user_id", "name", "name_key"},
    "messages": {"message_id", "author", "channel", "reply_to", "reply_hint", "reply_target"},
    "mentions": {"message_id", "user_id"},
    "reactions": {"message_id", "actor", "emoji", "target_hint"},
    "reaction_counts": {"message_id", "emoji"},
    "deleted_messages": {"message_id"},
    "day_aggregates": {"users"},   # JSON array of user ids
    "aggregate_rebuild": set(),
    "scores": {"period", "user_id", "algorithm"},
    "score_runs": {"period", "algorithm"},
    "score_snapshots": {"user_id"},
    "snapshot_days": {"algorithm"},
    "schema_migrations": {"name", "applied_at"},
    "community_settings": {"summary_channel", "weekday", "timezone", "language", "excluded_channels", "mode"},
    "member_prefs": {"user_id", "locale"},
    "link_codes": {"code", "platform", "user_id"},
    "account_links": {"platform", "user_id"},
    "usernames": {"username", "user_id"},
    "dm_contacts": {"platform", "user_id"},
    "community_notices": {"notice"},
    "outbox": {"week", "recipient", "kind", "state", "nonce", "detail"},
    "summary_runs": {"week", "algorithm"},
}


async def test_sqlite_stores_no_message_text(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteStore(path) as store:
        await store.import_events(SAMPLE)
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = conn.execute(f"PRAGMA table_info({table})").fetchall()
            names = {c[1] for c in columns}
            assert not names & {"text", "content", "body", "message", "message_text"}, table
            text_columns = {c[1] for c in columns if c[2].upper() == "TEXT"}
            assert text_columns <= ALLOWED_TEXT_COLUMNS[table], (table, text_columns)
    raw = path.read_bytes() + (path.with_name("c.db-wal").read_bytes() if path.with_name("c.db-wal").exists() else b"")
    assert b"m1" in raw  # ids are stored (the scan does see row data)...
    assert b"general" in raw  # ...and channel ids, but nothing else of a message


# -- query plans ------------------------------------------------------------------------------

def plan(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> str:
    return " | ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


async def test_sqlite_reads_are_index_lookups(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteStore(path) as store:
        await store.import_events(SAMPLE)
    with sqlite3.connect(path) as conn:
        board = plan(conn, "SELECT * FROM scores WHERE community = ? AND period = ? AND position >= ?"
                           " ORDER BY position LIMIT 10", (1, "all", 50_000))
        one = plan(conn, "SELECT * FROM scores WHERE community = ? AND period = ? AND user_id = ?", (1, "all", "u"))
        target = plan(conn, "SELECT author FROM messages WHERE community = ? AND message_id = ?", (1, "m1"))
        pending = plan(conn, "SELECT id FROM messages WHERE community = ? AND reply_to = ?", (1, "m1"))
    assert "scores_by_rank" in board and "TEMP B-TREE" not in board
    assert "PRIMARY KEY" in one
    assert "sqlite_autoindex_messages" in target
    assert "messages_by_reply_to" in pending


# -- open_store -------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "kind"), [
    ("clout.db", SqliteStore), ("sqlite:///clout.db", SqliteStore), ("sqlite:///:memory:", SqliteStore),
    ("memory://", MemoryStore), (":memory:", SqliteStore),
])
def test_open_store_picks_backend(url: str, kind: type) -> None:
    assert isinstance(open_store(url), kind)


def test_open_store_sqlite_url_paths(tmp_path: Path) -> None:
    assert open_store("sqlite:///data/clout.db").path == "data/clout.db"  # type: ignore[attr-defined]
    assert open_store(f"sqlite:///{tmp_path}/c.db").path == f"{tmp_path}/c.db"  # type: ignore[attr-defined]
    assert open_store(tmp_path / "c.db").path == str(tmp_path / "c.db")  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["mysql://h/db", "oracle://h/db"])
def test_open_store_rejects_unsupported_schemes(url: str) -> None:
    with pytest.raises(StoreError, match="not supported yet"):
        open_store(url)


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://h/db", "postgresql+asyncpg://u:pw@h/db"])
def test_open_store_builds_a_postgres_store_for_postgres_urls(url: str) -> None:
    from storage.postgres import PostgresStore

    store = open_store(url)
    assert isinstance(store, PostgresStore)
    assert store.url.startswith("postgresql://")
    assert "pw" not in repr(store)  # passwords never reach messages or logs


# (bulk_messages=0: the import goes bulk after its first chunk, and its refresh reads whole ranges.)
@pytest.mark.parametrize("bulk_messages", [50_000, 0], ids=["ordinary", "bulk"])
async def test_sqlite_aggregates_handle_ids_with_separator_characters(tmp_path: Path, bulk_messages: int) -> None:
    events = [msg("m1", "a\x1fb", 0), reply("m2", "c,d", "m1", 60), react("m1", "e", 70)]
    async with SqliteStore(tmp_path / "c.db", batch_size=1, bulk_messages=bulk_messages) as store:
        await store.import_events(events)
        assert await read(store) == await read_reference(events)


@pytest.mark.parametrize("bulk_messages", [50_000, 0], ids=["ordinary", "bulk"])
async def test_sqlite_aggregates_handle_ids_equal_to_the_packed_null_marker(tmp_path: Path, bulk_messages: int) -> None:
    events = [msg("m1", "\x1e", 0, mentions=["\x1e", "f"]), msg("m2", "a", 30, mentions=["\x1e"]),
              reply("m3", "c", "m1", 60), react("m2", "\x1e", 70), msg("m4", "\x1e", 90)]
    async with SqliteStore(tmp_path / "c.db", batch_size=1, bulk_messages=bulk_messages) as store:
        await store.import_events(events)
        assert await read(store) == await read_reference(events)
        for e in events:  # the live writer refreshes day by day through the same fold
            await store.ingest(e)
        await store.flush()
        assert await read(store) == await read_reference(events)


async def test_sqlite_ids_that_read_as_zero_are_stored_as_given(tmp_path: Path) -> None:
    """Absent ids travel to SQLite as the integer 0 (`_ABSENT`) and are stored as NULL; an id that
    is the text "0" (channel, reply, hints) must stay itself."""
    events = [msg("0", "0", 0, channel="0"), reply("m2", "b", "0", 60, to_author="0", channel=None),
              reply("m3", "c", "later", 70, to_author="0"), msg("m4", "d", 80, channel="general"),
              react("m4", "0", 90, target_author="0"), react("0", "b", 95)]
    async with SqliteStore(tmp_path / "c.db") as store:
        await store.import_events(events)
        assert await read(store) == await read_reference(events)
    with sqlite3.connect(tmp_path / "c.db") as conn:
        messages = conn.execute("SELECT message_id, channel, reply_to, reply_hint, reply_target,"
                                " typeof(channel), typeof(reply_to) FROM messages ORDER BY message_id").fetchall()
        reactions = conn.execute("SELECT message_id, actor, target_hint FROM reactions ORDER BY message_id").fetchall()
    assert messages == [("0", "0", None, None, None, "text", "null"),
                        ("m2", None, "0", "0", "0", "null", "text"),
                        ("m3", "general", "later", "0", "0", "text", "text"),
                        ("m4", "general", None, None, None, "text", "null")]
    assert reactions == [("0", "b", None), ("m4", "0", "0")]


async def test_sqlite_score_of_answers_while_a_big_aggregates_read_is_in_flight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refresh of a big community must neither block the event loop nor hold the shared reader:
    the aggregates read is parked mid-read (in its worker thread, inside its own read snapshot)
    until a score_of call has completed."""
    import asyncio
    import threading
    from datetime import timedelta

    import storage.sqlite as sqlite_module
    from bench import synth
    from scoring.result import MemberScore

    ref = synth.CommunityRef("events", "bench")
    async with SqliteStore(tmp_path / "c.db") as store:
        stats = await store.import_events(synth.events(300, 6_000, days=5))
        assert stats.new > 0
        score = MemberScore(user="7", score=500, percentile=0.5, rank=1, influence=1.0, reach=1.0,
                            resonance=1.0, network=1.0, activity=1.0, algorithm="test")
        await store.save_scores(ref, synth.START, "all", [score])

        loop = asyncio.get_running_loop()
        parked = asyncio.Event()
        release = threading.Event()
        order: list[str] = []
        real = sqlite_module.assemble

        def parking_assemble(*args: object) -> object:
            # Runs in a worker thread: tell the loop, then hold the read open until released.
            assert threading.current_thread() is not threading.main_thread()
            loop.call_soon_threadsafe(parked.set)
            assert release.wait(timeout=30), "score_of never completed while aggregates was in flight"
            return real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(sqlite_module, "assemble", parking_assemble)

        async def refresh() -> None:
            await store.aggregates(ref, synth.START - timedelta(days=1), synth.START + timedelta(days=6))
            order.append("aggregates")

        task = asyncio.create_task(refresh())
        try:
            await parked.wait()
            got = await asyncio.wait_for(store.score_of(ref, "7"), timeout=30)
            order.append("score_of")
            assert got == score
        finally:
            release.set()
            await task
        assert order == ["score_of", "aggregates"]


async def test_sqlite_skips_the_tombstone_lookup_only_for_communities_without_tombstones(tmp_path: Path) -> None:
    """Messages and reactions are written without looking for tombstones while none of the chunk's
    communities has one; a tombstone in another community changes nothing for this one."""
    other = EventFactory(community=CommunityRef("events", "other"))
    f = EventFactory()
    async with SqliteStore(tmp_path / "c.db", batch_size=2) as store:
        checked: list[bool] = []
        chunk_state = store._chunk_state

        async def spy(communities: set[int]) -> tuple[int, bool]:
            state = await chunk_state(communities)
            checked.append(state[1])
            return state

        store._chunk_state = spy  # type: ignore[method-assign]
        await store.import_events([other.delete("m1", 10), other.delete("m2", 10)])
        await store.import_events([f.msg("m1", "ann", 20), f.react("m1", "bob", 30)])  # this community: none
        await store.import_events([other.msg("m1", "ann", 20), other.react("m1", "bob", 30),
                                   other.msg("m3", "cy", 40), other.reply("m4", "ann", "m3", 50)])
        assert checked == [False, False, True, True]  # (the first: the tombstones' own chunk)
        assert await read(store) == await read_reference(
            [other.delete("m1", 10), other.delete("m2", 10), f.msg("m1", "ann", 20), f.react("m1", "bob", 30),
             other.msg("m1", "ann", 20), other.react("m1", "bob", 30), other.msg("m3", "cy", 40),
             other.reply("m4", "ann", "m3", 50)])
    con = sqlite3.connect(tmp_path / "c.db")
    assert sorted(con.execute("SELECT c.external_id, m.message_id, m.deleted FROM messages m"
                              " JOIN communities c ON c.id = m.community")) == [
        ("c1", "m1", 0), ("other", "m1", 1), ("other", "m3", 0), ("other", "m4", 0)]
    assert con.execute("SELECT count(*) FROM reactions").fetchone() == (1,)  # other's m1 reaction was dropped
    con.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(0, 2**40), st.integers(-(2**20), 2**20)), max_size=60),
       st.booleans())
def test_fold_order_sorts_like_lexsort(rows: list[tuple[int, int, int]], wide: bool) -> None:
    """`_order` (keys packed into one int64, else a lexsort) puts the rows in key order; `wide` adds
    a key spanning 2**62, which forces the lexsort."""
    import numpy as np

    from storage.sqlite import _order

    keys = [np.array(col, np.int64) for col in zip(*rows, strict=True)] if rows else [np.zeros(0, np.int64)] * 3
    if wide:
        keys.append(np.array([(i % 2) * 2**62 for i in range(len(rows))], np.int64))
    order = _order(*keys)
    assert sorted(order.tolist()) == list(range(len(rows)))
    assert [tuple(int(k[i]) for k in keys) for i in order] == sorted(zip(*(k.tolist() for k in keys), strict=True))
