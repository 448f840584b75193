"""Daily aggregates assembled column-wise from SQL rows (shared by the SQLite and PostgreSQL stores).

User ids are numbered densely, deterministically: numeric ids (platform ids) by one sort, in
numeric order; any other ids through a dict, in first-appearance order. Rows arrive either plain,
as (day, user..., int...) tuples, or packed one SQL row per day (ids joined by SEP, integers joined
by ','), which parses in C instead of building millions of row objects.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from scoring.daily import DailyAggregates
from scoring.grouping import number

__all__ = ["SEP", "Columns", "add_packed", "add_partial", "add_rows", "finish", "intern", "new_index", "number_numeric",
           "numeric_ids", "numeric_names"]

SEP = "\x1f"  # ASCII unit separator: never part of a platform id (checked, with a fallback)


_INT64 = np.iinfo(np.int64)
_POW10 = 10 ** np.arange(1, 19, dtype=np.int64)  # 10 … 10**18: digits of |x| = 1 + how many are <= |x|
_QUOTE, _COMMA, _SPACE, _MINUS = (ord(c) for c in '", -')
_OTHER = np.ones(128, dtype=bool)  # characters that cannot appear in the text of numeric ids
_OTHER[[ord(c) for c in '[]", -0123456789']] = False


def numeric_ids(text: str) -> np.ndarray | None:
    """The ids of a JSON array of user ids as written by `json.dumps` (e.g. '["17", "-1002"]'), as
    int64, when every id is a canonical decimal integer — what platform ids are (Discord snowflakes,
    Telegram user and chat ids) — parsed in C, with no Python string per id. None when any id is
    anything else ("alice", "007", "-0", "1-2", beyond int64), so the caller takes the string path.

    Sound for `json.dumps` output: with only `[]", -` and digits in the text, k ids need exactly
    2k quotes, k - 1 ", " separators and no other comma or space, so every id is one of -?[0-9]+
    (a '-' only right after a quote, no empty id); each parses to a value whose canonical text is
    at most as long as the id, so equal total lengths mean every id is canonical.
    """
    if text == "[]":
        return np.zeros(0, np.int64)
    if not text.isascii() or not text.startswith('["') or not text.endswith('"]'):
        return None
    chars = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    counts = np.bincount(chars, minlength=128)
    k = int(counts[_COMMA]) + 1
    quotes, minus = np.flatnonzero(chars == _QUOTE), np.flatnonzero(chars == _MINUS)
    if (counts[_OTHER].any() or quotes.size != 2 * k or counts[_SPACE] != k - 1 or counts[ord("[")] != 1
            or counts[ord("]")] != 1 or not (chars[np.flatnonzero(chars == _COMMA) + 1] == _SPACE).all()
            or (np.diff(quotes) == 1).any() or not (chars[minus - 1] == _QUOTE).all()
            or (chars[minus + 1] == _QUOTE).any()):
        return None
    ids = np.fromstring(text[2:-2], dtype=np.int64, sep='", "')
    if ids.size != k or ids.min() == _INT64.min or ids.max() == _INT64.max:  # out of range: saturated
        return None
    digits = 1 + np.searchsorted(_POW10, np.abs(ids), side="right")
    if len(text) != 2 + 2 * (k - 1) + int((2 + digits + (ids < 0)).sum()):
        return None
    return ids


# A column part's user ids: int64 when every id of the part is numeric (`numeric_ids`), else the
# strings. Numbering waits for `finish`, which sorts numeric ids once when every part is numeric.
_Ids = np.ndarray | list[str]


class Columns:
    """Column-wise aggregate rows being assembled; user ids are numbered by `finish`."""

    def __init__(self, n_ints: int, n_users: int) -> None:
        self.days: list[np.ndarray] = []
        self.users: list[list[_Ids]] = [[] for _ in range(n_users)]
        self.ints: list[list[np.ndarray]] = [[] for _ in range(n_ints)]

    def column(self, parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def new_index() -> dict[str, int]:
    """User id -> dense index, numbering new ids on lookup (in C: one dict lookup per name)."""
    return defaultdict(itertools.count().__next__)


def intern(index: dict[str, int], names: list[str]) -> np.ndarray:
    # First-appearance order keeps the mapping deterministic; `index` comes from new_index.
    return np.fromiter(map(index.__getitem__, names), np.int64, len(names))


def numeric_names(names: list[str]) -> np.ndarray | None:
    """`numeric_ids` of a list of ids already in Python strings (a few cut-day or plain rows)."""
    return numeric_ids(json.dumps(names, ensure_ascii=False))


def number_numeric(parts: Sequence[np.ndarray]) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Number numeric id parts together by one sort: the distinct ids as text, in numeric order,
    and each part's indexes into them."""
    values, inverse = number(np.concatenate(parts) if parts else np.zeros(0, np.int64))
    out, at = [], 0
    for part in parts:
        out.append(inverse[at:at + part.size])
        at += part.size
    return tuple(map(str, values.tolist())), out


