"""Gateway events become Events in the store: messages, replies, mentions, raw reactions (also on
messages the client never cached), reaction removal, deletes; bots ignored; threads count in their
parent channel, so excluding a channel excludes its threads."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import discord

from bot.discord.events import message_event, raw_message_event
from scoring.daily import DailyAggregates
from scoring.model import Event, Kind
from storage.base import CommunitySettings
from tests.discord.conftest import (
    ALICE,
    BOB,
    CAROL,
    FORUM,
    FORUM_POST,
    GENERAL,
    NOW,
    RANDOM,
    REF,
    ROBOT,
    THREAD,
    Harness,
)
from tests.discord.fake import member, user


async def _aggregates(bot: Harness) -> DailyAggregates:
    return await bot.app.store.aggregates(REF, NOW - timedelta(days=2), NOW + timedelta(days=2))


def _pairs(agg: DailyAggregates) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {(r.responder, r.target): (r.replies, r.mentions, r.reactions) for r in agg.pair_rows()}


async def _messages(bot: Harness) -> int:
    info = await bot.app.store.community(REF)
    return info.messages if info else 0


async def test_ingest_message_is_stored_without_text(bot: Harness) -> None:
    await bot.ingest(("MESSAGE_CREATE", bot.message(ALICE)))
    info = await bot.app.store.community(REF)
    assert info is not None and info.messages == 1 and info.name == "Test Server"
    assert await bot.app.store.member_names(REF) == {str(ALICE): "Alice"}


async def test_ingest_reply_credits_the_replied_to_author(bot: Harness) -> None:
    first = bot.message(ALICE)
    await bot.ingest(("MESSAGE_CREATE", first), ("MESSAGE_CREATE", bot.message(BOB, reply_to=first)))
    assert _pairs(await _aggregates(bot)) == {(str(BOB), str(ALICE)): (1, 0, 0)}


async def test_ingest_mention_credits_the_mentioned_member(bot: Harness) -> None:
    await bot.ingest(("MESSAGE_CREATE", bot.message(BOB, mentions=(CAROL,))))
    assert _pairs(await _aggregates(bot)) == {(str(BOB), str(CAROL)): (0, 1, 0)}


async def test_ingest_reaction_on_uncached_message_uses_message_author_id(bot: Harness) -> None:
    # The message was never sent through the gateway: neither the client nor the store knows it.
    unknown = bot.message(ALICE)
    await bot.ingest(("MESSAGE_REACTION_ADD", bot.reaction(CAROL, unknown, author=ALICE)))
    assert _pairs(await _aggregates(bot)) == {(str(CAROL), str(ALICE)): (0, 0, 1)}


async def test_ingest_reaction_removed_takes_the_credit_back(bot: Harness) -> None:
    message = bot.message(ALICE)
    await bot.ingest(("MESSAGE_CREATE", message),
                     ("MESSAGE_REACTION_ADD", bot.reaction(CAROL, message, author=ALICE)))
    assert _pairs(await _aggregates(bot)) == {(str(CAROL), str(ALICE)): (0, 0, 1)}
    bot.app.clock.advance(seconds=30)  # type: ignore[attr-defined]
    await bot.ingest(("MESSAGE_REACTION_REMOVE", bot.reaction(CAROL, message)))
    assert _pairs(await _aggregates(bot)) == {}


async def test_ingest_delete_removes_the_message(bot: Harness) -> None:
    message = bot.message(ALICE)
    await bot.ingest(("MESSAGE_CREATE", message))
    assert await _messages(bot) == 1
    await bot.ingest(("MESSAGE_DELETE", {"id": message["id"], "channel_id": str(GENERAL), "guild_id": message["guild_id"]}))
    assert await _messages(bot) == 0


async def test_ingest_bot_authors_are_ignored(bot: Harness) -> None:
    robot = bot.message(ROBOT, bot=True)
    await bot.fake.push("MESSAGE_CREATE", robot)
    await bot.fake.push("MESSAGE_REACTION_ADD", {**bot.reaction(ROBOT, bot.message(ALICE), author=ALICE),
                                                 "member": member(user(ROBOT, "Robot", bot=True))})
    # A member's message afterwards is the first event the ingestor sees: the bot's were dropped.
    await bot.ingest(("MESSAGE_CREATE", bot.message(ALICE)))
    assert bot.adapter.ingested == 1
    assert await _messages(bot) == 1
    assert str(ROBOT) not in await bot.app.store.member_names(REF)


async def test_ingest_thread_and_forum_post_count_in_their_parent_channel(bot: Harness) -> None:
    in_thread = bot.message(ALICE, channel=THREAD)
    in_post = bot.message(BOB, channel=FORUM_POST)
    await bot.ingest(("MESSAGE_CREATE", in_thread), ("MESSAGE_CREATE", in_post))
    assert await bot.app.store.latest_message_ids(REF) == {str(GENERAL): in_thread["id"], str(FORUM): in_post["id"]}


async def test_ingest_excluded_channel_also_excludes_its_threads(bot: Harness) -> None:
    await bot.app.store.set_community_settings(REF, dataclasses.replace(CommunitySettings(),
                                                                          excluded_channels=(str(GENERAL),)))
    bot.app.ingestor.invalidate(REF)
    kept = bot.message(BOB, channel=RANDOM)
    await bot.ingest(("MESSAGE_CREATE", bot.message(ALICE, channel=GENERAL)),
                     ("MESSAGE_CREATE", bot.message(ALICE, channel=THREAD)),
                     ("MESSAGE_CREATE", kept))
    assert await bot.app.store.latest_message_ids(REF) == {str(RANDOM): kept["id"]}
    assert bot.app.ingestor.dropped == 2


async def test_live_and_history_normalizers_agree(bot: Harness) -> None:
    """The live path reads raw payloads, backfill reads discord.py Messages: same Event either way."""
    first = bot.message(ALICE)
    forward = bot.message(BOB)
    forward["message_reference"] = {"type": 1, "message_id": "5", "channel_id": "999", "guild_id": "1"}
    attachment = bot.message(CAROL, channel=THREAD)
    attachment["attachments"] = [{"id": "9", "filename": "a.png", "size": 1, "url": "https://x/a.png",
                                  "proxy_url": "https://x/a.png"}]
    attachment["content"] = "see https://example.com"
    attachment["member"]["nick"] = "Caro"
    payloads = [first, bot.message(BOB, reply_to=first, mentions=(CAROL, ALICE)), forward, attachment,
                bot.message(ROBOT, bot=True), {**bot.message(ALICE), "type": 7}]
    client = bot.adapter.client
    guild = client.get_guild(int(first["guild_id"]))
    assert guild is not None
    for data in payloads:
        channel = guild.get_channel_or_thread(int(data["channel_id"]))
        message = discord.Message(state=client._connection, channel=channel, data=data)  # type: ignore[arg-type]
        assert message_event(message) == raw_message_event(data, guild, channel), data["id"]
    assert raw_message_event(attachment, guild, guild.get_thread(THREAD)) == Event(
        kind=Kind.MESSAGE, community=REF, community_name="Test Server", channel=str(GENERAL),
        ts=discord.utils.snowflake_time(int(attachment["id"])), message_id=attachment["id"], actor=str(CAROL),
        actor_name="Caro", length=len("see https://example.com"), has_link=True, has_attachment=True)
