"""End to end: a real PTB Application polling the loopback fake Bot API, into the real App and SQLite store."""

from __future__ import annotations

from bot.telegram.adapter import ALLOWED_UPDATES
from scoring.model import CommunityRef
from tests.telegram.conftest import NOW, Live
from tests.telegram.updates import ALICE, BOB, GROUP, message, reaction, update

REF = CommunityRef("telegram", str(GROUP))


async def test_live_polling_sends_the_full_allowed_updates_list_every_time(live: Live) -> None:
    await live.send(update(message=message(ALICE, "hello", at=NOW)))
    await live.send(update(message=message(BOB, "hello", at=NOW)))
    polls = live.api.of("getUpdates")
    assert len(polls) >= 2
    assert ALLOWED_UPDATES == ("message", "edited_message", "message_reaction", "message_reaction_count",
                               "chat_member", "my_chat_member", "callback_query")
    assert all(call.json("allowed_updates") == list(ALLOWED_UPDATES) for call in polls)
    assert live.api.of("deleteWebhook")  # polling starts by dropping any webhook


async def test_live_message_reply_and_reaction_reach_the_database(live: Live) -> None:
    first = message(ALICE, "hello", at=NOW, message_id=1)
    await live.send(update(message=first), update(message=message(BOB, "hi Alice", at=NOW, reply_to=first)))
    await live.send(reaction(BOB, 1, at=NOW, new=["🎉"]))
    await live.app.store.flush()
    info = await live.app.store.community(REF)
    assert info is not None and info.messages == 2 and info.name == "Test Group"
    await live.app.service.refresh(REF, as_of=NOW)
    alice = await live.app.store.score_of(REF, "101")
    assert alice is not None and alice.reach > 0


async def test_live_stop_is_clean_and_restartable(live: Live) -> None:
    await live.adapter.stop()
    assert live.adapter.application is None
    await live.adapter.start()
    await live.send(update(message=message(ALICE, "back", at=NOW)))
    assert len(live.api.of("getMe")) == 2


async def test_live_app_starts_and_stops_the_adapter_it_is_configured_for(app, api, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import bot.telegram.adapter as module
    from tests.telegram.conftest import fast_limiter

    assert app.config.platforms == ["telegram"]
    monkeypatch.setattr(module, "create", lambda a: module.TelegramAdapter(
        a, configure=lambda b: b.base_url(api.base_url), rate_limiter=fast_limiter()))
    await app.start_adapters()
    try:
        adapter = app.adapters["telegram"]
        assert isinstance(adapter, module.TelegramAdapter) and adapter.application is not None
        assert adapter.application.running and api.of("getMe")
    finally:
        await app.stop_adapters()
    assert app.adapters == {} and adapter.application is None
