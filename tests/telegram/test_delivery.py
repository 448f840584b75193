"""Delivery hooks, rate limiting, the privacy-mode note, and the webhook start-up."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.app import App
from bot.chat.delivery import Adapter, DeliveryFailed, DestinationGone, Unreachable
from bot.chat.reply import Reply
from bot.config import Config
from bot.telegram.adapter import ALLOWED_UPDATES, TelegramAdapter, create
from scoring.model import CommunityRef, UserRef
from tests.telegram.conftest import NOW, Clock, Live, fast_limiter
from tests.telegram.fakeapi import TOKEN, FakeBotApi
from tests.telegram.updates import ALICE, BOB, GROUP, command, message, my_chat_member, update

REF = CommunityRef("telegram", str(GROUP))
HELLO = Reply(title="Weekly <digest>", text=("Bob & Carol moved up",))


def test_delivery_factory_builds_an_adapter(tmp_path: object) -> None:
    adapter = create(App.__new__(App))
    assert isinstance(adapter, Adapter) and adapter.platform == "telegram"


async def test_delivery_post_to_group_and_topic(live: Live) -> None:
    await live.adapter.post(REF, str(GROUP), HELLO)
    await live.adapter.post(REF, "7", HELLO)                 # a forum topic, as "/settings channel here" stores it
    await live.adapter.post(REF, f"{GROUP}:9", HELLO)       # explicit chat:topic
    calls = live.api.of("sendMessage")
    assert [(c.params["chat_id"], c.params.get("message_thread_id")) for c in calls] == [
        (str(GROUP), None), (str(GROUP), "7"), (str(GROUP), "9")]
    assert calls[0].params["text"] == "<b>Weekly &lt;digest&gt;</b>\n\nBob &amp; Carol moved up"


async def test_delivery_dm_403_is_unreachable_and_turns_dm_off(live: Live) -> None:
    await live.app.store.set_dm_open(UserRef("telegram", "101"), True)
    live.api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(Unreachable) as info:
        await live.adapter.dm("101", HELLO)
    assert info.value.code == 403
    assert await live.app.store.dm_open(UserRef("telegram", "101")) is False
    assert len(live.api.of("sendMessage")) == 1  # not retried


async def test_delivery_dm_to_someone_who_never_started(live: Live) -> None:
    live.api.fail("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(Unreachable):
        await live.adapter.dm("555000", HELLO)


async def test_delivery_429_is_retried_by_the_rate_limiter(live: Live) -> None:
    live.api.fail("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1})
    await live.adapter.post(REF, str(GROUP), HELLO)
    calls = live.api.of("sendMessage")
    assert len(calls) == 2 and calls[0].params == calls[1].params


async def test_delivery_429_beyond_retries_is_a_transient_failure(live: Live) -> None:
    for _ in range(3):
        live.api.fail("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1})
    with pytest.raises(DeliveryFailed) as info:
        await live.adapter.post(REF, str(GROUP), HELLO)
    assert info.value.code == 429


async def test_delivery_kicked_or_missing_group_is_gone(live: Live) -> None:
    live.api.fail("sendMessage", 403, "Forbidden: bot was kicked from the supergroup chat")
    with pytest.raises(DestinationGone):
        await live.adapter.post(REF, str(GROUP), HELLO)
    live.api.fail("sendMessage", 400, "Bad Request: chat not found")
    with pytest.raises(DestinationGone):
        await live.adapter.post(REF, str(GROUP), HELLO)


async def test_delivery_private_reply_falls_back_to_link_when_dm_is_blocked(live: Live) -> None:
    await live.send(update(message=command(ALICE, "/start", at=NOW, chat={"id": 101, "type": "private",
                                                                          "first_name": "Alice"})))
    live.api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await live.send(update(message=command(ALICE, "/weekly on", at=NOW)))
    last = live.api.of("sendMessage")[-1]
    assert last.params["chat_id"] == str(GROUP) and "?start=w" in last.params["text"]
    assert await live.app.store.dm_open(UserRef("telegram", "101")) is False


# -- privacy mode ----------------------------------------------------------------------------------

@pytest.fixture
async def blind() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(can_read_all=False) as fake:
        yield fake


async def _start(app: App, api: FakeBotApi) -> Live:
    adapter = TelegramAdapter(app, configure=lambda b: b.base_url(api.base_url), rate_limiter=fast_limiter())
    await adapter.start()
    return Live(app, api, adapter)


def _notes(api: FakeBotApi) -> list[str]:
    return [c.params["text"] for c in api.of("sendMessage") if "/setprivacy" in c.params["text"]]


async def test_privacy_note_posted_once_when_added_without_message_access(app: App, blind: FakeBotApi) -> None:
    live = await _start(app, blind)
    try:
        assert live.adapter.sees_all is False
        await live.send(my_chat_member("left", "member", at=NOW))
        await live.send(update(message=command(BOB, "/help", at=NOW)))
        await live.send(my_chat_member("member", "left", at=NOW), my_chat_member("left", "member", at=NOW))
    finally:
        await live.adapter.stop()
    live = await _start(app, blind)  # a restart must not repeat it either
    try:
        await live.send(update(message=command(BOB, "/help", at=NOW)))
    finally:
        await live.adapter.stop()
    notes = _notes(blind)
    assert len(notes) == 1
    assert "@BotFather" in notes[0]


async def test_privacy_note_on_first_command_in_a_group_it_cannot_read(app: App, blind: FakeBotApi) -> None:
    live = await _start(app, blind)
    try:
        await live.send(update(message=command(BOB, "/help", at=NOW, chat={"id": -1005, "type": "supergroup",
                                                                            "title": "Old group"})))
    finally:
        await live.adapter.stop()
    assert len(_notes(blind)) == 1


async def test_privacy_no_note_when_the_bot_is_admin(app: App, blind: FakeBotApi) -> None:
    live = await _start(app, blind)
    try:
        await live.send(my_chat_member("left", "administrator", at=NOW))
        blind.statuses[(GROUP, 999)] = "administrator"
        await live.send(update(message=command(BOB, "/help", at=NOW)))
    finally:
        await live.adapter.stop()
    assert _notes(blind) == []


async def test_privacy_no_note_when_privacy_mode_is_off(live: Live) -> None:
    await live.send(my_chat_member("left", "member", at=NOW))
    assert _notes(live.api) == []


async def test_privacy_settings_line_says_only_commands_are_seen(app: App, blind: FakeBotApi) -> None:
    blind.statuses[(GROUP, 101)] = "administrator"
    live = await _start(app, blind)
    try:
        await live.send(update(message=message(ALICE, "hi", at=NOW)))
        await live.send(update(message=command(ALICE, "/settings", at=NOW)))
    finally:
        await live.adapter.stop()
    text = blind.of("sendMessage")[-1].params["text"]
    assert "only commands and replies to me" in text


# -- webhook -----------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_registers_url_secret_and_allowed_updates(tmp_path: object, api: FakeBotApi) -> None:
    port = _free_port()
    config = Config(database=str(tmp_path) + "/w.db", telegram_token=TOKEN, refresh_interval=0.0,  # type: ignore[operator]
                    telegram_webhook_url="https://clout.example.org/tg/hook",
                    telegram_webhook_listen=f"127.0.0.1:{port}", telegram_webhook_secret="s3cret")
    app = await App.start(config, clock=Clock())
    adapter = TelegramAdapter(app, configure=lambda b: b.base_url(api.base_url), rate_limiter=fast_limiter())
    try:
        await adapter.start()
        (hook,) = api.of("setWebhook")
        assert hook.params["url"] == "https://clout.example.org/tg/hook"
        assert hook.params["secret_token"] == "s3cret"
        assert hook.json("allowed_updates") == list(ALLOWED_UPDATES)
        assert api.of("getUpdates") == []
        raw = update(message=message(ALICE, "via webhook", at=NOW))
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{port}/tg/hook"
            async with http.post(url, json={"update_id": 1, **raw},
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as response:
                assert response.status == 403
            async with http.post(url, json={"update_id": 2, **raw},
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}) as response:
                assert response.status == 200
        assert adapter.application is not None
        await asyncio.wait_for(adapter.application.update_queue.join(), 10)
        await app.store.flush()
        info = await app.store.community(REF)
        assert info is not None and info.messages == 1
    finally:
        await adapter.stop()
        await app.close()


async def test_privacy_note_follows_the_community_language(app: App, blind: FakeBotApi) -> None:
    settings = await app.store.community_settings(REF)
    import dataclasses
    await app.store.set_community_settings(REF, dataclasses.replace(settings, language="de"))
    live = await _start(app, blind)
    try:
        await live.send(my_chat_member("left", "member", at=NOW))
    finally:
        await live.adapter.stop()
    (note,) = _notes(blind)
    assert "Ich sehe in dieser Gruppe nur Befehle" in note


async def test_commands_in_a_forum_topic_are_answered_in_that_topic(live: Live) -> None:
    forum = {"id": GROUP, "type": "supergroup", "title": "Forum", "is_forum": True}
    await live.send(update(message=command(BOB, "/help", at=NOW, chat=forum, thread=77)))
    (call,) = live.api.of("sendMessage")
    assert call.params["message_thread_id"] == "77"


async def test_webhook_listen_without_a_port_is_a_config_error(tmp_path: object, api: FakeBotApi) -> None:
    from bot.config import ConfigError
    config = Config(database=str(tmp_path) + "/w.db", telegram_token=TOKEN, refresh_interval=0.0,  # type: ignore[operator]
                    telegram_webhook_url="https://clout.example.org/hook", telegram_webhook_listen="localhost")
    app = await App.start(config, clock=Clock())
    adapter = TelegramAdapter(app, configure=lambda b: b.base_url(api.base_url), rate_limiter=fast_limiter())
    try:
        with pytest.raises(ConfigError, match="CLOUT_TELEGRAM_WEBHOOK_LISTEN"):
            await adapter.start()
        assert adapter.application is not None and not adapter.application.running
    finally:
        await adapter.stop()
        await app.close()


async def test_invalid_token_is_a_config_error_without_the_token(tmp_path: object, api: FakeBotApi) -> None:
    from bot.config import ConfigError
    api.fail("getMe", 401, "Unauthorized")
    config = Config(database=str(tmp_path) + "/t.db", telegram_token=TOKEN, refresh_interval=0.0)  # type: ignore[operator]
    app = await App.start(config, clock=Clock())
    adapter = TelegramAdapter(app, configure=lambda b: b.base_url(api.base_url), rate_limiter=fast_limiter())
    try:
        with pytest.raises(ConfigError) as info:
            await adapter.start()
        assert TOKEN not in str(info.value) and "BotFather" in str(info.value)
    finally:
        await adapter.stop()
        await app.close()
