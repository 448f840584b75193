"""The weekly scheduler: one APScheduler `AsyncIOScheduler` owned by the app, a cron job per community.

Each community's job fires at its weekday and hour in its time zone (day names, zoneinfo; see
`bot.summary.schedule`). Nothing is silently dropped: `misfire_grace_time=None` runs a late job
however late, `coalesce=True` turns several missed fires into one, and because the job store is in
memory (a run missed while the process was down never fires) `catch_up` asks the database which
weeks are done and runs the missing ones at start. A settings change reschedules at once
(`reschedule`, hooked to /settings); settings that give no schedule keep the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.summary.runner import RunReport, SummaryRunner
from bot.summary.schedule import ScheduleError, due_times, trigger
from scoring.model import CommunityRef
from storage.base import CommunitySettings

__all__ = ["CATCH_UP_WEEKS", "SummaryScheduler"]

log = logging.getLogger(__name__)

CATCH_UP_WEEKS = 3  # at most this many missed weeks are delivered after a long downtime


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SummaryScheduler:
    """Owns the APScheduler instance; `start()` inside the running loop, `shutdown()` when done."""

    def __init__(self, store: object, runner: SummaryRunner, *, clock: Callable[[], datetime] = _utcnow,
                 catch_up_weeks: int = CATCH_UP_WEEKS) -> None:
        self.store: object = store
        self.runner = runner
        self.clock = clock
        self.catch_up_weeks = catch_up_weeks
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.settings: dict[CommunityRef, CommunitySettings] = {}
        self._catch_up: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()  # jobs in flight (awaited by `stop`)
        self._shut = False
        self.caught_up = asyncio.Event()  # set when the start-up catch-up has finished (tests await it)

    async def start(self, *, catch_up: bool = True) -> None:
        """Start APScheduler in this loop, add a job per known community and catch up in the background."""
        self.scheduler.start()
        for info in await self.store.communities():  # type: ignore[attr-defined]
            await self.ensure(info.ref)
        if catch_up:
            self._catch_up = asyncio.create_task(self._catch_up_all(), name="clout-summary-catch-up")
        else:
            self.caught_up.set()

    def shutdown(self) -> None:
        """Stop at once: cancel the catch-up (a claim in flight is resolved at the next start)."""
        if self._catch_up is not None and not self._catch_up.done():
            self._catch_up.cancel()
        self._shutdown_apscheduler()

    def _shutdown_apscheduler(self) -> None:
        # AsyncIOScheduler.shutdown runs as a loop callback, so `running` stays true until then:
        # a second call would raise SchedulerNotRunningError from that callback.
        if self.scheduler.running and not self._shut:
            self._shut = True
            self.scheduler.shutdown(wait=False)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully: no new runs; runs in flight finish the summary they are sending (each
        leaves its row marked), then `shutdown`. Runs still busy after `timeout` are cancelled."""
        self.runner.stopping.set()
        self._shutdown_apscheduler()
        busy = {t for t in (self._catch_up, *self._running) if t is not None and not t.done()}
        if busy:
            _done, late = await asyncio.wait(busy, timeout=timeout)
            for task in late:
                task.cancel()
        self.shutdown()

    async def abort(self) -> None:
        """Stop at once, runs in flight included (leadership lost: another process may be the leader
        already). A row claimed by a cancelled run is resolved by the next leader's crash policy."""
        self.runner.stopping.set()
        self._shutdown_apscheduler()
        busy = {t for t in (self._catch_up, *self._running) if t is not None and not t.done()}
        for task in busy:
            task.cancel()
        if busy:
            await asyncio.wait(busy)

    async def ensure(self, ref: CommunityRef) -> None:
        """Schedule a community not scheduled yet (e.g. first seen after start); cheap when it is."""
        if ref not in self.settings:
            await self.reschedule(ref)

    async def reschedule(self, ref: CommunityRef) -> bool:
        """(Re)schedule a community from its stored settings. False (old schedule kept) when the
        settings give no schedule, e.g. an unknown time zone."""
        settings = await self.store.community_settings(ref)  # type: ignore[attr-defined]
        try:
            cron = trigger(settings)
        except ScheduleError as exc:
            log.warning("weekly summaries of %s keep their old schedule: %s", ref.key, exc)
            return False
        self.scheduler.add_job(self._fire, cron, args=[ref], id=ref.key, name=f"weekly summaries of {ref.key}",
                               replace_existing=True, misfire_grace_time=None, coalesce=True, max_instances=1)
        self.settings[ref] = settings
        return True

    def job(self, ref: CommunityRef) -> Job | None:
        return self.scheduler.get_job(ref.key)

    async def _fire(self, ref: CommunityRef) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        try:
            await self.run_due(ref)
        except asyncio.CancelledError:
            raise
        except Exception:  # one community's failure must not stop the scheduler or the others
            log.exception("weekly summaries of %s failed", ref.key)

    async def run_due(self, ref: CommunityRef) -> list[RunReport]:
        """Run every week of `ref` that is due and not completed (the latest, plus up to
        `catch_up_weeks` missed ones after the last completed run), oldest first."""
        settings = await self.store.community_settings(ref)  # type: ignore[attr-defined]
        try:
            trigger(settings)
        except ScheduleError:
            settings = self.settings.get(ref, CommunitySettings())
        runs = await self.store.summary_runs(ref, limit=self.catch_up_weeks + 10)  # type: ignore[attr-defined]
        completed = {r.week for r in runs if r.completed is not None}
        last = max((r.scheduled for r in runs if r.completed is not None), default=None)
        due = due_times(settings, self.clock(), completed=completed, since=last, limit=self.catch_up_weeks)
        # A run started but not finished (the process died in its fan-out) resumes too.
        due_weeks = {t for t in due}
        due += [r.scheduled for r in runs if r.completed is None and r.scheduled not in due_weeks
                and (last is None or r.scheduled > last)]
        reports = []
        for scheduled in sorted(due):
            reports.append(await self.runner.run_week(ref, scheduled))
        return reports

    async def catch_up(self) -> list[RunReport]:
        """Run what is due for every scheduled community (at start: weeks missed while down)."""
        reports: list[RunReport] = []
        for ref in sorted(self.settings, key=lambda r: r.key):
            try:
                reports += await self.run_due(ref)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("catching up weekly summaries of %s failed", ref.key)
        return reports

    async def _catch_up_all(self) -> None:
        try:
            await self.catch_up()
        finally:
            self.caught_up.set()

    async def wait_caught_up(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.caught_up.wait()
