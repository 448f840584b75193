"""Benchmarks at a million members (issue #7, point 4), one sub-command per measure.

    .venv/bin/python bench/bench_scale.py [--workdir /tmp/clout-scale] [--pg URL] COMMAND

COMMAND is one of:
  build      stream --members/--events synthetic events (bench/synth.py, never all in memory) through
             each store's import_events in chunks; the databases are cached under --workdir (SQLite
             file) and in the PostgreSQL database of --pg / $CLOUT_TEST_POSTGRES (a schema per size),
             so later commands and re-runs skip the build.
  ingest     the same --ingest-events rows through each store's import_events and through the
             backend's raw bulk insert into equivalent keyed tables (sqlite3 executemany; COPY),
             side by side, into fresh databases.
  recompute  load aggregates + compute + save at full size: wall time per step, peak RSS.
  pagerank   the PageRank step of that recompute against networkx.pagerank on the same graph.
  reads      score_of and a leaderboard page at full size (median, p99), in-process.
  saves      save_scores at full size: a refresh of the same day, then the first save of the next day.
  summary    the weekly summary build (bot/summary, as bench/bench_summary.py) at full size.
Without --pg and $CLOUT_TEST_POSTGRES only SQLite is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synth  # noqa: E402
from scoring import engine  # noqa: E402
from scoring.model import CommunityRef, Event  # noqa: E402
from scoring.pagerank import pagerank  # noqa: E402
from storage.base import Store  # noqa: E402
from storage.packed import day_row, pack_day  # noqa: E402
from storage.postgres import PostgresStore, redact  # noqa: E402
from storage.sqlite import SqliteStore  # noqa: E402

REF = CommunityRef("events", "bench")
SKEW = 0.9  # with 1M members, ~98 % of them take part in 20M events (1.05 would leave ~15 % out)
IMPORT_CHUNK = 1_000_000  # events per import_events call (one transaction each) while building


# -- measuring ----------------------------------------------------------------------------------

def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples the process's resident set every 20 ms on a thread; `peak` is the largest seen."""

    def __init__(self) -> None:
        self.peak = self.start = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.peak = self.start = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def percentiles(lat: list[float]) -> tuple[float, float]:
    lat = sorted(lat)
    return statistics.median(lat) * 1000, lat[max(0, int(len(lat) * 0.99) - 1)] * 1000


# -- the cached databases -----------------------------------------------------------------------

