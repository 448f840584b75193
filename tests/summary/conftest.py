"""Fixtures for weekly summaries: a seeded SQLite community, an injected clock and recording deliverers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.card import CardRenderer
from bot.chat.delivery import DeliveryError
from bot.chat.reply import Reply
from bot.summary.pacing import Pacer
from bot.summary.runner import SummaryRunner
from scoring.model import CommunityRef
from storage.base import CommunitySettings, MemberPrefs
from storage.sqlite import SqliteStore
from tests.chat.conftest import NOW, REF, seed_events

# The seed ends on Monday 2026-03-23 12:00 UTC; with the default settings (Monday 09:00 UTC) the
# run of 2026-W13 was due three hours earlier.
SCHEDULED = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
WEEK = "2026-W13"


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Recorder:
    """A Deliverer that records what it was given and raises what a test asks for."""

    platform: str = "console"
    resend_with_nonce: bool = False
    posts: list[tuple[str, Reply, str | None]] = field(default_factory=list)
    dms: list[tuple[str, Reply, str | None]] = field(default_factory=list)
    fail: dict[str, list[DeliveryError]] = field(default_factory=dict)  # recipient -> errors to raise, in turn

    def _maybe_fail(self, recipient: str) -> None:
        errors = self.fail.get(recipient)
        if errors:
            raise errors.pop(0)

    async def post(self, community: CommunityRef, channel: str, reply: Reply, *, nonce: str | None = None) -> None:
        self._maybe_fail(channel)
        self.posts.append((channel, reply, nonce))

    async def dm(self, user: str, reply: Reply, *, nonce: str | None = None) -> None:
        self._maybe_fail(user)
        self.dms.append((user, reply, nonce))


class VirtualTime:
    """A monotonic clock and a sleep that advances it at once (pacing without waiting)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """The chat layer's three-week seed in a real SQLite file, with a digest channel and subscribers."""
    s = SqliteStore(tmp_path / "summary.db")
    await s.open()
    await s.import_events(seed_events(REF))
    await s.set_community_settings(REF, CommunitySettings(summary_channel="general"))
    await s.set_member_prefs(REF, "alice", MemberPrefs(weekly=True, locale="en"))
    await s.set_member_prefs(REF, "bob", MemberPrefs(weekly=True, locale="de"))
    await s.set_member_prefs(REF, "xena", MemberPrefs(weekly=True))
    yield s
    await s.close()


def make_runner(store: SqliteStore, deliverer: object, clock: Clock | None = None,
                **options: object) -> SummaryRunner:
    virtual = VirtualTime()
    return SummaryRunner(store, {deliverer.platform: deliverer}, renderer=CardRenderer(),  # type: ignore[attr-defined]
                         clock=clock or Clock(), pacers={deliverer.platform: Pacer(  # type: ignore[attr-defined]
                             *_limits(), clock=virtual, sleep=virtual.sleep)}, **options)  # type: ignore[arg-type]


def _limits() -> tuple[object, object]:
    from bot.summary.pacing import LIMITS

    return LIMITS["telegram"]
