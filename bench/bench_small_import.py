"""A small import into a big SQLite community: it must not pay for the whole log.

`--make DB --events N` writes the synthetic community of bench_store.py into DB once; then each
run copies DB and imports `--small` new events (new message ids, the day after the community's
last) into the copy, printing wall and CPU time. Run it alternately from this worktree and from an
exported old commit (PYTHONPATH=/tmp/base) to compare the two store versions on the same file.

Usage: .venv/bin/python bench/bench_small_import.py --db /tmp/big.db --make --events 1000000
       .venv/bin/python bench/bench_small_import.py --db /tmp/big.db [--small 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synth  # noqa: E402
from storage.sqlite import SqliteStore  # noqa: E402

DAYS = 90  # synth.events' default span


async def run(args: argparse.Namespace) -> None:
    if args.make:
        async with SqliteStore(args.db) as store:
            await store.import_events(synth.events(args.members, args.events, days=DAYS))
        return
    after = synth.START + timedelta(days=DAYS)
    small = [replace(e, message_id=f"s{e.message_id}", reply_to=e.reply_to and f"s{e.reply_to}")
             for e in synth.events(args.members, args.small, days=1, seed=11, start=after)]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        shutil.copyfile(args.db, copy)
        async with SqliteStore(copy) as store:
            t0, c0 = time.perf_counter(), time.process_time()
            await store.import_events(small)
            print(f"{args.small:,} events into a copy of {args.db}: {time.perf_counter() - t0:.2f} s wall, "
                  f"{time.process_time() - c0:.2f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--make", action="store_true", help="write the big community into --db first")
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000)
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
