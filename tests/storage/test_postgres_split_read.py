"""PostgreSQL's aggregates read packs whole days on two connections sharing one snapshot.

`PostgresStore._packed_days` runs half of the days on a second pooled connection that imports the
first one's exported snapshot. Both halves must see the same moment: rows committed after the
read's snapshot was taken stay invisible to either half, and the split read equals a one-connection
read of the same store.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.factories import BASE, COMMUNITY, EventFactory
from tests.postgres import postgres_store, require_postgres
from tests.storage.conftest import WIDE_END, WIDE_START, rows
from tests.storage.test_contract import reference

DAY = 86_400


def _events(first: int, days: int, tag: str) -> list:
    f = EventFactory()
    out = []
    for d in range(first, first + days):
        out += [f.msg(f"{tag}{d}", "alice", d * DAY + 10), f.reply(f"{tag}r{d}", "bob", f"{tag}{d}", d * DAY + 70),
                f.react(f"{tag}{d}", "carol", d * DAY + 90)]
    return out


def _key(packed: tuple[list, list]) -> list:
    return [sorted(tuple(r) for r in part) for part in packed]


async def test_both_halves_read_one_snapshot() -> None:
    url = require_postgres()
    async with postgres_store(url) as store:
        await store.import_events(_events(0, 8, "a"))
        lo, hi = (BASE.timestamp() // DAY), (BASE.timestamp() // DAY) + 7
        async with store._reading(snapshot=True) as conn:  # noqa: SLF001 - the method under test
            cid = await store._cid(conn, COMMUNITY)  # noqa: SLF001 - the first query fixes the snapshot
            before = await store._packed_days(conn, cid, int(lo), int(hi))  # noqa: SLF001
            # Commits into days of both halves while the read's snapshot is open.
            await store.import_events(_events(0, 8, "b"))
            again = await store._packed_days(conn, cid, int(lo), int(hi))  # noqa: SLF001
        assert _key(again) == _key(before)
        assert {r[0] for r in before[1]} == set(range(int(lo), int(hi) + 1))  # both halves answered
        async with store._reading(snapshot=True) as conn:  # noqa: SLF001
            after = await store._packed_days(conn, cid, int(lo), int(hi))  # noqa: SLF001
        assert _key(after) != _key(before)  # the writes did land in those days


async def test_split_read_equals_one_connection_read() -> None:
    url = require_postgres()
    events = _events(-20, 40, "x")
    async with postgres_store(url) as split, postgres_store(url, readers=1) as single:
        for store in (split, single):
            await store.import_events(events)
        start, end = WIDE_START, WIDE_END
        got = [rows(await s.aggregates(COMMUNITY, start, end)) for s in (split, single)]
        assert got[0] == got[1] == reference(events, start, end)
        cut = (BASE + timedelta(hours=5), BASE + timedelta(days=9, hours=3))
        assert rows(await split.aggregates(COMMUNITY, *cut)) == reference(events, *cut)


async def test_concurrent_reads_never_wait_for_each_other() -> None:
    """More concurrent reads than the pool has connections: a read splits only when a second
    connection is free at once, so none holds one connection while waiting for another (which,
    with every connection held that way, would wait forever)."""
    url = require_postgres()
    events = _events(-20, 40, "y")
    async with postgres_store(url, readers=2) as store:
        await store.import_events(events)
        reads = [store.aggregates(COMMUNITY, WIDE_START, WIDE_END) for _ in range(6)]
        got = await asyncio.wait_for(asyncio.gather(*reads), timeout=60)  # a guard, not a wait
        assert all(rows(g) == reference(events) for g in got)
