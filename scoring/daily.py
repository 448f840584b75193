"""Daily aggregates: the compact, text-free summary of a community's events that scoring reads.

Two tables, both per UTC day:
- member days: (day, user, messages, counted messages, anonymous reactions received)
- pair days:   (day, responder, target, replies, mentions, reactions)

`DailyAggregates` holds them column-wise (numpy) so the engine can vectorise. Users are
platform-local ids (strings) inside one community.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["DailyAggregates", "MemberDay", "PairDay"]


@dataclass(frozen=True, slots=True)
class MemberDay:
    day: int
    user: str
    messages: int
    counted: int
    anon_reactions: int


@dataclass(frozen=True, slots=True)
class PairDay:
    day: int
    responder: str
    target: str
    replies: int
    mentions: int
    reactions: int


def _col(values: Iterable[int], dtype: type = np.int64) -> np.ndarray:
    return np.fromiter(values, dtype=dtype)


@dataclass(frozen=True, slots=True, eq=False)
class DailyAggregates:
    """Column-wise daily aggregates of one community. `users[i]` is the id behind index i."""

    users: tuple[str, ...]
    md_day: np.ndarray
    md_user: np.ndarray
    md_messages: np.ndarray
    md_counted: np.ndarray
    md_anon: np.ndarray
    pd_day: np.ndarray
    pd_responder: np.ndarray
    pd_target: np.ndarray
    pd_replies: np.ndarray
    pd_mentions: np.ndarray
    pd_reactions: np.ndarray

    @classmethod
    def from_rows(
        cls,
        member_rows: Iterable[tuple[int, str, int, int, int] | MemberDay],
        pair_rows: Iterable[tuple[int, str, str, int, int, int] | PairDay],
    ) -> DailyAggregates:
        """Build from row tuples in the column order of `MemberDay` / `PairDay` (or those classes)."""
        index: dict[str, int] = {}

        def idx(user: str) -> int:
            i = index.get(user)
            if i is None:
                i = index[user] = len(index)
            return i

        mrows = [(r.day, r.user, r.messages, r.counted, r.anon_reactions) if isinstance(r, MemberDay) else r
                 for r in member_rows]
        prows = [(r.day, r.responder, r.target, r.replies, r.mentions, r.reactions) if isinstance(r, PairDay) else r
                 for r in pair_rows]
        return cls(
            users=(),  # placeholder, replaced below once every user has an index
            md_day=_col(r[0] for r in mrows),
            md_user=_col(idx(r[1]) for r in mrows),
            md_messages=_col(r[2] for r in mrows),
            md_counted=_col(r[3] for r in mrows),
            md_anon=_col(r[4] for r in mrows),
            pd_day=_col(r[0] for r in prows),
            pd_responder=_col(idx(r[1]) for r in prows),
            pd_target=_col(idx(r[2]) for r in prows),
            pd_replies=_col(r[3] for r in prows),
            pd_mentions=_col(r[4] for r in prows),
            pd_reactions=_col(r[5] for r in prows),
        )._with_users(tuple(index))

    def _with_users(self, users: tuple[str, ...]) -> DailyAggregates:
        object.__setattr__(self, "users", users)
        return self

    @classmethod
    def empty(cls) -> DailyAggregates:
        return cls.from_rows([], [])

    def member_rows(self) -> list[MemberDay]:
        u = self.users
        return [MemberDay(int(d), u[i], int(m), int(c), int(a)) for d, i, m, c, a in
                zip(self.md_day, self.md_user, self.md_messages, self.md_counted, self.md_anon, strict=True)]

    def pair_rows(self) -> list[PairDay]:
        u = self.users
        return [PairDay(int(d), u[r], u[t], int(a), int(b), int(c)) for d, r, t, a, b, c in
                zip(self.pd_day, self.pd_responder, self.pd_target, self.pd_replies, self.pd_mentions,
                    self.pd_reactions, strict=True)]
