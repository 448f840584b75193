"""Storage + engine benchmark on a synthetic community (issue #2 targets).

Measures, in one run so the ratios are meaningful on a noisy machine:
- import throughput of SqliteStore.import_events against raw sqlite3 executemany of equivalent rows
  (messages, mentions and reactions keyed like the store's tables; no aggregates, no users), the raw
  side run before and again after the store's (`--no-raw-after`: before only), the ratio taken
  against their mean (the raw side alone varies by up to 40 % from run to run on a shared machine);
- full recompute (aggregates read from the store + scoring.engine.compute) and saving the scores;
- reads from stored scores: `score_of` and a leaderboard page (median and p99).

- a small import (`--small`, 10,000 events) into the big community afterwards.

Usage: .venv/bin/python bench/bench_store.py [--members 100000] [--events 5000000] [--small 10000]
       [--no-raw-after]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synth  # noqa: E402
from scoring.engine import compute  # noqa: E402
from storage.sqlite import SqliteStore  # noqa: E402


def raw_baseline(path: Path, events: list[synth.Event]) -> float:
    """Raw sqlite3: the same rows, same key columns, one transaction, executemany. Returns events/s."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE messages (community INTEGER, message_id TEXT, author TEXT, channel TEXT, ts INTEGER,"
                " day INTEGER, reply_to TEXT, PRIMARY KEY (community, message_id))")
    con.execute("CREATE TABLE mentions (community INTEGER, message_id TEXT, user TEXT,"
                " PRIMARY KEY (community, message_id, user))")
    con.execute("CREATE TABLE reactions (community INTEGER, message_id TEXT, user TEXT, emoji TEXT, ts INTEGER,"
                " day INTEGER, PRIMARY KEY (community, message_id, user, emoji))")
    t0 = time.perf_counter()
    n = 0
    con.execute("BEGIN")
    for msgs, ments, reacts in synth.log_rows(events, 5000):
        n += len(msgs) + len(reacts)
        con.executemany("INSERT OR IGNORE INTO messages VALUES (?,?,?,?,?,?,?)", msgs)
        con.executemany("INSERT OR IGNORE INTO mentions VALUES (?,?,?)", ments)
        con.executemany("INSERT OR IGNORE INTO reactions VALUES (?,?,?,?,?,?)", reacts)
    con.commit()
    con.close()
    return n / (time.perf_counter() - t0)


async def clout_side(path: Path, events: list[synth.Event], reads: int, small: list[synth.Event]
                     ) -> dict[str, float]:
    store = SqliteStore(path)
    await store.open()
    out: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        stats = await store.import_events(iter(events))
        out["import_s"] = time.perf_counter() - t0
        out["import_eps"] = stats.events / out["import_s"]
        ref = synth.CommunityRef("events", "bench")
        info = await store.community(ref)
        as_of = info.last_event
        t0 = time.perf_counter()
        aggs = await store.aggregates(ref, as_of - timedelta(days=90), as_of)
        out["load_aggregates_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        table = compute(aggs, as_of)
        out["compute_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        await store.save_scores(ref, as_of, "all", table.members)
        out["save_scores_s"] = time.perf_counter() - t2
        out["recompute_total_s"] = time.perf_counter() - t0
        out["members_scored"] = len(table)
        users = [m.user for m in table.members]
        rng = random.Random(1)
        lat_score, lat_page = [], []
        for _ in range(reads):
            u = rng.choice(users)
            t = time.perf_counter()
            await store.score_of(ref, u)
            lat_score.append(time.perf_counter() - t)
            off = rng.randrange(0, max(1, len(users) - 10))
            t = time.perf_counter()
            await store.leaderboard(ref, "all", off, 10)
            lat_page.append(time.perf_counter() - t)
        for name, lat in (("score", lat_score), ("page", lat_page)):
            lat.sort()
            out[f"{name}_median_ms"] = statistics.median(lat) * 1000
            out[f"{name}_p99_ms"] = lat[int(len(lat) * 0.99) - 1] * 1000
        if small:
            # A small import into the big community (new ids, the day after its last): it must not
            # pay for the whole log (no index rebuild).
            t0 = time.perf_counter()
            stats = await store.import_events(small)
            out["small_s"] = time.perf_counter() - t0
            out["small_eps"] = stats.events / out["small_s"]
    finally:
        await store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--reads", type=int, default=2_000)
    ap.add_argument("--small", type=int, default=10_000, help="events of a later small import (0: none)")
    ap.add_argument("--raw-after", action=argparse.BooleanOptionalAction, default=True,
                    help="run the raw side again after the store's and compare with the mean of both")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        events = list(synth.events(args.members, args.events))  # generated once, outside both timings
        after = events[-1].ts.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        small = [replace(e, message_id=f"s{e.message_id}", reply_to=e.reply_to and f"s{e.reply_to}")
                 for e in synth.events(args.members, args.small, days=1, seed=11, start=after)]
        gen = len(events) / (time.perf_counter() - t0)
        raw = raw_baseline(Path(tmp) / "raw.db", events)
        res = asyncio.run(clout_side(Path(tmp) / "clout.db", events, args.reads, small))
        size = (Path(tmp) / "clout.db").stat().st_size
        raws = [raw]
        if args.raw_after:
            (Path(tmp) / "raw.db").unlink()
            raws.append(raw_baseline(Path(tmp) / "raw.db", events))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"synthetic community: {args.members:,} members, {args.events:,} events")
    print(f"event generation:              {gen:,.0f} events/s (done once, outside both timings)")
    raw = statistics.fmean(raws)
    eps = res["import_eps"]
    print(f"raw sqlite3 executemany:       {raw:,.0f} events/s"
          + (" (mean of {} and {}: before and after the store's import)".format(*(f"{r:,.0f}" for r in raws))
             if len(raws) > 1 else ""))
    print(f"SqliteStore.import_events:     {eps:,.0f} events/s ({res['import_s']:.1f} s) = {eps / raw:.0%} of raw"
          + (" ({:.0%} / {:.0%} of each)".format(*(eps / r for r in raws)) if len(raws) > 1 else ""))
    print(f"recompute: load aggregates {res['load_aggregates_s']:.2f} s + compute {res['compute_s']:.2f} s "
          f"+ save {res['save_scores_s']:.2f} s = {res['recompute_total_s']:.2f} s "
          f"for {res['members_scored']:,.0f} members")
    print(f"score_of:        median {res['score_median_ms']:.3f} ms, p99 {res['score_p99_ms']:.3f} ms")
    print(f"leaderboard page: median {res['page_median_ms']:.3f} ms, p99 {res['page_p99_ms']:.3f} ms")
    if args.small:
        print(f"small import into it:          {res['small_eps']:,.0f} events/s "
              f"({args.small:,} events in {res['small_s']:.2f} s)")
    print(f"database size {size / 1e6:,.0f} MB; peak RSS of the process {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
