"""Saving compute()'s column view (RankedMembers) and reading aggregates into int32 columns."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from scoring.daily import aggregate_events
from scoring.engine import RankedMembers, ScoreColumns, compute
from scoring.model import epoch
from scoring.result import MemberScore
from storage.base import Store
from storage.packed import assemble as _assemble
from storage.packed import blob as _blob
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore, _score_rows
from tests.factories import BASE, COMMUNITY, EventFactory
from tests.storage.conftest import Write, read, rows


def _conversation() -> list:
    f = EventFactory()
    users = ["alice", "bob", "carol", "dave", "erin", "frank"]
    pairs = [(f"c{i}", users[(i * 5) % 6]) for i in range(30)]
    return f.conversation(*pairs, gap=600)


async def _table(store: Store) -> RankedMembers:
    end = BASE + timedelta(days=1)
    table = compute(await store.aggregates(COMMUNITY, end - timedelta(days=90), end), end)
    assert isinstance(table.members, RankedMembers)
    assert len(table.members) >= 4
    return table.members


async def test_save_scores_of_columns_reads_back_like_the_objects(store: Store, write: Write) -> None:
    await write(_conversation())
    members = await _table(store)
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "all", members)
    # The same members as plain objects, shuffled: the store orders them by rank itself.
    objects = list(members)
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "week", objects[::-1])
    board = await store.leaderboard(COMMUNITY, "all", limit=0)
    assert board == list(members)
    assert await store.leaderboard(COMMUNITY, "week", limit=0) == board
    for m in objects:
        assert await store.score_of(COMMUNITY, m.user) == m
    assert await store.leaderboard(COMMUNITY, "all", offset=2, limit=2) == objects[2:4]
    history = await store.score_history(COMMUNITY, objects[0].user, BASE - timedelta(days=1))
    assert [s for _, s in history] == [objects[0].score]


async def test_save_scores_of_columns_replaces_a_larger_board(store: Store, write: Write) -> None:
    await write(_conversation())
    members = await _table(store)
    extra = MemberScore("zed", 1, 1.0, len(members) + 1, 0.0, 0.0, 1.0, 1.0, 0.0, members[0].algorithm)
    await store.save_scores(COMMUNITY, BASE, "all", [*members, extra])
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "all", members)
    assert await store.leaderboard(COMMUNITY, "all", limit=0) == list(members)
    assert await store.score_of(COMMUNITY, "zed") is None
    saved = await store.stored_scores(COMMUNITY)
    assert saved is not None and saved.members == len(members)


# -- SQLite only ------------------------------------------------------------------------------------

async def test_sqlite_aggregates_read_into_int32_columns(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "c.db") as store:
        await store.import_events(_conversation())
        aggs = await store.aggregates(COMMUNITY, BASE - timedelta(days=1), BASE + timedelta(days=1))
    assert len(aggs.pd_day) > 0
    for column in (aggs.md_day, aggs.md_user, aggs.md_counted, aggs.pd_day, aggs.pd_target, aggs.pd_reactions):
        assert column.dtype == np.int32


def _stored(day: int, users: list[str], mem: np.ndarray, par: np.ndarray) -> tuple:
    return (day, json.dumps(users), mem.shape[1], _blob(mem), par.shape[1], _blob(par))


def test_sqlite_assemble_orders_days_and_widens_when_a_value_needs_64_bits() -> None:
    mem = np.array([[0, 1], [3, 1], [3, 0], [0, 2]], np.int64)  # (user, messages, counted, anon) per row
    par = np.array([[1], [0], [2], [0], [1]], np.int64)  # (responder, target, replies, mentions, reactions)
    big = par.copy()
    big[4, 0] = 2**40
    stored = [_stored(11, ["b", "c"], mem, par), _stored(13, ["a", "b"], mem, big)]
    cut = [(0, 12, ["c", "a"], mem, par), (0, 10, ["a", "d"], mem, par)]
    aggs = _assemble(list(stored), cut)
    assert aggs.users == ("a", "d", "b", "c")  # first appearance, days in order 10, 11, 12, 13
    assert aggs.pd_reactions.dtype == np.int64
    assert aggs.md_day.tolist() == [10, 10, 11, 11, 12, 12, 13, 13]
    assert [aggs.users[i] for i in aggs.md_user.tolist()] == ["a", "d", "b", "c", "c", "a", "a", "b"]
    assert aggs.pd_reactions.tolist() == [1, 1, 1, 2**40]
    assert [aggs.users[i] for i in aggs.pd_responder.tolist()] == ["d", "c", "a", "b"]
    small = _assemble([_stored(11, ["b", "c"], mem, par)], [(0, 12, ["c", "a"], mem, par)])
    assert small.pd_reactions.dtype == np.int32
    assert small.md_messages.tolist() == [3, 1, 3, 1]


async def test_store_aggregates_equal_the_events_folded_in_memory(store: Store, write: Write) -> None:
    events = _conversation()
    await write(events)
    start, end = BASE - timedelta(hours=1), BASE + timedelta(hours=3)  # cut days at both ends
    expected = rows(aggregate_events(events, start=epoch(start), end=epoch(end)))
    assert expected[0] and expected[1]
    assert await read(store, start, end) == expected


def test_sqlite_score_rows_in_key_order_with_rank_positions() -> None:
    users = ["b", "a", "c"]
    cols = ScoreColumns(users, np.array([90, 50, 1]), np.array([83.3, 50.0, 16.7]), np.array([1e16, 2.5, 0.0]),
                        np.array([1e-05, float("inf"), 3.0]), np.array([1.0, 1.1, 0.9]), np.array([1.0, 2.0, 0.5]),
                        np.array([0.1, 0.2, 0.3]), "clout-v1", np.array([1, 0, 2]))
    members = RankedMembers(cols)
    for period in ("all", "week"):
        rows = list(_score_rows(7, period, 5, members))
        assert [r[2] for r in rows] == ["a", "b", "c"]
        assert [r[13] for r in rows] == [1, 0, 2]
        assert rows == _score_rows(7, period, 5, tuple(members))  # objects give the same rows


def _awkward(user: str, **kw: object) -> MemberScore:
    base: dict[str, object] = {"score": 3, "percentile": 12.5, "rank": 1, "influence": 1e22, "reach": -0.0,
                               "resonance": 2.0, "network": 5e-324, "activity": 1 / 3, "algorithm": 'v"1\u00e9'}
    return MemberScore(user=user, **{**base, **kw})  # type: ignore[arg-type]


_SNAPSHOT_READ = ("SELECT s.user_id, s.day, s.score, s.percentile, s.rank, s.influence, s.reach, s.resonance,"
                  " s.network, s.activity, d.algorithm FROM score_snapshots s JOIN snapshot_days d"
                  " ON d.community = s.community AND d.day = s.day")


async def _snapshot_rows(store: Store) -> dict[tuple[str, int], tuple[object, ...]]:
    """Every stored snapshot row: (user, day) -> (score, percentile, rank, influence, reach,
    resonance, network, activity, the day's algorithm)."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            found = conn.execute(_SNAPSHOT_READ).fetchall()
    else:
        assert isinstance(store, PostgresStore)
        async with store._reading() as conn:
            found = await conn.fetch(_SNAPSHOT_READ)
    return {(u, d): tuple(rest) for u, d, *rest in found}


async def test_snapshots_hold_the_components_that_read_back_exactly(store: Store) -> None:
    """A day's snapshot is made in SQL from the saved rows; its typed columns read back as the very
    doubles saved (awkward values and infinities included), on every backend."""
    if not isinstance(store, SqliteStore | PostgresStore):
        pytest.skip("the memory store keeps only (day, score)")
    members = [_awkward("a"), _awkward("b", rank=2, percentile=0.1 * 3, influence=1e-20),
               _awkward("c", rank=3, network=float("inf"), activity=2 / 3, score=1),
               _awkward("d", rank=4, reach=float("-inf"), percentile=12.0, resonance=123456789.12345679)]
    await store.save_scores(COMMUNITY, BASE, "all", members)
    later = [dataclasses.replace(m, score=m.score + 1) for m in members]
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "all", members[:2])
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1, hours=1), "week", later)  # no snapshot
    found = await _snapshot_rows(store)
    day = epoch(BASE) // 86_400
    # day + 1's snapshot is still the stored scores themselves: it is written when a later day's replace them
    assert set(found) == {(m.user, day) for m in members}
    for (user, _day), row in found.items():
        m = next(x for x in members if x.user == user)
        # == on doubles is exact (only the sign of a zero is not kept, as in the scores table)
        assert row == (m.score, m.percentile, m.rank, m.influence, m.reach, m.resonance, m.network, m.activity,
                       m.algorithm)
    assert [score for _day, score in await store.score_history(COMMUNITY, "c", BASE - timedelta(days=1))] == [1]


