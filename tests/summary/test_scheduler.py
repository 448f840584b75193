"""The APScheduler-driven scheduler: a job per community, rescheduling on /settings, catch-up after downtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.chat.commands import Commands
from bot.chat.reply import Context
from bot.chat.service import ScoreService
from bot.summary.scheduler import SummaryScheduler
from storage.base import CommunitySettings
from storage.sqlite import SqliteStore
from tests.chat.conftest import REF
from tests.summary.conftest import SCHEDULED, WEEK, Clock, Recorder, make_runner


@pytest.fixture
async def sched(store: SqliteStore) -> AsyncIterator[tuple[SummaryScheduler, Recorder, Clock]]:
    clock = Clock()
    rec = Recorder()
    s = SummaryScheduler(store, make_runner(store, rec, clock), clock=clock)
    await s.start(catch_up=False)
    yield s, rec, clock
    s.shutdown()


async def test_scheduler_job_per_community_never_drops_a_late_run(sched: tuple[SummaryScheduler, Recorder, Clock]) -> None:
    s, _, _ = sched
    job = s.job(REF)
    assert job is not None
    assert job.misfire_grace_time is None and job.coalesce is True and job.max_instances == 1
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("mon", "9", "0")
    assert str(job.trigger.timezone) == "UTC"


async def test_scheduler_settings_change_reschedules_at_once(store: SqliteStore,
                                                             sched: tuple[SummaryScheduler, Recorder, Clock]) -> None:
    s, _, clock = sched
    commands = Commands(store, ScoreService(store, clock=clock), clock=clock)
    commands.settings_listeners.append(s.reschedule)
    ctx = Context(platform="console", user="alice", now=clock(), community=REF, channel="general", is_admin=True)
    for line in ("/settings weekday fri", "/settings hour 18", "/settings timezone Europe/Berlin"):
        reply = await commands.handle(ctx, line)
        assert not reply.error, reply.plain
    job = s.job(REF)
    assert job is not None
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["day_of_week"], fields["hour"]) == ("fri", "18")
    assert str(job.trigger.timezone) == "Europe/Berlin"


async def test_scheduler_invalid_stored_zone_keeps_the_old_schedule(store: SqliteStore,
                                                                    sched: tuple[SummaryScheduler, Recorder, Clock]) -> None:
    s, _, _ = sched
    await store.set_community_settings(REF, CommunitySettings(summary_channel="general", timezone="Mars/Olympus",
                                                              weekday="tue"))
    assert await s.reschedule(REF) is False
    job = s.job(REF)
    assert job is not None and {f.name: str(f) for f in job.trigger.fields}["day_of_week"] == "mon"


async def test_scheduler_catch_up_after_downtime_runs_missed_weeks_once(store: SqliteStore) -> None:
    rec = Recorder()
    clock = Clock()
    await make_runner(store, rec, clock).run_week(REF, SCHEDULED)  # W13 done, then the bot was down
    clock.now = datetime(2026, 4, 8, 15, tzinfo=UTC)  # Wednesday of W15: W14 and W15 were missed
    first = SummaryScheduler(store, make_runner(store, rec, clock), clock=clock)
    await first.start()
    await asyncio.wait_for(first.caught_up.wait(), 30)
    first.shutdown()
    weeks = [r.week for r in await store.summary_runs(REF)]
    assert weeks == ["2026-W15", "2026-W14", WEEK]
    assert len(rec.posts) == 3 and len(rec.dms) == 9
    # Started again the same day: nothing is due twice.
    second = SummaryScheduler(store, make_runner(store, rec, clock), clock=clock)
    await second.start()
    await asyncio.wait_for(second.caught_up.wait(), 30)
    second.shutdown()
    assert len(rec.posts) == 3 and len(rec.dms) == 9


async def test_scheduler_catch_up_is_capped_after_a_long_downtime(store: SqliteStore) -> None:
    rec = Recorder()
    clock = Clock()
    await make_runner(store, rec, clock).run_week(REF, SCHEDULED)
    clock.now = SCHEDULED + timedelta(weeks=8, hours=1)
    s = SummaryScheduler(store, make_runner(store, rec, clock), clock=clock, catch_up_weeks=2)
    reports = await s.run_due(REF)
    assert [r.week for r in reports] == ["2026-W20", "2026-W21"]


async def test_scheduler_fires_through_apscheduler_in_the_running_loop(store: SqliteStore) -> None:
    done = asyncio.Event()

    class Signalling(Recorder):
        async def dm(self, *args: object, **kw: object) -> None:
            await super().dm(*args, **kw)  # type: ignore[arg-type]
            if len(self.dms) == 3:  # the whole fan-out of the seed's three subscribers
                done.set()

    rec = Signalling()
    s = SummaryScheduler(store, make_runner(store, rec), clock=Clock())
    await s.start(catch_up=False)
    try:
        s.scheduler.modify_job(REF.key, next_run_time=datetime.now(UTC))  # make the cron job due now
        await asyncio.wait_for(done.wait(), 30)
    finally:
        s.shutdown()
    assert [c for c, _, _ in rec.posts] == ["general"]
    (run,) = await store.summary_runs(REF)
    assert run.week == WEEK
