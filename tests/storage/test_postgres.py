"""PostgreSQL-only behaviour: migrations recorded once, a newer schema refused, URLs and passwords."""

from __future__ import annotations

import asyncpg
import pytest

from storage import open_store
from storage.base import SchemaTooNewError, StoreError
from storage.migrations import MIGRATIONS, latest_version
from storage.postgres import PostgresStore, redact
from tests.factories import COMMUNITY, msg
from tests.postgres import fresh_schema, postgres_url


@pytest.fixture
def url() -> str:
    found, why = postgres_url()
    if found is None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    return found


async def _versions(url: str, schema: str) -> list[int]:
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        return [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await conn.close()


async def test_postgres_migrations_apply_once_and_keep_data(url: str) -> None:
    async with fresh_schema(url) as schema:
        async with PostgresStore(url, schema=schema) as store:
            await store.import_events([msg("m1", "alice", 0)])
        async with PostgresStore(url, schema=schema) as store:  # a second start migrates nothing
            info = await store.community(COMMUNITY)
            assert info is not None and info.messages == 1
        assert await _versions(url, schema) == [m.version for m in MIGRATIONS]


async def test_postgres_refuses_a_newer_schema(url: str) -> None:
    async with fresh_schema(url) as schema:
        async with PostgresStore(url, schema=schema):
            pass
        conn = await asyncpg.connect(url, server_settings={"search_path": schema})
        await conn.execute("INSERT INTO schema_migrations VALUES ($1, 'from the future', 'x')", latest_version() + 1)
        await conn.close()
        with pytest.raises(SchemaTooNewError, match="newer Clout"):
            await PostgresStore(url, schema=schema).open()


async def test_postgres_open_store_url_opens_the_server(url: str) -> None:
    async with fresh_schema(url) as schema:
        sep = "&" if "?" in url else "?"
        store = open_store(f"{url}{sep}search_path={schema}")  # libpq-style parameters pass through
        assert isinstance(store, PostgresStore)
        async with store:
            await store.import_events([msg("m1", "alice", 0)])
            assert [c.ref for c in await store.communities()] == [COMMUNITY]


async def test_postgres_unreachable_server_is_a_store_error(tmp_path: object) -> None:
    store = PostgresStore(f"postgresql://nobody:secret@/clout?host={tmp_path}")
    with pytest.raises(StoreError, match="Cannot connect") as info:
        await store.open()
    assert "secret" not in str(info.value)


def test_postgres_redact_hides_the_password() -> None:
    assert redact("postgresql://u:hunter2@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
