"""Backfill: messages posted while the bot was down (or disconnected, or before it joined a server)
are read from channel history and counted exactly once; history is bounded by the scoring window."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import discord

from scoring.model import CommunityRef
from tests.discord.conftest import (
    ALICE,
    BOB,
    CAROL,
    GENERAL,
    NOW,
    RANDOM,
    REF,
    ROBOT,
    THREAD,
    Clock,
    Harness,
    start_adapter,
    start_app,
    within,
)
from tests.discord.fake import Channel, FakeDiscord, Guild


def _history_calls(fake: FakeDiscord, channel: int) -> list:
    return [c for c in fake.calls if c.method == "GET" and c.path == f"/channels/{channel}/messages"]


async def _run_once(fake: FakeDiscord, tmp_path: Path, clock: Clock) -> Harness:
    """Start the app and the bot, wait for the start-up backfill, and return them running."""
    app = await start_app(tmp_path, clock)
    adapter = await start_adapter(app)
    await within(adapter.backfills_at_least(1))
    await app.store.flush()
    return Harness(fake, app, adapter)


async def _stop(h: Harness) -> None:
    await h.adapter.stop()
    await h.app.close()


async def _messages(h: Harness) -> int:
    info = await h.app.store.community(REF)
    return info.messages if info else 0


async def test_backfill_after_downtime_counts_each_message_once(fake: FakeDiscord, tmp_path: Path,
                                                                 clock: Clock) -> None:
    h = await _run_once(fake, tmp_path, clock)
    first = h.message(ALICE, when=NOW - timedelta(hours=1))
    fake.channel(GENERAL).history.append(first)  # Discord keeps what the bot saw live
    await h.ingest(("MESSAGE_CREATE", first))
    await _stop(h)

    # While the bot is down: a reply, a thread message, a message elsewhere, a bot's, and one too old.
    reply = h.message(BOB, reply_to=first, when=NOW - timedelta(minutes=30))
    fake.channel(GENERAL).history += [reply, h.message(ROBOT, bot=True, when=NOW - timedelta(minutes=25))]
    fake.channel(THREAD).history.append(h.message(CAROL, channel=THREAD, when=NOW - timedelta(minutes=20)))
    fake.channel(RANDOM).history += [h.message(CAROL, channel=RANDOM, when=NOW - timedelta(minutes=10)),
                                     h.message(BOB, channel=RANDOM, when=NOW - timedelta(days=100))]
    fake.calls.clear()
    clock.advance(minutes=5)

    h = await _run_once(fake, tmp_path, clock)
    try:
        assert await _messages(h) == 4  # first, reply, thread, random — each once, the old one left out
        general = _history_calls(fake, GENERAL)
        assert general and general[0].query["after"] == first["id"]  # after the last message the store has
        floor = discord.utils.time_snowflake(clock.now - timedelta(days=90))
        assert int(_history_calls(fake, RANDOM)[0].query["after"]) == floor
        agg = await h.app.store.aggregates(REF, NOW - timedelta(days=1), NOW + timedelta(days=1))
        assert {(r.responder, r.target, r.replies) for r in agg.pair_rows()} == {(str(BOB), str(ALICE), 1)}
    finally:
        await _stop(h)

    fake.calls.clear()
    h = await _run_once(fake, tmp_path, clock)  # a restart with nothing new changes nothing
    try:
        assert await _messages(h) == 4
        # GUILD_CREATE's last_message_id shows nothing is newer than the store: no history request at all.
        assert [c for c in fake.calls if c.method == "GET" and c.path.startswith("/channels/")] == []
    finally:
        await _stop(h)


async def test_backfill_after_a_reconnect(bot: Harness) -> None:
    missed = bot.message(BOB, when=NOW + timedelta(minutes=1))
    bot.fake.channel(GENERAL).history.append(missed)
    await bot.fake.drop_connection(0)
    await within(bot.adapter.backfills_at_least(2))  # RESUMED starts another pass
    await bot.app.store.flush()
    assert await _messages(bot) == 1


async def test_backfill_of_a_server_added_while_running(bot: Harness) -> None:
    new = Guild(81_384_788_778_295_296, "New Server", [Channel(3001, "welcome")])
    bot.fake.guilds.append(new)
    new.channels[0].history.append(bot.message(ALICE, guild=new.id, channel=3001))
    joined = new.payload()
    del joined["unavailable"]  # a server the bot was just added to (not one coming back from an outage)
    await bot.fake.push("GUILD_CREATE", joined)
    await within(bot.adapter.backfills_at_least(2))
    await bot.app.store.flush()
    info = await bot.app.store.community(CommunityRef("discord", str(new.id)))
    assert info is not None and info.messages == 1 and info.name == "New Server"


async def test_backfill_skips_excluded_channels_and_their_threads(fake: FakeDiscord, tmp_path: Path,
                                                                  clock: Clock) -> None:
    from storage.base import CommunitySettings

    app = await start_app(tmp_path, clock)
    await app.store.set_community_settings(REF, CommunitySettings(excluded_channels=(str(GENERAL),)))
    h = Harness(fake, app, None)  # type: ignore[arg-type]
    fake.channel(GENERAL).history.append(h.message(ALICE, channel=GENERAL))
    fake.channel(THREAD).history.append(h.message(CAROL, channel=THREAD))
    fake.channel(RANDOM).history.append(h.message(BOB, channel=RANDOM))
    adapter = await start_adapter(app)
    try:
        await within(adapter.backfills_at_least(1))
        assert _history_calls(fake, GENERAL) == [] and _history_calls(fake, THREAD) == []
        assert _history_calls(fake, RANDOM)
        await app.store.flush()
        assert await app.store.latest_message_ids(REF) == {str(RANDOM): fake.channel(RANDOM).history[0]["id"]}
    finally:
        await adapter.stop()
        await app.close()


async def test_backfill_of_a_server_added_while_offline(fake: FakeDiscord, tmp_path: Path, clock: Clock) -> None:
    h = await _run_once(fake, tmp_path, clock)
    await _stop(h)
    added = Guild(81_384_788_778_295_296, "Added Offline", [Channel(4001, "general")])
    fake.guilds.append(added)  # READY lists it next time; the store has never seen it
    added.channels[0].history += [h.message(ALICE, guild=added.id, channel=4001, when=NOW - timedelta(days=3)),
                                  h.message(BOB, guild=added.id, channel=4001, when=NOW - timedelta(days=1))]
    h = await _run_once(fake, tmp_path, clock)
    try:
        info = await h.app.store.community(CommunityRef("discord", str(added.id)))
        assert info is not None and info.messages == 2
    finally:
        await _stop(h)


async def test_backfill_reads_every_page_of_a_long_history(fake: FakeDiscord, tmp_path: Path, clock: Clock) -> None:
    h = Harness(fake, None, None)  # type: ignore[arg-type]  # only to build payloads
    fake.channel(RANDOM).history += [h.message(ALICE + i % 3, channel=RANDOM, when=NOW - timedelta(hours=5, seconds=-i))
                                     for i in range(250)]
    h = await _run_once(fake, tmp_path, clock)
    try:
        assert await _messages(h) == 250
        assert len(_history_calls(fake, RANDOM)) == 3  # 100 + 100 + 50 (Discord's page size is 100)
    finally:
        await _stop(h)


async def test_backfill_of_a_server_back_from_an_outage(bot: Harness) -> None:
    from tests.discord.conftest import OTHER_GUILD

    other = next(g for g in bot.fake.guilds if g.id == OTHER_GUILD)
    other.channels[0].history.append(bot.message(BOB, guild=OTHER_GUILD, channel=2001, when=NOW + timedelta(minutes=1)))
    await bot.fake.push("GUILD_DELETE", {"id": str(OTHER_GUILD), "unavailable": True})
    await bot.fake.push("GUILD_CREATE", other.payload())  # available again: on_guild_available
    await within(bot.adapter.backfills_at_least(2))
    await bot.app.store.flush()
    info = await bot.app.store.community(CommunityRef("discord", str(OTHER_GUILD)))
    assert info is not None and info.messages == 1
