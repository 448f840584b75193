"""Saving compute()'s column view (RankedMembers) and reading aggregates into int32 columns."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np

from scoring.daily import aggregate_events
from scoring.engine import RankedMembers, ScoreColumns, compute
from scoring.model import epoch
from scoring.result import MemberScore
from storage.base import Store
from storage.sqlite import SqliteStore, _assemble, _blob, _components, _score_rows
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

async def test_sqlite_snapshot_text_is_the_components_json_from_columns_and_objects(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "c.db") as store:
        await store.import_events(_conversation())
        members = await _table(store)
        await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "all", members)
        await store.save_scores(COMMUNITY, BASE + timedelta(days=2), "all", tuple(members))
    with sqlite3.connect(tmp_path / "c.db") as conn:
        rows = conn.execute("SELECT user_id, day, score, components FROM score_snapshots").fetchall()
    by_user = {m.user: m for m in members}
    assert len(rows) == 2 * len(members)
    for user, _day, value, text in rows:
        assert text == _components(by_user[user])
        assert value == by_user[user].score
        assert json.loads(text)["rank"] == by_user[user].rank


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


def test_sqlite_snapshot_texts_of_columns_equal_the_generic_ones_even_when_not_finite() -> None:
    users = ["b", "a", "c"]
    cols = ScoreColumns(users, np.array([90, 50, 1]), np.array([83.3, 50.0, 16.7]), np.array([1e16, 2.5, 0.0]),
                        np.array([1e-05, float("inf"), 3.0]), np.array([1.0, 1.1, 0.9]), np.array([1.0, 2.0, 0.5]),
                        np.array([0.1, 0.2, float("nan")]), "clout-v1", np.array([1, 0, 2]))
    members = RankedMembers(cols)
    for period in ("all", "week"):
        rows, snaps = _score_rows(7, period, 3, 5, members)
        assert [r[2] for r in rows] == ["a", "b", "c"]
        assert [r[13] for r in rows] == [1, 0, 2]
        assert snaps == ([(7, m.user, 3, m.score, _components(m)) for m in sorted(members, key=lambda m: m.user)]
                         if period == "all" else [])
    finite = RankedMembers(ScoreColumns(users, cols.score, cols.percentile, cols.influence, np.array([1.0, 2.0, 3.0]),
                                        cols.resonance, cols.network, np.array([0.1, 0.2, 0.3]), "clout-v1",
                                        cols.by_user))
    _rows, snaps = _score_rows(7, "all", 3, 5, finite)
    assert snaps == [(7, m.user, 3, m.score, _components(m)) for m in sorted(finite, key=lambda m: m.user)]
