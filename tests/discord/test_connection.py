"""Connecting: the 4014 privileged-intent refusal names the portal switch, sharding splits servers
across shards (and a process can run only some shards), `create` builds the configured client, and
`stop` hands every received event to the ingestor."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import discord
import pytest

from bot.app import ADAPTERS
from bot.discord.adapter import DiscordAdapter, DiscordSetupError, create, intents, privileged_intent_message
from scoring.model import CommunityRef, Event, Kind
from tests.discord.conftest import (
    ALICE,
    BOB,
    GENERAL,
    GUILD,
    NOW,
    OTHER_GUILD,
    REF,
    Clock,
    Harness,
    start_adapter,
    start_app,
    within,
)
from tests.discord.fake import FakeDiscord


async def test_4014_names_the_developer_portal_switch(fake: FakeDiscord, tmp_path: Path, clock: Clock,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    fake.close_on_identify = 4014
    app = await start_app(tmp_path, clock)
    wanted = intents()
    wanted.members = True  # a deployment that turned on member events
    try:
        with caplog.at_level(logging.ERROR, logger="bot.discord"), pytest.raises(DiscordSetupError) as caught:
            await start_adapter(app, wanted=wanted)
    finally:
        await app.close()
    message = str(caught.value)
    assert "4014" in message and '"Server Members Intent"' in message
    assert "Privileged Gateway Intents" in message and "Message Content" not in message
    # Said once: raised as a UserError, which `clout run` prints as one line; not logged as well.
    assert [r for r in caplog.records if r.name.startswith("bot.discord") and r.levelno >= logging.ERROR] == []


async def test_4014_without_privileged_intents_says_clout_needs_none(fake: FakeDiscord, tmp_path: Path,
                                                                   clock: Clock) -> None:
    fake.close_on_identify = 4014
    app = await start_app(tmp_path, clock)
    try:
        with pytest.raises(DiscordSetupError, match="asks for no privileged intent"):
            await start_adapter(app)
    finally:
        await app.close()


async def test_two_shards_split_the_servers(fake: FakeDiscord, tmp_path: Path, clock: Clock) -> None:
    app = await start_app(tmp_path, clock, discord_shards="2")
    adapter = await start_adapter(app)
    try:
        assert isinstance(adapter.client, discord.AutoShardedClient)
        assert sorted(fake.identified) == [(0, 2), (1, 2)]
        assert {g.id: g.shard_id for g in adapter.client.guilds} == {GUILD: 0, OTHER_GUILD: 1}
        h = Harness(fake, app, adapter)
        await h.ingest(("MESSAGE_CREATE", h.message(ALICE)),
                       ("MESSAGE_CREATE", h.message(BOB, guild=OTHER_GUILD, channel=2001)))
        other = await app.store.community(CommunityRef("discord", str(OTHER_GUILD)))
        mine = await app.store.community(REF)
        assert other is not None and other.messages == 1 and mine is not None and mine.messages == 1
    finally:
        await adapter.stop()
        await app.close()


async def test_auto_shards_ask_discord_for_the_count(fake: FakeDiscord, tmp_path: Path, clock: Clock) -> None:
    fake.recommended_shards = 2
    app = await start_app(tmp_path, clock, discord_shards="auto")
    adapter = await start_adapter(app)
    try:
        assert any(c.path == "/gateway/bot" for c in fake.calls)
        assert sorted(fake.identified) == [(0, 2), (1, 2)]
    finally:
        await adapter.stop()
        await app.close()


async def test_shard_ids_run_only_this_process_s_shards(fake: FakeDiscord, tmp_path: Path, clock: Clock) -> None:
    app = await start_app(tmp_path, clock, discord_shards="2", discord_shard_ids=(1,))
    adapter = await start_adapter(app)
    try:
        assert fake.identified == [(1, 2)]
        assert [g.id for g in adapter.client.guilds] == [OTHER_GUILD]
    finally:
        await adapter.stop()
        await app.close()


async def test_create_is_the_registered_factory(tmp_path: Path, clock: Clock) -> None:
    assert ADAPTERS["discord"] == "bot.discord.adapter:create"
    app = await start_app(tmp_path, clock)
    try:
        adapter = create(app)
        assert isinstance(adapter, DiscordAdapter) and type(adapter.client) is discord.Client
        assert adapter.platform == "discord"
    finally:
        await app.close()


async def test_missing_token_is_a_clear_error(tmp_path: Path, clock: Clock) -> None:
    app = await start_app(tmp_path, clock, discord_token=None)
    try:
        with pytest.raises(DiscordSetupError, match="CLOUT_DISCORD_TOKEN"):
            create(app)
    finally:
        await app.close()


async def test_stop_hands_received_events_to_the_ingestor(bot: Harness) -> None:
    # Events received from the gateway but still queued when stop() is called.
    for i in range(50):
        bot.adapter._put(Event(kind=Kind.MESSAGE, community=REF, ts=NOW, message_id=str(i), actor=str(ALICE)))
    assert bot.adapter.ingested == 0
    await bot.adapter.stop()
    assert bot.adapter.ingested == 50
    await bot.app.store.flush()
    info = await bot.app.store.community(REF)
    assert info is not None and info.messages == 50


def test_clout_run_prints_the_4014_message_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Through the CLI: the refusal is one line on stderr and exit code 2, not a traceback."""
    from click.testing import CliRunner

    import bot.app as app_module
    from bot.cli import main

    class Refused:
        platform = "discord"

        def __init__(self, app: object) -> None:
            pass

        async def start(self) -> None:
            raise DiscordSetupError(privileged_intent_message(wanted))

        async def stop(self) -> None:
            pass

    wanted = intents()
    wanted.members = True
    monkeypatch.setattr(app_module, "_factory", lambda platform: Refused)
    monkeypatch.setenv("CLOUT_DISCORD_TOKEN", "fake-token")
    result = CliRunner().invoke(main, ["run", "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 2
    assert result.stderr.count("close code 4014") == 1 and "Traceback" not in result.stderr
    assert "Error: Discord refused the connection" in result.stderr


async def test_rejected_token_is_a_clear_error(fake: FakeDiscord, tmp_path: Path, clock: Clock) -> None:
    fake.unauthorized = True
    app = await start_app(tmp_path, clock)
    try:
        with pytest.raises(DiscordSetupError, match="rejected the bot token") as caught:
            await start_adapter(app)
    finally:
        await app.close()
    assert "fake-token" not in str(caught.value)


async def test_run_app_starts_discord_in_the_same_loop(fake: FakeDiscord, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`clout run` with a token: the composition root starts the adapter; commands answer; shutdown is clean."""
    import asyncio
    import io

    from rich.console import Console

    import bot.discord.adapter as adapter_module
    from bot.app import run_app
    from bot.config import Config

    monkeypatch.setattr(adapter_module, "create", lambda app: DiscordAdapter(
        app, guild_ready_timeout=0.01, identify_delay=0.0, backfill_pause=0.0))
    out = io.StringIO()
    h = Harness(fake, None, None)  # type: ignore[arg-type]  # only to build payloads
    # run_app uses the real clock: a message from now, so the start-up backfill requests the channel.
    fake.channel(GENERAL).history.append(h.message(ALICE, when=datetime.now(UTC)))
    backfilled = fake.wait_call(lambda c: c.method == "GET" and c.path.startswith("/channels/"))
    task = asyncio.create_task(run_app(Config(database=str(tmp_path / "run.db"), discord_token="fake-token"),
                                       console=Console(file=out, width=120)))
    try:
        await within(backfilled)  # READY seen, start-up backfill running
        call = await h.command(h.interaction("help"))
        assert "Clout commands" in call.json["data"]["embeds"][0]["title"]
        assert "Connected: discord" in out.getvalue()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert fake.sockets == {}  # the gateway connection was closed
