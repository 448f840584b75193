"""The getUpdates fast path: plain group text messages read from the JSON give exactly the Event the
PTB object path gives, everything else is left to PTB, and a live bot uses it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from telegram import Update

from bot.telegram.events import message_event, raw_message_event
from scoring.model import CommunityRef
from tests.telegram.conftest import NOW, Live
from tests.telegram.updates import (
    ALICE,
    BOB,
    GROUP,
    HELPER_BOT,
    command,
    group_chat,
    mention,
    message,
    text_mention,
)

REF = CommunityRef("telegram", str(GROUP))
KNOWN = {"bobby": "102"}


async def _resolve(name: str) -> str | None:
    return KNOWN.get(name)


def _raw(msg: dict, update_id: int = 1) -> dict:
    return {"update_id": update_id, "message": msg}


FIRST = message(ALICE, "hello", at=NOW, message_id=1)
MENTION_TEXT = "hi @bobby and @stranger, see https://example.org"
EMOJI_TEXT = "🎉🎉 @bobby"  # two astral-plane emoji: UTF-16 offsets differ from Python indices
SIMPLE = [
    FIRST,
    message(BOB, "hi Alice", at=NOW + timedelta(minutes=1), reply_to=FIRST),
    message(BOB, MENTION_TEXT, at=NOW, entities=[mention(MENTION_TEXT, "bobby"), mention(MENTION_TEXT, "stranger"),
                                                 {"type": "url", "offset": MENTION_TEXT.index("https"), "length": 19}]),
    message(ALICE, EMOJI_TEXT, at=NOW, entities=[{"type": "mention", "offset": 5, "length": 6}]),
    message(ALICE, "thanks Bob", at=NOW, entities=[text_mention("thanks Bob", "Bob", BOB)]),
    message(ALICE, "ping @clout_test_bot", at=NOW, entities=[{"type": "mention", "offset": 5, "length": 15}]),
    message(BOB, "reply to a bot", at=NOW, reply_to=message(HELPER_BOT, "beep", at=NOW)),
    message({**BOB, "last_name": "Builder"}, "named", at=NOW),
]
LEFT_TO_PTB = [
    command(ALICE, "/score", at=NOW),
    message(HELPER_BOT, "beep", at=NOW),
    message(ALICE, "as the group", at=NOW, sender_chat=group_chat()),
    message(ALICE, "in a topic", at=NOW, chat=group_chat(forum=True), thread=7),
    {**message(ALICE, "", at=NOW), "text": None, "caption": "a photo", "photo": [{"file_id": "x", "file_unique_id": "y",
                                                                                  "width": 1, "height": 1}]},
    message(ALICE, "private", at=NOW, chat={"id": 101, "type": "private", "first_name": "Alice"}),
]


@pytest.mark.parametrize("msg", SIMPLE, ids=range(len(SIMPLE)))
async def test_fast_path_event_equals_the_ptb_path(msg: dict) -> None:
    raw = _raw(msg)
    fast = await raw_message_event(raw, _resolve, bot_username="clout_test_bot")
    update = Update.de_json(raw, None)
    assert update.message is not None
    slow = await message_event(update.message, _resolve, bot_username="clout_test_bot")
    assert fast is not None and slow is not None
    assert fast == slow


async def test_fast_path_reads_utf16_offsets_like_ptb() -> None:
    event = await raw_message_event(_raw(SIMPLE[3]), _resolve)
    assert event is not None and event.mentions == ("102",)
    assert (await raw_message_event(_raw(SIMPLE[2]), _resolve)).mentions == ("102", "@stranger")  # type: ignore[union-attr]


@pytest.mark.parametrize("msg", LEFT_TO_PTB, ids=range(len(LEFT_TO_PTB)))
async def test_fast_path_leaves_everything_else_to_ptb(msg: dict) -> None:
    assert await raw_message_event(_raw({k: v for k, v in msg.items() if v is not None}), _resolve) is None


async def test_fast_path_leaves_updates_of_other_kinds_to_ptb() -> None:
    assert await raw_message_event({"update_id": 1, "edited_message": FIRST}, _resolve) is None
    assert await raw_message_event({"update_id": 1, "message": {**FIRST, "quote": {"text": "x"}}}, _resolve) is None


async def test_live_bot_ingests_plain_messages_on_the_fast_path_and_commands_through_ptb(live: Live) -> None:
    await live.send({"message": message(ALICE, "hello all", at=NOW, message_id=11)},
                    {"message": message(BOB, "hi", at=NOW, message_id=12, reply_to=message(ALICE, "hello all", at=NOW,
                                                                                         message_id=11))},
                    {"message": command(ALICE, "/help", at=NOW, message_id=13)})
    assert live.adapter.fast_path_messages == 2
    await live.app.store.flush()
    info = await live.app.store.community(REF)
    assert info is not None and info.messages == 3  # the command is logged by the PTB path, as before
    assert live.api.of("sendMessage")  # /help was answered: the command went through PTB's handlers


async def test_fast_path_failure_hands_the_update_to_ptb(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(raw: dict, resolve: object, *, bot_username: str | None = None) -> None:
        raise KeyError("odd update")

    monkeypatch.setattr("bot.telegram.adapter.raw_message_event", broken)
    await live.send({"message": message(ALICE, "still counted", at=NOW, message_id=21)})
    await live.app.store.flush()
    info = await live.app.store.community(REF)
    assert live.adapter.fast_path_messages == 0
    assert info is not None and info.messages == 1  # PTB's handlers ingested it instead
