"""The scoring engine: daily aggregates in, a ranked table of 1–100 scores out (model clout-v1, docs/scoring.md)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import overload

import numpy as np

from scoring.daily import DailyAggregates
from scoring.grouping import number
from scoring.pagerank import pagerank
from scoring.params import ALGORITHM, V1, Params
from scoring.result import MemberScore

__all__ = ["ALGORITHM", "V1", "MemberStats", "Params", "RankedMembers", "ScoreColumns", "ScoreTable", "compute",
           "global_score", "to_score"]

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class MemberStats:
    """Raw counts behind one member's score, inside the window (self-responses and bots excluded)."""

    distinct_responders: int = 0
    replies: int = 0
    mentions: int = 0
    reactions: int = 0
    anonymous_reactions: int = 0
    messages: int = 0
    counted_messages: int = 0
    active_days: int = 0


_NO_STATS = MemberStats()


@dataclass(frozen=True, slots=True, eq=False)
class ScoreColumns:
    """The fields of `MemberScore` for every scored member, one column each, in rank order
    (rank = index + 1). What a store writes a big table from without a million objects."""

    users: list[str]
    score: np.ndarray  # int64
    percentile: np.ndarray  # float64, like the rest
    influence: np.ndarray
    reach: np.ndarray
    resonance: np.ndarray
    network: np.ndarray
    activity: np.ndarray
    algorithm: str
    by_user: np.ndarray  # the indexes above in order of user id (sorted as Python sorts str)


class RankedMembers(Sequence[MemberScore]):
    """`ScoreTable.members`: a read-only sequence of `MemberScore` in rank order, held as columns.

    An item is made when it is read; iterating or slicing makes all of them once and keeps them, so
    a caller that only saves the table (stores read `columns`) never builds a million objects.
    Equal to another RankedMembers with equal items, and to a tuple of the same MemberScores.
    """

    __slots__ = ("_all", "columns")

    def __init__(self, columns: ScoreColumns) -> None:
        self.columns = columns
        self._all: tuple[MemberScore, ...] | None = None

    def __len__(self) -> int:
        return len(self.columns.users)

    def _one(self, i: int) -> MemberScore:
        c = self.columns
        return MemberScore(c.users[i], int(c.score[i]), float(c.percentile[i]), i + 1, float(c.influence[i]),
                           float(c.reach[i]), float(c.resonance[i]), float(c.network[i]), float(c.activity[i]),
                           c.algorithm)

    def items(self) -> tuple[MemberScore, ...]:
        """Every member as a MemberScore (made once, column by column: .tolist() converts in C)."""
        if self._all is None:
            c, n = self.columns, len(self)
            self._all = tuple(map(MemberScore, c.users, c.score.tolist(), c.percentile.tolist(), range(1, n + 1),
                                  c.influence.tolist(), c.reach.tolist(), c.resonance.tolist(), c.network.tolist(),
                                  c.activity.tolist(), repeat(c.algorithm, n)))
        return self._all

    @overload
    def __getitem__(self, i: int) -> MemberScore: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[MemberScore, ...]: ...

    def __getitem__(self, i: int | slice) -> MemberScore | tuple[MemberScore, ...]:
        if isinstance(i, slice) or self._all is not None:
            return self.items()[i]
        n = len(self)
        j = i.__index__()
        if not -n <= j < n:
            raise IndexError("RankedMembers index out of range")
        return self._one(j % n)

    def __iter__(self) -> Iterator[MemberScore]:
        return iter(self.items())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RankedMembers):
            return self is other or self.items() == other.items()
        if isinstance(other, tuple):
            return self.items() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RankedMembers({len(self)} members)"


