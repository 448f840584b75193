"""User ids of the daily aggregates numbered densely (shared by the SQLite and PostgreSQL stores).

Numbering is deterministic: numeric ids (platform ids) by one sort, in numeric order; any other
ids through a dict, in first-appearance order. storage/packed.py assembles a window with these.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from scoring.grouping import number

__all__ = ["SEP", "intern", "new_index", "number_numeric", "numeric_ids", "numeric_names"]

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
