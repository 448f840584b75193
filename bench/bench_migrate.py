"""`clout migrate` throughput: a synthetic SQLite database copied to PostgreSQL and back.

Builds a heavy-tailed community with bench/synth.py (import_events, scores of every period saved),
once, into --db (kept: later runs reuse it), then times storage.transfer.transfer SQLite → a fresh
schema of the PostgreSQL server, and that schema → a new SQLite file. Prints rows/s overall and the
biggest tables, and the peak RSS of the process.

Usage: .venv/bin/python bench/bench_migrate.py [--events 1000000] [--members 100000]
       [--db /tmp/clout-bench-migrate.db] [--pg URL (default: $CLOUT_TEST_POSTGRES)] [--chunk-rows 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg  # noqa: E402

from bench import synth  # noqa: E402
from bot.chat.service import ScoreService  # noqa: E402
from scoring.model import CommunityRef  # noqa: E402
from storage.sqlite import SqliteStore  # noqa: E402
from storage.transfer import TransferReport, transfer  # noqa: E402


async def build(path: Path, events: int, members: int) -> None:
    store = SqliteStore(path)
    await store.open()
    try:
        t0 = time.perf_counter()
        stats = await store.import_events(synth.events(members, events))
        ref = CommunityRef("events", "bench")
        info = await store.community(ref)
        assert info is not None and info.last_event is not None
        when = info.last_event
        await ScoreService(store, clock=lambda: when).refresh(ref, as_of=when)
        print(f"built {path}: {stats.events:,} events in {time.perf_counter() - t0:.1f} s")
    finally:
        await store.close()


def show(label: str, report: TransferReport) -> None:
    rate = report.copied / report.seconds
    print(f"{label}: {report.copied:,} rows in {report.seconds:.1f} s = {rate:,.0f} rows/s")
    for t in sorted(report.tables, key=lambda t: -t.rows)[:5]:
        print(f"    {t.table:<16} {t.rows:>10,} rows")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "clout-bench-migrate.db")
    ap.add_argument("--pg", default=os.environ.get("CLOUT_TEST_POSTGRES"))
    ap.add_argument("--chunk-rows", type=int, default=50_000)
    args = ap.parse_args()
    if not args.pg:
        sys.exit("Give --pg URL or set CLOUT_TEST_POSTGRES (see README: PostgreSQL).")
    if not args.db.exists():
        await build(args.db, args.events, args.members)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(args.pg)
    await conn.execute(f"CREATE SCHEMA {schema}")
    target = f"{args.pg}{'&' if '?' in args.pg else '?'}search_path={schema}"
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, chunks of {args.chunk_rows:,} rows")
    try:
        show("SQLite -> PostgreSQL", await transfer(str(args.db), target, chunk_rows=args.chunk_rows))
        with tempfile.TemporaryDirectory(prefix="clout-bench-back-") as tmp:
            back = Path(tmp) / "back.db"
            show("PostgreSQL -> SQLite", await transfer(target, str(back), chunk_rows=args.chunk_rows))
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
