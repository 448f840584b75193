"""The command layer's general behaviour: parsing, /help, unknown commands, limits, rate limiting, errors."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.chat.commands import COMMANDS, MAX_ARG, MAX_LINE, Commands
from bot.chat.ratelimit import RateLimiter
from bot.chat.reply import Context
from bot.i18n import translator
from tests.chat.conftest import NOW, REF, BuildChat, Chat


def _ctx(**kw: object) -> Context:
    base = dict(platform="console", user="alice", now=NOW, community=REF, channel="general", name="Alice")
    return Context(**{**base, **kw})  # type: ignore[arg-type]


async def test_commands_help_lists_every_command(chat: Chat) -> None:
    out = await chat("/help")
    assert "Clout commands" in out
    for name in ("score", "leaderboard", "privacy", "optout", "optin", "forgetme", "mydata", "weekly", "link",
                 "settings", "help"):
        assert f"/{name}" in out
    assert "/score [member|global]" in out


async def test_commands_help_in_german(chat_de: Chat) -> None:
    out = await chat_de("/help")
    assert "Clout-Befehle" in out
    assert "/score [Mitglied|global]" in out
    assert "Dein Score" in out


async def test_commands_help_for_one_command(chat: Chat) -> None:
    out = await chat("/help leaderboard")
    assert "/leaderboard [week|month|all] [page]" in out
    assert "hidden and opted-out members never appear" in out
    out = await chat("/help nothing")
    assert "I do not know that command." in out


def test_commands_docstrings_are_the_help_texts() -> None:
    for spec in COMMANDS.values():
        assert getattr(Commands, spec.method).__doc__ == spec.help
        assert translator("de").gettext(spec.help) != spec.help, spec.name


@pytest.mark.parametrize(("line", "en", "de"), [
    ("/frobnicate", "I do not know that command. Type /help to see all commands.",
     "Diesen Befehl kenne ich nicht. Tippe /help für alle Befehle."),
    ("/leaderbord", "Did you mean /leaderboard?", "Meintest du /leaderboard?"),
])
async def test_commands_unknown_command_suggests_help(make_chat: BuildChat, line: str, en: str, de: str) -> None:
    for locale, expected in (("en", en), ("de", de)):
        chat = await make_chat(locale=locale)
        out = await chat(line)
        assert expected in out
        assert chat.adapter.last_reply is not None and chat.adapter.last_reply.error


async def test_commands_names_are_case_insensitive_and_accept_bot_suffix(chat: Chat) -> None:
    for line in ("/HELP", "/Help@CloutBot", "/help@clout_bot"):
        assert "Clout commands" in await chat(line)


async def test_commands_handle_without_slash_and_dispatch(chat: Chat) -> None:
    reply = await chat.commands.handle(_ctx(), "help")
    assert reply.title == "Clout commands"
    reply = await chat.commands.dispatch(_ctx(), "leaderboard", ["week", "2"])
    assert reply.title == "Leaderboard: last 7 days" and "Page 2 of 3" in reply.text


async def test_commands_empty_line(chat: Chat) -> None:
    reply = await chat.commands.handle(_ctx(), "   ")
    assert reply.error and "Type /help" in reply.plain


@pytest.mark.parametrize(("locale", "arg", "line"), [
    ("en", "An argument is too long (at most 64 characters).", "That command is too long (at most 300 characters)."),
    ("de", "Ein Argument ist zu lang (höchstens 64 Zeichen).", "Dieser Befehl ist zu lang (höchstens 300 Zeichen)."),
])
async def test_commands_overlong_arguments_refused(make_chat: BuildChat, locale: str, arg: str, line: str) -> None:
    chat = await make_chat(locale=locale)
    assert arg in await chat("/score " + "x" * (MAX_ARG + 1))
    assert line in await chat("/score " + " ".join(["x"] * (MAX_LINE // 2 + 1)))
    assert arg in await chat("/settings timezone " + "Europe/" + "B" * MAX_ARG)
    reply = await chat.commands.dispatch(_ctx(locale=locale), "score", ["y" * 500])
    assert reply.error and arg in reply.plain


async def test_commands_too_many_arguments(chat: Chat) -> None:
    out = await chat("/leaderboard " + " ".join(["1"] * 20))
    assert "Too many arguments." in out


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "You are sending commands too quickly."),
    ("de", "Du sendest Befehle zu schnell."),
])
async def test_commands_rate_limit_refuses_sixth_command_then_recovers(make_chat: BuildChat, locale: str,
                                                                      expected: str) -> None:
    chat = await make_chat(locale=locale, rate=(5, 10.0))
    for _ in range(5):
        out = await chat("/help")
        assert expected not in out
    out = await chat("/help")
    assert expected in out
    assert chat.adapter.last_reply is not None and chat.adapter.last_reply.error
    out = await chat("as Bob", "/help")  # another member is not limited
    assert expected not in out
    chat.clock.advance(seconds=9.9)
    assert expected in await chat("as Alice", "/help")
    chat.clock.advance(seconds=0.2)
    assert expected not in await chat("/help")


def test_ratelimit_sliding_window_and_bounded_memory() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 10.0, clock=lambda: now[0], max_keys=3)
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.retry_after("a") == pytest.approx(10.0)
    now[0] = 5.0
    assert not limiter.allow("a")
    now[0] = 10.0
    assert limiter.allow("a")  # the first call left the window
    for key in "bcdef":
        limiter.allow(key)
    assert len(limiter) <= 3
    now[0] = 100.0
    limiter.allow("z")
    assert len(limiter) == 1  # idle keys are evicted


async def test_commands_unexpected_error_is_logged_and_apologised(chat: Chat, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(chat.store, "names_of", broken)
    with caplog.at_level(logging.ERROR, logger="bot.chat.commands"):
        out = await chat("/score")
    assert "Sorry, something went wrong on my side. Please try again later." in out
    assert "database on fire" not in out
    assert any(r.exc_info and "database on fire" in str(r.exc_info[1]) for r in caplog.records)


async def test_commands_unexpected_error_in_german(chat_de: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(chat_de.store, "export_user", broken)
    assert "Entschuldigung, bei mir ist etwas schiefgegangen." in await chat_de("/mydata")


async def test_commands_cancellation_is_not_swallowed(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    async def cancelled(*args: object, **kw: object) -> None:
        raise asyncio.CancelledError

    monkeypatch.setattr(chat.store, "export_user", cancelled)
    with pytest.raises(asyncio.CancelledError):
        await chat.commands.handle(_ctx(), "/mydata")
