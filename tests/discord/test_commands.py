"""Slash commands through the real client: every command of the command layer answers, private
replies are ephemeral, /settings is refused to non-admins, the leaderboard pages with a button, the
"Clout score" context menu works, and replies follow the member's Discord language."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from scoring.model import Event, Kind
from tests.chat.renderers import CARD_NOTES, GatedRenderer, failing_renderer
from tests.discord.conftest import ALICE, BOB, MANAGE_GUILD, MEMBER_PERMISSIONS, NOW, REF, Harness, within
from tests.discord.fake import Call, member, user

EPHEMERAL = 64
MEMBERS = [ALICE, BOB, *range(500, 514)]  # 16 members: two leaderboard pages


async def _seed(bot: Harness) -> None:
    """Three weeks in which every member replies to the next ones (so everyone has a score)."""
    events = []
    n = 0
    for day in range(21):
        for i, author in enumerate(MEMBERS):
            n += 1
            ts = NOW - timedelta(days=21 - day, minutes=i)
            target = MEMBERS[(i + 1 + day % 3) % len(MEMBERS)]
            events.append(Event(kind=Kind.MESSAGE, community=REF, ts=ts, message_id=f"s{n}", actor=str(author),
                                actor_name=f"Member {author}", channel="1001", reply_to_author=str(target),
                                reply_to=f"x{n}"))
    await bot.app.store.import_events(events)
    await bot.app.service.refresh(REF)


def _data(call: Call) -> dict[str, Any]:
    return call.json["data"]


def _ephemeral(call: Call) -> bool:
    return bool((call.json.get("data") or {}).get("flags", 0) & EPHEMERAL)


def _text(call: Call) -> str:
    embed = _data(call)["embeds"][0]
    return "\n".join(filter(None, (embed.get("title"), embed.get("description"))))


def _option(name: str, value: object, kind: int = 3) -> dict[str, Any]:
    return {"name": name, "type": kind, "value": value}


def _resolved(uid: int) -> dict[str, Any]:
    u = user(uid, f"Member {uid}")
    return {"users": {str(uid): u}, "members": {str(uid): {k: v for k, v in member(u).items() if k != "user"}}}


def _edit_of(bot: Harness, payload: dict[str, Any]) -> Any:
    """The edit of an interaction's original response (where the card follows the text)."""
    path = f"/webhooks/{payload['application_id']}/{payload['token']}/messages/@original"
    return bot.fake.wait_call(lambda c: c.method == "PATCH" and c.path == path)


async def test_score_is_public_text_first_then_the_card_in_the_same_message(bot: Harness) -> None:
    await _seed(bot)
    payload = bot.interaction("score")
    edited = _edit_of(bot, payload)
    call = await bot.command(payload)
    assert call.json["type"] == 4 and not _ephemeral(call) and not call.files
    embed = _data(call)["embeds"][0]
    assert embed["title"] == "Your Clout score" and "/100" in embed["description"]
    edit = await within(edited)
    assert bot.fake.calls.index(edit) > bot.fake.calls.index(call)
    assert edit.files["clout-score.png"].startswith(b"\x89PNG")
    card_embed = edit.json["embeds"][0]
    assert card_embed["image"]["url"] == "attachment://clout-score.png"
    assert card_embed["description"] == embed["description"]


async def test_score_text_does_not_wait_for_a_slow_card(bot: Harness) -> None:
    await _seed(bot)
    renderer = bot.app.commands.renderer = GatedRenderer()
    payload = bot.interaction("score")
    edited = _edit_of(bot, payload)
    call = await bot.command(payload)
    await within(renderer.started.wait())
    assert "/100" in _text(call) and not edited.done()  # answered while the card is still being drawn
    renderer.release.set()
    edit = await within(edited)
    assert edit.files["clout-score.png"].startswith(b"\x89PNG")


@pytest.mark.parametrize(("locale", "note"), CARD_NOTES)
async def test_score_failed_card_leaves_the_text_and_a_note(bot: Harness, locale: str, note: str) -> None:
    await _seed(bot)
    bot.app.commands.renderer = failing_renderer()
    payload = bot.interaction("score", locale="en-US" if locale == "en" else locale)
    edited = _edit_of(bot, payload)
    call = await bot.command(payload)
    edit = await within(edited)
    description = edit.json["embeds"][0]["description"]
    assert description.startswith(_data(call)["embeds"][0]["description"]) and description.endswith(note)
    assert not edit.files and "image" not in edit.json["embeds"][0]


async def test_score_of_a_member_picked_in_the_option(bot: Harness) -> None:
    await _seed(bot)
    call = await bot.command(bot.interaction("score", [_option("member", str(BOB), 6)], resolved=_resolved(BOB)))
    assert _data(call)["embeds"][0]["title"] == f"Clout score of Member {BOB}" and not _ephemeral(call)


