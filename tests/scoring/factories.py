"""Builders of DailyAggregates rows for scoring tests (days counted back from a fixed as-of)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from hypothesis import strategies as st

from scoring.daily import DailyAggregates
from scoring.engine import ScoreTable, compute

TODAY = 20_000  # 2024-10-04
AS_OF = datetime(2024, 10, 4, 23, 0, tzinfo=UTC)

MemberRow = tuple[int, str, int, int, int]
PairRow = tuple[int, str, str, int, int, int]


def day(ago: int) -> int:
    """The UTC day number `ago` days before AS_OF's day."""
    return TODAY - ago


def member(user: str, ago: int = 0, messages: int = 1, counted: int | None = None, anon: int = 0) -> MemberRow:
    return (day(ago), user, messages, messages if counted is None else counted, anon)


def reply(responder: str, target: str, ago: int = 0, n: int = 1) -> PairRow:
    return (day(ago), responder, target, n, 0, 0)


def mention(responder: str, target: str, ago: int = 0, n: int = 1) -> PairRow:
    return (day(ago), responder, target, 0, n, 0)


def reaction(responder: str, target: str, ago: int = 0, n: int = 1) -> PairRow:
    return (day(ago), responder, target, 0, 0, n)


def aggs(members: Iterable[MemberRow] = (), pairs: Iterable[PairRow] = ()) -> DailyAggregates:
    return DailyAggregates.from_rows(list(members), list(pairs))


def score(members: Iterable[MemberRow] = (), pairs: Iterable[PairRow] = (), **kw: object) -> ScoreTable:
    return compute(aggs(members, pairs), kw.pop("as_of", AS_OF), **kw)  # type: ignore[arg-type]


@st.composite
def communities(draw: st.DrawFn, prefix: str = "bg", max_members: int = 20,
                max_pairs: int = 60) -> tuple[list[MemberRow], list[PairRow]]:
    """A random background community: members posting on random days and responding to each other."""
    n = draw(st.integers(2, max_members))
    users = [f"{prefix}{i}" for i in range(n)]
    ago = st.integers(0, 89)
    members = []
    for u in users:
        for _ in range(draw(st.integers(0, 3))):
            msgs = draw(st.integers(1, 40))
            members.append(member(u, draw(ago), msgs, draw(st.integers(0, msgs)), draw(st.integers(0, 3))))
    pairs = []
    for _ in range(draw(st.integers(0, max_pairs))):
        r, t = draw(st.sampled_from(users)), draw(st.sampled_from(users))
        if r != t:
            pairs.append((day(draw(ago)), r, t, draw(st.integers(0, 4)), draw(st.integers(0, 2)),
                          draw(st.integers(0, 6))))
    return members, pairs
