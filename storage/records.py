"""Plain-data rules the stores share for the chat layer: settings checks and the /mydata export shape.

Both backends build the export from these helpers, so the contract suite can demand equal output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from scoring.model import UserRef
from scoring.result import MemberScore
from storage.base import OUTBOX_KINDS, OUTBOX_STATES, WEEKDAYS, CommunitySettings, MemberPrefs

__all__ = [
    "EXPORT_LIMIT",
    "MODES",
    "check_outbox",
    "check_settings",
    "day_iso",
    "iso",
    "listing",
    "nonce",
    "prefs_dict",
    "score_dict",
    "summary_dict",
    "user_dict",
]

MODES = ("open", "optin")

# The most items one list of an export holds: a member with years of history still gets a file a
# chat platform accepts. Counts are always exact and `truncated` says when items were cut.
EXPORT_LIMIT = 10_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_settings(settings: CommunitySettings) -> None:
    """Raise ValueError for settings no command can produce (the chat layer validates user input)."""
    if settings.weekday not in WEEKDAYS:
        raise ValueError(f"weekday must be one of {WEEKDAYS}, got {settings.weekday!r}")
    if not 0 <= settings.hour <= 23:
        raise ValueError(f"hour must be 0..23, got {settings.hour!r}")
    if settings.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {settings.mode!r}")


def iso(epoch_seconds: int) -> str:
    """An epoch second as an ISO 8601 UTC time."""
    return (_EPOCH + timedelta(seconds=epoch_seconds)).isoformat()


def day_iso(day: int) -> str:
    """A UTC day number as an ISO date."""
    return (_EPOCH + timedelta(days=day)).date().isoformat()


def snapshot_day(as_of_us: int) -> int:
    """The day (days since the epoch, UTC) of stored scores saved as of `as_of_us` microseconds."""
    return as_of_us // 86_400_000_000


def snapshot_history(rows: Iterable[Sequence[int | None]], since_day: int | None = None) -> list[tuple[int, int]]:
    """One member's (day, score) snapshots, oldest first, from the rows of the SQL stores'
    `_member_history`: (0, day, score) archived rows, and at most one (1, as_of µs, score or None)
    row of the stored 'all' scores, which are the snapshot of their own day (whatever was archived
    for that day before is out of date)."""
    days: dict[int, int] = {}
    live: tuple[int, int | None] | None = None
    for kind, value, score in rows:
        assert value is not None
        if kind:
            live = (snapshot_day(value), score)
        else:
            assert score is not None
            days[int(value)] = int(score)
    if live is not None:
        day, score = live
        days.pop(day, None)
        if score is not None and (since_day is None or day >= since_day):
            days[day] = int(score)
    return sorted(days.items())


def user_dict(user: UserRef) -> dict[str, str]:
    return {"platform": user.platform, "id": user.id}


def prefs_dict(prefs: MemberPrefs) -> dict[str, Any]:
    return asdict(prefs)


def score_dict(score: MemberScore, as_of: datetime) -> dict[str, Any]:
    """One stored score with its components and the time it was computed for."""
    return {"score": score.score, "percentile": score.percentile, "rank": score.rank,
            "influence": score.influence, "reach": score.reach, "resonance": score.resonance,
            "network": score.network, "activity": score.activity, "algorithm": score.algorithm,
            "as_of": as_of.astimezone(UTC).isoformat()}


def listing(count: int, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An exact count with at most EXPORT_LIMIT items (the caller passes them already cut)."""
    return {"count": count, "items": list(items), "truncated": count > len(items)}


def summary_dict(week: str, state: str, done_at: datetime | None) -> dict[str, Any]:
    """One weekly summary addressed to the user, for /mydata (the outbox row: week, state, when finished)."""
    return {"week": week, "state": state, "done_at": None if done_at is None else done_at.astimezone(UTC).isoformat()}


def nonce(community_key: str, week: str, recipient: str, kind: str) -> str:
    """The delivery nonce of an outbox row: 20 hex digits derived from its key (Discord accepts up to
    25 characters), so a resend after a crash carries the same one and the platform can drop it."""
    key = "\x1f".join((community_key, week, recipient, kind)).encode("utf-8")
    return hashlib.blake2b(key, digest_size=10).hexdigest()


def check_outbox(kind: str | None = None, state: str | None = None) -> None:
    """ValueError for an outbox kind or state outside OUTBOX_KINDS / OUTBOX_STATES."""
    if kind is not None and kind not in OUTBOX_KINDS:
        raise ValueError(f"outbox kind must be one of {OUTBOX_KINDS}, got {kind!r}")
    if state is not None and state not in OUTBOX_STATES:
        raise ValueError(f"outbox state must be one of {OUTBOX_STATES}, got {state!r}")
