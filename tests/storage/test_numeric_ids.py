"""Numeric user ids read without a Python string per id (`storage.columns.numeric_ids`).

Platform ids are decimal integers (Discord snowflakes, Telegram user and chat ids). SQLite's
aggregates read parses a day's JSON list of them in C and numbers them by one sort; any other id
in the window ("alice", "007") sends the read down the string path. Both must give the reference
aggregates; the parser must never accept an id whose integer would print differently.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.base import Store
from storage.columns import numeric_ids
from storage.sqlite import SqliteStore
from tests.factories import BASE, COMMUNITY, EventFactory
from tests.storage.conftest import Write, read
from tests.storage.test_contract import reference

DAY = 86_400
INT64 = np.iinfo(np.int64)
canonical = st.integers(INT64.min + 1, INT64.max - 1).map(str)
near_miss = st.sampled_from(["007", "-0", "+1", " 1", "1 ", "1e3", "1-2", "--1", "-", "", "0x1", "1.0",
                             str(INT64.max), str(INT64.min), "9223372036854775808", "99999999999999999999",
                             "1, 2", "1,2", '1"', "[1]", "١٢"])
anything = st.text(alphabet=st.sampled_from(list('[]", -0123456789ab\\')), max_size=6)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(canonical, near_miss, anything), max_size=12))
def test_numeric_ids_never_accepts_an_id_that_would_print_differently(ids: list[str]) -> None:
    got = numeric_ids(json.dumps(ids, ensure_ascii=False))
    if got is not None:
        assert [str(v) for v in got.tolist()] == ids
    else:
        assert any(not _canonical(i) for i in ids)


@settings(max_examples=200, deadline=None)
@given(st.lists(canonical, max_size=30))
def test_numeric_ids_parses_every_list_of_canonical_ids(ids: list[str]) -> None:
    got = numeric_ids(json.dumps(ids, ensure_ascii=False))
    assert got is not None and got.dtype == np.int64 and got.tolist() == [int(i) for i in ids]


def _canonical(text: str) -> bool:
    try:
        value = int(text)
    except ValueError:
        return False
    return str(value) == text and INT64.min < value < INT64.max


SNOWFLAKE = "1311111111111111111"  # 19 digits, as Discord ids are today
NUMERIC = ["17", "-1002233", SNOWFLAKE, "9", "10", "0"]


def _events(users: list[str]) -> list:
    f = EventFactory()
    events = []
    for i, user in enumerate(users):
        other, third = users[(i + 1) % len(users)], users[(i + 2) % len(users)]
        at = (i % 3) * DAY + i * 300
        events += [f.msg(f"m{i}", user, at), f.reply(f"r{i}", other, f"m{i}", at + 70),
                   f.react(f"m{i}", third, at + 80), f.mention(f"n{i}", user, other, when=at + 90)]
    return events


async def test_numeric_ids_read_the_reference_aggregates(store: Store, write: Write) -> None:
    events = _events(NUMERIC)
    await write(events)
    assert await read(store) == reference(events)
    # A window that cuts the first and last days (those are read from the log, not the day rows).
    start, end = BASE + timedelta(hours=1), BASE + timedelta(days=2, hours=1)
    assert await read(store, start, end) == reference(events, start, end)


async def test_one_other_id_sends_the_read_down_the_string_path(store: Store, write: Write) -> None:
    events = _events(NUMERIC) + _events(["alice", "007", *NUMERIC[:2]])[4:]
    await write(events)
    assert await read(store) == reference(events)


async def test_sqlite_numbers_numeric_ids_in_numeric_order(tmp_path) -> None:  # noqa: ANN001
    async with SqliteStore(tmp_path / "clout.db") as store:
        await store.import_events(_events(NUMERIC))
        aggs = await store.aggregates(COMMUNITY, BASE - timedelta(days=1), BASE + timedelta(days=5))
        assert list(aggs.users) == sorted(NUMERIC, key=int)  # numbered by the sort: the numeric path
        await store.import_events(_events(["alice", "bob", "carol"]))
        aggs = await store.aggregates(COMMUNITY, BASE - timedelta(days=1), BASE + timedelta(days=5))
        assert sorted(aggs.users) == sorted([*NUMERIC, "alice", "bob", "carol"])  # the string path