class Setup:
    def __init__(self, args: argparse.Namespace) -> None:
        self.members: int = args.members
        self.events: int = args.events
        self.workdir = Path(args.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tag = f"m{self.members}_e{self.events}"
        self.pg_url: str | None = args.pg or os.environ.get("CLOUT_TEST_POSTGRES")
        self.backends: list[str] = [b for b in args.backends.split(",") if b != "postgres" or self.pg_url]
        self.ingest_events: int = args.ingest_events
        self.log_days: int = args.log_days
        self.day_change: bool = args.day_change
        self.reads: int = args.reads
        self.graph_path = self.workdir / f"graph-{self.tag}.npz"
        self.baseline: Path | None = Path(args.baseline) if args.baseline else None

    def stream(self) -> Iterator[Event]:
        return synth.events(self.members, self.events, community=REF.id, skew=SKEW)

    @property
    def sqlite_path(self) -> Path:
        return self.workdir / f"scale-{self.tag}.db"

    @property
    def pg_schema(self) -> str:
        return f"scale_{self.tag}"

    def marker(self, backend: str) -> Path:
        return self.workdir / f"{backend}-{self.tag}.done"

    def store(self, backend: str) -> Store:
        if backend == "sqlite":
            return SqliteStore(self.sqlite_path)
        assert self.pg_url is not None
        return PostgresStore(self.pg_url, schema=self.pg_schema)


async def _pg_schema(url: str, schema: str, *, fresh: bool) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        if fresh:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    finally:
        await conn.close()


def synthetic_days(members: int, events: int, days: range, seed: int = 11) -> Iterator[tuple[int, list, list]]:
    """Member-day and pair-day rows, one day at a time, of a community with `events` events in 90 days.

    Drawn like bench/synth.py (authors, responders and targets Zipf-weighted with SKEW; 60 % messages,
    30 % of them replies and 5 % with a mention; 40 % reactions), then grouped per day as the stores
    group the log. A message counts toward activity with probability 0.9 (the turn rule's rate on the
    imported stream). Rows are (day, user, messages, counted, anon) and (day, responder, target,
    replies, mentions, reactions), user ids as str(index).
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, members + 1) ** SKEW
    cdf = np.cumsum(weights / weights.sum())
    per_day = events / 90
    n_msg, n_react = int(per_day * 0.6), int(per_day * 0.4)
    n_reply, n_mention = int(n_msg * 0.3), int(n_msg * 0.05)
    ids = np.array([str(i) for i in range(members)], dtype=object)
    for day in days:
        authors = np.searchsorted(cdf, rng.random(n_msg))
        uniq, msgs = np.unique(authors, return_counts=True)
        counted = msgs - rng.binomial(msgs - 1, 0.1)
        member = list(zip([day] * uniq.size, ids[uniq].tolist(), msgs.tolist(), counted.tolist(),
                          [0] * uniq.size, strict=True))
        n = n_reply + n_mention + n_react
        resp = np.searchsorted(cdf, rng.random(n))
        targ = np.searchsorted(cdf, rng.random(n))
        kind = np.repeat(np.arange(3), [n_reply, n_mention, n_react])
        keep = resp != targ
        keys, inv = np.unique(resp[keep] * members + targ[keep], return_inverse=True)
        counts = [np.bincount(inv, weights=kind[keep] == k, minlength=keys.size).astype(np.int64).tolist()
                  for k in range(3)]
        pair = list(zip([day] * keys.size, ids[keys // members].tolist(), ids[keys % members].tolist(),
                        *counts, strict=True))
        yield day, member, pair


def packed_day(day: int, member: list[tuple[Any, ...]], pair: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """One `day_aggregates` row (SQLite migration 7, PostgreSQL 9) without its community, packed by
    the stores' own code (storage/packed.py) from (day, user, messages, counted, anon) and (day,
    responder, target, replies, mentions, reactions) rows."""
    def ints(rows: list[tuple[Any, ...]], at: int) -> np.ndarray:
        return np.array([r[at:at + 3] for r in rows], np.int64).reshape(-1, 3).T

    return day_row(pack_day(0, day, [r[1] for r in member], ints(member, 2), [r[1] for r in pair],
                            [r[2] for r in pair], ints(pair, 3)))[1:]


async def bulk_aggregates(setup: Setup, backend: str, days: range) -> None:
    """Fill the aggregate tables of the store's schema directly (communities, users, day_aggregates)."""
    users = [(str(i), f"member{i}", f"member{i}", 0, 0, 1) for i in range(setup.members)]
    if backend == "sqlite":
        con = sqlite3.connect(setup.sqlite_path)
        with con:
            con.execute("INSERT OR IGNORE INTO communities (platform, external_id) VALUES (?, ?)", (REF.platform, REF.id))
            (cid,) = con.execute("SELECT id FROM communities WHERE platform = ? AND external_id = ?",
                                 (REF.platform, REF.id)).fetchone()
            con.executemany("INSERT INTO users (community, user_id, name, name_key, name_ts, is_bot, member)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)", ((cid, *u) for u in users))
            for day, member, pair in synthetic_days(setup.members, setup.events, days):
                con.execute("INSERT INTO day_aggregates (community, day, users, members, member_rows, pairs,"
                            " pair_rows) VALUES (?, ?, ?, ?, ?, ?, ?)", (cid, *packed_day(day, member, pair)))
                print(f"{backend}: day {day - days.start + 1}/{len(days)}: {len(member):,} member-day, "
                      f"{len(pair):,} pair-day rows", flush=True)
        con.close()
        return
    import asyncpg

    assert setup.pg_url is not None
    conn = await asyncpg.connect(setup.pg_url, server_settings={"search_path": setup.pg_schema})
    try:
        async with conn.transaction():
            cid = await conn.fetchval("INSERT INTO communities (platform, external_id) VALUES ($1, $2) RETURNING id",
                                      REF.platform, REF.id)
            await conn.copy_records_to_table("users", records=[(cid, *u) for u in users], columns=[
                "community", "user_id", "name", "name_key", "name_ts", "is_bot", "member"])
            for day, member, pair in synthetic_days(setup.members, setup.events, days):
                await conn.copy_records_to_table("day_aggregates", records=[(cid, *packed_day(day, member, pair))])
                print(f"{backend}: day {day - days.start + 1}/{len(days)}: {len(member):,} member-day, "
                      f"{len(pair):,} pair-day rows", flush=True)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def build_one(setup: Setup, backend: str) -> None:
    """The first 90 - log_days days as aggregate rows written directly; the last log_days days as
    events through the store's import_events (the real path: log, users, aggregates of those days)."""
    marker = setup.marker(backend)
    if marker.exists():
        print(f"{backend}: cached ({marker.read_text().strip()})")
        return
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{setup.sqlite_path}{suffix}").unlink(missing_ok=True)
    else:
        assert setup.pg_url is not None
        await _pg_schema(setup.pg_url, setup.pg_schema, fresh=True)
    first = synth.START.timestamp() // 86_400
    bulk_days = range(int(first), int(first) + 90 - setup.log_days)
    async with setup.store(backend):
        pass  # creates the schema
    t0 = time.perf_counter()
    await bulk_aggregates(setup, backend, bulk_days)
    bulk_s = time.perf_counter() - t0
    n_log = setup.events * setup.log_days // 90
    stream = synth.events(setup.members, n_log, days=setup.log_days, community=REF.id, skew=SKEW,
                          start=synth.START + timedelta(days=90 - setup.log_days))
    t0 = time.perf_counter()
    done = 0
    async with setup.store(backend) as store:
        while True:
            stats = await store.import_events(islice(stream, IMPORT_CHUNK))
            if not stats.events:
                break
            done += stats.events
            el = time.perf_counter() - t0
            print(f"{backend}: {done:,} events of the last {setup.log_days} days in {el:,.0f} s ({done / el:,.0f}/s)",
                  flush=True)
    el = time.perf_counter() - t0
    marker.write_text(f"{len(bulk_days)} days of aggregates written directly in {bulk_s:,.0f} s; {done:,} events "
                      f"of the last {setup.log_days} days imported in {el:,.0f} s = {done / max(el, 1e-9):,.0f} events/s\n")
    print(f"{backend}: built, {marker.read_text().strip()}")


