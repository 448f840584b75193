"""Group updates → Events → SQLite, through `Application.process_update` and a recording request class."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from scoring.model import CommunityRef
from tests.telegram.conftest import NOW, Direct
from tests.telegram.updates import (
    ALICE,
    BOB,
    CAROL,
    GROUP,
    HELPER_BOT,
    group_chat,
    mention,
    message,
    reaction,
    reaction_count,
    text_mention,
    update,
)

REF = CommunityRef("telegram", str(GROUP))
T0 = NOW - timedelta(hours=2)


async def pairs(direct: Direct) -> list[tuple[str, str, int, int, int]]:
    """(responder, target, replies, mentions, reactions) of the group, summed over days."""
    await direct.app.store.flush()
    agg = await direct.app.store.aggregates(REF, NOW - timedelta(days=2), NOW + timedelta(days=1))
    return sorted((r.responder, r.target, r.replies, r.mentions, r.reactions) for r in agg.pair_rows())


async def messages(direct: Direct, user: str) -> list[dict[str, object]]:
    await direct.app.store.flush()
    data = await direct.app.store.export_user(direct.app.store and _user(user))
    communities = data["communities"]
    assert isinstance(communities, list)
    return [item for c in communities for item in c["messages"]["items"]]


def _user(uid: str):  # type: ignore[no-untyped-def]
    from scoring.model import UserRef
    return UserRef("telegram", uid)


async def test_ingest_message_keeps_ids_and_name_but_no_text(direct: Direct) -> None:
    await direct.send(update(message=message(ALICE, "hello there https://x.org", at=T0, message_id=7,
                                             entities=[{"type": "url", "offset": 12, "length": 13}])))
    items = await messages(direct, "101")
    assert items == [{"message_id": "7", "channel": None, "ts": "2026-03-23T10:00:00+00:00", "reply_to": None,
                      "deleted": False, "length": 25, "has_link": True, "has_attachment": False, "mentions": []}]
    assert await direct.app.store.names_of(REF, ["101"]) == {"101": "Alice"}


async def test_ingest_reply_credits_the_replied_to_author(direct: Direct) -> None:
    first = message(ALICE, "question", at=T0, message_id=1)
    await direct.send(update(message=first),
                      update(message=message(BOB, "answer", at=T0 + timedelta(minutes=1), reply_to=first)))
    assert await pairs(direct) == [("102", "101", 1, 0, 0)]


async def test_ingest_mention_by_known_username_resolves_to_the_id(direct: Direct) -> None:
    await direct.send(update(message=message(ALICE, "hi", at=T0)))  # the bot learns @alice_w = 101
    text = "thanks @Alice_W and @stranger"
    await direct.send(update(message=message(BOB, text, at=T0 + timedelta(minutes=1),
                                             entities=[mention(text, "Alice_W"), mention(text, "stranger")])))
    assert (await messages(direct, "102"))[0]["mentions"] == ["101", "@stranger"]  # unknown: as the importer
    assert ("102", "101", 0, 1, 0) in await pairs(direct)
    await direct.adapter.flush_usernames()
    assert await direct.app.store.user_by_username(REF, "alice_w") == "101"


async def test_ingest_text_mention_carries_the_user_id(direct: Direct) -> None:
    text = "ask Carol about it"
    await direct.send(update(message=message(CAROL, "hi", at=T0)),
                      update(message=message(BOB, text, at=T0 + timedelta(minutes=1),
                                             entities=[text_mention(text, "Carol", CAROL)])))
    assert await pairs(direct) == [("102", "103", 0, 1, 0)]


async def test_ingest_mention_of_clout_itself_is_not_a_response(direct: Direct) -> None:
    text = "@CloutTestBot what is my score"
    await direct.send(update(message=message(BOB, text, at=T0, entities=[mention(text, "CloutTestBot")])))
    assert (await messages(direct, "102"))[0]["mentions"] == []


async def test_ingest_reaction_add_and_remove_resolve_author_from_log(direct: Direct) -> None:
    await direct.send(update(message=message(ALICE, "photo of my cat", at=T0, message_id=5)))
    await direct.send(reaction(BOB, 5, at=T0 + timedelta(minutes=1), new=["👍"]))
    assert await pairs(direct) == [("102", "101", 0, 0, 1)]
    await direct.send(reaction(BOB, 5, at=T0 + timedelta(minutes=2), old=["👍"], new=[]))
    assert await pairs(direct) == []


async def test_ingest_anonymous_reaction_count_counts_without_reactor(direct: Direct) -> None:
    await direct.send(update(message=message(ALICE, "announcement", at=T0, message_id=6)))
    await direct.send(reaction_count(6, {"🔥": 3, "👍": 2}, at=T0 + timedelta(minutes=5)))
    await direct.app.store.flush()
    agg = await direct.app.store.aggregates(REF, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert [(r.user, r.anon_reactions) for r in agg.member_rows()] == [("101", 5)]
    assert await pairs(direct) == []


async def test_ingest_anonymous_reaction_that_vanished_counts_zero(direct: Direct) -> None:
    # Telegram lists only emojis still present: 🔥 missing from the second update means 0, not 3.
    await direct.send(update(message=message(ALICE, "announcement", at=T0, message_id=7)))
    await direct.send(reaction_count(7, {"🔥": 3, "👍": 2}, at=T0 + timedelta(minutes=5)))
    await direct.send(reaction_count(7, {"👍": 1}, at=T0 + timedelta(minutes=6)))
    await direct.app.store.flush()
    agg = await direct.app.store.aggregates(REF, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert [(r.user, r.anon_reactions) for r in agg.member_rows()] == [("101", 1)]


async def test_ingest_anonymous_admin_reaction_is_ignored(direct: Direct) -> None:
    await direct.send(update(message=message(ALICE, "x", at=T0, message_id=8)))
    await direct.send(reaction(None, 8, at=T0 + timedelta(minutes=1), new=["👍"]))
    assert await pairs(direct) == []


async def test_ingest_bot_author_is_ignored(direct: Direct) -> None:
    first = message(ALICE, "hi", at=T0, message_id=1)
    await direct.send(update(message=first),
                      update(message=message(HELPER_BOT, "beep", at=T0 + timedelta(minutes=1), reply_to=first)))
    assert await messages(direct, "555") == []
    assert await pairs(direct) == []


async def test_ingest_channel_posts_and_channel_forwards_are_ignored(direct: Direct) -> None:
    channel = {"id": -1009999, "type": "channel", "title": "News"}
    await direct.send(
        update(message=message(ALICE, "as channel", at=T0, sender_chat=channel)),
        update(message=message(ALICE, "auto", at=T0, is_automatic_forward=True, sender_chat=channel)),
        update(message=message(ALICE, "fwd", at=T0, forward_origin={
            "type": "channel", "chat": channel, "message_id": 3, "date": int(T0.timestamp())})))
    assert await messages(direct, "101") == []


async def test_ingest_edited_message_is_not_counted_again(direct: Direct) -> None:
    original = message(ALICE, "typo", at=T0, message_id=9)
    await direct.send(update(message=original),
                      update(edited_message={**original, "text": "fixed", "edit_date": int(T0.timestamp()) + 60}))
    assert [m["message_id"] for m in await messages(direct, "101")] == ["9"]


async def test_ingest_forum_topic_root_is_not_a_reply(direct: Direct) -> None:
    forum = group_chat(forum=True)
    root = message(ALICE, "", at=T0, message_id=40, chat=forum, forum_topic_created={
        "name": "Off topic", "icon_color": 7322096})
    root.pop("text")
    first = message(ALICE, "first in topic", at=T0, message_id=41, chat=forum, thread=40, reply_to=root)
    answer = message(BOB, "answer", at=T0 + timedelta(minutes=1), message_id=42, chat=forum, thread=40,
                     reply_to=first)
    await direct.send(update(message=root), update(message=first), update(message=answer))
    alice = await messages(direct, "101")
    assert [(m["message_id"], m["channel"], m["reply_to"]) for m in alice] == [("41", "40", None)]
    assert await pairs(direct) == [("102", "101", 1, 0, 0)]


async def test_ingest_excluded_topic_and_excluded_group_are_dropped(direct: Direct) -> None:
    forum = group_chat(forum=True)
    store = direct.app.store
    settings = await store.community_settings(REF)
    await store.set_community_settings(REF, dataclasses.replace(settings, excluded_channels=("40",)))
    direct.app.ingestor.invalidate(REF)
    await direct.send(update(message=message(ALICE, "in topic", at=T0, chat=forum, thread=40)),
                      update(message=message(ALICE, "in general", at=T0, chat=forum)))
    assert [m["channel"] for m in await messages(direct, "101")] == [None]
    await store.set_community_settings(REF, dataclasses.replace(settings, excluded_channels=(str(GROUP),)))
    direct.app.ingestor.invalidate(REF)
    await direct.send(update(message=message(ALICE, "in general again", at=T0 + timedelta(minutes=5), chat=forum)))
    assert len(await messages(direct, "101")) == 1


async def test_ingest_private_chat_messages_are_not_events(direct: Direct) -> None:
    await direct.send(update(message=message(ALICE, "hello bot", at=T0, chat={"id": 101, "type": "private",
                                                                               "first_name": "Alice"})))
    assert await messages(direct, "101") == []
    from scoring.model import UserRef
    assert await direct.app.store.dm_open(UserRef("telegram", "101")) is True


async def test_ingest_opted_out_member_leaves_no_username(direct: Direct) -> None:
    from storage.base import MemberPrefs
    await direct.app.store.set_member_prefs(REF, "101", MemberPrefs(opted_out=True))
    direct.app.ingestor.invalidate(REF)
    await direct.send(update(message=message(ALICE, "hi", at=T0)))
    await direct.send(update(chat_member={
        "chat": group_chat(), "from": ALICE, "date": int(T0.timestamp()),
        "old_chat_member": {"status": "left", "user": ALICE}, "new_chat_member": {"status": "member", "user": ALICE}}))
    await direct.adapter.flush_usernames()
    assert await direct.app.store.user_by_username(REF, "alice_w") is None
    assert await messages(direct, "101") == []


async def test_ingest_joining_member_username_resolves_later_mentions(direct: Direct) -> None:
    await direct.send(update(chat_member={
        "chat": group_chat(), "from": CAROL, "date": int(T0.timestamp()),
        "old_chat_member": {"status": "left", "user": BOB}, "new_chat_member": {"status": "member", "user": BOB}}))
    text = "welcome @bobby"
    await direct.send(update(message=message(ALICE, text, at=T0, entities=[mention(text, "bobby")])))
    assert (await messages(direct, "101"))[0]["mentions"] == ["102"]
