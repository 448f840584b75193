"""Live scoring: refresh a community's stored scores when it has new events, at most every N seconds.

Commands never compute: `/score` and `/leaderboard` read stored scores, so they answer at once even
while a refresh of a big community runs. A refresh loads the daily aggregates, computes every
period in a worker thread (off the event loop), and saves the scores (which also records the
day's snapshot). The table of a week before is kept in memory for explanations ("+5: …").
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from scoring.engine import ScoreTable, compute
from scoring.explain import Explanation, explain
from scoring.model import CommunityRef, day_of, epoch
from storage.base import LockStore, Store

__all__ = ["GIL_SWITCH_INTERVAL", "HISTORY_WEEKS", "PERIODS", "ScoreService", "ScoredStore", "favour_event_loop"]


class ScoredStore(Store, LockStore, Protocol):
    """What the service needs of a store: scores, and the cross-process refresh lock."""


# Refreshes compute in worker threads of the bot's process. With CPython's default switch interval
# (5 ms) every hop of a command back to the event loop (a read's result, a card from its process)
# may wait that long for the GIL while a refresh holds it, and a /score makes several hops. 1 ms
# lets commands through at the cost of more GIL hand-offs for the refresh (docs/performance.md,
# chat layer, fifth pass: /leaderboard p99 103 → 56 ms, /score p99 152 → 121 ms, same bench).
GIL_SWITCH_INTERVAL = 0.001


def favour_event_loop(interval: float = GIL_SWITCH_INTERVAL) -> None:
    """Set the process's GIL switch interval for a bot process (see GIL_SWITCH_INTERVAL)."""
    sys.setswitchinterval(interval)


log = logging.getLogger(__name__)

PERIODS = {"week": 7, "month": 30, "all": 90}
HISTORY_WEEKS = 12


@dataclass(slots=True)
class _Cache:
    now: ScoreTable
    then: ScoreTable


