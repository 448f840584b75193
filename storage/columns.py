"""Daily aggregates assembled column-wise from SQL rows (shared by the SQLite and PostgreSQL stores).

User ids are interned to dense indexes in first-appearance order, so `DailyAggregates.users` is
deterministic; rows arrive either plain, as (day, user..., int...) tuples, or packed one SQL row
per day (ids joined by SEP, integers joined by ','), which parses in C instead of building millions
of row objects. Interning matches ids by their hashes in numpy (`Interner`): a 90-day read of a
million-member community interns ~14M ids, and a dict lookup each (a few cache misses in a
million-entry dict) was the largest part of the read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from scoring.daily import DailyAggregates

__all__ = ["SEP", "Columns", "Interner", "add_packed", "add_partial", "add_rows", "finish", "intern", "new_index"]

SEP = "\x1f"  # ASCII unit separator: never part of a platform id (checked, with a fallback)


class Columns:
    """Column-wise aggregate rows being assembled, with user ids interned to dense indexes."""

    def __init__(self, n_ints: int, n_users: int) -> None:
        self.days: list[np.ndarray] = []
        self.users: list[list[np.ndarray]] = [[] for _ in range(n_users)]
        self.ints: list[list[np.ndarray]] = [[] for _ in range(n_ints)]

    def column(self, parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)


class Interner:
    """User id -> dense index, numbering new ids in order of first appearance.

    Ids are matched by two 64-bit hashes, `hash(id)` and `hash(SALT + id)` (Python's keyed
    SipHash), kept sorted in numpy arrays, so interning a batch costs two hash calls per id and
    vectorised searches instead of a dict lookup per id. Two different ids would have to agree on
    both hashes (about 2**-128 per pair) to be confused; ids that agree on only one of them are
    detected, and from then on every batch is interned exactly through a dict.
    """

    SALT = "\x1e"
    _hash = staticmethod(hash)  # a test swaps in a weak hash to exercise the collision path

    def __init__(self) -> None:
        self.names: list[str] = []
        self._h1 = np.zeros(0, np.int64)  # sorted
        self._h2 = np.zeros(0, np.int64)  # parallel to _h1
        self._idx = np.zeros(0, np.int64)  # parallel to _h1: the dense index
        self._exact: dict[str, int] | None = None  # after a partial hash collision

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __call__(self, names: Sequence[str]) -> np.ndarray:
        """Dense indexes of `names` (any length, repeats allowed), numbering unseen ids."""
        if self._exact is not None:
            return self._intern_exact(names)
        n = len(names)
        h1 = np.fromiter(map(self._hash, names), np.int64, n)
        h2 = np.fromiter(map(self._hash, map(self.SALT.__add__, names)), np.int64, n)
        uniq, first, inverse = np.unique(h1, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        u2 = h2[first]
        pos = np.searchsorted(self._h1, uniq)
        found = pos < self._h1.size
        found[found] = self._h1[pos[found]] == uniq[found]
        if not np.array_equal(u2[inverse], h2) or not np.array_equal(self._h2[pos[found]], u2[found]):
            self._exact = dict(zip(self.names, range(len(self.names)), strict=True))
            return self._intern_exact(names)
        out = np.empty(uniq.size, np.int64)
        out[found] = self._idx[pos[found]]
        new = np.flatnonzero(~found)
        if new.size:
            new = new[np.argsort(first[new], kind="stable")]  # first-appearance order
            numbers = np.arange(len(self.names), len(self.names) + new.size, dtype=np.int64)
            out[new] = numbers
            self.names.extend(map(names.__getitem__, first[new].tolist()))
            at = np.sort(new)  # ascending hash order, as np.insert wants equal positions
            self._h1 = np.insert(self._h1, pos[at], uniq[at])
            self._h2 = np.insert(self._h2, pos[at], u2[at])
            self._idx = np.insert(self._idx, pos[at], out[at])
        return out[inverse]

    def _intern_exact(self, names: Sequence[str]) -> np.ndarray:
        index = self._exact
        assert index is not None
        out = np.empty(len(names), np.int64)
        for i, name in enumerate(names):
            j = index.get(name)
            if j is None:
                j = index[name] = len(self.names)
                self.names.append(name)
            out[i] = j
        return out


def new_index() -> Interner:
    """An empty `Interner` (user id -> dense index in first-appearance order)."""
    return Interner()


def intern(index: Interner, names: Sequence[str]) -> np.ndarray:
    """Dense indexes of `names` in `index` (from new_index), numbering new ids."""
    return index(names)


def add_rows(cols: Columns, index: Interner, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append plain (day, user..., int...) rows."""
    if not rows:
        return
    n_users = len(cols.users)
    transposed = list(zip(*rows, strict=True))
    cols.days.append(np.array(transposed[0], np.int64))
    for j in range(n_users):
        cols.users[j].append(intern(index, list(transposed[1 + j])))
    for j in range(len(cols.ints)):
        cols.ints[j].append(np.array(transposed[1 + n_users + j], np.int64))


def add_packed(cols: Columns, index: Interner, packed: Sequence[tuple[Any, ...]]) -> bool:
    """Append rows packed one SQL row per day: (day, n, users joined by SEP..., ints joined by ',').

    Returns False (adding nothing) if an id contains the separator, so the caller can fall back.
    """
    parsed = []
    n_users = len(cols.users)
    for row in packed:
        day, n = row[0], row[1]
        users = [str(row[2 + j]).split(SEP) for j in range(n_users)]
        if any(len(u) != n for u in users):
            return False
        ints = [np.fromstring(str(row[2 + n_users + j]), dtype=np.int64, sep=",")
                for j in range(len(cols.ints))]
        if any(len(a) != n for a in ints):
            return False
        parsed.append((day, n, users, ints))
    for day, n, users, ints in parsed:
        cols.days.append(np.full(n, day, np.int64))
        for j, names in enumerate(users):
            cols.users[j].append(intern(index, names))
        for j, a in enumerate(ints):
            cols.ints[j].append(a)
    return True


def add_partial(members: Columns, pairs: Columns, index: Interner,
                member_rows: Iterable[tuple[Any, ...]], pair_rows: Iterable[tuple[Any, ...]]) -> None:
    """Append partial-day fact rows, which lead with the community id."""
    add_rows(members, index, [r[1:] for r in member_rows])
    add_rows(pairs, index, [r[1:] for r in pair_rows])


def finish(index: Interner, members: Columns, pairs: Columns) -> DailyAggregates:
    c = members.column
    return DailyAggregates(
        users=tuple(index), md_day=c(members.days), md_user=c(members.users[0]),
        md_messages=c(members.ints[0]), md_counted=c(members.ints[1]), md_anon=c(members.ints[2]),
        pd_day=c(pairs.days), pd_responder=c(pairs.users[0]), pd_target=c(pairs.users[1]),
        pd_replies=c(pairs.ints[0]), pd_mentions=c(pairs.ints[1]), pd_reactions=c(pairs.ints[2]))
