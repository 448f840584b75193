"""The PostgreSQL server the contract suite runs against, when CLOUT_TEST_POSTGRES names one.

`.ci/postgres.sh start` starts a throwaway server and prints the variable. Without it (or when the
server does not answer) the PostgreSQL-backed runs are skipped, and the session says so once.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import asyncpg

from storage.postgres import PostgresStore, redact

ENV = "CLOUT_TEST_POSTGRES"


async def _probe(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    await conn.close()


@functools.cache
def postgres_url() -> tuple[str | None, str]:
    """(the server URL, "") when a server answers, else (None, why the PostgreSQL runs are skipped)."""
    url = os.environ.get(ENV, "").strip()
    if not url:
        return None, f"{ENV} is not set (see README: PostgreSQL)"
    try:
        # A thread of its own: this may be first called while an event loop is running.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _probe(url)).result()
    except Exception as exc:  # any failure to connect means: skip, and say why
        return None, f"cannot connect to {redact(url)}: {type(exc).__name__}: {exc}"
    return url, ""


def require_postgres() -> str:
    """The server URL; skips the calling test (saying why) when there is none."""
    import pytest

    url, why = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    return url


@asynccontextmanager
async def fresh_schema(url: str) -> AsyncIterator[str]:
    """A new empty schema for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA {name}")
        yield name
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.close()


@asynccontextmanager
async def postgres_store(url: str, **kwargs: int) -> AsyncIterator[PostgresStore]:
    """An open PostgresStore in a fresh schema."""
    async with fresh_schema(url) as schema:
        store = PostgresStore(url, schema=schema, **kwargs)
        await store.open()
        try:
            yield store
        finally:
            await store.close()
