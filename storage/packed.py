"""Daily aggregates as one packed row per community day (`day_aggregates`), shared by the SQL stores.

The layout (SQLite migration 7, PostgreSQL migration 9): `users` is the JSON array of the user ids
the day names, sorted by code point, written by `json.dumps(ensure_ascii=False)`; `member_rows` is
a 4 × members little-endian integer matrix (user index into `users`, messages, counted, anonymous
reactions), `pair_rows` 5 × pairs (responder index, target index, replies, mentions, reactions),
each 4 bytes wide unless a value needs 8 (width = length / (rows × columns)); rows in key order
(user; responder, target). `assemble` turns stored rows and cut (partial) days into the window's
`DailyAggregates`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from scoring.daily import DailyAggregates
from storage.columns import intern, new_index, number_numeric, numeric_ids, numeric_names

__all__ = ["Day", "assemble", "blob", "blob_view", "day_row", "matrix", "pack_day"]

# One day's aggregates, column-wise: (community, day, the user ids it names in code-point order,
# 4 × members int64 matrix: user index, messages, counted, anon; 5 × pairs: responder index,
# target index, replies, mentions, reactions), rows in key order (user / responder, target).
Day = tuple[int, int, list[str], np.ndarray, np.ndarray]


def pack_day(cid: int, day: int, member_users: Sequence[str], member_ints: np.ndarray,
             responders: Sequence[str], targets: Sequence[str], pair_ints: np.ndarray) -> Day:
    """One `Day` from a day's aggregate facts: one member row per user (3 × members: messages,
    counted, anon) and one pair row per (responder, target) (3 × pairs: replies, mentions,
    reactions), in any order."""
    users = sorted({*member_users, *responders, *targets})
    at = {u: i for i, u in enumerate(users)}

    def idx(names: Sequence[str]) -> np.ndarray:
        return np.fromiter(map(at.__getitem__, names), np.int64, len(names))

    user, responder, target = idx(member_users), idx(responders), idx(targets)
    mem = np.vstack([user, np.asarray(member_ints, np.int64).reshape(3, user.size)])[:, np.argsort(user)]
    par = np.vstack([responder, target, np.asarray(pair_ints, np.int64).reshape(3, responder.size)])
    par = par[:, np.lexsort((target, responder))]
    return cid, day, users, mem, par


def blob(m: np.ndarray) -> bytes:
    """A day matrix as little-endian integers, 4 bytes wide unless a value needs 8."""
    small = not m.size or (int(m.min()) >= -(1 << 31) and int(m.max()) < (1 << 31))
    return m.astype("<i4" if small else "<i8").tobytes()


def day_row(d: Day) -> tuple[Any, ...]:
    """The `day_aggregates` row of a day: (community, day, users, members, member_rows, pairs, pair_rows)."""
    cid, day, users, mem, par = d
    return cid, day, json.dumps(users, ensure_ascii=False), mem.shape[1], blob(mem), par.shape[1], blob(par)


def blob_view(data: bytes, rows: int, n: int) -> np.ndarray:
    width = len(data) // (rows * n) if n else 4
    return np.frombuffer(data, f"<i{width}").reshape(rows, n)


def matrix(data: bytes, rows: int, n: int) -> np.ndarray:
    """A stored day matrix as int64."""
    return blob_view(data, rows, n).astype(np.int64)


def _fits32(m: np.ndarray) -> bool:
    return m.dtype.itemsize <= 4 or not m.size or (int(m.min()) >= -(1 << 31) and int(m.max()) < (1 << 31))


def assemble(stored: list[Any], cut: Sequence[Day]) -> DailyAggregates:
    """DailyAggregates of stored `day_aggregates` rows (day, users, members, member_rows, pairs,
    pair_rows) and cut days, in day order. The columns are int32 when every value fits (half the
    memory of int64 at 18M rows) and filled in place; each stored row is parsed only when its turn
    comes and let go of after (`stored` is emptied), so the read never holds the window twice.

    Users: when every id of the window is a decimal integer (platform ids), the days' id lists are
    parsed to int64 in C and numbered by one sort, `users` in numeric order; otherwise each day's
    ids are interned through a dict in first-appearance order. (At a million members the dict path
    is ~14M lookups of fresh strings, 9-14 s of the read, nearly all of it cache misses.)"""
    fits = all(_fits32(blob_view(r[3], 4, r[2])) and _fits32(blob_view(r[5], 5, r[4])) for r in stored) \
        and all(_fits32(m) for d in cut for m in d[3:])
    dtype = np.int32 if fits else np.int64
    n_md = sum(r[2] for r in stored) + sum(d[3].shape[1] for d in cut)
    n_pd = sum(r[4] for r in stored) + sum(d[4].shape[1] for d in cut)
    md, pd = np.empty((5, n_md), dtype), np.empty((6, n_pd), dtype)
    order = sorted([(r[0], i) for i, r in enumerate(stored)] + [(d[1], -1 - i) for i, d in enumerate(cut)])
    numbered = _numbered(stored, cut, order)
    index = new_index()
    a = b = 0
    for k, (_day, i) in enumerate(order):
        if i >= 0:
            day, texts, members, member_rows, pairs, pair_rows = stored[i]
            stored[i] = None
            mem, par = blob_view(member_rows, 4, members), blob_view(pair_rows, 5, pairs)
            users = json.loads(texts) if numbered is None else None
            del texts, member_rows, pair_rows
        else:
            _cid, day, users, mem, par = cut[-1 - i]
        if numbered is None:
            assert users is not None
            glob = intern(index, users)
        else:
            glob = numbered[1][k]
        del users
        m, p = mem.shape[1], par.shape[1]
        md[0, a:a + m] = day
        md[1, a:a + m] = glob[mem[0]]
        md[2:, a:a + m] = mem[1:]
        pd[0, b:b + p] = day
        pd[1, b:b + p] = glob[par[0]]
        pd[2, b:b + p] = glob[par[1]]
        pd[3:, b:b + p] = par[2:]
        a, b = a + m, b + p
    return DailyAggregates(
        users=tuple(index) if numbered is None else numbered[0], md_day=md[0], md_user=md[1], md_messages=md[2],
        md_counted=md[3], md_anon=md[4], pd_day=pd[0], pd_responder=pd[1], pd_target=pd[2], pd_replies=pd[3],
        pd_mentions=pd[4], pd_reactions=pd[5])


def _numbered(stored: list[Any], cut: Sequence[Day], order: list[tuple[int, int]]
              ) -> tuple[tuple[str, ...], list[np.ndarray]] | None:
    """(users, each day's index map into them, in `order`) when every id of the window is a
    canonical decimal integer (`storage.columns.numeric_ids`), else None."""
    days = []
    for _day, i in order:
        ids = numeric_ids(stored[i][1]) if i >= 0 else numeric_names(cut[-1 - i][2])
        if ids is None:
            return None
        days.append(ids)
    return number_numeric(days)
