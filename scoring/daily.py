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

from scoring.model import Event, Kind, day_of

__all__ = ["DailyAggregates", "MemberDay", "PairDay", "aggregate_events"]


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


# -- reference semantics ------------------------------------------------------------------
#
# `aggregate_events` is the pure, order-independent definition of how events become daily
# aggregates. Every store must return exactly what it returns (a contract test checks it).

_TURN_SECONDS = 60  # a message counts toward activity only this long after the author's previous one


def aggregate_events(events: Iterable[Event], *, start: int | None = None,
                     end: int | None = None) -> DailyAggregates:
    """Aggregate one community's events into member-day and pair-day rows.

    `start`/`end` are epoch seconds bounding a window `start < ts <= end` (None: unbounded).
    Windowing keeps the *current* state of the log (deletes, removals and resolved targets
    apply whatever their time) and then keeps each fact whose own time lies in the window:
    a message (with its reply, mentions and anonymous reactions) by the message's time, a
    named reaction by the reaction's time. Whether a message counts toward activity is a
    property of the message (computed over its whole UTC day), not of the window.

    Rules:
    - natural keys: the first MESSAGE for a message id wins; a named reaction is keyed by
      (message, actor, emoji) and its state is the event with the largest (ts, removed),
      so a remove ties over an add and a later re-add counts again; its author hint is the
      largest hint seen. An anonymous REACTION_COUNT keeps the largest (ts, count).
    - a MESSAGE_DELETE is a tombstone: the message, its reply and mentions, and the named and
      anonymous reactions on it stop counting, in whatever order the events arrive. Its
      author still resolves replies made to it, which keep counting.
    - a user flagged `actor_is_bot` on any event is a bot: bots' events and responses to
      bots count for nothing. Self-responses count for nothing.
    - turn rule: a message is counted if the author's previous (non-deleted) message on the
      same UTC day is 60 s or more earlier, or there is none.
    - a reply targets the author of `reply_to` in the log, else the `reply_to_author` hint;
      a mention counts for each distinct user other than the author and the reply's target;
      a named reaction credits the message author (log, else `target_author` hint) on the
      reaction's day; anonymous counts credit the message author on the message's day and
      need the message in the log. Unresolved responses count nothing.
    """
    community: str | None = None
    messages: dict[str, Event] = {}
    deleted: set[str] = set()
    bots: set[str] = set()
    reactions: dict[tuple[str, str, str], tuple[int, bool]] = {}
    hints: dict[tuple[str, str, str], str] = {}
    counts: dict[tuple[str, str], tuple[int, int]] = {}

    for e in events:
        if community is None:
            community = e.community.key
        elif e.community.key != community:
            raise ValueError("aggregate_events takes the events of one community")
        if e.actor and e.actor_is_bot:
            bots.add(e.actor)
        kind = e.kind
        if kind is Kind.MESSAGE:
            messages.setdefault(e.message_id, e)
        elif kind is Kind.MESSAGE_DELETE:
            deleted.add(e.message_id)
        elif kind is Kind.REACTION_ADD or kind is Kind.REACTION_REMOVE:
            rkey = (e.message_id, e.actor or "", e.emoji or "")
            state = (e.epoch, kind is Kind.REACTION_REMOVE)
            old = reactions.get(rkey)
            if old is None or state > old:
                reactions[rkey] = state
            if e.target_author is not None:
                hint = hints.get(rkey)
                if hint is None or e.target_author > hint:
                    hints[rkey] = e.target_author
        elif kind is Kind.REACTION_COUNT:
            ckey = (e.message_id, e.emoji or "")
            cstate = (e.epoch, e.count)
            cold = counts.get(ckey)
            if cold is None or cstate > cold:
                counts[ckey] = cstate

    def in_window(ts: int) -> bool:
        return (start is None or ts > start) and (end is None or ts <= end)

    anon: dict[str, int] = {}
    for (mid, _emoji), (_ts, n) in counts.items():
        anon[mid] = anon.get(mid, 0) + n

    live = [m for mid, m in messages.items() if mid not in deleted and m.actor not in bots]
    # Turn rule per (author, day): gaps between consecutive timestamps, so ties in time are
    # order-independent (a second message in the same second has gap 0 and is not counted).
    by_turn: dict[tuple[str, int], list[int]] = {}
    for m in live:
        by_turn.setdefault((m.actor or "", m.day), []).append(m.epoch)
    counted_at: dict[tuple[str, int], dict[int, int]] = {}
    for turn, stamps in by_turn.items():
        stamps.sort()
        flags: dict[int, int] = {}
        prev: int | None = None
        for ts in stamps:
            # messages sharing a second: the first may count, the rest (gap 0) never do
            flags[ts] = flags.get(ts, 0) + (1 if prev is None or ts - prev >= _TURN_SECONDS else 0)
            prev = ts
        counted_at[turn] = flags

    member: dict[tuple[int, str], list[int]] = {}
    pair: dict[tuple[int, str, str], list[int]] = {}

    def credit(day: int, responder: str, target: str | None, col: int) -> None:
        if target is None or target == responder or target in bots:
            return
        row = pair.get((day, responder, target))
        if row is None:
            row = pair[(day, responder, target)] = [0, 0, 0]
        row[col] += 1

    for m in live:
        ts = m.epoch
        if not in_window(ts):
            continue
        author = m.actor or ""
        day = m.day
        row = member.get((day, author))
        if row is None:
            row = member[(day, author)] = [0, 0, 0]
        row[0] += 1
        flags = counted_at[(author, day)]
        if flags.get(ts, 0) > 0:
            row[1] += 1
            flags[ts] -= 1
        row[2] += anon.get(m.message_id, 0)
        target: str | None = None
        if m.reply_to is not None:
            target_msg = messages.get(m.reply_to)
            target = target_msg.actor if target_msg is not None else m.reply_to_author
            credit(day, author, target, 0)
        for user in set(m.mentions):
            if user != target:
                credit(day, author, user, 1)

    for (mid, actor, _emoji), (ts, removed) in reactions.items():
        if removed or mid in deleted or actor in bots or not in_window(ts):
            continue
        target_msg = messages.get(mid)
        target = target_msg.actor if target_msg is not None else hints.get((mid, actor, _emoji))
        credit(day_of(ts), actor, target, 2)

    member_rows = sorted((d, u, c[0], c[1], c[2]) for (d, u), c in member.items())
    pair_rows = sorted((d, r, t, c[0], c[1], c[2]) for (d, r, t), c in pair.items())
    return DailyAggregates.from_rows(member_rows, pair_rows)