async def test_score_global_is_ephemeral(bot: Harness) -> None:
    await _seed(bot)
    call = await bot.command(bot.interaction("score", [_option("scope", "global")]))
    assert _ephemeral(call) and "Global score" in _text(call)


async def test_score_context_menu(bot: Harness) -> None:
    await _seed(bot)
    call = await bot.command(bot.interaction("Clout score", command_type=2, target_id=BOB, resolved=_resolved(BOB)))
    assert _data(call)["embeds"][0]["title"] == f"Clout score of Member {BOB}" and not _ephemeral(call)


async def test_no_score_yet_is_a_private_hint(bot: Harness) -> None:
    call = await bot.command(bot.interaction("score"))
    assert _ephemeral(call) and "no score here yet" in _text(call)


async def test_leaderboard_pages_with_a_button(bot: Harness) -> None:
    await _seed(bot)
    payload = bot.interaction("leaderboard", [_option("period", "all")])
    call = await bot.command(payload)
    assert not _ephemeral(call) and "Page 1 of 2" in _text(call)
    buttons = [c for row in _data(call)["components"] for c in row["components"]]
    assert [b["label"] for b in buttons] == ["Next page"]
    message_id = bot.fake.response_messages[payload["id"]]
    press = await bot.command(bot.button(buttons[0]["custom_id"], message_id, user_id=BOB))
    assert press.json["type"] == 7  # UPDATE_MESSAGE: the board pages in place
    assert "Page 2 of 2" in _text(press)
    labels = [c["label"] for row in _data(press)["components"] for c in row["components"]]
    assert labels == ["Previous page"]


async def test_leaderboard_in_a_dm_is_refused(bot: Harness) -> None:
    call = await bot.command(bot.interaction("leaderboard", guild=None))
    assert _ephemeral(call) and "only in a community chat" in _text(call)


@pytest.mark.parametrize(("name", "options", "expected"), [
    ("privacy", [_option("choice", "hide")], "no longer appear on leaderboards"),
    ("privacy", [], "Use /privacy hide or /privacy show."),
    ("optout", [], "no longer scored in this community"),
    ("optin", [], "scored here"),
    ("weekly", [_option("choice", "on")], "personal summary every week"),
    ("link", [], "Your code:"),
    ("link", [_option("code", "NOTACODE1")], "does not look like a link code"),
])
async def test_private_commands_answer_ephemerally(bot: Harness, name: str, options: list[dict[str, Any]],
                                                   expected: str) -> None:
    call = await bot.command(bot.interaction(name, options))
    assert _ephemeral(call)
    assert expected in _text(call)


async def test_forgetme_asks_then_deletes(bot: Harness) -> None:
    await _seed(bot)
    ask = await bot.command(bot.interaction("forgetme"))
    assert _ephemeral(ask) and "cannot be undone" in _text(ask)
    buttons = [c for row in _data(ask)["components"] for c in row["components"]]
    assert buttons[0]["style"] == 4  # danger
    done = await bot.command(bot.interaction("forgetme", [_option("confirm", True, 5)]))
    assert _ephemeral(done) and "everything about you has been deleted" in _text(done)
    assert str(ALICE) not in await bot.app.store.member_names(REF)


async def test_mydata_attaches_the_json_file_privately(bot: Harness) -> None:
    await _seed(bot)
    call = await bot.command(bot.interaction("mydata"))
    assert _ephemeral(call)
    data = json.loads(call.files["clout-mydata.json"])
    assert data["user"] == {"platform": "discord", "id": str(ALICE)}
    assert data["communities"][0]["community"] == REF.key


async def test_help_is_public_and_lists_every_command(bot: Harness) -> None:
    call = await bot.command(bot.interaction("help"))
    assert not _ephemeral(call)
    for name in ("score", "leaderboard", "privacy", "optout", "optin", "forgetme", "mydata", "weekly", "link",
                 "settings", "help"):
        assert f"/{name}" in _text(call)


async def test_help_follows_the_members_discord_language(bot: Harness) -> None:
    call = await bot.command(bot.interaction("help", [_option("command", "score")], locale="de"))
    assert "Dein Score mit seinen Komponenten" in _text(call)
    english = await bot.command(bot.interaction("help", [_option("command", "score")]))
    assert "Your score with its components" in _text(english)


async def test_settings_refused_to_a_non_admin(bot: Harness) -> None:
    call = await bot.command(bot.interaction("settings", permissions=MEMBER_PERMISSIONS))
    assert _ephemeral(call) and "Only community admins can use /settings." in _text(call)


async def test_settings_admin_changes_a_value(bot: Harness) -> None:
    call = await bot.command(bot.interaction("settings", [_option("setting", "weekday"), _option("value", "fri")],
                                             permissions=MEMBER_PERMISSIONS | MANAGE_GUILD))
    assert "Friday" in _text(call) and not _ephemeral(call)
    assert (await bot.app.store.community_settings(REF)).weekday == "fri"