async def cmd_build(setup: Setup) -> None:
    for backend in setup.backends:
        await build_one(setup, backend)


def require_built(setup: Setup, backend: str) -> None:
    if not setup.marker(backend).exists():
        sys.exit(f"The {backend} database of {setup.tag} is not built; run the build command first.")


# -- ingest: the store's import against the backend's raw bulk insert ---------------------------

_RAW_TABLES = (
    "CREATE TABLE messages (community INTEGER, message_id TEXT, author TEXT, channel TEXT, ts BIGINT,"
    " day INTEGER, reply_to TEXT, PRIMARY KEY (community, message_id))",
    "CREATE TABLE mentions (community INTEGER, message_id TEXT, user_id TEXT,"
    " PRIMARY KEY (community, message_id, user_id))",
    "CREATE TABLE reactions (community INTEGER, message_id TEXT, actor TEXT, emoji TEXT, ts BIGINT,"
    " day INTEGER, PRIMARY KEY (community, message_id, actor, emoji))",
)
RAW_BATCH = 5_000  # events per executemany / COPY round, the stores' own batch size


def raw_sqlite(path: Path, events: list[Event]) -> float:
    """sqlite3 executemany into keyed tables, one transaction (as bench/bench_store.py). Seconds."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    for sql in _RAW_TABLES:
        con.execute(sql)
    t0 = time.perf_counter()
    con.execute("BEGIN")
    for msgs, ments, reacts in synth.log_rows(events, RAW_BATCH):
        con.executemany("INSERT OR IGNORE INTO messages VALUES (?,?,?,?,?,?,?)", msgs)
        con.executemany("INSERT OR IGNORE INTO mentions VALUES (?,?,?)", ments)
        con.executemany("INSERT OR IGNORE INTO reactions VALUES (?,?,?,?,?,?)", reacts)
    con.commit()
    el = time.perf_counter() - t0
    con.close()
    return el


async def raw_postgres(url: str, schema: str, events: list[Event]) -> float:
    """COPY into keyed tables, one transaction (duplicate reactions dropped in Python first)."""
    import asyncpg

    await _pg_schema(url, schema, fresh=True)
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        for sql in _RAW_TABLES:
            await conn.execute(sql)
        seen: set[tuple[Any, ...]] = set()  # a member can react twice with one emoji: COPY has no OR IGNORE
        t0 = time.perf_counter()
        async with conn.transaction():
            for msgs, ments, reacts in synth.log_rows(events, RAW_BATCH):
                fresh = []
                for r in reacts:
                    if r[:4] not in seen:
                        seen.add(r[:4])
                        fresh.append(r)
                for table, rows in (("messages", msgs), ("mentions", ments), ("reactions", fresh)):
                    if rows:
                        await conn.copy_records_to_table(table, records=rows)
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def cmd_ingest(setup: Setup) -> None:
    n = setup.ingest_events
    t0 = time.perf_counter()
    events = list(islice(setup.stream(), n))  # generated once, outside every timing
    print(f"ingest: {len(events):,} events of the {setup.members:,}-member stream, generated in "
          f"{time.perf_counter() - t0:.1f} s (not timed)")
    for backend in setup.backends:
        if backend == "sqlite":
            path = setup.workdir / "ingest-store.db"
            for p in (path, setup.workdir / "ingest-raw.db"):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{p}{suffix}").unlink(missing_ok=True)
            raw = raw_sqlite(setup.workdir / "ingest-raw.db", events)
            store: Store = SqliteStore(path)
        else:
            assert setup.pg_url is not None
            raw = await raw_postgres(setup.pg_url, "ingest_raw", events)
            await _pg_schema(setup.pg_url, "ingest_store", fresh=True)
            store = PostgresStore(setup.pg_url, schema="ingest_store")
        async with store:
            t0 = time.perf_counter()
            await store.import_events(events)
            took = time.perf_counter() - t0
        raw_name = "sqlite3 executemany" if backend == "sqlite" else "COPY"
        print(f"{backend}: raw {raw_name} {len(events) / raw:,.0f} events/s ({raw:.1f} s); import_events "
              f"{len(events) / took:,.0f} events/s ({took:.1f} s) = {raw / took:.0%} of raw", flush=True)


# -- recompute at full size -----------------------------------------------------------------------

class GraphRecorder:
    """Wraps scoring.engine's pagerank to time the step and keep the graph it was given."""

    def __init__(self) -> None:
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        self.args, self.kwargs = args, kwargs
        t0 = time.perf_counter()
        out = pagerank(*args, **kwargs)
        self.seconds = time.perf_counter() - t0
        return out

    def save(self, path: Path) -> None:
        n, src, dst, w, damping, tol, max_iter = self.args
        np.savez(path, n=n, src=src, dst=dst, w=w, damping=damping, tol=tol, max_iter=max_iter,
                 full_out=self.kwargs.get("full_out", 0.0))


