"""Time compute() and pagerank() on a large synthetic community (run: .venv/bin/python bench/bench_engine.py).

100k members with Zipf-like posting and "draw" weights, ~2M pair-day rows and ~1.5M member-day
rows over 90 days, built column-wise (as the store does) rather than from Python tuples.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring.daily import DailyAggregates  # noqa: E402
from scoring.engine import compute  # noqa: E402
from scoring.pagerank import pagerank  # noqa: E402

TODAY = 20_000


def synthetic(members: int, pair_rows: int, member_rows: int, seed: int = 1) -> DailyAggregates:
    rng = np.random.default_rng(seed)
    post = rng.pareto(1.2, members) + 1e-3  # how much each member posts/responds
    draw = post * (rng.pareto(1.5, members) + 0.2)  # how much others answer them
    post /= post.sum()
    draw /= draw.sum()
    days = TODAY - rng.integers(0, 90, pair_rows)
    resp = rng.choice(members, pair_rows, p=post)
    targ = rng.choice(members, pair_rows, p=draw)
    md_user = rng.choice(members, member_rows, p=post)
    msgs = rng.geometric(0.3, member_rows)
    return DailyAggregates(
        users=tuple(f"u{i}" for i in range(members)),
        md_day=TODAY - rng.integers(0, 90, member_rows),
        md_user=md_user,
        md_messages=msgs,
        md_counted=np.maximum(1, (msgs * rng.uniform(0.5, 1.0, member_rows)).astype(np.int64)),
        md_anon=rng.poisson(0.3, member_rows),
        pd_day=days,
        pd_responder=resp,
        pd_target=targ,
        pd_replies=rng.poisson(0.8, pair_rows),
        pd_mentions=rng.poisson(0.2, pair_rows),
        pd_reactions=rng.poisson(1.0, pair_rows) + 1,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--pairs", type=int, default=2_000_000)
    ap.add_argument("--member-rows", type=int, default=1_500_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    aggs = synthetic(args.members, args.pairs, args.member_rows)
    events = int(aggs.pd_replies.sum() + aggs.pd_mentions.sum() + aggs.pd_reactions.sum() + aggs.md_messages.sum())
    print(f"generated {args.members:,} members, {args.pairs:,} pair-day rows, {args.member_rows:,} member-day rows "
          f"(~{events / 1e6:.1f}M events) in {time.perf_counter() - t0:.1f} s")
    as_of = datetime.fromtimestamp((TODAY + 1) * 86_400, UTC)
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        table = compute(aggs, as_of)
        best = min(best, time.perf_counter() - t0)
    print(f"compute(): {best:.2f} s for {len(table):,} scored members (best of 2)")
    scores = np.array([m.score for m in table.members])
    print("score percentiles 10/50/90/99:", [int(np.percentile(scores, p)) for p in (10, 50, 90, 99)])

    # PageRank alone on the deduplicated response graph.
    keys = np.unique(aggs.pd_responder * args.members + aggs.pd_target)
    src, dst = keys // args.members, keys % args.members
    w = np.random.default_rng(2).uniform(0.1, 2.0, keys.size)
    t0 = time.perf_counter()
    pagerank(args.members, src, dst, w)
    print(f"pagerank(): {time.perf_counter() - t0:.2f} s on {args.members:,} nodes, {keys.size:,} edges")

    # Speed against networkx's power iteration on a smaller graph (nx.pagerank needs scipy,
    # which is not installed; _pagerank_python is networkx's reference implementation).
    import networkx as nx
    from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

    n_small = 20_000
    mask = (src < n_small) & (dst < n_small)
    g = nx.DiGraph()
    g.add_nodes_from(range(n_small))
    g.add_weighted_edges_from(zip(src[mask].tolist(), dst[mask].tolist(), w[mask].tolist(), strict=True))
    t0 = time.perf_counter()
    ref = _pagerank_python(g, alpha=0.85, weight="weight", tol=1e-10, max_iter=500)
    t_nx = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = pagerank(n_small, src[mask], dst[mask], w[mask])
    t_np = time.perf_counter() - t0
    err = max(abs(ours[i] - ref[i]) for i in range(n_small))
    print(f"vs networkx on {n_small:,} nodes / {int(mask.sum()):,} edges: networkx {t_nx:.2f} s, ours {t_np:.3f} s "
          f"({t_nx / t_np:.0f}x faster), max abs difference {err:.1e}")


if __name__ == "__main__":
    main()
