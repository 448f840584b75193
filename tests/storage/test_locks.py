"""Several processes on one database (issue #7): the LockStore contract on every backend, leader and
refresh advisory locks between two PostgreSQL stores, SQLite's one-process-per-file lock, and the
PostgreSQL writer reconnecting after its session was killed."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from scoring.model import CommunityRef
from storage.base import Store, StoreError
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from tests.factories import COMMUNITY, msg
from tests.postgres import fresh_schema, require_postgres

OTHER = CommunityRef("test", "other")


@pytest.fixture
def url() -> str:
    return require_postgres()


async def _terminate(url: str, pid: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


# -- the contract, on every backend --------------------------------------------------------------

async def test_locks_a_lone_process_leads_and_holds_refresh_locks(store: Store) -> None:
    await store.begin_run()  # type: ignore[attr-defined]
    assert await store.try_lead() is True  # type: ignore[attr-defined]
    assert await store.still_leading() is True  # type: ignore[attr-defined]
    async with store.refresh_lock(COMMUNITY) as mine:  # type: ignore[attr-defined]
        assert mine is True
    async with store.refresh_lock(COMMUNITY) as again:  # type: ignore[attr-defined]
        assert again is True  # released by the block before
    await store.stop_leading()  # type: ignore[attr-defined]


# -- PostgreSQL: two processes' stores on one database ----------------------------------------------

async def test_locks_postgres_one_leader_until_it_stops(url: str) -> None:
    async with fresh_schema(url) as schema, PostgresStore(url, schema=schema) as a, \
            PostgresStore(url, schema=schema) as b:
        assert await a.try_lead() is True
        assert await b.try_lead() is False
        assert await a.try_lead() is True  # asking again while leading keeps it
        assert await b.still_leading() is False
        await a.stop_leading()
        assert await a.still_leading() is False
        assert await b.try_lead() is True
        assert await a.try_lead() is False


async def test_locks_postgres_leader_whose_session_dies_loses_and_a_follower_takes_over(url: str) -> None:
    async with fresh_schema(url) as schema, PostgresStore(url, schema=schema) as a, \
            PostgresStore(url, schema=schema) as b:
        assert await a.try_lead() is True
        assert a._locks is not None and a._locks._conn is not None
        await _terminate(url, a._locks._conn.get_server_pid())
        assert await b.try_lead() is True  # the server released the lock with the session
        assert await a.still_leading() is False  # the old leader notices at its next check
        assert await a.try_lead() is False  # and cannot take it back while b leads


async def test_locks_postgres_leaders_of_different_schemas_are_independent(url: str) -> None:
    async with fresh_schema(url) as one, fresh_schema(url) as two, PostgresStore(url, schema=one) as a, \
            PostgresStore(url, schema=two) as b:
        assert await a.try_lead() is True
        assert await b.try_lead() is True


async def test_locks_postgres_refresh_lock_is_exclusive_per_community(url: str) -> None:
    async with fresh_schema(url) as schema, PostgresStore(url, schema=schema) as a, \
            PostgresStore(url, schema=schema) as b:
        async with a.refresh_lock(COMMUNITY) as held:
            assert held is True
            async with b.refresh_lock(COMMUNITY) as other:
                assert other is False
            async with b.refresh_lock(OTHER) as unrelated:
                assert unrelated is True
            assert await b.try_lead() is True  # the leader lock is a different key
        async with b.refresh_lock(COMMUNITY) as after:
            assert after is True


# -- SQLite: one bot process per file ------------------------------------------------------------------

async def test_locks_sqlite_second_run_on_one_file_is_refused_in_one_sentence(tmp_path: Path) -> None:
    db = tmp_path / "clout.db"
    async with SqliteStore(db) as first, SqliteStore(db) as second:
        await first.begin_run()
        with pytest.raises(StoreError) as info:
            await second.begin_run()
        text = str(info.value)
        assert text.startswith("Another Clout process is already running on ") and str(db) in text
        assert "PostgreSQL" in text and text.count(".") >= 1 and "\n" not in text
    async with SqliteStore(db) as third:  # closing the first released the lock
        await third.begin_run()
        assert await third.try_lead() is True


# -- PostgreSQL: the writer reconnects ----------------------------------------------------------------

async def test_postgres_writer_reconnects_and_keeps_queued_events(url: str) -> None:
    async with fresh_schema(url) as schema, PostgresStore(url, schema=schema) as store:
        for i in range(3):
            await store.ingest(msg(f"a{i}", "alice", i * 120))
        await store.flush()
        assert store._wconn is not None
        await _terminate(url, store._wconn.get_server_pid())
        for i in range(5):  # queued while the writer's session is gone
            await store.ingest(msg(f"b{i}", "bob", 1_000 + i * 120))
        await store.ingest(msg("a0", "alice", 0))  # a re-delivered event changes nothing
        await store.flush()
        info = await store.community(COMMUNITY)
        assert info is not None and info.messages == 8
        assert store.reconnects == 1


async def test_postgres_writes_after_a_killed_writer_session_reconnect_first(url: str) -> None:
    async with fresh_schema(url) as schema, PostgresStore(url, schema=schema) as store:
        await store.import_events([msg("m1", "alice", 0)])
        assert store._wconn is not None
        await _terminate(url, store._wconn.get_server_pid())
        # Later writes through the writer connection (outbox, settings) do not fail on the dead session.
        assert await store.outbox_enqueue(COMMUNITY, "2026-W13", [("general", "digest")]) == 1
        assert [i.recipient for i in await store.outbox_items(COMMUNITY, "2026-W13")] == ["general"]
        assert store.reconnects == 1
