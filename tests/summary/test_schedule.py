"""Schedule arithmetic: day names, time zones, DST changes, ISO week keys, catch-up windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.summary.schedule import (
    ScheduleError,
    due_times,
    next_fire,
    parse_week,
    previous_fire,
    scheduled_in_week,
    trigger,
    week_key,
)
from storage.base import CommunitySettings

BERLIN = CommunitySettings(timezone="Europe/Berlin")  # Monday 09:00 local


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_schedule_defaults_fire_monday_0900_utc() -> None:
    fire = next_fire(CommunitySettings(), utc(2026, 3, 18))  # a Wednesday
    assert fire == utc(2026, 3, 23, 9) and fire.weekday() == 0


def test_schedule_berlin_monday_before_and_after_spring_dst_switch() -> None:
    # DST starts on Sunday 2026-03-29: 09:00 CET is 08:00 UTC before, 09:00 CEST is 07:00 UTC after.
    before = next_fire(BERLIN, utc(2026, 3, 20))
    after = next_fire(BERLIN, before)
    assert before.astimezone(UTC) == utc(2026, 3, 23, 8)
    assert after.astimezone(UTC) == utc(2026, 3, 30, 7)
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(days=7) - timedelta(hours=1)
    assert (before.hour, after.hour) == (9, 9)


def test_schedule_berlin_monday_around_autumn_dst_switch() -> None:
    # DST ends on Sunday 2026-10-25: 07:00 UTC before, 08:00 UTC after.
    before = next_fire(BERLIN, utc(2026, 10, 16))
    after = next_fire(BERLIN, before)
    assert (before.astimezone(UTC), after.astimezone(UTC)) == (utc(2026, 10, 19, 7), utc(2026, 10, 26, 8))


def test_schedule_new_york_switches_on_its_own_date() -> None:
    ny = CommunitySettings(timezone="America/New_York", weekday="fri", hour=18)
    # US DST starts 2026-03-08: Friday 18:00 EST = 23:00 UTC, then EDT = 22:00 UTC.
    fires = [next_fire(ny, utc(2026, 3, 1))]
    fires.append(next_fire(ny, fires[0]))
    assert [f.astimezone(UTC) for f in fires] == [utc(2026, 3, 6, 23), utc(2026, 3, 13, 22)]


def test_schedule_uses_day_names_not_numbers() -> None:
    # day_of_week=0 would be Monday and crontab "1" too: names leave no doubt.
    for i, day in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun")):
        fire = next_fire(CommunitySettings(weekday=day), utc(2026, 3, 22, 12))  # a Sunday noon
        assert fire.weekday() == i


def test_schedule_next_fire_is_strictly_after_and_previous_is_at_or_before() -> None:
    at = utc(2026, 3, 23, 9)
    assert next_fire(CommunitySettings(), at) == utc(2026, 3, 30, 9)
    assert previous_fire(CommunitySettings(), at) == at
    assert previous_fire(CommunitySettings(), at - timedelta(seconds=1)) == utc(2026, 3, 16, 9)


def test_schedule_week_key_is_the_scheduled_local_week() -> None:
    auckland = CommunitySettings(timezone="Pacific/Auckland", weekday="mon", hour=8)
    fire = next_fire(auckland, utc(2026, 3, 20))
    # Monday 08:00 in Auckland is still Sunday in UTC: the week is the community's, not UTC's.
    assert fire.astimezone(UTC).weekday() == 6
    assert week_key(fire, "Pacific/Auckland") == "2026-W13"
    assert week_key(fire, "UTC") == "2026-W12"


def test_schedule_week_key_does_not_depend_on_when_the_run_happens() -> None:
    fire = previous_fire(BERLIN, utc(2026, 3, 28))  # the run was due on Monday 23rd
    assert week_key(fire, BERLIN.timezone) == "2026-W13"
    late = previous_fire(BERLIN, utc(2026, 3, 29, 23))  # a catch-up on Sunday night: same week
    assert week_key(late, BERLIN.timezone) == "2026-W13"


def test_schedule_scheduled_in_week_round_trips() -> None:
    for week in ("2026-W01", "2026-W13", "2026-W14", "2026-W53"):
        fire = scheduled_in_week(BERLIN, week)
        assert week_key(fire, BERLIN.timezone) == week and fire.hour == 9
    assert scheduled_in_week(BERLIN, "2026-W14").astimezone(UTC) == utc(2026, 3, 30, 7)


@pytest.mark.parametrize("text", ["2026-47", "W47", "2026-W00", "2025-W53", "2026-W54", "next week"])
def test_schedule_parse_week_rejects_bad_weeks(text: str) -> None:
    with pytest.raises(ValueError):
        parse_week(text)


def test_schedule_unknown_zone_or_weekday_is_a_schedule_error() -> None:
    with pytest.raises(ScheduleError):
        trigger(CommunitySettings(timezone="Mars/Olympus"))
    with pytest.raises(ScheduleError):
        trigger(CommunitySettings(weekday="someday"))


def test_schedule_due_times_after_downtime_are_capped_and_skip_completed() -> None:
    now = utc(2026, 4, 15, 12)  # Wednesday; runs were due on Mondays 03-23, 03-30, 04-06 and 04-13
    times = due_times(CommunitySettings(), now, completed=set(), since=utc(2026, 3, 16, 9), limit=10)
    assert times == [utc(2026, 3, 23, 9), utc(2026, 3, 30, 9), utc(2026, 4, 6, 9), utc(2026, 4, 13, 9)]
    capped = due_times(CommunitySettings(), now, completed={"2026-W15"}, since=utc(2026, 3, 16, 9), limit=3)
    assert capped == [utc(2026, 3, 30, 9), utc(2026, 4, 13, 9)]  # the three latest, minus the completed W15
    assert due_times(CommunitySettings(), now, completed=set(), since=None, limit=3) == [utc(2026, 4, 13, 9)]
    assert due_times(CommunitySettings(), now, completed=set(), since=utc(2026, 4, 13, 9), limit=3) == []