async def last_event(store: Store) -> datetime:
    info = await store.community(REF)
    assert info is not None and info.last_event is not None
    return info.last_event


async def table_as_of(store: Store, at: datetime) -> engine.ScoreTable:
    """The community's scores as of `at` (untimed set-up of a measurement)."""
    return engine.compute(await store.aggregates(REF, at - timedelta(days=90), at), at)


async def recompute(setup: Setup, backend: str) -> None:
    require_built(setup, backend)
    if setup.day_change:  # (untimed) the stored scores become the next day's: the timed save is a day change
        async with setup.store(backend) as store:
            ahead = await last_event(store) + timedelta(days=1)
            await store.save_scores(REF, ahead, "all", (await table_as_of(store, ahead)).members)
    recorder = GraphRecorder()
    engine.pagerank = recorder  # type: ignore[assignment]
    async with setup.store(backend) as store:
        as_of = await last_event(store)
        with PeakRss() as mem:
            c0, t0 = time.process_time(), time.perf_counter()
            aggs = await store.aggregates(REF, as_of - timedelta(days=90), as_of)
            c1, t1 = time.process_time(), time.perf_counter()
            table = engine.compute(aggs, as_of)
            c2, t2 = time.process_time(), time.perf_counter()
            await store.save_scores(REF, as_of, "all", table.members)
            c3, t3 = time.process_time(), time.perf_counter()
        rows = len(aggs.md_day) + len(aggs.pd_day)
    print(f"{backend} recompute of {len(table):,} scored members ({len(aggs.md_day):,} member-day + "
          f"{len(aggs.pd_day):,} pair-day rows = {rows:,}; graph {len(recorder.args[1]):,} edges): load "
          f"{t1 - t0:.2f} s + compute {t2 - t1:.2f} s (PageRank {recorder.seconds:.2f} s) + save {t3 - t2:.2f} s = "
          f"{t3 - t0:.2f} s wall (target ≤ 60 s); CPU of this process {c1 - c0:.1f} + {c2 - c1:.1f} + {c3 - c2:.1f} s "
          f"(the database server's not included); peak RSS {mb(mem.peak)} (started at {mb(mem.start)}; target ≤ 4 GB)",
          flush=True)
    if backend == "sqlite" or not setup.graph_path.exists():
        recorder.save(setup.graph_path)
    if setup.baseline is not None:
        compare_engines(setup.baseline, aggs, as_of, table)


