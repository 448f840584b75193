"""Fixtures for the store contract suite: every backend, and both write paths."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from scoring.daily import DailyAggregates
from scoring.model import Event
from storage.base import Store
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.factories import BASE, COMMUNITY
from tests.postgres import postgres_store, postgres_url

Write = Callable[[Iterable[Event]], Awaitable[None]]
Rows = tuple[list[tuple[object, ...]], list[tuple[object, ...]]]


@pytest.fixture(params=["memory", "sqlite", "sqlite-batch2", "postgres", "postgres-batch2"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each backend; the `-batch2` ones write two events per chunk so cross-batch paths run. The
    PostgreSQL ones use a fresh schema of the CLOUT_TEST_POSTGRES server, and skip without one."""
    if request.param.startswith("postgres"):
        url, why = postgres_url()
        if url is None:
            pytest.skip(f"PostgreSQL tests skipped: {why}")
        async with postgres_store(url, batch_size=2 if request.param == "postgres-batch2" else 5_000) as pg:
            yield pg
        return
    if request.param == "memory":
        s: Store = MemoryStore()
    else:
        s = SqliteStore(tmp_path / "clout.db", batch_size=2 if request.param == "sqlite-batch2" else 5_000)
    await s.open()
    yield s
    await s.close()


@pytest.fixture(params=["import", "ingest"])
def write(request: pytest.FixtureRequest, store: Store) -> Write:
    """Write events through `import_events` or through `ingest` + `flush`."""

    async def _write(events: Iterable[Event]) -> None:
        if request.param == "import":
            await store.import_events(list(events))
        else:
            for e in events:
                await store.ingest(e)
            await store.flush()

    return _write


def rows(agg: DailyAggregates) -> Rows:
    """Aggregates as sorted plain tuples, for equality checks."""
    members = sorted((r.day, r.user, r.messages, r.counted, r.anon_reactions) for r in agg.member_rows())
    pairs = sorted((r.day, r.responder, r.target, r.replies, r.mentions, r.reactions) for r in agg.pair_rows())
    return members, pairs


WIDE_START = BASE - timedelta(days=30)
WIDE_END = BASE + timedelta(days=30)


async def read(store: Store, start: datetime = WIDE_START, end: datetime = WIDE_END) -> Rows:
    """The store's aggregates of the test community as sorted tuples."""
    return rows(await store.aggregates(COMMUNITY, start, end))
