"""Fixtures for the `clout migrate` tests: a fresh PostgreSQL schema named by a URL (skipped without a server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.postgres import fresh_schema, postgres_url


def schema_url(url: str, schema: str) -> str:
    """The server URL with the schema as search_path (asyncpg passes unknown parameters as settings)."""
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


@pytest.fixture(name="pg")
def pg_fixture() -> str:
    url, why = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    return url


@pytest.fixture(name="target")
async def target_fixture(pg: str) -> AsyncIterator[str]:
    """A URL naming a fresh, empty schema of the test server."""
    async with fresh_schema(pg) as schema:
        yield schema_url(pg, schema)