def compare_engines(baseline: Path, aggs: Any, as_of: Any, table: engine.ScoreTable) -> None:
    """compute() of another checkout (e.g. the commit before a fix) against this one on the same
    aggregates, alternating twice; the tables must be equal."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("baseline_engine", baseline / "scoring" / "engine.py")
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    sys.modules["baseline_engine"] = old
    spec.loader.exec_module(old)
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(2):
        for name, fn in (("before", old.compute), ("after", engine.compute)):
            t0 = time.perf_counter()
            other = fn(aggs, as_of)
            times[name].append(time.perf_counter() - t0)
            assert other.members == table.members, "the engines disagree"
            del other
            gc.collect()
    b, a = min(times["before"]), min(times["after"])
    print(f"compute() before ({baseline}) {b:.2f} s, after {a:.2f} s (best of 2 each, alternating) = "
          f"{b / a:.2f}x; identical tables", flush=True)


async def cmd_recompute(setup: Setup) -> None:
    for backend in setup.backends:
        await recompute(setup, backend)
        gc.collect()


# -- PageRank against networkx -------------------------------------------------------------------

async def cmd_pagerank(setup: Setup) -> None:
    if not setup.graph_path.exists():
        await recompute(setup, "sqlite")
    g = np.load(setup.graph_path)
    n, src, dst, w = int(g["n"]), g["src"], g["dst"], g["w"]
    damping, tol, max_iter, full_out = float(g["damping"]), float(g["tol"]), int(g["max_iter"]), float(g["full_out"])
    t0 = time.perf_counter()
    pagerank(n, src, dst, w, damping, tol, max_iter, full_out=full_out)
    ours_step = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = pagerank(n, src, dst, w, damping, tol, max_iter)
    ours_plain = time.perf_counter() - t0
    print(f"graph of the recompute: {n:,} nodes, {src.size:,} edges; Clout's step (continuity rule "
          f"full_out={full_out:g}) {ours_step:.2f} s; plain PageRank {ours_plain:.2f} s", flush=True)
    import networkx as nx

    with PeakRss() as mem:
        t0 = time.perf_counter()
        graph = nx.DiGraph()
        graph.add_nodes_from(range(n))
        graph.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True))
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = nx.pagerank(graph, alpha=damping, weight="weight", tol=tol, max_iter=max_iter)
        t_nx = time.perf_counter() - t0
    diff = float(np.abs(np.fromiter((ref[i] for i in range(n)), np.float64, n) - ours).max())
    print(f"networkx.pagerank (scipy inside: to_scipy_sparse_array + power iteration) {t_nx:.2f} s "
          f"(building the nx.DiGraph before it: {built:.1f} s, not counted); ours {ours_plain:.2f} s = "
          f"{t_nx / ours_plain:.1f}x faster (target ≥ 20x); max abs difference {diff:.1e} (≤ 1e-6); "
          f"peak RSS with the nx graph {mb(mem.peak)}")


# -- saves: a refresh of the same day, and a day change -------------------------------------------

async def cmd_saves(setup: Setup) -> None:
    """save_scores of the 1M scores as a day's refreshes make it (the day's scores stored already)
    and as the first save of a new day makes it (the stored scores become their day's snapshot
    first), then the first day again (so the cached build ends as `recompute` left it)."""
    for backend in setup.backends:
        require_built(setup, backend)
        async with setup.store(backend) as store:
            as_of = await last_event(store)
            table = await table_as_of(store, as_of)
            await store.save_scores(REF, as_of, "all", table.members)  # the day's scores, as recompute leaves them
            for label, at in (("same day again (a refresh)", as_of), ("next day (the day's snapshot written)",
                              as_of + timedelta(days=1)), ("back to the first day", as_of)):
                t0 = time.perf_counter()
                await store.save_scores(REF, at, "all", table.members)
                print(f"{backend} save of {len(table):,} scores, {label}: {time.perf_counter() - t0:.2f} s", flush=True)


# -- reads -----------------------------------------------------------------------------------------

async def cmd_reads(setup: Setup) -> None:
    for backend in setup.backends:
        require_built(setup, backend)
        async with setup.store(backend) as store:
            stored = await store.stored_scores(REF)
            if stored is None:
                sys.exit(f"No scores stored on {backend}: run the recompute command first.")
            rng = random.Random(1)
            # Members to ask about: every 97th of the board (read once, not timed), shuffled.
            users = [m.user for m in await store.leaderboard(REF, "all", 0, 0)][::97]
            rng.shuffle(users)
            lat_score, lat_page = [], []
            for i in range(setup.reads):
                t = time.perf_counter()
                found = await store.score_of(REF, users[i % len(users)])
                lat_score.append(time.perf_counter() - t)
                assert found is not None
                off = rng.randrange(0, stored.members - 10)
                t = time.perf_counter()
                page = await store.leaderboard(REF, "all", off, 10)
                lat_page.append(time.perf_counter() - t)
                assert len(page) == 10
        (sm, sp), (pm, pp) = percentiles(lat_score), percentiles(lat_page)
        print(f"{backend} at {stored.members:,} scored members, {setup.reads:,} reads each: score_of median "
              f"{sm:.3f} ms, p99 {sp:.3f} ms; leaderboard page (10 rows at a random offset) median {pm:.3f} ms, "
              f"p99 {pp:.3f} ms (target p99 ≤ 5 ms)", flush=True)


# -- weekly summary --------------------------------------------------------------------------------

async def cmd_summary(setup: Setup) -> None:
    from bench.bench_summary import measure_build, report_build

    require_built(setup, "sqlite")
    copy = setup.workdir / "summary.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(setup.sqlite_path)
    dst = sqlite3.connect(copy)
    src.backup(dst)  # the summary writes settings, prefs and outbox rows; the cached build stays clean
    src.close()
    dst.close()
    r = await measure_build(copy, setup.members)
    report_build(r, "target ≤ 5 min at 1M members")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=sorted(COMMANDS))
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=20_000_000)
    ap.add_argument("--workdir", default="/tmp/clout-scale")
    ap.add_argument("--pg", help="PostgreSQL URL (default $CLOUT_TEST_POSTGRES)")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--ingest-events", type=int, default=2_000_000)
    ap.add_argument("--reads", type=int, default=2_000)
    ap.add_argument("--baseline", help="recompute: also time compute() of the checkout in this directory")
    ap.add_argument("--log-days", type=int, default=7, help="days at the end imported as events (build)")
    ap.add_argument("--day-change", action="store_true",
                    help="recompute: first store scores as of the next day (untimed), so the timed save is the "
                         "first of a day (the stored scores become their day's snapshot)")
    args = ap.parse_args()
    setup = Setup(args)
    if setup.pg_url:
        print(f"PostgreSQL: {redact(setup.pg_url)}")
    asyncio.run(COMMANDS[args.command](setup))


COMMANDS: dict[str, Any] = {"build": cmd_build, "ingest": cmd_ingest, "recompute": cmd_recompute,
                            "pagerank": cmd_pagerank, "reads": cmd_reads, "saves": cmd_saves, "summary": cmd_summary}

if __name__ == "__main__":
    main()