@dataclass(frozen=True, slots=True, eq=False)
class ScoreTable:
    """Scores of one community as of one time, `members` in rank order (best first)."""

    as_of: datetime
    algorithm: str
    window_days: int
    members: Sequence[MemberScore]  # a RankedMembers from compute(); its `columns` serve big saves
    # Per-member arrays indexed like `_users` (sorted user ids); `_positions` is each one's index
    # in `members` (a bisect of `_users` and one array read instead of a million-entry dict).
    _positions: np.ndarray = field(repr=False)
    _users: tuple[str, ...] = field(repr=False)
    _stats: np.ndarray = field(repr=False)  # (n, 8) int64, columns in MemberStats order
    # Response edges responder -> target, sorted by target; `_ptr` is the CSR offset per target.
    _ptr: np.ndarray = field(repr=False)
    _edge_src: np.ndarray = field(repr=False)
    _edge_value: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.members)

    def get(self, user: str) -> MemberScore | None:
        """The member's score, or None when they were not scored (no activity in the window)."""
        i = self.position(user)
        return None if i is None else self.members[i]

    def position(self, user: str) -> int | None:
        """The member's 0-based index in `members` (rank - 1), or None when not scored."""
        t = self._uidx(user)
        return None if t is None else int(self._positions[t])

    def _uidx(self, user: str) -> int | None:
        """The member's index in the sorted `_users`, or None when not scored."""
        t = bisect_left(self._users, user)
        return t if t < len(self._users) and self._users[t] == user else None

    def responders(self, user: str) -> dict[str, float]:
        """Each responder's contribution to this member's effective reach, after every rule.

        The value is the responder's decayed, selectivity-weighted, capped credit times their
        clamped network value; the member's influence is the sum of these times the resonance
        factor, plus the activity term. Empty for members without responders or not scored.
        """
        t = self._uidx(user)
        if t is None:
            return {}
        a, b = int(self._ptr[t]), int(self._ptr[t + 1])
        return {self._users[int(s)]: float(v) for s, v in zip(self._edge_src[a:b], self._edge_value[a:b], strict=True)}

    def stats(self, user: str) -> MemberStats:
        """Raw counts in the window for one member (all zero when not scored)."""
        t = self._uidx(user)
        return _NO_STATS if t is None else self.stats_at(t)

    @property
    def users(self) -> tuple[str, ...]:
        """The scored members' ids in sorted order: the index space of `edges()` and `stats_at()`."""
        return self._users

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every response edge as (target, responder, value) arrays of indexes into `users`, sorted
        by target, then responder; `value` is what `responders()` gives for that pair."""
        counts = np.diff(self._ptr)
        targets = np.repeat(np.arange(len(self._users), dtype=np.int64), counts)
        return targets, np.asarray(self._edge_src, dtype=np.int64), np.asarray(self._edge_value, dtype=np.float64)

    def stats_at(self, index: int) -> MemberStats:
        """`stats()` of the member at `index` in `users` (no search)."""
        return MemberStats(*self._stats[index].tolist())

    def distribution(self) -> tuple[int, ...]:
        """How many members scored 1–10, 11–20, …, 91–100 (ten counts)."""
        if isinstance(self.members, RankedMembers):
            scores = self.members.columns.score
            return tuple(np.bincount(np.minimum(9, (scores - 1) // 10), minlength=10).tolist())
        counts = [0] * 10
        for m in self.members:
            counts[min(9, (m.score - 1) // 10)] += 1
        return tuple(counts)


def to_score(influence: float, params: Params = V1) -> int:
    """Map an influence value I >= 0 to 1..100: 1 + 99 * min(1, ln(1+I) / ln(1+reference)), rounded half up."""
    i = max(0.0, float(influence))
    x = min(1.0, math.log1p(i) / math.log1p(params.mapping_reference))
    return int(math.floor(1.0 + 99.0 * x + 0.5))


def global_score(influences: Iterable[float], params: Params = V1) -> int:
    """A linked person's score over several communities: the sum of their influence values, same mapping."""
    return to_score(math.fsum(sorted(max(0.0, float(v)) for v in influences)), params)


