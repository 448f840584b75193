"""Telegram adapter (issue #5): ingest throughput through the fake Bot API, and send pacing.

0. Isolated: the same updates parsed by PTB (Update.de_json) and handled with process_update,
   without HTTP: the bot's own CPU cost per update.
1. Ingest: the real adapter (PTB Application, polling) against the loopback fake Bot API of
   tests/telegram, which runs in a child process (so its work counts neither against the bot's
   loop nor its GIL). --updates group updates (messages with replies and mentions, ~20% named
   reactions) from --members members in --groups groups are queued at once; the bot polls them
   (100 per getUpdates), normalizes them and hands them to the Ingestor → SQLite writer, while
   the score refresher runs. Measured: updates/s until every update is handled and flushed, and the
   bot loop's lag (a probe task every 10 ms).
2. Pacing: with the production rate limiter (AIORateLimiter: 30/s overall, 20/min per group),
   --spread posts to as many groups, then --burst posts to one group, all issued at once. The fake
   records when each sendMessage arrived; reported: the most sends in any 1 s window, and in any
   60 s window for the one group.

Usage: .venv/bin/python bench/bench_telegram.py [--updates 20000] [--members 500] [--groups 20]
       [--spread 150] [--burst 25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telegram import Update  # noqa: E402

from bot.app import App  # noqa: E402
from bot.chat.reply import Reply  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.telegram.adapter import TelegramAdapter, default_rate_limiter  # noqa: E402
from scoring.model import CommunityRef  # noqa: E402
from tests.telegram.fakeapi import TOKEN, FakeBotApi, RecordingRequest, serve  # noqa: E402
from tests.telegram.updates import group_chat, mention, message, reaction, user  # noqa: E402


class FakeProcess:
    """The fake Bot API in a child process (so its work neither holds the bot's GIL nor its loop),
    driven through the fake's /control routes."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.process = multiprocessing.get_context("spawn").Process(target=serve, args=(self.port,), daemon=True)
        self.process.start()
        self.base_url = f"http://127.0.0.1:{self.port}/bot"
        self.control = f"http://127.0.0.1:{self.port}/control"
        self.http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900))
        for _ in range(500):  # the child needs a moment to import and bind
            try:
                await self.calls("getMe")
                return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)
        raise RuntimeError("the fake Bot API did not start")

    async def push(self, updates: list[dict[str, Any]]) -> list[int]:
        assert self.http is not None
        async with self.http.post(self.control + "/push", json=updates) as response:
            return list(await response.json())

    async def consumed(self, update_id: int) -> None:
        assert self.http is not None
        async with self.http.get(f"{self.control}/consumed/{update_id}") as response:
            await response.read()

    async def calls(self, method: str) -> list[dict[str, Any]]:
        assert self.http is not None
        async with self.http.get(f"{self.control}/calls/{method}") as response:
            return list(await response.json())

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        self.process.kill()
        self.process.join(5)


