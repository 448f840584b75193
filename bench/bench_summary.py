"""Weekly summaries benchmark (issue #6 targets).

1. Build: a synthetic community of --members members (default 100,000), every one subscribed to
   personal summaries. Times `load_week` (one aggregates read, the two score tables, names,
   privacy, per-channel responders), the digest (with its chart) and the text of every personal
   summary (explanation, components, tips); reports peak RSS. Target: ≤ 30 s, ≤ 1 GB. Score cards
   are rendered per recipient at delivery (paced), so their cost is reported per card, separately.
2. Pacing: --recipients DMs (default 10,000) through the real outbox (claim → send → mark on
   SQLite) and the pacer, against fake platforms that *enforce* their limits (Telegram 30/s overall;
   Discord 50/s overall and 5 per 5 s per channel, with a digest channel receiving 20 posts) in
   virtual time. Reports the virtual delivery time, limit violations (must be 0) and wall time.

Usage: .venv/bin/python bench/bench_summary.py [--members 100000] [--events 1000000] [--recipients 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sqlite3
import sys
import tempfile
import time
from collections import deque
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synth  # noqa: E402
from bot.card import CardRenderer  # noqa: E402
from bot.i18n import translator  # noqa: E402
from bot.summary.content import digest, load_week, personal, personal_text  # noqa: E402
from bot.summary.pacing import LIMITS, Limit, Pacer  # noqa: E402
from bot.summary.schedule import previous_fire, week_key  # noqa: E402
from scoring.model import CommunityRef  # noqa: E402
from storage.base import CommunitySettings  # noqa: E402
from storage.sqlite import SqliteStore  # noqa: E402

REF = CommunityRef("events", "bench")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def subscribe_everyone(path: Path, members: int) -> None:
    """Setup only (not timed): every member opts in, written in one transaction. The store's API
    writes one member at a time (a /weekly command); 100k of those would only slow the setup."""
    con = sqlite3.connect(path)
    (cid,) = con.execute("SELECT id FROM communities WHERE platform = ? AND external_id = ?",
                         (REF.platform, REF.id)).fetchone()
    with con:
        con.executemany("INSERT OR REPLACE INTO member_prefs (community, user_id, hidden, opted_out, opted_in,"
                        " weekly, locale) VALUES (?, ?, 0, 0, 0, 1, NULL)", ((cid, str(i)) for i in range(members)))
    con.close()


async def build(path: Path, members: int, events: int) -> dict[str, float]:
    async with SqliteStore(path) as store:
        t = time.perf_counter()
        await store.import_events(synth.events(members, events, community=REF.id))
        import_s = time.perf_counter() - t
    out = await measure_build(path, members)
    out["import_s"] = import_s
    return out


async def measure_build(path: Path, members: int) -> dict[str, float]:
    """Subscribe every member of the community in `path` (setup), then time a weekly build."""
    out: dict[str, float] = {}
    async with SqliteStore(path) as store:
        await store.set_community_settings(REF, CommunitySettings(summary_channel="general"))
    subscribe_everyone(path, members)
    async with SqliteStore(path) as store:
        info = await store.community(REF)
        assert info is not None and info.last_event is not None
        settings = await store.community_settings(REF)
        scheduled = previous_fire(settings, info.last_event + timedelta(days=1))
        subscribers = await store.weekly_subscribers(REF)
        out["subscribers"] = len(subscribers)
        rss_before = rss_mb()
        # CPU time of the process (all threads) next to wall time: steadier on a busy machine.
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        phases: dict[str, float] = {}
        data = await load_week(store, REF, scheduled, settings=settings, timings=phases)
        out["load_week_s"] = time.perf_counter() - t0
        out["load_week_cpu_s"] = time.process_time() - cpu0
        out.update({f"phase_{k}": v for k, v in phases.items()})
        t, c = time.perf_counter(), time.process_time()
        tr = translator("en")
        reply = await digest(data, tr)
        out["digest_s"], out["digest_cpu_s"] = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        await store.outbox_enqueue(REF, week_key(scheduled, settings.timezone),
                                   [("general", "digest")] + [(u, "personal") for u in subscribers])
        out["enqueue_s"], out["enqueue_cpu_s"] = time.perf_counter() - t, time.process_time() - c
        out["before_first_s"] = time.perf_counter() - t0  # what a run does before its first delivery
        out["before_first_cpu_s"] = time.process_time() - cpu0
        t, c = time.perf_counter(), time.process_time()
        chars = 0
        tips = 0
        for user in subscribers:
            _title, text, chosen = personal_text(data, user, tr)
            chars += sum(len(x) for x in text)
            tips += len(chosen)
        out["personal_s"], out["personal_cpu_s"] = time.perf_counter() - t, time.process_time() - c
        out["build_total_s"] = time.perf_counter() - t0
        out["build_cpu_s"] = time.process_time() - cpu0
        out["scored"] = len(data.now.members)
        out["avg_tips"] = tips / max(1, len(subscribers))
        out["avg_chars"] = chars / max(1, len(subscribers))
        out["digest_chars"] = len(reply.plain)
        renderer = CardRenderer()
        t = time.perf_counter()
        for user in [m.user for m in data.now.members[:50]]:
            await personal(data, user, tr, renderer)
        out["card_ms"] = (time.perf_counter() - t) / 50 * 1000
        out["rss_growth_mb"] = rss_mb() - rss_before
    out["peak_rss_mb"] = rss_mb()
    return out


class VirtualTime:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)


class EnforcingPlatform:
    """Counts sends that break a sliding-window limit (overall, and per destination)."""

    def __init__(self, clock: VirtualTime, overall: Limit, per: Limit | None) -> None:
        self.clock, self.overall, self.per = clock, overall, per
        self.sent: deque[float] = deque()
        self.by_dest: dict[str, deque[float]] = {}
        self.violations = 0
        self.count = 0

    def send(self, destination: str) -> None:
        now = self.clock()
        self.count += 1
        self.violations += self._hit(self.sent, self.overall, now)
        if self.per is not None:
            self.violations += self._hit(self.by_dest.setdefault(destination, deque()), self.per, now)

    @staticmethod
    def _hit(window: deque[float], limit: Limit, now: float) -> int:
        while window and window[0] <= now - limit.per:
            window.popleft()
        window.append(now)
        return int(len(window) > limit.count)


async def pacing(path: Path, platform: str, recipients: int) -> dict[str, float]:
    overall, per = LIMITS[platform]
    clock = VirtualTime()
    pacer = Pacer(overall, per, clock=clock, sleep=clock.sleep)
    fake = EnforcingPlatform(clock, overall, per)
    ref = CommunityRef(platform, "bench-pacing")
    week = "2026-W47"
    posts = 20 if platform == "discord" else 3
    async with SqliteStore(path) as store:
        items = [(f"u{i}", "personal") for i in range(recipients)] + [(f"digest-{i}", "digest") for i in range(posts)]
        await store.outbox_enqueue(ref, week, items)
        t = time.perf_counter()
        for recipient, kind in items:
            destination = "general" if kind == "digest" else None  # every DM is a channel of its own
            await pacer.acquire(destination)
            claimed = await store.outbox_claim(ref, week, recipient, kind, _now(clock))
            assert claimed is not None
            fake.send(destination or recipient)
            await store.outbox_mark(ref, week, recipient, kind, "sent", _now(clock))
        wall = time.perf_counter() - t
    return {"sends": fake.count, "virtual_s": clock(), "violations": fake.violations, "wall_s": wall,
            "rate": fake.count / clock() if clock() else 0.0}


def _now(clock: VirtualTime):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 11, 23, 9, tzinfo=UTC) + timedelta(seconds=clock())


def report_build(r: dict[str, float], target: str = "target ≤ 30 s, ≤ 1024 MB; import included") -> None:
    n = max(1, r["subscribers"])
    print(f"{r['scored']:,.0f} scored, {r['subscribers']:,.0f} subscribed (wall s / CPU s of the process)")
    phases = ", ".join(f"{k[6:]} {v:.2f}" for k, v in r.items() if k.startswith("phase_"))
    print(f"load_week (aggregates + 2 score tables + names + privacy + channels): {r['load_week_s']:.2f} / "
          f"{r['load_week_cpu_s']:.2f} s" + (f" [wall: {phases}]" if phases else ""))
    print(f"digest with chart: {r['digest_s']:.2f} / {r['digest_cpu_s']:.2f} s; outbox enqueue of every row: "
          f"{r['enqueue_s']:.2f} / {r['enqueue_cpu_s']:.2f} s")
    print(f"before the first delivery: {r['before_first_s']:.2f} s wall, {r['before_first_cpu_s']:.2f} s CPU")
    print(f"personal summaries (text + tips) for every subscriber: {r['personal_s']:.2f} / {r['personal_cpu_s']:.2f} s "
          f"({r['personal_s'] / n * 1e6:.0f} µs wall, {r['personal_cpu_s'] / n * 1e6:.0f} µs CPU each, "
          f"{r['avg_tips']:.2f} tips, {r['avg_chars']:.0f} characters on average)")
    print(f"BUILD TOTAL: {r['build_total_s']:.2f} s wall, {r['build_cpu_s']:.2f} s CPU ; peak RSS {r['peak_rss_mb']:.0f} MB "
          f"({target}), build grew RSS by {r['rss_growth_mb']:.0f} MB")
    print(f"score card per recipient (rendered at delivery): {r['card_ms']:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--recipients", type=int, default=10_000)
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="clout-bench-summary-") as tmp:
        if not args.skip_build:
            r = asyncio.run(build(Path(tmp) / "build.db", args.members, args.events))
            print(f"community: {args.members:,} members, {args.events:,} events (import {r['import_s']:.1f} s, "
                  f"not part of the build)")
            report_build(r)
        for platform in ("telegram", "discord"):
            p = asyncio.run(pacing(Path(tmp) / f"pacing-{platform}.db", platform, args.recipients))
            print(f"pacing {platform}: {p['sends']:,.0f} sends in {p['virtual_s']:.1f} s virtual "
                  f"({p['rate']:.1f}/s), {p['violations']:.0f} limit violations; outbox claim+mark on SQLite "
                  f"took {p['wall_s']:.1f} s wall ({p['wall_s'] / p['sends'] * 1000:.2f} ms per recipient)")


if __name__ == "__main__":
    main()
