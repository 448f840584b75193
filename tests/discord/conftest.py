"""Fixtures: the loopback fake Discord, and the real app (SQLite in tmp_path) with the real discord.py
client of the Discord adapter connected to it. Waiting is on futures, never on a clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import discord
import pytest

from bot.app import App
from bot.config import Config
from bot.discord.adapter import DiscordAdapter
from scoring.model import CommunityRef
from tests.discord.fake import APP_ID, Channel, FakeDiscord, Guild, member, snowflake, user

T = TypeVar("T")

GUILD = 81_384_788_765_712_384          # (id >> 22) % 2 == 0
OTHER_GUILD = 81_384_788_769_906_688    # (id >> 22) % 2 == 1
GENERAL, RANDOM, THREAD, FORUM, FORUM_POST = 1001, 1002, 1003, 1004, 1005
REF = CommunityRef("discord", str(GUILD))
NOW = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL, ROBOT = 111, 222, 333, 444
NAMES = {ALICE: "Alice", BOB: "Bob", CAROL: "Carol", ROBOT: "Robot"}
MANAGE_GUILD = 1 << 5
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11)


def guilds() -> list[Guild]:
    return [
        Guild(GUILD, "Test Server", [Channel(GENERAL, "general"), Channel(RANDOM, "random"),
                                     Channel(FORUM, "ideas", type=15),
                                     Channel(THREAD, "a thread", type=11, parent_id=GENERAL),
                                     Channel(FORUM_POST, "a post", type=11, parent_id=FORUM)]),
        Guild(OTHER_GUILD, "Other Server", [Channel(2001, "lobby")]),
    ]


async def within(awaitable: Awaitable[T], seconds: float = 10.0) -> T:
    """Await with a guard: a hang fails the test instead of blocking the suite."""
    return await asyncio.wait_for(awaitable, seconds)  # type: ignore[arg-type]


@dataclass
class Harness:
    fake: FakeDiscord
    app: App
    adapter: DiscordAdapter
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def mid(self, when: datetime | None = None) -> int:
        return snowflake(when or NOW, next(self._ids))

    def message(self, author: int, *, channel: int = GENERAL, guild: int = GUILD, mid: int | None = None,
                reply_to: dict[str, Any] | None = None, mentions: tuple[int, ...] = (), bot: bool = False,
                when: datetime | None = None) -> dict[str, Any]:
        """A MESSAGE_CREATE payload (content empty: Clout requests no Message Content intent)."""
        when = when or NOW
        author_user = user(author, NAMES.get(author, f"user{author}"), bot=bot)
        data: dict[str, Any] = {
            "id": str(mid or self.mid(when)), "channel_id": str(channel), "guild_id": str(guild),
            "author": author_user, "member": {k: v for k, v in member(author_user).items() if k != "user"},
            "content": "", "timestamp": when.isoformat(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [user(m, NAMES.get(m, f"user{m}")) for m in mentions],
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": 0,
            "components": [],
        }
        if reply_to is not None:
            data["type"] = 19
            data["message_reference"] = {"message_id": reply_to["id"], "channel_id": reply_to["channel_id"],
                                         "guild_id": str(guild), "type": 0}
            data["referenced_message"] = reply_to
        return data

    def reaction(self, user_id: int, message: dict[str, Any], *, emoji: str = "👍",
                 author: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"user_id": str(user_id), "channel_id": message["channel_id"],
                                "message_id": message["id"], "guild_id": message["guild_id"],
                                "emoji": {"id": None, "name": emoji}, "burst": False, "type": 0,
                                "burst_colors": []}
        if author is not None:
            data["message_author_id"] = str(author)
            data["member"] = member(user(user_id, NAMES.get(user_id, f"user{user_id}")))
        return data

    def interaction(self, name: str, options: list[dict[str, Any]] | None = None, *, user_id: int = ALICE,
                    guild: int | None = GUILD, channel: int = GENERAL, permissions: int = MEMBER_PERMISSIONS,
                    locale: str = "en-US", resolved: dict[str, Any] | None = None,
                    command_type: int = 1, target_id: int | None = None) -> dict[str, Any]:
        """An INTERACTION_CREATE payload of an application command."""
        iid = self.mid()
        u = user(user_id, NAMES.get(user_id, f"user{user_id}"))
        data: dict[str, Any] = {"id": str(self.mid()), "name": name, "type": command_type, "options": options or []}
        if resolved:
            data["resolved"] = resolved
        if target_id is not None:
            data["target_id"] = str(target_id)
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(APP_ID), "type": 2, "data": data, "token": f"token-{iid}",
            "version": 1, "locale": locale, "channel_id": str(channel), "app_permissions": "0",
            "entitlements": [], "authorizing_integration_owners": {}, "attachment_size_limit": 8_388_608,
        }
        if guild is not None:
            payload.update(guild_id=str(guild), guild_locale="en-US",
                           member=member(u, permissions=permissions),
                           channel={"id": str(channel), "type": 0, "guild_id": str(guild), "name": "general",
                                    "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None})
        else:
            payload.update(user=u, context=1, channel={"id": str(channel), "type": 1, "recipients": [u]})
        return payload

    def button(self, custom_id: str, message_id: str, *, user_id: int = ALICE, flags: int = 0) -> dict[str, Any]:
        """An INTERACTION_CREATE payload of a button press on a message the bot sent."""
        iid = self.mid()
        u = user(user_id, NAMES.get(user_id, f"user{user_id}"))
        message = {"id": message_id, "channel_id": str(GENERAL), "author": user(900_000_000_000_000_001, "Clout", bot=True),
                   "content": "", "timestamp": NOW.isoformat(), "edited_timestamp": None, "tts": False,
                   "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
                   "pinned": False, "type": 20, "flags": flags, "components": []}
        return {"id": str(iid), "application_id": str(APP_ID), "type": 3, "token": f"token-{iid}", "version": 1,
                "attachment_size_limit": 8_388_608,
                "data": {"custom_id": custom_id, "component_type": 2}, "message": message, "locale": "en-US",
                "guild_id": str(GUILD), "guild_locale": "en-US", "channel_id": str(GENERAL),
                "member": member(u, permissions=MEMBER_PERMISSIONS), "app_permissions": "0", "entitlements": [],
                "authorizing_integration_owners": {},
                "channel": {"id": str(GENERAL), "type": 0, "guild_id": str(GUILD), "name": "general", "position": 0,
                            "permission_overwrites": [], "nsfw": False, "parent_id": None}}

    async def command(self, payload: dict[str, Any]) -> Any:
        """Push an interaction and return the REST call that answered it."""
        answered = self.fake.wait_call(lambda c: c.path == f"/interactions/{payload['id']}/{payload['token']}/callback")
        await self.fake.push("INTERACTION_CREATE", payload)
        return await within(answered)

    async def ingest(self, *events: tuple[str, dict[str, Any]]) -> None:
        """Push gateway events and wait until the adapter handed them all to the ingestor, then flush."""
        target = self.adapter.ingested + len(events)
        for name, data in events:
            await self.fake.push(name, data)
        await within(self.adapter.ingested_at_least(target))
        await self.app.store.flush()


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(guilds())
    await server.start()
    monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
    import yarl

    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
    yield server
    await server.stop()


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def start_app(tmp_path: Path, clock: Clock, **config: Any) -> App:
    options: dict[str, Any] = {"database": str(tmp_path / "clout.db"), "refresh_interval": 0.0,
                               "discord_token": "fake-token"}
    options.update(config)
    return await App.start(Config(**options), clock=clock)


async def start_adapter(app: App, **options: Any) -> DiscordAdapter:
    adapter = DiscordAdapter(app, guild_ready_timeout=0.01, identify_delay=0.0, backfill_pause=0.0,
                             start_timeout=10.0, **options)
    await adapter.start()
    return adapter


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(fake: FakeDiscord, tmp_path: Path, clock: Clock) -> AsyncIterator[Harness]:
    app = await start_app(tmp_path, clock)
    adapter = await start_adapter(app)
    await within(adapter.backfills_at_least(1))
    try:
        yield Harness(fake, app, adapter)
    finally:
        await adapter.stop()
        await app.close()
