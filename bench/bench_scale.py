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
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synth  # noqa: E402
from scoring import engine  # noqa: E402
from scoring.model import CommunityRef, Event, Kind  # noqa: E402
from scoring.pagerank import pagerank  # noqa: E402
from storage.base import Store  # noqa: E402
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


async def build_one(setup: Setup, backend: str) -> None:
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
    t0 = time.perf_counter()
    done = 0
    stream = setup.stream()
    async with setup.store(backend) as store:
        while True:
            stats = await store.import_events(islice(stream, IMPORT_CHUNK))
            if not stats.events:
                break
            done += stats.events
            el = time.perf_counter() - t0
            print(f"{backend}: {done:,} events in {el:,.0f} s ({done / el:,.0f}/s)", flush=True)
    el = time.perf_counter() - t0
    marker.write_text(f"{done:,} events imported in {el:,.0f} s = {done / el:,.0f} events/s\n")
    print(f"{backend}: built, {marker.read_text().strip()}")


async def cmd_build(setup: Setup) -> None:
    for backend in setup.backends:
        await build_one(setup, backend)


def require_built(setup: Setup, backend: str) -> None:
    if not setup.marker(backend).exists():
        sys.exit(f"The {backend} database of {setup.tag} is not built; run the build command first.")


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
    args = ap.parse_args()
    setup = Setup(args)
    if setup.pg_url:
        print(f"PostgreSQL: {redact(setup.pg_url)}")
    asyncio.run(COMMANDS[args.command](setup))


COMMANDS: dict[str, Any] = {"build": cmd_build}

if __name__ == "__main__":
    main()
