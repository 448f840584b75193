"""Fixtures: the real App on a SQLite file, a loopback fake Bot API, and the adapter polling it (or fed
updates directly through `process_update` with a recording request class)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Update
from telegram.ext import AIORateLimiter

from bot.app import App
from bot.config import Config
from bot.telegram.adapter import TelegramAdapter
from tests.telegram.fakeapi import TOKEN, FakeBotApi, RecordingRequest

NOW = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def fast_limiter(retries: int = 2) -> AIORateLimiter:
    """No pacing (tests send more than 20 messages a minute to one group), but 429s are retried."""
    return AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=retries)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[App]:
    config = Config(database=str(tmp_path / "clout.db"), refresh_interval=0.0, telegram_token=TOKEN)
    app = await App.start(config, clock=clock)
    yield app
    await app.close()


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@dataclass
class Live:
    """The adapter polling the fake: push updates, wait until handled, inspect calls."""

    app: App
    api: FakeBotApi
    adapter: TelegramAdapter

    async def send(self, *updates: dict[str, Any]) -> None:
        """Push updates and wait until the poller confirmed them and every handler finished."""
        ids = await self.api.push(*updates)
        await self.api.wait_consumed(ids[-1])
        await self.idle()

    async def idle(self) -> None:
        """Wait until every update handed to the Application has been handled (task_done per update)."""
        application = self.adapter.application
        assert application is not None
        await asyncio.wait_for(application.update_queue.join(), 10)


@pytest.fixture
async def live(app: App, api: FakeBotApi) -> AsyncIterator[Live]:
    adapter = TelegramAdapter(app, configure=lambda b: b.base_url(api.base_url), rate_limiter=fast_limiter())
    await adapter.start()
    try:
        yield Live(app, api, adapter)
    finally:
        await adapter.stop()


@dataclass
class Direct:
    """The adapter's Application fed with `process_update`; calls answered by a RecordingRequest."""

    app: App
    api: FakeBotApi
    adapter: TelegramAdapter
    _next: int = 1

    async def send(self, *updates: dict[str, Any]) -> None:
        application = self.adapter.application
        assert application is not None
        for raw in updates:
            self._next += 1
            await application.process_update(Update.de_json({"update_id": self._next, **raw}, application.bot))


@pytest.fixture
async def direct(app: App) -> AsyncIterator[Direct]:
    api = FakeBotApi()  # not started: only its handlers answer, through the request class
    request = RecordingRequest(api)
    adapter = TelegramAdapter(app, configure=lambda b: b.request(request).get_updates_request(request),
                              rate_limiter=fast_limiter())
    adapter.application = application = adapter.build()
    await application.initialize()
    adapter.sees_all = bool(application.bot.can_read_all_group_messages)
    try:
        yield Direct(app, api, adapter)
    finally:
        await application.shutdown()
        adapter.application = None
