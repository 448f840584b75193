"""Commands end to end: the real Application polls the fake Bot API; replies go out as HTML, photos, documents."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.chat.commands import COMMANDS
from bot.telegram.adapter import PRIVATE_COMMANDS
from scoring.model import CommunityRef, UserRef
from tests.chat.renderers import CARD_NOTES, GatedRenderer, failing_renderer
from tests.factories import EventFactory
from tests.telegram.conftest import NOW, Live
from tests.telegram.fakeapi import BOT_USERNAME, Call
from tests.telegram.updates import ALICE, BOB, GROUP, callback, command, private_chat, update, user

REF = CommunityRef("telegram", str(GROUP))
SENDS = ("sendMessage", "sendPhoto", "sendDocument")
APOLOGY = "Sorry, something went wrong"


async def seed(live: Live, members: int = 14) -> None:
    """Alice (101) answered by everyone; `members` more members ("201"…) who answer each other."""
    f = EventFactory(base=NOW - timedelta(days=6), community=REF)
    events = [f.msg("a1", "101", 0, name="Alice", channel=None)]
    ids = [str(201 + i) for i in range(members)]
    names = {uid: "<b>Eve & co</b>" if i == 0 else f"Member {i}" for i, uid in enumerate(ids)}
    for i, uid in enumerate(ids):
        events.append(f.msg(f"m{uid}", uid, 60 * (i + 1), name=names[uid], channel=None, reply_to="a1"))
        events.append(f.msg(f"r{uid}", ids[i - 1], 3600 + 60 * i, name=names[ids[i - 1]], channel=None,
                            reply_to=f"m{uid}"))
    await live.app.store.import_events(events)


def sent(live: Live) -> list[Call]:
    return [c for c in live.api.calls if c.method in SENDS]


def body(call: Call) -> str:
    return str(call.params.get("text") or call.params.get("caption") or "")


async def run(live: Live, text: str, who: dict[str, object] = ALICE, **kw: object) -> list[Call]:
    """Send a command; return the messages the bot sent in response."""
    before = len(sent(live))
    await live.send(update(message=command(who, text, at=NOW, **kw)))  # type: ignore[arg-type]
    return sent(live)[before:]


async def test_commands_menu_set_per_scope_and_language(live: Live) -> None:
    calls = live.api.of("setMyCommands")
    seen = {(json.loads(c.params["scope"])["type"], c.params.get("language_code")) for c in calls}
    assert seen == {("all_group_chats", None), ("all_private_chats", None),
                    ("all_group_chats", "de"), ("all_private_chats", "de")}
    for call in calls:
        names = [c["command"] for c in call.json("commands")]
        scope = json.loads(call.params["scope"])["type"]
        assert names == (list(COMMANDS) if scope == "all_group_chats" else list(PRIVATE_COMMANDS))
        assert all(1 <= len(c["description"]) <= 256 for c in call.json("commands"))
    german = next(c for c in calls if c.params.get("language_code") == "de")
    english = next(c for c in calls if c.params.get("language_code") is None)
    assert german.json("commands")[0]["description"] != english.json("commands")[0]["description"]


ARGS = {"score": "", "leaderboard": "", "privacy": "hide", "optout": "", "optin": "", "forgetme": "",
        "mydata": "", "weekly": "on", "link": "", "settings": "", "help": ""}


@pytest.mark.parametrize("name", list(COMMANDS))
async def test_commands_every_command_answers_in_a_group(live: Live, name: str) -> None:
    assert set(ARGS) == set(COMMANDS)  # a new command needs a line here
    await seed(live)
    live.api.statuses[(GROUP, 101)] = "administrator"
    out = await run(live, f"/{name} {ARGS[name]}".strip())
    assert out, f"/{name} sent nothing"
    assert all(APOLOGY not in body(c) for c in out)
    assert all(c.params.get("parse_mode") == "HTML" for c in out)


async def test_commands_score_sends_the_text_then_the_card_as_a_photo_answering_it(live: Live) -> None:
    await seed(live)
    text, photo = await run(live, "/score")
    assert text.method == "sendMessage" and text.params["chat_id"] == str(GROUP)
    assert "Your Clout score" in body(text) and "/100" in body(text)
    assert photo.method == "sendPhoto" and photo.params["chat_id"] == str(GROUP)
    assert photo.files["photo"].startswith(b"\x89PNG")
    assert photo.json("reply_parameters")["message_id"] == text.result["message_id"]


async def test_commands_score_text_does_not_wait_for_a_slow_card(live: Live) -> None:
    await seed(live)
    renderer = live.app.commands.renderer = GatedRenderer()
    before = len(live.api.of("sendMessage"))
    await live.api.push(update(message=command(ALICE, "/score", at=NOW)))
    text = (await live.api.wait_for("sendMessage", before + 1))[-1]
    await asyncio.wait_for(renderer.started.wait(), 10)
    assert "Your Clout score" in body(text) and not live.api.of("sendPhoto")  # answered; the card is still drawn
    renderer.release.set()
    (photo,) = await live.api.wait_for("sendPhoto")
    await live.idle()
    assert photo.at >= text.at and photo.json("reply_parameters")["message_id"] == text.result["message_id"]


@pytest.mark.parametrize(("locale", "note"), CARD_NOTES)
async def test_commands_score_failed_card_leaves_the_text_and_a_note(live: Live, locale: str, note: str) -> None:
    await seed(live)
    live.app.commands.renderer = failing_renderer()
    text, follow = await run(live, "/score", who={**ALICE, "language_code": locale})
    assert "/100" in body(text)
    assert follow.method == "sendMessage" and body(follow) == note
    assert follow.json("reply_parameters")["message_id"] == text.result["message_id"]
    assert not live.api.of("sendPhoto") and APOLOGY not in body(follow)


async def test_commands_score_of_a_member_by_username(live: Live) -> None:
    await seed(live)
    await live.send(update(message=command(BOB, "/help", at=NOW)))  # the bot learns @bobby = 102
    await live.app.store.import_events([EventFactory(base=NOW - timedelta(days=1), community=REF).msg(
        "b1", "102", 0, name="Bob", channel=None, reply_to="a1")])
    call, _card = await run(live, "/score@" + BOT_USERNAME + " @bobby")
    assert APOLOGY not in body(call)
    assert "Bob" in body(call)  # found by @username, not "no member called bobby"


async def test_commands_private_reply_without_start_gives_a_deep_link(live: Live) -> None:
    await seed(live)
    (call,) = await run(live, "/mydata")
    assert call.params["chat_id"] == str(GROUP)
    assert f"https://t.me/{BOT_USERNAME}?start=g{GROUP}" in body(call)
    assert not any(c.method == "sendDocument" for c in live.api.calls)


async def test_commands_private_reply_goes_by_dm_after_start(live: Live) -> None:
    await seed(live)
    await live.send(update(message=command(ALICE, "/start", at=NOW, chat=private_chat(ALICE))))
    out = await run(live, "/mydata")
    document = next(c for c in out if c.method == "sendDocument")
    assert document.params["chat_id"] == "101"
    data = json.loads(document.files["document"])
    assert data["user"] == {"platform": "telegram", "id": "101"} and data["dm_open"] is True
    note = next(c for c in out if c.method == "sendMessage")
    assert note.params["chat_id"] == str(GROUP) and "private chat" in body(note)


async def test_commands_start_payload_turns_weekly_on(live: Live) -> None:
    await seed(live)
    out = await run(live, f"/start w{GROUP}", chat=private_chat(ALICE))
    assert out[0].params["chat_id"] == "101"
    assert (await live.app.store.member_prefs(REF, "101")).weekly is True
    assert await live.app.store.dm_open(UserRef("telegram", "101")) is True


async def test_commands_start_payload_for_a_group_they_are_not_in_is_refused(live: Live) -> None:
    live.api.statuses[(GROUP, 101)] = "left"
    out = await run(live, f"/start w{GROUP}", chat=private_chat(ALICE))
    assert "cannot find you" in body(out[0])
    assert (await live.app.store.member_prefs(REF, "101")).weekly is False


async def test_commands_weekly_without_start_links_to_the_weekly_payload(live: Live) -> None:
    (call,) = await run(live, "/weekly on")
    assert f"?start=w{GROUP}" in body(call)


async def test_commands_settings_refused_for_non_admins(live: Live) -> None:
    live.api.statuses[(GROUP, 102)] = "member"
    (call,) = await run(live, "/settings", who=BOB)
    assert "Only community admins" in body(call)
    assert live.api.of("getChatMember")[-1].params["user_id"] == "102"


async def test_commands_settings_for_admins_shows_what_the_bot_sees(live: Live) -> None:
    live.api.statuses[(GROUP, 101)] = "creator"
    live.api.statuses[(GROUP, 999)] = "administrator"
    (call,) = await run(live, "/settings weekday fri")
    assert "Community settings" in body(call)
    assert "all messages and reactions" in body(call)
    assert (await live.app.store.community_settings(REF)).weekday == "fri"


async def test_commands_html_escapes_member_names(live: Live) -> None:
    await seed(live)
    (call,) = await run(live, "/leaderboard")
    text = body(call)
    assert "&lt;b&gt;Eve &amp; co&lt;/b&gt;" in text
    assert "<b>Eve" not in text


async def test_commands_leaderboard_pages_with_the_inline_keyboard(live: Live) -> None:
    await seed(live)
    (board,) = await run(live, "/leaderboard")
    buttons = board.json("reply_markup")["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["leaderboard all 2"]
    shown = {"message_id": 50, "date": int(NOW.timestamp()), "chat": {"id": GROUP, "type": "supergroup"},
             "text": "x"}
    await live.send(update(**callback(BOB, "leaderboard all 2", shown)))
    (answer,) = live.api.of("answerCallbackQuery")
    (edit,) = live.api.of("editMessageText")
    assert edit.params["message_id"] == "50" and edit.params["chat_id"] == str(GROUP)
    assert "Page 2 of 2" in edit.params["text"]
    assert [b["callback_data"] for b in edit.json("reply_markup")["inline_keyboard"][0]] == ["leaderboard all 1"]
    assert answer.params["callback_query_id"]


async def test_commands_german_client_gets_german_replies(live: Live) -> None:
    (call,) = await run(live, "/help", who=user(301, "Jonas", lang="de"))
    assert "Befehle" in body(call)


async def test_commands_in_private_chat_work_without_a_community(live: Live) -> None:
    out = await run(live, "/leaderboard", chat=private_chat(ALICE))
    assert out[0].params["chat_id"] == "101"
    assert "only in a community chat" in body(out[0])


async def test_commands_bot_senders_are_not_answered(live: Live) -> None:
    out = await run(live, "/help", who=user(556, "OtherBot", bot=True))
    assert out == []
