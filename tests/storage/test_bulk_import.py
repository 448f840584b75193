"""SQLite bulk imports: the log's secondary indexes dropped and rebuilt inside the import's
transaction (storage/sqlite.py `_BULK_INDEXES`).

A store made with `bulk_messages=0` turns every import bulk after its first chunk, so small logs
run the bulk path: its aggregates, log rows and indexes must equal those of the ordinary path, a
failed bulk import must leave the file exactly as before, and a small import into a bigger log
must not drop anything.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.model import CommunityRef, Event, Kind
from storage.sqlite import _BULK_INDEXES, _WHOLE_MAX_MESSAGES, SqliteStore
from tests.factories import BASE, COMMUNITY, EventFactory
from tests.storage.conftest import read
from tests.storage.test_contract import reference
from tests.storage.test_properties import WINDOWS, event_logs
from tests.storage.test_properties import reference as window_reference

DAY = 86_400
LOG_TABLES = ("users", "messages", "mentions", "reactions", "reaction_counts", "deleted_messages",
              "day_aggregates", "communities")


def _events(seed: int, n: int, *, community: CommunityRef = COMMUNITY, bots: bool = True) -> list[Event]:
    """Messages, replies (also to messages that come later), mentions, reactions and removals among
    a few users over three days, with names changing and ties in time (and a few bots, if `bots`)."""
    rng = random.Random(seed)
    f = EventFactory(community=community)
    users = ["ann", "bob", "cy", "dee", "eve"]
    out: list[Event] = []
    for i in range(n):
        user, when = rng.choice(users), rng.randrange(0, 3 * DAY, 30)
        target = f"m{rng.randrange(n)}"  # may be later in the stream, or never written
        roll = rng.random()
        if roll < 0.55:
            out.append(f.msg(f"m{i}", user, when, name=rng.choice([None, user.upper(), user.title()]),
                             reply_to=target if rng.random() < 0.4 else None,
                             reply_to_author=rng.choice([None, *users]),
                             mentions=rng.sample(users, rng.randrange(3)), bot=bots and rng.random() < 0.03,
                             has_link=rng.random() < 0.2, length=rng.randrange(100)))
        elif roll < 0.9:
            out.append(f.react(target, user, when, emoji=rng.choice(["x", "y"]),
                               target_author=rng.choice([None, *users]), name=rng.choice(["", user])))
        else:
            out.append(f.unreact(target, user, when, emoji=rng.choice(["x", "y"])))
    return out


def _dump(path: Path) -> dict[str, object]:
    """Every row of the log tables and every index definition of the file."""
    con = sqlite3.connect(path)
    try:
        out: dict[str, object] = {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}"))) for t in LOG_TABLES}
        out["schema"] = sorted(con.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
        return out
    finally:
        con.close()


async def _import(path: Path, parts: list[list[Event]], *, bulk_messages: int, batch_size: int = 7,
                  whole: bool = True) -> None:
    # (not `whole`: as a bulk import too big to read its range at once, day by day)
    async with SqliteStore(path, batch_size=batch_size, bulk_messages=bulk_messages,
                           whole_messages=_WHOLE_MAX_MESSAGES if whole else 0) as store:
        for part in parts:
            await store.import_events(part)


# -- bulk imports ---------------------------------------------------------------------------------

@pytest.mark.parametrize("whole", [True, False], ids=["whole-range", "day-by-day"])
@pytest.mark.parametrize("bots", [True, False], ids=["bots", "no-bots"])
@pytest.mark.parametrize("seed", range(4))
async def test_bulk_import_equals_ordinary_import(tmp_path: Path, seed: int, bots: bool, whole: bool) -> None:
    # Without bots, the bulk refresh writes the users while it folds; a bot may change other days,
    # so with one they are written first.
    events = _events(seed, 600, bots=bots)
    first, second = events[:150], events[150:]
    # The second import is bulk in one file (from its first chunk on) and ordinary in the other;
    # it carries replies and reactions whose targets the first import or later chunks hold.
    await _import(tmp_path / "bulk.db", [first, second], bulk_messages=0, whole=whole)
    await _import(tmp_path / "plain.db", [first, second], bulk_messages=10**9)
    bulk, plain = _dump(tmp_path / "bulk.db"), _dump(tmp_path / "plain.db")
    assert bulk == plain
    names = {name for _type, name, _sql in bulk["schema"]}  # type: ignore[attr-defined]
    assert set(_BULK_INDEXES) <= names
    async with SqliteStore(tmp_path / "bulk.db") as store:
        assert await read(store) == reference(events)


async def test_bulk_import_into_a_log_without_reactions(tmp_path: Path) -> None:
    # The log holds no reaction before the bulk import, so every reaction row is the import's own
    # and its day is already dirty: the bookkeeping skips the reactions waiting for new messages.
    events = _events(5, 600)
    first = [e for e in events[:200] if e.kind is Kind.MESSAGE]
    second = [e for e in events if e not in first]
    await _import(tmp_path / "bulk.db", [first, second], bulk_messages=0)
    await _import(tmp_path / "plain.db", [first, second], bulk_messages=10**9)
    assert _dump(tmp_path / "bulk.db") == _dump(tmp_path / "plain.db")
    async with SqliteStore(tmp_path / "bulk.db") as store:
        assert await read(store) == reference(events)


async def test_bulk_reimport_changes_nothing(tmp_path: Path) -> None:
    # Nothing of a re-import is new: it still goes bulk (it stages as many messages as the log
    # holds), refreshes no day, and must leave the file as it was, indexes included.
    events = _events(6, 500)
    path = tmp_path / "c.db"
    await _import(path, [events], bulk_messages=10**9)
    before = _dump(path)
    async with SqliteStore(path, batch_size=7, bulk_messages=0) as store:
        dropped = _count_bulk(store)
        stats = await store.import_events(events)
        assert dropped == [True] and stats.new == 0
    assert _dump(path) == before


async def test_bulk_refresh_keeps_the_clean_days_inside_its_range(tmp_path: Path) -> None:
    # The bulk refresh reads the whole range between the first and last dirty day at once; the
    # days in between that the import did not touch keep their rows as they were.
    f = EventFactory()
    old = [f.msg(f"a{day}", "ann", day * DAY + 5) for day in range(10)]
    old += [f.reply(f"b{day}", "bob", f"a{day}", day * DAY + 90) for day in range(10)]
    new = [f.react("a0", "cy", 100), f.reply("c9", "cy", "a9", 9 * DAY + 300), f.msg("d9", "dee", 9 * DAY + 400)]
    path = tmp_path / "c.db"
    await _import(path, [old], bulk_messages=10**9)
    con = sqlite3.connect(path)
    rows = "SELECT * FROM day_aggregates ORDER BY day"
    before = con.execute(rows).fetchall()
    async with SqliteStore(path, batch_size=2, bulk_messages=0) as store:
        dropped = _count_bulk(store)
        await store.import_events(new)
        assert dropped == [True]
        assert await read(store) == reference([*old, *new])
    after = con.execute(rows).fetchall()
    con.close()
    assert len(after) == 10
    assert after[1:9] == before[1:9]
    assert after[0] != before[0] and after[9] != before[9]


async def test_bulk_import_resolves_late_replies_and_reactions(tmp_path: Path) -> None:
    f = EventFactory()
    # The log already holds replies and reactions waiting for m1 (with a wrong hint); the bulk
    # import brings m1 in a later chunk than its own early reply to it.
    early = [f.reply("r0", "bob", "m1", 10, to_author="eve"), f.react("m1", "cy", 20, target_author="eve")]
    later = [f.reply("r1", "dee", "m1", 30), f.msg("x", "eve", 40), f.msg("y", "eve", 50),
             f.msg("m1", "ann", 5), f.react("m1", "dee", DAY)]
    path = tmp_path / "c.db"
    await _import(path, [early, later], bulk_messages=0, batch_size=2)
    async with SqliteStore(path) as store:
        assert await read(store) == reference([*early, *later])
    con = sqlite3.connect(path)
    assert dict(con.execute("SELECT message_id, reply_target FROM messages WHERE reply_to IS NOT NULL")) == {
        "r0": "ann", "r1": "ann"}
    con.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs(), st.randoms(use_true_random=False), st.integers(1, 4), st.integers(0, 12))
def test_bulk_import_matches_reference_in_any_order(events: list[Event], rnd: object, batch_size: int,
                                                    split: int) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]

    async def run() -> list[object]:
        async with SqliteStore(":memory:", batch_size=batch_size, bulk_messages=0) as store:
            await store.import_events(shuffled[:split])
            await store.import_events(shuffled[split:])
            return [await read(store, BASE + timedelta(seconds=lo), BASE + timedelta(seconds=hi))
                    for lo, hi in WINDOWS]

    assert asyncio.run(run()) == [window_reference(events, window) for window in WINDOWS]


def _count_bulk(store: SqliteStore) -> list[bool]:
    """A list that gets an entry each time `store` drops the indexes for a bulk import."""
    calls: list[bool] = []
    begin = store._begin_bulk

    async def spy() -> object:
        calls.append(True)
        return await begin()

    store._begin_bulk = spy  # type: ignore[method-assign]
    return calls


class _Boom(Exception):
    pass


def _failing(events: list[Event], after: int) -> Iterator[Event]:
    yield from events[:after]
    raise _Boom


async def test_failed_bulk_import_leaves_the_database_as_before(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    events = _events(1, 500)
    await _import(path, [events[:200]], bulk_messages=10**9)
    before = _dump(path)
    async with SqliteStore(path, batch_size=7, bulk_messages=0) as store:
        dropped = _count_bulk(store)
        with pytest.raises(_Boom):
            await store.import_events(_failing(events[200:], 250))  # fails after the indexes went
        assert dropped == [True]
        assert _dump(path) == before  # rows and indexes as they were
        await store.import_events(events[200:])  # and the store goes on working
        assert await read(store) == reference(events)
    assert {name for _t, name, _sql in _dump(path)["schema"]} >= set(_BULK_INDEXES)  # type: ignore[attr-defined]


async def test_small_import_into_a_bigger_log_keeps_the_indexes(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    events = _events(2, 900)
    await _import(path, [events[:700]], bulk_messages=10**9)
    async with SqliteStore(path, batch_size=20, bulk_messages=50) as store:
        calls = _count_bulk(store)
        await store.import_events(events[700:])  # ~110 messages: past 50, but fewer than the log's ~380
        assert calls == []
        await store.import_events(_events(3, 1_400, community=replace(COMMUNITY, id="c9")))  # more than the log
        assert calls == [True]
        assert await read(store) == reference(events)


async def test_refresh_of_many_days_in_pipelined_groups(tmp_path: Path) -> None:
    # 25 days in one refresh: several groups of `_REFRESH_DAYS`, read and folded overlapping.
    f = EventFactory()
    events = []
    for day in range(25):
        events += [f.msg(f"a{day}", "ann", day * DAY + 5), f.reply(f"b{day}", "bob", f"a{day}", day * DAY + 90),
                   f.react(f"a{day}", "cy", day * DAY + 100), f.mention(f"c{day}", "cy", "ann", when=day * DAY + 200)]
    async with SqliteStore(tmp_path / "c.db", bulk_messages=0) as store:
        await store.import_events(events)
        assert await read(store) == reference(events)
        con = sqlite3.connect(tmp_path / "c.db")
        assert con.execute("SELECT count(*) FROM day_aggregates").fetchone() == (25,)
        con.close()