def make_updates(n: int, members: int, groups: int, now: datetime, seed: int = 7,
                 first_id: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    people = [user(10_000 + i, f"Member {i}", username=f"member{i}") for i in range(members)]
    chats = [group_chat(-1002000000000 - g) for g in range(groups)]
    recent: dict[int, list[tuple[int, dict[str, Any]]]] = {g: [] for g in range(groups)}
    out: list[dict[str, Any]] = []
    for i in range(n):
        g = rng.randrange(groups)
        at = now - timedelta(seconds=n - i)
        who = people[min(members - 1, int(rng.paretovariate(1.2)) - 1)]
        if recent[g] and rng.random() < 0.2:
            mid, target = rng.choice(recent[g][-50:])
            out.append(reaction(who, mid, at=at, new=[rng.choice("👍🔥🎉❤")], chat=chats[g]))
            continue
        mid = first_id + i
        kw: dict[str, Any] = {}
        if recent[g] and rng.random() < 0.4:
            kw["reply_to"] = rng.choice(recent[g][-50:])[1]
        text = "some words here"
        if rng.random() < 0.15:
            other = rng.choice(people)
            text = f"thanks @{other['username']}"
            kw["entities"] = [mention(text, other["username"])]
        msg = message(who, text, at=at, chat=chats[g], message_id=mid, **kw)
        recent[g].append((mid, {k: v for k, v in msg.items() if k != "reply_to_message"}))
        out.append({"message": msg})
    return out


def most_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def probe(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.01)
        lags.append((loop.time() - t - 0.01) * 1000)


async def isolated(args: argparse.Namespace, tmp: str) -> None:
    """The bot's own cost per update, without HTTP: PTB parsing, then handlers → Ingestor → SQLite."""
    updates = make_updates(args.updates, args.members, args.groups, datetime.now(UTC), seed=9)
    app = await App.start(Config(database=str(Path(tmp) / "iso.db"), telegram_token=TOKEN,
                                 refresh_interval=args.refresh_interval))
    request = RecordingRequest(FakeBotApi())
    adapter = TelegramAdapter(app, configure=lambda b: b.request(request).get_updates_request(request))
    adapter.application = application = adapter.build()
    await application.initialize()
    try:
        raw = [json.loads(json.dumps({"update_id": i + 1, **u})) for i, u in enumerate(updates)]
        t0 = time.perf_counter()
        parsed = [Update.de_json(r, application.bot) for r in raw]
        parse = time.perf_counter() - t0
        t0 = time.perf_counter()
        for update in parsed:
            await application.process_update(update)
        await adapter.flush_usernames()
        await app.store.flush()
        handle = time.perf_counter() - t0
        n = len(parsed)
        print(f"isolated: PTB Update.de_json {parse / n * 1000:.3f} ms per update; handlers → Ingestor → SQLite "
              f"{handle / n * 1000:.3f} ms per update (one at a time, flush included); together "
              f"{n / (parse + handle):,.0f} updates/s on one core (load average {os.getloadavg()[0]:.1f})")
    finally:
        await application.shutdown()
        adapter.application = None
        await app.close()


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await isolated(args, tmp)
    fake = FakeProcess()
    await fake.open()
    now = datetime.now(UTC)
    # Two rounds over the same members: cold (every member first seen: settings, prefs and
    # usernames are read from the store) and warm (the steady state of a running bot).
    rounds = [("cold", make_updates(args.updates, args.members, args.groups, now - timedelta(hours=6))),
              ("warm", make_updates(args.updates, args.members, args.groups, now, seed=8, first_id=10_000_000))]
    with tempfile.TemporaryDirectory() as tmp:
        app = await App.start(Config(database=str(Path(tmp) / "tg.db"), telegram_token=TOKEN,
                                     refresh_interval=args.refresh_interval))
        refresher = asyncio.create_task(app.service.run())
        adapter = TelegramAdapter(app, configure=lambda b: b.base_url(fake.base_url))
        await adapter.start()
        try:
            # -- 1. ingest ----------------------------------------------------------------------
            for label, updates in rounds:
                lags: list[float] = []
                stop = asyncio.Event()
                prober = asyncio.create_task(probe(lags, stop))
                t0, cpu0, main0 = time.perf_counter(), time.process_time(), time.thread_time()
                ids = []
                for i in range(0, len(updates), 5_000):
                    ids += await fake.push(updates[i:i + 5_000])
                await fake.consumed(ids[-1])
                assert adapter.application is not None
                await adapter.application.update_queue.join()
                await app.store.flush()
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                main = time.thread_time() - main0
                stop.set()
                await prober
                print(f"ingest ({label}): {len(updates):,} updates in {elapsed:.2f} s = "
                      f"{len(updates) / elapsed:,.0f} updates/s; bot process CPU {cpu:.2f} s = "
                      f"{cpu / len(updates) * 1000:.3f} ms per update = {len(updates) / cpu:,.0f} updates per "
                      f"CPU-second (load average {os.getloadavg()[0]:.1f})")
                print(f"  of which the event-loop thread {main:.2f} s ({main / len(updates) * 1000:.3f} ms per update), "
                      f"other threads (SQLite writer and reader, card/score workers) {cpu - main:.2f} s")
                print(f"  loop lag (10 ms probe, {len(lags)} samples): median {statistics.median(lags):.1f} ms, "
                      f"p99 {sorted(lags)[int(len(lags) * 0.99)]:.1f} ms, max {max(lags):.1f} ms")
            messages = 0
            for g in range(args.groups):
                info = await app.store.community(CommunityRef("telegram", str(-1002000000000 - g)))
                messages += info.messages if info else 0
            print(f"  stored: {messages:,} messages")

            # -- 2. pacing (production limiter) -------------------------------------------------
            await adapter.stop()
            adapter = TelegramAdapter(app, configure=lambda b: b.base_url(fake.base_url),
                                      rate_limiter=default_rate_limiter())
            await adapter.start()
            note = Reply(text=("weekly digest",))
            first = len(await fake.calls("sendMessage"))
            t0 = time.perf_counter()
            await asyncio.gather(*(adapter.post(CommunityRef("telegram", str(-1003000000000 - g)),
                                                str(-1003000000000 - g), note) for g in range(args.spread)))
            spread_s = time.perf_counter() - t0
            spread = [c["at"] for c in (await fake.calls("sendMessage"))[first:]]
            print(f"pacing, {args.spread} posts to {args.spread} groups: {spread_s:.1f} s = "
                  f"{args.spread / spread_s:.1f}/s; most in any 1 s: {most_in_window(spread, 1.0)} (limit 30)")
            group = CommunityRef("telegram", "-1004000000000")
            first = len(await fake.calls("sendMessage"))
            t0 = time.perf_counter()
            await asyncio.gather(*(adapter.post(group, group.id, note) for _ in range(args.burst)))
            burst_s = time.perf_counter() - t0
            burst = sorted(c["at"] for c in (await fake.calls("sendMessage"))[first:])
            gaps = [b - a for a, b in zip(burst[10:], burst[11:], strict=False)]
            print(f"pacing, {args.burst} posts to one group: {burst_s:.1f} s; most in any 60 s: "
                  f"{most_in_window(burst, 60.0)} (limit 20)"
                  + (f"; after a burst of 10, one every {statistics.median(gaps):.1f} s" if gaps else ""))
        finally:
            await adapter.stop()
            refresher.cancel()
            try:
                await refresher
            except asyncio.CancelledError:
                pass
            await app.close()
            await fake.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--refresh-interval", type=float, default=5.0)
    parser.add_argument("--spread", type=int, default=150)
    parser.add_argument("--burst", type=int, default=25)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