async def test_settings_exclude_by_channel_name_stores_the_channel_id(bot: Harness) -> None:
    await bot.command(bot.interaction("settings", [_option("setting", "exclude"), _option("value", "#random")],
                                      permissions=MANAGE_GUILD))
    assert (await bot.app.store.community_settings(REF)).excluded_channels == ("1002",)


async def test_settings_value_autocomplete_suggests_time_zones(bot: Harness) -> None:
    payload = bot.interaction("settings", [_option("setting", "timezone"),
                                           {"name": "value", "type": 3, "value": "europe/ber", "focused": True}],
                              permissions=MANAGE_GUILD)
    payload["type"] = 4  # APPLICATION_COMMAND_AUTOCOMPLETE
    call = await bot.command(payload)
    assert call.json["type"] == 8
    assert [c["value"] for c in call.json["data"]["choices"]] == ["Europe/Berlin"]


async def test_unknown_guild_member_option_is_not_a_traceback(bot: Harness) -> None:
    await _seed(bot)
    stranger = 999
    call = await bot.command(bot.interaction("score", [_option("member", str(stranger), 6)],
                                             resolved=_resolved(stranger)))
    assert _ephemeral(call) and "I found no member" in _text(call)


async def test_slow_command_is_deferred_then_followed_up(bot: Harness) -> None:
    bot.adapter.defer_after = 0.0  # every command counts as slow
    payload = bot.interaction("help")
    followup = bot.fake.wait_call(lambda c: c.method == "POST" and c.path == f"/webhooks/{payload['application_id']}/"
                                  f"{payload['token']}")
    call = await bot.command(payload)
    assert call.json["type"] == 5 and not _ephemeral(call)  # deferred, public: /help is public
    sent = await within(followup)
    assert "/leaderboard" in sent.json["embeds"][0]["description"]


def _followup_of(bot: Harness, payload: dict[str, Any]) -> tuple[str, Any]:
    """An interaction's webhook path, and the first follow-up message posted to it (a future)."""
    hook = f"/webhooks/{payload['application_id']}/{payload['token']}"
    return hook, bot.fake.wait_call(lambda c: c.method == "POST" and c.path == hook)


async def test_slow_score_is_followed_up_then_the_card_edited_into_the_followup(bot: Harness) -> None:
    await _seed(bot)
    bot.adapter.defer_after = 0.0
    payload = bot.interaction("score")
    hook, followup = _followup_of(bot, payload)
    edited = bot.fake.wait_call(lambda c: c.method == "PATCH" and c.path.startswith(f"{hook}/messages/"))
    await bot.command(payload)
    sent = await within(followup)
    assert "/100" in sent.json["embeds"][0]["description"] and not sent.files
    edit = await within(edited)
    assert bot.fake.calls.index(edit) > bot.fake.calls.index(sent)
    assert not edit.path.endswith("@original")  # the followup message, not the deferred "thinking" one
    assert edit.files["clout-score.png"].startswith(b"\x89PNG")


async def test_slow_private_answer_after_a_public_defer_stays_private(bot: Harness) -> None:
    bot.adapter.defer_after = 0.0
    payload = bot.interaction("settings", permissions=MEMBER_PERMISSIONS)  # refused: an error reply
    hook, followup = _followup_of(bot, payload)
    await bot.command(payload)
    sent = await within(followup)
    assert sent.json["flags"] & EPHEMERAL
    assert "Only community admins" in sent.json["embeds"][0]["description"]
    assert any(c.method == "DELETE" and c.path == f"{hook}/messages/@original" for c in bot.fake.calls)


async def test_forgetme_button_confirms_in_the_ephemeral_message(bot: Harness) -> None:
    await _seed(bot)
    ask_payload = bot.interaction("forgetme")
    ask = await bot.command(ask_payload)
    button = [c for row in _data(ask)["components"] for c in row["components"]][0]
    message_id = bot.fake.response_messages[ask_payload["id"]]
    press = await bot.command(bot.button(button["custom_id"], message_id, flags=EPHEMERAL))
    assert press.json["type"] == 7  # the ephemeral question is replaced by the answer
    assert "everything about you has been deleted" in _text(press)
    assert str(ALICE) not in await bot.app.store.member_names(REF)


async def test_leaderboard_buttons_are_disabled_when_the_view_times_out(bot: Harness) -> None:
    await _seed(bot)
    bot.adapter.button_timeout = 0.05
    payload = bot.interaction("leaderboard")
    hook = f"/webhooks/{payload['application_id']}/{payload['token']}/messages/@original"
    edited = bot.fake.wait_call(lambda c: c.method == "PATCH" and c.path == hook)
    await bot.command(payload)
    call = await within(edited)
    assert [c["disabled"] for row in call.json["components"] for c in row["components"]] == [True]