def _board(n: int, shift: int) -> list[MemberScore]:
    users = [f"u{(i * 7 + shift) % n:03d}" for i in range(n)]
    return [MemberScore(user=u, score=max(1, 100 - i), percentile=100.0 * (n - i) / n, rank=i + 1,
                        influence=float(n - i), reach=1.0, resonance=1.0, network=1.0, activity=0.5,
                        algorithm="clout-v1") for i, u in enumerate(users)]


async def test_sqlite_big_save_rebuilds_the_rank_index_once_and_a_failed_one_keeps_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "_BULK_SCORES", 10)
    path = tmp_path / "c.db"

    def index_sql() -> list[str]:
        with sqlite3.connect(path) as conn:
            return [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'scores_by_rank'")]

    async with SqliteStore(path) as store:
        await store.save_scores(COMMUNITY, BASE, "all", _board(40, 0))
        before = index_sql()
        assert len(before) == 1
        dropped: list[tuple[str, ...]] = []
        drop = store._drop_indexes

        async def spy(names: tuple[str, ...]) -> list[tuple[str, str]]:
            dropped.append(tuple(names))
            return await drop(names)

        monkeypatch.setattr(store, "_drop_indexes", spy)
        second = _board(40, 3)
        await store.save_scores(COMMUNITY, BASE + timedelta(hours=1), "all", second)
        assert dropped == [("scores_by_rank",)]
        assert index_sql() == before
        assert await store.leaderboard(COMMUNITY, "all", 10, 5) == second[10:15]
        assert await store.leaderboard(COMMUNITY, "all", limit=0) == second
        # A save that fails after the drop rolls the index back with everything else.
        broken = [*_board(40, 5)[:39], dataclasses.replace(_board(40, 5)[39], percentile=float("nan"))]
        with pytest.raises(sqlite3.IntegrityError):
            await store.save_scores(COMMUNITY, BASE + timedelta(hours=2), "all", broken)
        assert dropped == [("scores_by_rank",)] * 2
        assert index_sql() == before
        assert await store.leaderboard(COMMUNITY, "all", limit=0) == second
        # Fewer rows than half of what is stored: updated in place, nothing dropped.
        await store.save_scores(COMMUNITY, BASE, "week", _board(12, 1))
        await store.save_scores(COMMUNITY, BASE, "month", _board(45, 2))
        await store.save_scores(COMMUNITY, BASE + timedelta(hours=3), "week", _board(12, 2))
        assert len(dropped) == 3  # the month's first save (45 of 97) dropped; the week's (12 of 97) did not
        assert await store.leaderboard(COMMUNITY, "week", limit=0) == _board(12, 2)