class ScoreService:
    """Owns score freshness for every community the bot sees."""

    # Tables at least this big are frozen out of full garbage collections (see `_freeze`).
    freeze_min_members = 10_000
    reclaim_interval = 3_600.0  # seconds between collections of what died while frozen

    def __init__(self, store: ScoredStore, *, clock: Callable[[], datetime], min_interval: float = 30.0,
                 freeze_gc: bool = True, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.freeze_gc = freeze_gc
        self.monotonic = monotonic
        self._reclaimed = monotonic()
        self._paused = 0  # tables being computed with the collector paused (see `table`)
        self.clock = clock
        self.min_interval = min_interval
        self._dirty: set[CommunityRef] = set()
        self._last: dict[CommunityRef, float] = {}
        self._cache: dict[CommunityRef, _Cache] = {}
        # The tables last saved per period, and the one being saved: a command that reads the new run
        # before the save returns still finds its table here (never a read of the whole board).
        self._saved: dict[tuple[CommunityRef, str], tuple[ScoreTable, ...]] = {}
        self._fresh: set[CommunityRef] = set()  # communities known to have stored scores
        self._locks: dict[CommunityRef, asyncio.Lock] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.refreshes = 0  # how many refreshes ran (for tests and logs)
        # Bumped when a save of scores starts and when it returns: what is stored may differ from
        # what a command read before (Commands re-reads the stored run then).
        self.saves = 0
        self.skipped = 0  # refreshes left to another process holding the community's refresh lock
        # Called with the community after each refresh (e.g. Commands.warm rebuilds its rankings).
        self.listeners: list[Callable[[CommunityRef], Awaitable[None]]] = []

    # -- triggering ------------------------------------------------------------------------
    def mark_dirty(self, ref: CommunityRef) -> None:
        """Note that a community has new events; the loop refreshes it when its interval allows."""
        self._dirty.add(ref)
        self._idle.clear()
        self._wake.set()

    async def run(self) -> None:
        """The refresh loop (a task owned by the app). Never dies on a failed refresh."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            next_due: float | None = None
            for ref in sorted(self._dirty, key=lambda r: r.key):
                due = self._last.get(ref, float("-inf")) + self.min_interval
                if loop.time() >= due:
                    self._dirty.discard(ref)
                    try:
                        await self.refresh(ref)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("score refresh of %s failed", ref.key)
                else:
                    next_due = due if next_due is None else min(next_due, due)
            if next_due is not None:
                loop.call_at(next_due, self._wake.set)
            elif not self._dirty:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Wait until every dirty community has been refreshed (tests use this instead of sleeping)."""
        await self._idle.wait()

    # -- computing -------------------------------------------------------------------------
    def _lock(self, ref: CommunityRef) -> asyncio.Lock:
        return self._locks.setdefault(ref, asyncio.Lock())

    async def table(self, ref: CommunityRef, as_of: datetime, days: int = PERIODS["all"]) -> ScoreTable:
        """Compute (not store) a community's scores as of a time over a window of `days`, off the loop."""
        # Loading and computing a big community allocate 100k+ objects that outlive the young
        # generations; collections triggered meanwhile walk them, holding the GIL while the event
        # loop waits. For a community whose last table was big the collector pauses until the new
        # table is built and frozen (nothing of it is cyclic garbage; refcounting frees the rest).
        pause = self._big(ref) and (self._paused > 0 or gc.isenabled())
        if pause:
            self._paused += 1
            gc.disable()
        try:
            aggs = await self.store.aggregates(ref, as_of - timedelta(days=days), as_of)
            table = await asyncio.to_thread(compute, aggs, as_of, window_days=days)
            del aggs
            self._freeze(table)
        finally:
            if pause:
                self._paused -= 1
                if not self._paused:
                    gc.enable()
        return table

    def _big(self, ref: CommunityRef) -> bool:
        saved = self._saved.get((ref, "all"))
        return self.freeze_gc and saved is not None and len(saved[0]) >= self.freeze_min_members

    def _freeze(self, table: ScoreTable) -> None:
        """Freeze a big table (and everything alive with it) out of full garbage collections.

        A 100k-member table is 100k+ long-lived objects; every full collection would walk them all,
        on whichever thread triggers it, holding the GIL (pauses of 0.3-2.3 s measured in the chat
        bench). Frozen, collections skip them; a table dropped later is still freed by reference
        counting (it holds no cycles). Cyclic garbage that was alive at a freeze is missed until
        the hourly reclaim, which unfreezes and collects once (one pause an hour instead of
        several a minute; docs/performance.md, chat layer).
        """
        if not self.freeze_gc or len(table) < self.freeze_min_members:
            return
        now = self.monotonic()
        if now - self._reclaimed >= self.reclaim_interval:
            self._reclaimed = now
            gc.unfreeze()
            gc.collect()
        gc.freeze()

    async def refresh(self, ref: CommunityRef, *, as_of: datetime | None = None) -> ScoreTable:
        """Compute and store every period's scores of a community as of `as_of` (default: now)."""
        async with self._lock(ref), self.store.refresh_lock(ref) as mine:
            when = as_of or self.clock()
            if not mine:  # another process refreshes it now and saves what commands read
                return await self._skip(ref, when)
            if await self.store.stored_scores(ref, "all") is None:
                await self._backfill_history(ref, when)
            tables = {}
            for period, days in PERIODS.items():
                tables[period] = table = await self.table(ref, when, days)
                key = (ref, period)
                self._saved[key] = (table, *self._saved.get(key, ())[:1])
                await self._save(ref, when, period, table)
                self._saved[key] = (table,)
            then_at = when - timedelta(days=7)
            cached = self._cache.get(ref)
            if cached is None or day_of(epoch(cached.then.as_of)) != day_of(epoch(then_at)):
                then = await self.table(ref, then_at, PERIODS["all"])
            else:
                then = cached.then
            self._cache[ref] = _Cache(tables["all"], then)
            self._last[ref] = asyncio.get_running_loop().time()
            self._fresh.add(ref)
            self.refreshes += 1
        for listener in self.listeners:
            try:
                await listener(ref)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("refresh listener failed for %s", ref.key)
        return tables["all"]

    async def _skip(self, ref: CommunityRef, when: datetime) -> ScoreTable:
        self.skipped += 1
        # Events this process saw meanwhile are scored by a later round (not at once: the other
        # process is still at it).
        self._dirty.add(ref)
        self._idle.clear()
        loop = asyncio.get_running_loop()
        self._last[ref] = loop.time()
        loop.call_later(max(self.min_interval, 1.0), self._wake.set)
        saved = self._saved.get((ref, "all"))
        return saved if saved is not None else await self.table(ref, when, PERIODS["all"])

    async def _backfill_history(self, ref: CommunityRef, when: datetime) -> None:
        """A community seen for the first time (or imported) gets weekly snapshots for its card history."""
        info = await self.store.community(ref)
        if info is None or info.first_event is None:
            return
        for weeks_back in range(HISTORY_WEEKS, 0, -1):
            at = when - timedelta(weeks=weeks_back)
            if at < info.first_event:
                continue
            table = await self.table(ref, at, PERIODS["all"])
            await self._save(ref, at, "all", table)

    async def _save(self, ref: CommunityRef, at: datetime, period: str, table: ScoreTable) -> None:
        self.saves += 1
        try:
            await self.store.save_scores(ref, at, period, table.members)
        finally:
            self.saves += 1

    async def ensure_fresh(self, ref: CommunityRef) -> None:
        """Make sure a community has stored scores (first use after start or import)."""
        if ref in self._fresh:
            return
        if await self.store.stored_scores(ref, "all") is not None:
            self._fresh.add(ref)
        else:
            await self.refresh(ref)

    async def explanation(self, ref: CommunityRef, user: str) -> Explanation | None:
        """What changed for a member over the week before the last refresh (None if unknown)."""
        cached = self._cache.get(ref)
        if cached is None:
            stored = await self.store.stored_scores(ref, "all")
            if stored is None:
                return None
            now = await self.table(ref, stored.as_of, PERIODS["all"])
            then = await self.table(ref, stored.as_of - timedelta(days=7), PERIODS["all"])
            cached = self._cache[ref] = _Cache(now, then)
        if cached.now.get(user) is None:
            return None
        return explain(user, cached.now, cached.then)

    def saved_table(self, ref: CommunityRef, period: str, as_of: datetime,
                    members: int) -> ScoreTable | None:
        """The table this service saved (or is saving) for (community, period) as of `as_of` with
        `members` rows, if it still holds it: what the stored run says, kept in memory."""
        for table in self._saved.get((ref, period), ()):
            if table.as_of == as_of and len(table) == members:
                return table
        return None

    def forget(self, ref: CommunityRef | None = None) -> None:
        """Drop cached tables (after deletions, so no explanation names a deleted member)."""
        if ref is None:
            self._cache.clear()
            self._saved.clear()
            self._fresh.clear()
        else:
            self._cache.pop(ref, None)
            self._fresh.discard(ref)
            for period in PERIODS:
                self._saved.pop((ref, period), None)


