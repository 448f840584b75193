"""Chat-layer latency (issue #3): /score and /leaderboard in a big community while events stream in.

Imports a synthetic community (default 100k members), computes its scores, then for --seconds
streams live events through the real ingest path (Ingestor → SqliteStore writer) at --rate events/s
while the refresher runs, and meanwhile issues /score and /leaderboard through Commands.handle,
measuring each command's latency and the event loop's lag (a probe task every 10 ms).

Usage: .venv/bin/python bench/bench_chat.py [--members 100000] [--events 2000000] [--rate 2000] [--seconds 30]

`--db FILE` keeps the imported, scored database in FILE (made on the first run) and later runs
start from a copy of it, skipping the import and the history backfill (for quick iterations).
Also reported: garbage-collection pauses (gc.callbacks) inside the measured window, and for /score
both the time to its text reply (the command's latency: adapters send it at once) and the time
until its score card, which follows, is ready.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import inspect
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synth  # noqa: E402
from bot.card import CardRenderer  # noqa: E402
from bot.chat.commands import Commands  # noqa: E402
from bot.chat.ingest import Ingestor  # noqa: E402
from bot.chat.reply import Context  # noqa: E402
from bot.chat.service import ScoreService  # noqa: E402
from scoring.model import CommunityRef  # noqa: E402
from storage.sqlite import SqliteStore  # noqa: E402

REF = CommunityRef("events", "bench")


def _backup(src: Path, dst: Path) -> None:
    """A consistent copy of a live WAL database (the main file alone may lack committed pages)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    b.close()
    a.close()


