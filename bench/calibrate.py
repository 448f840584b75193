"""Calibrate and validate clout-v1 on the real data in ../shared/data (run: .venv/bin/python bench/calibrate.py).

Prints, per dataset: the score distribution, R² of score against log(message count), and the
predictive validation (Spearman rank correlation between a signal at time T and the number of
distinct members responding to each member in the period after T), averaged over boundaries.
Only aggregate numbers are printed, never user ids.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from realdata import DATA, DAY, Msg, aggregate, load_collegemsg, load_discord, load_irc  # noqa: E402

from scoring.engine import V1, Params, ScoreTable, compute  # noqa: E402


def ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sx = x[order]
    r = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def r_squared(y: np.ndarray, x: np.ndarray) -> float:
    """R² of a least-squares line y ~ x."""
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def as_of_day(day: int) -> datetime:
    return datetime.fromtimestamp(day * DAY, UTC)


def score_at(msgs: list[Msg], day: int, params: Params) -> ScoreTable:
    """Scores as of the start of `day` from everything before it (the store's exact cut)."""
    return compute(aggregate(msgs, before_day=day), as_of_day(day), params=params)


def distribution(table: ScoreTable, min_counted: int) -> dict[str, float]:
    s = np.array([m.score for m in table.members if table.stats(m.user).counted_messages >= min_counted])
    if s.size == 0:
        return {"n": 0}
    out: dict[str, float] = {"n": int(s.size)}
    for p in (10, 25, 50, 75, 90, 99):
        out[f"p{p}"] = float(np.percentile(s, p))
    out["in 10-40 %"] = 100.0 * float(np.mean((s >= 10) & (s <= 40)))
    out[">70 %"] = 100.0 * float(np.mean(s > 70))
    out["max"] = int(s.max())
    return out


def r2_activity(table: ScoreTable) -> tuple[float, int]:
    rows = [(m.score, table.stats(m.user).messages) for m in table.members if table.stats(m.user).messages > 0]
    y = np.array([r[0] for r in rows], dtype=float)
    x = np.log(np.array([r[1] for r in rows], dtype=float))
    return r_squared(y, x), len(rows)


def responders_between(msgs: list[Msg], lo_day: int, hi_day: int) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for m in msgs:
        d = m.ts // DAY
        if lo_day <= d < hi_day:
            for t in (*m.replies_to, *m.mentions):
                if t != m.author:
                    out[t].add(m.author)
    return out


def messages_between(msgs: list[Msg], lo_day: int, hi_day: int) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for m in msgs:
        if lo_day <= m.ts // DAY < hi_day:
            out[m.author] += 1
    return out


def validate(msgs: list[Msg], boundaries: list[int], horizon: int, params: Params,
             window: int = 90) -> dict[str, float]:
    """Mean Spearman over boundaries T: signal at T vs distinct responders in [T, T + horizon) days."""
    acc: dict[str, list[float]] = defaultdict(list)
    for day in boundaries:
        table = score_at(msgs, day, params)
        users = [m.user for m in table.members]
        future = responders_between(msgs, day, day + horizon)
        past = responders_between(msgs, day - window, day)
        count = messages_between(msgs, day - window, day)
        y = np.array([len(future.get(u, ())) for u in users], dtype=float)
        if len(users) < 5 or y.std() == 0:
            continue
        signals = {
            "score": [float(m.score) for m in table.members],
            "influence": [m.influence for m in table.members],
            "messages (90 d before)": [float(count.get(u, 0)) for u in users],
            "distinct past responders": [float(len(past.get(u, ()))) for u in users],
        }
        for name, xs in signals.items():
            acc[name].append(spearman(np.array(xs), y))
    out = {name: float(np.nanmean(v)) for name, v in acc.items()}
    out["boundaries"] = float(len(acc.get("score", [])))
    return out


def fmt(d: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.3f}" if isinstance(v, float) and not float(v).is_integer() else f"{k}={v:g}"
                     for k, v in d.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ref", type=float, default=None, help="override the mapping reference")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override any Params field")
    args = ap.parse_args()
    params = V1
    if args.ref is not None:
        params = dataclasses.replace(params, mapping_reference=args.ref)
    for item in args.set:
        k, v = item.split("=", 1)
        params = dataclasses.replace(params, **{k: type(getattr(params, k))(v)})
    if not DATA.exists():
        sys.exit(f"no data at {DATA}")
    print(f"params: {params}")
    datasets = {"CollegeMsg": load_collegemsg(), "IRC ubuntu": load_irc(), "Discord DCE": load_discord()}
    for name, msgs in datasets.items():
        days = sorted({m.ts // DAY for m in msgs})
        first, last = days[0], days[-1]
        print(f"\n== {name}: {len(msgs)} messages, {len({m.author for m in msgs})} authors, "
              f"{last - first + 1} days")
        checkpoints = [last + 1] if name != "CollegeMsg" else [first + 30, first + 90, last + 1]
        for day in checkpoints:
            table = score_at(msgs, day, params)
            print(f"as of day {day - first:>3}: {len(table)} members scored")
            print("   all scored:       ", fmt(distribution(table, 0)))
            print("   >=5 counted msgs: ", fmt(distribution(table, 5)))
            r2, n = r2_activity(table)
            print(f"   R² score ~ log(messages) over {n} posting members: {r2:.3f}")
        if name == "CollegeMsg":
            bounds = list(range(first + 14, last - 6, 7))
            print(f"   validation, weekly boundaries (next 7 days): {fmt(validate(msgs, bounds, 7, params))}")
        elif name == "IRC ubuntu":
            bounds = list(range(first + 1, last + 1))
            print(f"   validation, daily boundaries (next file/day): {fmt(validate(msgs, bounds, 1, params))}")


if __name__ == "__main__":
    main()