def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Unique sorted keys and, for each input, the index of its group — or None when the keys are
    already strictly increasing (each row its own group, in order: what a store's daily aggregates
    usually are, since each day's rows come in key order). Checking costs one pass; sorting ten
    million keys costs seconds."""
    if keys.size < 2 or bool((keys[1:] > keys[:-1]).all()):
        return keys, None
    return number(keys)


def _sum_by(inverse: np.ndarray | None, values: np.ndarray, size: int) -> np.ndarray:
    """Per group sums (float64) of `values`, grouped as `_group` returned `inverse`."""
    if inverse is None:
        return values.astype(np.float64)
    return np.bincount(inverse, weights=values, minlength=size)


def compute(
    aggs: DailyAggregates,
    as_of: datetime,
    *,
    window_days: int | None = None,
    params: Params = V1,
    bots: Collection[str] = (),
) -> ScoreTable:
    """Score every member of one community as of `as_of` (an aware datetime) from its daily aggregates.

    Uses the days that overlap the window (as_of - window, as_of]: a day d is kept when
    day_start(d) + 1 day > as_of - window and day_start(d) <= as_of. Each day weighs
    0.5 ** (age / half_life), age measured in days from the day's midpoint to as_of (at least 0).
    Self-responses and rows of `bots` are dropped. The result does not depend on row order.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    window = params.window_days if window_days is None else int(window_days)
    if window <= 0:
        raise ValueError("window_days must be positive")
    t = as_of.timestamp()
    lo = t - window * SECONDS_PER_DAY
    users_all = aggs.users
    bot_mask = np.zeros(len(users_all), dtype=bool)
    if bots:
        bot_set = set(bots)
        bot_mask[[i for i, u in enumerate(users_all) if u in bot_set]] = True

    # Day d is in the window when its start d * 86400 satisfies start + 86400 > lo and start <= t
    # (in floats, as always); that is a range of whole days, found here once, so rows compare ints.
    first_day = math.floor(lo / SECONDS_PER_DAY) - 2
    while not float(first_day) * SECONDS_PER_DAY + SECONDS_PER_DAY > lo:
        first_day += 1
    last_day = math.floor(t / SECONDS_PER_DAY) + 2
    while not float(last_day) * SECONDS_PER_DAY <= t:
        last_day -= 1

    def in_window(days: np.ndarray) -> np.ndarray:
        return (days >= first_day) & (days <= last_day)

    # --- select rows -------------------------------------------------------------------------
    md_keep = in_window(aggs.md_day)
    if bot_mask.any():
        md_keep &= ~bot_mask[aggs.md_user]
    pd_counts = [c.clip(min=0) for c in (aggs.pd_replies, aggs.pd_mentions, aggs.pd_reactions)]
    pd_keep = in_window(aggs.pd_day) & (aggs.pd_responder != aggs.pd_target) & (
        (pd_counts[0] > 0) | (pd_counts[1] > 0) | (pd_counts[2] > 0))
    if bot_mask.any():
        pd_keep &= ~bot_mask[aggs.pd_responder] & ~bot_mask[aggs.pd_target]

    # --- canonical user order (sorted ids) so nothing depends on row order ---------------------
    present = np.zeros(len(users_all), dtype=bool)
    present[aggs.md_user[md_keep]] = True
    present[aggs.pd_responder[pd_keep]] = True
    present[aggs.pd_target[pd_keep]] = True
    # Ids are distinct, so sorting the indexes by id gives the same order as sorting (id, index).
    old_ids = sorted(np.flatnonzero(present).tolist(), key=users_all.__getitem__)
    users = tuple(map(users_all.__getitem__, old_ids))
    n = len(users)
    remap = np.full(len(users_all), -1, dtype=np.int64)
    remap[np.array(old_ids, dtype=np.int64)] = np.arange(n, dtype=np.int64)
    empty_ptr = np.zeros(n + 1, dtype=np.int64)
    if n == 0:
        return ScoreTable(as_of, ALGORITHM, window, (), np.zeros(0, dtype=np.int64), (), np.zeros((0, 8), dtype=np.int64),
                          empty_ptr, np.zeros(0, dtype=np.int64), np.zeros(0))

    # --- member days, merged by (day, user) -----------------------------------------------------
    m_day = aggs.md_day[md_keep].astype(np.int64)
    m_user = remap[aggs.md_user[md_keep]]
    p_day = aggs.pd_day[pd_keep].astype(np.int64)
    days_kept = [d for d in (m_day, p_day) if d.size]
    dmin = int(min(d.min() for d in days_kept)) if days_kept else 0
    dmax = int(max(d.max() for d in days_kept)) if days_kept else 0
    # Each day's weight 0.5 ** (age / half_life), age from the day's midpoint: computed once per day
    # of the window and gathered by day offset (the same doubles as computing it per row).
    mid = np.arange(dmin, dmax + 1, dtype=np.int64).astype(np.float64) * SECONDS_PER_DAY + SECONDS_PER_DAY / 2
    day_w = np.power(0.5, np.maximum(0.0, (t - mid) / SECONDS_PER_DAY) / params.half_life_days)
    m_day -= dmin
    m_keys, m_inv = _group(m_day * n + m_user)
    m_msgs = _sum_by(m_inv, aggs.md_messages[md_keep].clip(min=0), m_keys.size)
    m_counted = _sum_by(m_inv, aggs.md_counted[md_keep].clip(min=0), m_keys.size)
    m_anon = _sum_by(m_inv, aggs.md_anon[md_keep].clip(min=0), m_keys.size)
    mu, m_off = (m_user, m_day) if m_inv is None else (m_keys % n, m_keys // n)
    del m_keys, m_inv, m_day, m_user
    mw = day_w[m_off]
    active = m_counted > 0
    activity = np.bincount(mu, weights=np.where(active, mw, 0.0), minlength=n)
    counted_w = np.bincount(mu, weights=m_counted * mw, minlength=n)
    anon_w = np.bincount(mu, weights=m_anon * mw, minlength=n)

    # --- pair days, merged by (day, responder, target) ------------------------------------------
    p_day -= dmin
    p_r = remap[aggs.pd_responder[pd_keep]]
    p_t = remap[aggs.pd_target[pd_keep]]
    nn = n * n
    # Arrays of the pair rows are dropped as soon as they are used: at a million members each is
    # ~100 MB, and keeping them all to the end doubled the peak memory.
    p_keys, p_inv = _group(p_day * nn + p_r * n + p_t)
    cnt = [_sum_by(p_inv, pd_counts[k][pd_keep], p_keys.size) for k in range(3)]
    del pd_counts, pd_keep
    if p_inv is None:
        pr, pt, pday = p_r, p_t, p_day
    else:
        pr, pt, pday = (p_keys % nn) // n, p_keys % n, p_keys // nn
    del p_keys, p_inv, p_day, p_r, p_t
    received_counts = [np.bincount(pt, weights=cnt[col], minlength=n).round().astype(np.int64) for col in range(3)]
    # Diminishing returns per kind, kinds weighted by effort.
    base = (params.reply_weight * np.log2(1.0 + cnt[0]) + params.mention_weight * np.log2(1.0 + cnt[1])
            + params.reaction_weight * np.log2(1.0 + cnt[2]))
    del cnt
    # Selectivity: k distinct targets in a day -> each response that day passes threshold / k.
    # The rows are sorted by (day, responder, target), so each (day, responder) is one run of rows.
    if pday.size:
        starts = np.flatnonzero(np.concatenate(([True], (pday[1:] != pday[:-1]) | (pr[1:] != pr[:-1]))))
    else:
        starts = np.zeros(0, np.int64)
    run = np.diff(np.append(starts, pday.size))
    k_targets = np.repeat(run, run)
    del starts, run
    sel = np.minimum(1.0, params.selectivity_threshold / k_targets)
    credit_day = base * sel * day_w[pday]
    del k_targets, sel, base
    # Per pair over the window, capped; edges sorted by (responder, target).
    e_keys, e_inv = _group(pr * n + pt)
    del pr, pt
    e_src = e_keys // n
    e_dst = e_keys % n
    del e_keys
    e_raw = _sum_by(e_inv, credit_day, e_src.size)
    if e_inv is None:
        e_last = pday
    else:
        e_last = np.full(e_src.size, -1, dtype=np.int64)
        np.maximum.at(e_last, e_inv, pday)
    del e_inv, pday, credit_day
    e_last_w = day_w[e_last]
    # The cap ages with the pair's latest response, so it binds alike in a fresh and an old window.
    e_credit = np.minimum(params.pair_cap * e_last_w, e_raw)
    # Reach: each distinct responder once, weighted by the recency of their latest response.
    reach = np.bincount(e_dst, weights=e_last_w, minlength=n)

    # --- network ---------------------------------------------------------------------------------
    rank = pagerank(n, e_src, e_dst, e_credit, params.damping, params.pagerank_tol, params.pagerank_max_iter,
                    full_out=params.network_full_out)
    network = rank * n
    net_w = np.clip(network, params.network_min, params.network_max)
    e_value = e_credit * net_w[e_src]
    effective = np.bincount(e_dst, weights=e_value, minlength=n)

    # --- resonance --------------------------------------------------------------------------------
    received = np.bincount(e_dst, weights=e_credit, minlength=n) + params.anonymous_weight * anon_w
    k = params.resonance_prior_messages
    resonance = (received + k * params.resonance_ref) / (counted_w + k)
    factor = params.resonance_min + (params.resonance_max - params.resonance_min) * resonance / (
        resonance + params.resonance_ref)

    influence = effective * factor + params.activity_weight * activity

    # --- scores, ranks, percentiles ------------------------------------------------------------------
    scale = 99.0 / math.log1p(params.mapping_reference)
    scores = np.floor(1.0 + np.minimum(99.0, np.log1p(influence) * scale) + 0.5).astype(np.int64)
    order = np.lexsort((np.arange(n), -influence, -scores))
    sorted_scores = np.sort(scores)
    below = np.searchsorted(sorted_scores, scores, side="left")
    ties = np.searchsorted(sorted_scores, scores, side="right") - below
    percentile = 100.0 * (below + 0.5 * ties) / n

    # --- stats and the per-target edge index -------------------------------------------------------
    stats = np.zeros((n, 8), dtype=np.int64)
    stats[:, 0] = np.bincount(e_dst, minlength=n)
    for col in range(3):
        stats[:, 1 + col] = received_counts[col]
    stats[:, 4] = np.bincount(mu, weights=m_anon, minlength=n).round().astype(np.int64)
    stats[:, 5] = np.bincount(mu, weights=m_msgs, minlength=n).round().astype(np.int64)
    stats[:, 6] = np.bincount(mu, weights=m_counted, minlength=n).round().astype(np.int64)
    stats[:, 7] = np.bincount(mu, weights=active.astype(np.float64), minlength=n).round().astype(np.int64)
    by_dst = np.argsort(e_dst * n + e_src)  # (dst, src) order: the keys are distinct, so any sort gives it
    ptr = np.zeros(n + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(e_dst, minlength=n))

    ranked_users = list(map(users.__getitem__, order.tolist()))
    by_user = np.empty(n, dtype=np.int64)
    by_user[order] = np.arange(n, dtype=np.int64)  # `users` is sorted by id
    members = RankedMembers(ScoreColumns(ranked_users, scores[order], percentile[order], influence[order],
                                         reach[order], resonance[order], network[order], activity[order], ALGORITHM,
                                         by_user))
    return ScoreTable(as_of, ALGORITHM, window, members, by_user, users, stats, ptr,
                      e_src[by_dst], e_value[by_dst])