def _ids(names: list[str]) -> _Ids:
    ids = numeric_names(names)
    return names if ids is None else ids


def add_rows(cols: Columns, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append plain (day, user..., int...) rows."""
    if not rows:
        return
    n_users = len(cols.users)
    transposed = list(zip(*rows, strict=True))
    cols.days.append(np.array(transposed[0], np.int64))
    for j in range(n_users):
        cols.users[j].append(_ids(list(transposed[1 + j])))
    for j in range(len(cols.ints)):
        cols.ints[j].append(np.array(transposed[1 + n_users + j], np.int64))


def add_packed(cols: Columns, packed: Sequence[tuple[Any, ...]]) -> bool:
    """Append rows packed one SQL row per day: (day, n, users joined by SEP..., ints joined by ',').

    Returns False (adding nothing) if an id contains the separator, so the caller can fall back.
    """
    parsed = []
    n_users = len(cols.users)
    for row in packed:
        day, n = row[0], row[1]
        users: list[_Ids] = []
        for j in range(n_users):
            text = str(row[2 + j])
            ids = numeric_ids('["' + text.replace(SEP, '", "') + '"]')
            if ids is None or ids.size != n:
                ids = text.split(SEP)
                if len(ids) != n:
                    return False
            users.append(ids)
        ints = [np.fromstring(str(row[2 + n_users + j]), dtype=np.int64, sep=",")
                for j in range(len(cols.ints))]
        if any(len(a) != n for a in ints):
            return False
        parsed.append((day, n, users, ints))
    for day, n, users, ints in parsed:
        cols.days.append(np.full(n, day, np.int64))
        for j, ids in enumerate(users):
            cols.users[j].append(ids)
        for j, a in enumerate(ints):
            cols.ints[j].append(a)
    return True


def add_partial(members: Columns, pairs: Columns, member_rows: Iterable[tuple[Any, ...]],
                pair_rows: Iterable[tuple[Any, ...]]) -> None:
    """Append partial-day fact rows, which lead with the community id."""
    add_rows(members, [r[1:] for r in member_rows])
    add_rows(pairs, [r[1:] for r in pair_rows])


def finish(members: Columns, pairs: Columns) -> DailyAggregates:
    """The aggregates, users numbered: numeric ids by one sort (users in numeric order) when every
    part is numeric, else every id through a dict in first-appearance order."""
    columns = [members.users[0], pairs.users[0], pairs.users[1]]
    if all(isinstance(part, np.ndarray) for parts in columns for part in parts):
        users, numbered = number_numeric([p for parts in columns for p in parts])
        ends = np.cumsum([len(parts) for parts in columns]).tolist()
        md_user, pd_responder, pd_target = (np.concatenate(numbered[a:b]) if b > a else np.zeros(0, np.int64)
                                            for a, b in zip([0, *ends[:-1]], ends, strict=True))
    else:
        index = new_index()
        md_user, pd_responder, pd_target = (np.concatenate([intern(index, p if isinstance(p, list) else list(
            map(str, p.tolist()))) for p in parts]) if parts else np.zeros(0, np.int64) for parts in columns)
        users = tuple(index)
    c = members.column
    return DailyAggregates(
        users=users, md_day=c(members.days), md_user=md_user,
        md_messages=c(members.ints[0]), md_counted=c(members.ints[1]), md_anon=c(members.ints[2]),
        pd_day=c(pairs.days), pd_responder=pd_responder, pd_target=pd_target,
        pd_replies=c(pairs.ints[0]), pd_mentions=c(pairs.ints[1]), pd_reactions=c(pairs.ints[2]))
