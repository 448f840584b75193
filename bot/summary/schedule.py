"""Schedule arithmetic for weekly summaries: pure functions of the settings and a given time (no clock).

A community's run is due every week at its weekday and hour in its time zone. APScheduler's
`CronTrigger` (day names, a zoneinfo zone) does the calendar work, so the scheduler and these
functions agree to the second, across DST changes. A run is keyed by the ISO week of its
*scheduled* time in the community's zone (`week_key`), never by when it actually ran.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from scoring.errors import UserError
from storage.base import WEEKDAYS, CommunitySettings

__all__ = ["ScheduleError", "due_times", "next_fire", "parse_week", "previous_fire", "scheduled_in_week",
           "trigger", "week_key", "zone"]

_US = timedelta(microseconds=1)
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


class ScheduleError(UserError):
    """Settings that give no schedule (unknown time zone, weekday or hour)."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ScheduleError when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"Unknown time zone {name!r}; use a name like Europe/Berlin.") from None


def trigger(settings: CommunitySettings) -> CronTrigger:
    """The weekly cron trigger of a community (day names: `day_of_week=0` would be Monday, and
    crontab's 1 is Monday too, so names avoid both traps)."""
    if settings.weekday not in WEEKDAYS:
        raise ScheduleError(f"Unknown weekday {settings.weekday!r}; use one of {', '.join(WEEKDAYS)}.")
    if not 0 <= settings.hour <= 23:
        raise ScheduleError(f"The hour must be 0..23, not {settings.hour!r}.")
    return CronTrigger(day_of_week=settings.weekday, hour=settings.hour, minute=0, second=0,
                       timezone=zone(settings.timezone))


def next_fire(settings: CommunitySettings, after: datetime) -> datetime:
    """The first scheduled time strictly after `after` (aware)."""
    fire = trigger(settings).get_next_fire_time(None, after + _US)
    assert fire is not None  # a weekly cron trigger without an end date always has a next time
    return fire


def previous_fire(settings: CommunitySettings, at: datetime) -> datetime:
    """The latest scheduled time at or before `at`."""
    fire = next_fire(settings, at - timedelta(days=8))
    while True:
        following = next_fire(settings, fire)
        if following > at:
            return fire
        fire = following


def week_key(scheduled: datetime, timezone: str) -> str:
    """The ISO week ("2026-W13") of a scheduled time, in the community's zone."""
    year, week, _ = scheduled.astimezone(zone(timezone)).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(text: str) -> tuple[int, int]:
    """"2026-W47" (or "2026W47") → (2026, 47); ValueError for anything else or a week the year lacks."""
    m = _WEEK.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not an ISO week; write it like 2026-W47.")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {week}.") from None
    return year, week


def scheduled_in_week(settings: CommunitySettings, week: str) -> datetime:
    """When the run of ISO week `week` is (or was) due under these settings."""
    year, number = parse_week(week)
    tz = zone(settings.timezone)
    day = date.fromisocalendar(year, number, WEEKDAYS.index(settings.weekday) + 1)
    return next_fire(settings, datetime.combine(day, time(0), tzinfo=tz) - _US)


def due_times(settings: CommunitySettings, now: datetime, *, completed: set[str],
              since: datetime | None, limit: int) -> list[datetime]:
    """Scheduled times at or before `now` whose week is not in `completed`, oldest first.

    With `since` (the scheduled time of the last completed run) every scheduled time after it
    counts, at most the `limit` latest; without it only the latest scheduled time does (a
    community never run before starts with the current week, not with its history).
    """
    latest = previous_fire(settings, now)
    if since is None:
        times = [latest]
    else:
        times = []
        t = latest
        while t > since and len(times) < limit:
            times.append(t)
            t = previous_fire(settings, t - _US)
        times.reverse()
    return [t for t in times if week_key(t, settings.timezone) not in completed]
