"""Every member's explanation at once: `scoring.explain.explain` for a whole community, column-wise.

`explain(user, now, then)` builds two dicts of responders per call; a weekly run of a million
members called it a million times and spent most of its per-member time there. `WeekExplainer`
compares the two tables' response edges once with numpy (both tables keep them sorted by target,
then responder, in user-id order) and keeps, per member, the counts of responders now, new and
lost and the biggest contributors; `explain` then only assembles one member's `Explanation`. The
result equals `scoring.explain.explain` field for field (tests/summary/test_explainer.py compares
every member of a community).

It reads the tables' edges and counts through `ScoreTable.users`, `edges()` and `stats_at()`.
"""

from __future__ import annotations

import numpy as np

from scoring.engine import MemberStats, ScoreTable
from scoring.explain import TOP_CONTRIBUTORS, Contributor, Explanation

__all__ = ["WeekExplainer"]

# `explain` drops a contributor whose change is math.isclose to 0 with abs_tol=1e-12; for a change
# c != 0 that is |c| <= 1e-12 (the relative tolerance, 1e-9 * |c|, is always smaller than |c|).
_ABS_TOL = 1e-12
_NO_STATS = MemberStats()


class WeekExplainer:
    """Explanations and raw counts of every member of two tables of one community (now, a week ago)."""

    __slots__ = ("now", "then", "_index", "_users", "_now_row", "_responders", "_new", "_lost",
                 "_ptr", "_src", "_credit_now", "_credit_then", "_is_new")

    def __init__(self, now: ScoreTable, then: ScoreTable, *, top: int = TOP_CONTRIBUTORS) -> None:
        self.now, self.then = now, then
        # One id space for both tables, sorted like the tables' own (so mapping keeps edge order).
        users = sorted(set(now.users).union(then.users)) if then.users != now.users else list(now.users)
        self._users = users
        self._index = dict(zip(users, range(len(users)), strict=True))
        n = len(users)
        now_u = np.fromiter(map(self._index.__getitem__, now.users), dtype=np.int64, count=len(now.users))
        then_u = np.fromiter(map(self._index.__getitem__, then.users), dtype=np.int64, count=len(then.users))
        self._now_row = np.full(n, -1, dtype=np.int64)
        self._now_row[now_u] = np.arange(len(now_u), dtype=np.int64)

        nt, ns, nv = _edges(now, now_u)
        tt, ts, tv = _edges(then, then_u)
        # Edge keys (target, responder) are ascending in both tables; match then's edges to now's.
        keys_now, keys_then = nt * max(1, n) + ns, tt * max(1, n) + ts
        pos = np.searchsorted(keys_now, keys_then)
        inside = pos < keys_now.size
        matched = np.zeros(keys_then.size, dtype=bool)
        matched[inside] = keys_now[pos[inside]] == keys_then[inside]
        had = np.zeros(keys_now.size, dtype=bool)
        had[pos[matched]] = True
        then_on_now = np.zeros(keys_now.size, dtype=np.float64)
        then_on_now[pos[matched]] = tv[matched]
        gone = ~matched
        self._responders = np.bincount(nt, minlength=n).tolist()
        self._new = np.bincount(nt[~had], minlength=n).tolist()
        self._lost = np.bincount(tt[gone], minlength=n).tolist()

        # Every (target, responder) of either table: credit now and then, largest |change| first,
        # then by responder id; the first `top` of each target, changes of ~0 left out. The rows are
        # put in (target, responder) order first (two sorted runs: a stable sort merges them), so
        # sorting by (target, -change) keeps responder order among equal changes.
        merged = np.argsort(np.concatenate((keys_now, keys_then[gone])), kind="stable")
        del keys_now, keys_then, pos, inside, matched
        target = np.concatenate((nt, tt[gone]))[merged]
        src = np.concatenate((ns, ts[gone]))[merged]
        credit_now = np.concatenate((nv, np.zeros(int(gone.sum()))))[merged]
        credit_then = np.concatenate((then_on_now, tv[gone]))[merged]
        is_new = np.concatenate((~had, np.zeros(int(gone.sum()), dtype=bool)))[merged]
        del merged, nt, ns, nv, tt, ts, tv, then_on_now, had, gone
        size = np.abs(credit_now - credit_then)
        order = np.lexsort((-size, target))
        target = target[order]
        first = np.searchsorted(target, target, side="left")
        keep = (np.arange(target.size) - first < max(0, top)) & (size[order] > _ABS_TOL)
        del first, size
        keep_at = order[keep]
        self._src = src[keep_at]
        self._credit_now = credit_now[keep_at]
        self._credit_then = credit_then[keep_at]
        self._is_new = is_new[keep_at]
        self._ptr = np.searchsorted(target[keep], np.arange(n + 1)).tolist()

    def explain(self, user: str) -> Explanation:
        """What `scoring.explain.explain(user, now, then)` returns."""
        m_now, m_then = self.now.get(user), self.then.get(user)
        i = self._index.get(user)
        if i is None:
            contributors: tuple[Contributor, ...] = ()
            responders = new = lost = 0
        else:
            a, b = self._ptr[i], self._ptr[i + 1]
            users = self._users
            contributors = tuple(Contributor(users[s], cn, ct, nw) for s, cn, ct, nw in zip(
                self._src[a:b].tolist(), self._credit_now[a:b].tolist(), self._credit_then[a:b].tolist(),
                self._is_new[a:b].tolist(), strict=True))
            responders, new, lost = self._responders[i], self._new[i], self._lost[i]
        s_now = m_now.score if m_now is not None else None
        s_then = m_then.score if m_then is not None else None
        if m_now is None or m_then is None:
            zero = _ZERO
            a_, b_ = m_now or zero, m_then or zero
        else:
            a_, b_ = m_now, m_then
        return Explanation(
            user=user, score_now=s_now, score_then=s_then, delta=(s_now or 0) - (s_then or 0),
            reach_delta=float(a_.reach - b_.reach), resonance_delta=float(a_.resonance - b_.resonance),
            network_delta=float(a_.network - b_.network), activity_delta=float(a_.activity - b_.activity),
            contributors=contributors, new_responders=new, lost_responders=lost, responders_now=responders)

    def stats(self, user: str) -> MemberStats:
        """What `now.stats(user)` returns, without its binary search over a million ids."""
        i = self._index.get(user)
        row = -1 if i is None else int(self._now_row[i])
        if row < 0:
            return _NO_STATS
        return self.now.stats_at(row)


class _Zero:
    """Stands for a missing score in the component deltas (explain counts it as 0.0)."""

    __slots__ = ()
    reach = resonance = network = activity = 0.0


_ZERO = _Zero()


def _edges(table: ScoreTable, to_u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The table's response edges as (target, responder) in the shared id space, and their values."""
    target, responder, value = table.edges()
    return to_u[target], to_u[responder], value