def _has_option(cls: type, name: str) -> bool:
    """Whether a constructor takes `name` (so this script also drives older code for comparisons)."""
    return name in inspect.signature(cls).parameters


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chat.db"
        reuse = args.db is not None and args.db.exists()
        if reuse:
            shutil.copyfile(args.db, path)
        store = SqliteStore(path)
        await store.open()
        try:
            t0 = time.perf_counter()
            if not reuse:
                await store.import_events(synth.events(args.members, args.events))
            info = await store.community(REF)
            now = info.last_event + timedelta(minutes=1)
            if not reuse:
                print(f"imported {args.events:,} events for {args.members:,} members in {time.perf_counter() - t0:.0f} s")
            clock_offset = now - datetime.now(UTC)

            def clock() -> datetime:
                return datetime.now(UTC) + clock_offset

            options = {"freeze_gc": not args.no_freeze} if _has_option(ScoreService, "freeze_gc") else {}
            service = ScoreService(store, clock=clock, min_interval=args.refresh_interval, **options)
            t0 = time.perf_counter()
            await service.refresh(REF)
            print(f"first refresh (3 periods + week-ago table{'' if reuse else ' + 12-week history backfill'}): "
                  f"{time.perf_counter() - t0:.1f} s")
            if args.db is not None and not reuse:
                await store.flush()
                await asyncio.to_thread(_backup, path, args.db)
            ingestor = Ingestor(store, service)
            renderer = CardRenderer(args.card_processes)
            await renderer.warm()
            commands = Commands(store, service, clock=clock, ingestor=ingestor, rate=(10**9, 1.0), renderer=renderer)
            service.listeners.append(commands.warm)
            await commands.warm(REF)
            users = [m.user for m in await store.leaderboard(REF, "all", 0, 0)]
            refresher = asyncio.create_task(service.run())
            stop = asyncio.Event()
            lags: list[float] = []

            async def probe() -> None:
                loop = asyncio.get_running_loop()
                while not stop.is_set():
                    t = loop.time()
                    await asyncio.sleep(0.01)
                    lags.append(loop.time() - t - 0.01)

            live = synth.events(args.members, 10**9, seed=99, community=REF.id, start=now - timedelta(days=1))
            streamed = 0

            async def stream() -> None:
                nonlocal streamed
                loop = asyncio.get_running_loop()
                start = loop.time()
                while not stop.is_set():
                    due = int((loop.time() - start) * args.rate)
                    while streamed < due:
                        ev = next(live)
                        await ingestor.event(dataclasses.replace(ev, message_id="live-" + ev.message_id,
                                                                 ts=clock()))
                        streamed += 1
                        if streamed % 10 == 0:
                            # An adapter yields between the frames or batches it reads (a gateway frame,
                            # a getUpdates page); ingest that never waits must not hold the loop for a backlog.
                            await asyncio.sleep(0)
                    await asyncio.sleep(0.005)

            lat: dict[str, list[float]] = {"score": [], "leaderboard": [], "score card": []}
            rng = random.Random(5)

            async def ask() -> None:
                loop = asyncio.get_running_loop()
                end = loop.time() + args.seconds
                while loop.time() < end:
                    user = rng.choice(users)
                    ctx = Context("events", user, clock(), community=REF, channel="general", name=user)
                    for name, text in (("score", "/score"), ("leaderboard", f"/leaderboard all {rng.randint(1, 50)}")):
                        t = time.perf_counter()
                        reply = await commands.handle(ctx, text)
                        lat[name].append((time.perf_counter() - t) * 1000)
                        assert not reply.error, reply.plain
                        if name == "score":
                            # The card follows the text (an adapter sends the text first); older code
                            # returned it with the text, so there the card time is the command's.
                            later = getattr(reply, "later", None)
                            if later is not None:
                                assert await later.result() is not None, "no card"
                            lat["score card"].append((time.perf_counter() - t) * 1000)
                    await asyncio.sleep(0.02)
                stop.set()

            gc_pauses: list[float] = []
            gc_start = [0.0]

            def gc_watch(phase: str, info: dict[str, int]) -> None:
                if info["generation"] != 2:
                    return
                if phase == "start":
                    gc_start[0] = time.perf_counter()
                else:
                    gc_pauses.append(time.perf_counter() - gc_start[0])

            print(f"objects tracked by the garbage collector: {len(gc.get_objects()):,} "
                  f"(+{gc.get_freeze_count():,} frozen)")
            refreshes_before = service.refreshes
            gc.callbacks.append(gc_watch)
            await asyncio.gather(probe(), stream(), ask())
            gc.callbacks.remove(gc_watch)
            refresher.cancel()
            t0 = time.perf_counter()
            await store.flush()
            flush_s = time.perf_counter() - t0
            renderer.close()
        finally:
            await store.close()
    print(f"streamed {streamed:,} events in {args.seconds} s ({streamed / args.seconds:,.0f}/s), "
          f"{service.refreshes - refreshes_before} refreshes ran meanwhile; final flush {flush_s:.2f} s")
    for name, values in lat.items():
        print(f"/{name}: n={len(values)} median {statistics.median(values):.1f} ms, p99 {pct(values, 0.99):.1f} ms, "
              f"max {max(values):.1f} ms")
    print(f"event-loop lag: median {statistics.median(lags) * 1000:.1f} ms, p99 {pct(lags, 0.99) * 1000:.1f} ms, "
          f"max {max(lags) * 1000:.1f} ms")
    print(f"full garbage collections: {len(gc_pauses)}, "
          f"longest {max(gc_pauses, default=0.0) * 1000:.1f} ms, total {sum(gc_pauses) * 1000:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--rate", type=int, default=2_000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--refresh-interval", type=float, default=10.0)
    ap.add_argument("--no-freeze", action="store_true", help="do not gc.freeze() after refreshes")
    ap.add_argument("--switch-interval", type=float, default=None,
                    help="GIL switch interval in seconds (default: the bot's, bot.chat.service.GIL_SWITCH_INTERVAL)")
    ap.add_argument("--db", type=Path, help="keep the prepared database here and start later runs from it")
    ap.add_argument("--card-processes", type=int, default=1, help="0: render cards in a thread")
    args = ap.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    else:
        try:
            from bot.chat.service import favour_event_loop
        except ImportError:  # older code driven for comparisons: its own default
            pass
        else:
            favour_event_loop()
    print(f"GIL switch interval: {sys.getswitchinterval() * 1000:g} ms")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
