"""End to end: a real PTB Application polling the loopback fake Bot API, into the real App and SQLite store."""

from __future__ import annotations

from tests.telegram.conftest import NOW, Live
from tests.telegram.updates import ALICE, BOB, GROUP, message, update


async def test_live_polling_sends_every_allowed_update_type(live: Live) -> None:
    await live.send(update(message=message(ALICE, "hello", at=NOW)))
    polls = live.api.of("getUpdates")
    assert polls
    for call in polls:
        assert call.json("allowed_updates") == ["message", "edited_message", "message_reaction",
                                                "message_reaction_count", "chat_member", "my_chat_member",
                                                "callback_query"]


async def test_live_message_and_reply_are_stored(live: Live) -> None:
    first = message(ALICE, "hello", at=NOW)
    await live.send(update(message=first), update(message=message(BOB, "hi Alice", at=NOW, reply_to=first)))
    await live.app.store.flush()
    info = await live.app.store.community(live.adapter.application and __import__("scoring.model").model.CommunityRef("telegram", str(GROUP)))
    assert info is not None and info.messages == 2
