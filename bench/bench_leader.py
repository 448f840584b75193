"""Several processes on PostgreSQL: what the refresh lock costs and how fast a follower takes over.

    CLOUT_TEST_POSTGRES=postgresql://… python bench/bench_leader.py refresh [--events 200000] [--rounds 10]
    CLOUT_TEST_POSTGRES=postgresql://… python bench/bench_leader.py takeover [--poll 1.0] [--rounds 10]

`refresh` seeds a synthetic community into a fresh schema and times `ScoreService.refresh` (it runs
on code without the lock too: compare the two trees side by side). `takeover` starts two
`Leadership` loops on one schema, kills the leader's lock session with pg_terminate_backend and
times until the follower leads, `rounds` times (expected: at most one poll interval).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synth import START, events  # noqa: E402
from bot.chat.service import ScoreService  # noqa: E402
from scoring.model import CommunityRef  # noqa: E402
from storage.postgres import PostgresStore  # noqa: E402

REF = CommunityRef("events", "bench")


async def _schema(url: str) -> str:
    name = f"bench_{os.getpid()}"
    conn = await asyncpg.connect(url)
    await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")
    await conn.close()
    return name


async def _drop(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    await conn.close()


async def refresh(url: str, n_events: int, rounds: int) -> None:
    schema = await _schema(url)
    try:
        async with PostgresStore(url, schema=schema) as store:
            await store.import_events(events(2_000, n_events))
            when = START + timedelta(days=90)
            service = ScoreService(store, clock=lambda: when, min_interval=0)
            await service.refresh(REF)  # the first one also back-fills 12 weekly snapshots
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                await service.refresh(REF)
                times.append(time.perf_counter() - t0)
        print(f"refresh of {n_events} events: median {statistics.median(times) * 1000:.1f} ms, "
              f"min {min(times) * 1000:.1f} ms over {rounds} rounds")
    finally:
        await _drop(url, schema)


async def takeover(url: str, poll: float, rounds: int) -> None:
    from bot.leader import Leadership

    schema = await _schema(url)
    gained = asyncio.Queue[tuple[int, float]]()
    try:
        async with PostgresStore(url, schema=schema) as a, PostgresStore(url, schema=schema) as b:
            stores = [a, b]

            def leadership(i: int) -> Leadership:
                async def gain() -> None:
                    gained.put_nowait((i, time.perf_counter()))

                async def loss() -> None:
                    pass
                return Leadership(stores[i], poll=poll, on_gain=gain, on_loss=loss)

            leaders = [leadership(0), leadership(1)]
            for leader in leaders:
                await leader.start()
            current, _ = await gained.get()
            killer = await asyncpg.connect(url)
            times = []
            for _ in range(rounds):
                locks = stores[current]._locks
                assert locks is not None and locks._conn is not None
                t0 = time.perf_counter()
                await killer.fetchval("SELECT pg_terminate_backend($1)", locks._conn.get_server_pid())
                current, at = await asyncio.wait_for(gained.get(), 10 * poll + 10)
                times.append(at - t0)
            await killer.close()
            for leader in leaders:
                await leader.stop()
        print(f"takeover with poll {poll} s: median {statistics.median(times):.3f} s, "
              f"max {max(times):.3f} s over {rounds} kills")
    finally:
        await _drop(url, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["refresh", "takeover"])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()
    url = os.environ.get("CLOUT_TEST_POSTGRES")
    if not url:
        sys.exit("Set CLOUT_TEST_POSTGRES to a PostgreSQL URL (.ci/postgres.sh start).")
    if args.what == "refresh":
        asyncio.run(refresh(url, args.events, args.rounds))
    else:
        asyncio.run(takeover(url, args.poll, args.rounds))


if __name__ == "__main__":
    main()
