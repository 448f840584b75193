"""Discord adapter throughput (issue #4): MESSAGE_CREATE events through the real discord.py client.

The loopback fake of Discord (tests/discord/fake.py) runs in a separate process and streams
MESSAGE_CREATE payloads over the gateway websocket at a given rate; this process runs the real app
(SqliteStore in a temporary directory, Ingestor, the Discord adapter) and measures how many events
per second it hands to the ingestor, the event loop's lag (a probe task every 10 ms) and the
process's memory.

Phase 1 (steps): for each rate in --rates, stream for --seconds and report ingested/s, backlog and
loop lag; the sustained rate is the highest step that kept up with lag under 100 ms.
Phase 2 (memory): stream --events messages at --memory-rate and report RSS before and after.

Usage: .venv/bin/python bench/bench_discord.py [--rates 1000,2000,3000,4000] [--seconds 10]
                                               [--events 1000000] [--memory-rate 3000] [--refresher]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import discord  # noqa: E402
import yarl  # noqa: E402
from aiohttp import web  # noqa: E402

from bot.app import App  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.discord.adapter import DiscordAdapter  # noqa: E402
from tests.discord.fake import Channel, FakeDiscord, Guild, snowflake, user  # noqa: E402

GUILD = 81_384_788_765_712_384
CHANNELS = [1001, 1002, 1003, 1004]
MEMBERS = 5_000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the fake, in its own process -------------------------------------------------------------------

def serve(port_out: Any, sim_step: float) -> None:
    asyncio.run(_serve(port_out, sim_step))


async def _serve(port_out: Any, sim_step: float) -> None:
    fake = FakeDiscord([Guild(GUILD, "Bench", [Channel(c, f"c{c}") for c in CHANNELS])])
    users = [user(10_000 + i, f"Member {i}") for i in range(MEMBERS)]
    seq = itertools.count(1)
    rng = random.Random(1)
    recent: list[tuple[str, dict[str, Any]]] = []
    sim_start = datetime.now(UTC) - timedelta(days=90)

    def payload() -> str:
        n = next(seq)
        # Real time puts every event on today; simulated time spreads them as a busy server would.
        now = sim_start + timedelta(seconds=n * sim_step) if sim_step else datetime.now(UTC)
        author = users[rng.randrange(MEMBERS)]
        channel = CHANNELS[n % len(CHANNELS)]
        mid = str(snowflake(now, n))
        data: dict[str, Any] = {
            "id": mid, "channel_id": str(channel), "guild_id": str(GUILD), "author": author,
            "member": {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False,
                       "flags": 0},
            "content": "", "timestamp": now.isoformat(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": False, "type": 0, "flags": 0, "components": [],
        }
        r = rng.random()
        if r < 0.3 and recent:
            target_id, target = recent[rng.randrange(len(recent))]
            data["type"] = 19
            data["message_reference"] = {"message_id": target_id, "channel_id": target["channel_id"],
                                         "guild_id": str(GUILD), "type": 0}
        elif r < 0.4:
            data["mentions"] = [users[rng.randrange(MEMBERS)]]
        recent.append((mid, {"channel_id": str(channel)}))
        if len(recent) > 200:
            del recent[:100]
        return json.dumps({"op": 0, "t": "MESSAGE_CREATE", "s": n, "d": data})

    async def blast(request: web.Request) -> web.Response:
        body = await request.json()
        n, rate = int(body["n"]), float(body["rate"])
        ws = fake.sockets[0]
        start = time.perf_counter()
        sent = 0
        tick = 0.01
        while sent < n:
            due = min(n, int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                await ws.send_str(payload())
                sent += 1
            await asyncio.sleep(tick)
        return web.json_response({"sent": sent, "seconds": time.perf_counter() - start})

    fake.extra_routes.append(("POST", "/_bench/blast", blast))
    await fake.start()
    port_out.put(fake.port)
    await asyncio.Event().wait()


# -- the bot, in this process -----------------------------------------------------------------------

class LagProbe:
    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append((loop.time() - t0 - 0.01) * 1000)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def take(self) -> list[float]:
        lags, self.lags = self.lags, []
        return lags


def pct(values: list[float], q: float) -> float:
    values = sorted(values) or [0.0]
    return values[min(len(values) - 1, int(len(values) * q))]


async def blast(session: Any, base: str, n: int, rate: float) -> None:
    async with session.post(f"{base}/_bench/blast", json={"n": n, "rate": rate}, timeout=None) as resp:
        await resp.json()


async def main_async(args: argparse.Namespace, port: int) -> None:
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    discord.http.Route.BASE = f"{base}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/gateway/")
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(database=str(Path(tmp) / "bench.db"), refresh_interval=30.0, discord_token="bench")
        app = await App.start(config)
        refresher = asyncio.create_task(app.service.run()) if args.refresher else None
        adapter = DiscordAdapter(app, guild_ready_timeout=0.05, identify_delay=0.0, backfill_pause=0.0)
        await adapter.start()
        await asyncio.wait_for(adapter.backfills_at_least(1), 30)
        probe = LagProbe()
        probe.start()
        if args.warmup:
            # The first sight of each member reads their preferences once: not part of the steady state.
            async with aiohttp.ClientSession() as session:
                await blast(session, base, args.warmup, 2000)
            await asyncio.wait_for(adapter.ingested_at_least(args.warmup), 600)
            await app.store.flush()
        print(f"RSS after start: {rss_mb():.0f} MB; refresher {'on' if args.refresher else 'off'}; "
              f"timestamps {'now' if not args.sim_step else f'90 days ago + {args.sim_step} s per event'}")
        print(f"{'target/s':>9} {'ingested/s':>11} {'backlog':>8} {'lag p50':>8} {'lag p99':>8} {'lag max':>8}")
        sustained = 0
        async with aiohttp.ClientSession() as session:
            for rate in args.rates:
                n = int(rate * args.seconds)
                before = adapter.ingested
                probe.take()
                t0 = time.perf_counter()
                await blast(session, base, n, rate)
                elapsed = time.perf_counter() - t0
                done = adapter.ingested - before
                lags = probe.take()
                await asyncio.wait_for(adapter.ingested_at_least(before + n), 600)
                ok = done >= 0.98 * n and pct(lags, 1.0) < 100
                sustained = rate if ok else sustained
                print(f"{rate:>9,} {done / elapsed:>11,.0f} {n - done:>8,} {pct(lags, 0.5):>8.1f} "
                      f"{pct(lags, 0.99):>8.1f} {pct(lags, 1.0):>8.1f}{'' if ok else '  (fell behind)'}")
            print(f"sustained: {sustained:,} MESSAGE_CREATE/s with loop lag < 100 ms")
            t0 = time.perf_counter()
            await app.store.flush()
            print(f"store flush after the steps: {time.perf_counter() - t0:.2f} s")

            if args.events:
                rss0 = rss_mb()
                before = adapter.ingested
                probe.take()
                t0 = time.perf_counter()
                await blast(session, base, args.events, args.memory_rate)
                await asyncio.wait_for(adapter.ingested_at_least(before + args.events), 3600)
                await app.store.flush()
                elapsed = time.perf_counter() - t0
                lags = probe.take()
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"memory run: {args.events:,} events at {args.memory_rate:,}/s in {elapsed:.0f} s "
                      f"({args.events / elapsed:,.0f}/s incl. flush); RSS {rss0:.0f} MB -> {rss_mb():.0f} MB "
                      f"(peak {peak:.0f} MB); lag p99 {pct(lags, 0.99):.1f} ms, max {pct(lags, 1.0):.1f} ms")
        if refresher is not None:
            refresher.cancel()
        await adapter.stop()
        await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",") if x], default=[2000, 3000, 4000, 5000, 6000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the memory run (0: skip it)")
    parser.add_argument("--memory-rate", type=int, default=3000)
    parser.add_argument("--refresher", action="store_true", help="run the score refresher meanwhile (30 s interval)")
    parser.add_argument("--warmup", type=int, default=10_000, help="events streamed before measuring")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the bot process to FILE")
    parser.add_argument("--sim-step", type=float, default=0.0, metavar="SECONDS",
                        help="stamp message k at (90 days ago + k * SECONDS) instead of now, so days hold a "
                             "realistic number of events (0: every event today)")
    args = parser.parse_args()
    ctx = multiprocessing.get_context("spawn")
    ports = ctx.Queue()
    server = ctx.Process(target=serve, args=(ports, args.sim_step), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=30)
        if args.profile:
            import cProfile

            cProfile.runctx("asyncio.run(main_async(args, port))", globals(), locals(), args.profile)
        else:
            asyncio.run(main_async(args, port))
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
