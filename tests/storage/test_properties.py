"""Properties: the SQLite and PostgreSQL stores equal the reference semantics, whatever the order and batching."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.daily import aggregate_events
from scoring.model import Event, epoch
from storage.memory import MemoryStore
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from tests.factories import BASE, COMMUNITY, anon, delete, msg, react, unreact
from tests.postgres import fresh_schema, postgres_store, postgres_url
from tests.storage.conftest import Rows, rows

DAY = 86_400
USERS = ["a", "b", "c", "d"]
MIDS = [f"m{i}" for i in range(8)]
# Times chosen around the 60 s turn rule and UTC day boundaries.
TIMES = [0, 30, 59, 60, 61, 120, 200, DAY - 10, DAY, DAY + 45, DAY + 200, 2 * DAY + 5]
WINDOWS = [(-DAY, 3 * DAY), (0, DAY), (59, DAY + 45), (60, 120), (DAY - 10, 2 * DAY + 5), (200, 200)]

users = st.sampled_from(USERS)
times = st.sampled_from(TIMES)
mids = st.sampled_from(MIDS)
rare_bot = st.sampled_from([False] * 9 + [True])


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Event]:
    """At most one message per id (first-write-wins on differing duplicates is order-dependent by design)."""
    out: dict[str, Event] = {}
    for mid in draw(st.lists(mids, unique=True, max_size=8)):
        out[mid] = msg(mid, draw(users), draw(times), bot=draw(rare_bot),
                       reply_to=draw(st.none() | mids), reply_to_author=draw(st.none() | users),
                       mentions=draw(st.lists(users, max_size=3)))
    return out


others = st.one_of(
    st.builds(lambda m, u, t, h, e, b: react(m, u, t, target_author=h, emoji=e, bot=b),
              mids, users, times, st.none() | users, st.sampled_from(["x", "y"]), rare_bot),
    st.builds(lambda m, u, t, h, e: unreact(m, u, t, target_author=h, emoji=e),
              mids, users, times, st.none() | users, st.sampled_from(["x", "y"])),
    st.builds(lambda m, n, t, e: anon(m, n, t, emoji=e), mids, st.integers(0, 5), times, st.sampled_from(["x", "y"])),
    st.builds(lambda m, t: delete(m, t), mids, times),
)


@st.composite
def event_logs(draw: st.DrawFn) -> list[Event]:
    base = list(draw(messages()).values()) + draw(st.lists(others, max_size=14))
    dupes = draw(st.lists(st.sampled_from(base), max_size=3)) if base else []
    return base + dupes


def reference(events: list[Event], window: tuple[int, int]) -> Rows:
    lo, hi = window
    return rows(aggregate_events(events, start=epoch(BASE) + lo, end=epoch(BASE) + hi))


async def sqlite_rows(events: list[Event], batch_size: int, split: int) -> list[Rows]:
    """Write the first `split` events live and import the rest, then read every window."""
    async with SqliteStore(":memory:", batch_size=batch_size) as store:
        for e in events[:split]:
            await store.ingest(e)
        await store.import_events(events[split:])
        await store.flush()
        out = []
        for lo, hi in WINDOWS:
            agg = await store.aggregates(COMMUNITY, BASE + timedelta(seconds=lo), BASE + timedelta(seconds=hi))
            out.append(rows(agg))
        return out


@settings(max_examples=300, deadline=None)
@given(event_logs(), st.randoms(use_true_random=False))
def test_reference_is_order_independent(events: list[Event], rnd: object) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    for window in WINDOWS:
        assert reference(shuffled, window) == reference(events, window)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs(), st.randoms(use_true_random=False), st.integers(1, 5), st.integers(0, 30))
def test_sqlite_matches_reference_in_any_order(events: list[Event], rnd: object, batch_size: int,
                                               split: int) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    got = asyncio.run(sqlite_rows(shuffled, batch_size, min(split, len(shuffled))))
    assert got == [reference(events, window) for window in WINDOWS]


# -- deleting a member's data ---------------------------------------------------------------------

deletes_by = st.builds(lambda m, u, t: delete(m, t, actor=u), mids, users, times)


async def after_delete(store: MemoryStore | SqliteStore | PostgresStore, events: list[Event], later: list[Event],
                       user: str) -> tuple[object, ...]:
    """Write, delete `user`'s data, write `later`, and read everything the two stores must agree on."""
    async with store:
        for e in events:
            await store.ingest(e)
        await store.delete_member_data(COMMUNITY, user)
        after = [rows(await store.aggregates(COMMUNITY, BASE + timedelta(seconds=lo), BASE + timedelta(seconds=hi)))
                 for lo, hi in WINDOWS]
        await store.import_events(later)
        again = await store.aggregates(COMMUNITY, BASE - timedelta(days=1), BASE + timedelta(days=3))
        return (after, rows(again), await store.member_names(COMMUNITY), await store.community(COMMUNITY))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs(), st.lists(deletes_by, max_size=2), users, event_logs(), st.integers(1, 5))
def test_sqlite_delete_member_data_matches_memory(events: list[Event], deletes: list[Event], user: str,
                                                  later: list[Event], batch_size: int) -> None:
    log = [*events, *deletes]
    fake = asyncio.run(after_delete(MemoryStore(), log, later, user))
    real = asyncio.run(after_delete(SqliteStore(":memory:", batch_size=batch_size), log, later, user))
    assert real == fake
    for members, pairs in real[0]:  # type: ignore[attr-defined]
        assert [r for r in [*members, *pairs] if user in r] == []


# -- the same properties on PostgreSQL (each example in a fresh schema; fewer examples: a schema
# with its migrations costs a server round trip per statement) -------------------------------------

def _postgres() -> str:
    url, why = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    return url


async def postgres_rows(url: str, events: list[Event], batch_size: int, split: int) -> list[Rows]:
    """`sqlite_rows` on a PostgresStore."""
    async with postgres_store(url, batch_size=batch_size) as store:
        for e in events[:split]:
            await store.ingest(e)
        await store.import_events(events[split:])
        await store.flush()
        return [rows(await store.aggregates(COMMUNITY, BASE + timedelta(seconds=lo), BASE + timedelta(seconds=hi)))
                for lo, hi in WINDOWS]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs(), st.randoms(use_true_random=False), st.integers(1, 5), st.integers(0, 30))
def test_postgres_matches_reference_in_any_order(events: list[Event], rnd: object, batch_size: int,
                                                 split: int) -> None:
    url = _postgres()
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    got = asyncio.run(postgres_rows(url, shuffled, batch_size, min(split, len(shuffled))))
    assert got == [reference(events, window) for window in WINDOWS]


async def postgres_after_delete(url: str, events: list[Event], later: list[Event], user: str,
                                batch_size: int) -> tuple[object, ...]:
    async with fresh_schema(url) as schema:
        return await after_delete(PostgresStore(url, schema=schema, batch_size=batch_size), events, later, user)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs(), st.lists(deletes_by, max_size=2), users, event_logs(), st.integers(1, 5))
def test_postgres_delete_member_data_matches_memory(events: list[Event], deletes: list[Event], user: str,
                                                    later: list[Event], batch_size: int) -> None:
    url = _postgres()
    log = [*events, *deletes]
    fake = asyncio.run(after_delete(MemoryStore(), log, later, user))
    real = asyncio.run(postgres_after_delete(url, log, later, user, batch_size))
    assert real == fake
