"""/link through two consoles on two platforms: codes are private, single-use, expire, and cross platforms."""

from __future__ import annotations

import re

import pytest

from bot.chat.commands import LINK_ALPHABET
from scoring.model import CommunityRef, UserRef
from tests.chat.conftest import BuildChat, Chat

TELEGRAM = CommunityRef("telegram", "g1")


async def _code(chat: Chat) -> str:
    await chat("/link")
    reply = chat.adapter.last_reply
    assert reply is not None and reply.private
    m = re.search(r"Your code: (\w+)|Dein Code: (\w+)", reply.text[0])
    assert m is not None
    return m.group(1) or m.group(2)


async def test_commands_link_code_is_private_with_instructions(chat: Chat) -> None:
    out = await chat("/link")
    assert "(only you can see this)" in out
    assert "On your other platform, send /link" in out and "within 10 minutes" in out
    code = await _code(chat)
    assert len(code) == 8 and set(code) <= set(LINK_ALPHABET)
    assert not set(code) & set("0O1IL")


async def test_commands_link_codes_are_random(chat: Chat) -> None:
    assert len({await _code(chat) for _ in range(5)}) == 5


async def test_commands_link_redeemed_on_another_platform(chat: Chat) -> None:
    code = await _code(chat)
    telegram = chat.console(TELEGRAM, members=(("t-1", "Alice T"),))
    await telegram.handle_line(f"/link {code.lower()}")
    out = chat.output()
    assert "Linked: this account is now linked with your console account." in out
    assert await chat.store.linked_accounts(UserRef("telegram", "t-1")) == [UserRef("console", "alice")]


async def test_commands_link_code_is_single_use(chat: Chat) -> None:
    code = await _code(chat)
    telegram = chat.console(TELEGRAM, members=(("t-1", "Alice T"), ("t-2", "Mallory")))
    await telegram.handle_line(f"/link {code}")
    await telegram.handle_line("as Mallory")
    chat.output()
    await telegram.handle_line(f"/link {code}")
    out = chat.output()
    assert "That code did not work" in out
    assert await chat.store.linked_accounts(UserRef("telegram", "t-2")) == []


async def test_commands_link_code_expires(chat: Chat) -> None:
    code = await _code(chat)
    chat.clock.advance(minutes=10, seconds=1)
    telegram = chat.console(TELEGRAM, members=(("t-1", "Alice T"),))
    await telegram.handle_line(f"/link {code}")
    assert "That code did not work: it is unknown, already used or expired" in chat.output()
    assert await chat.store.linked_accounts(UserRef("console", "alice")) == []


async def test_commands_link_same_platform_refused(chat: Chat) -> None:
    code = await _code(chat)
    out = await chat("as Bob", f"/link {code}")
    assert "That code did not work" in out
    assert await chat.store.linked_accounts(UserRef("console", "bob")) == []


@pytest.mark.parametrize(("locale", "malformed", "unknown"), [
    ("en", "That does not look like a link code.", "That code did not work"),
    ("de", "Das sieht nicht nach einem Verknüpfungscode aus.", "Dieser Code hat nicht funktioniert"),
])
async def test_commands_link_bad_codes(make_chat: BuildChat, locale: str, malformed: str, unknown: str) -> None:
    chat = await make_chat(locale=locale)
    assert malformed in await chat("/link abc")
    assert malformed in await chat("/link 0OOOOOOO")
    assert unknown in await chat("/link ABCDEFGH")


async def test_commands_link_in_german(chat_de: Chat) -> None:
    out = await chat_de("/link")
    assert "Dein Code:" in out and "innerhalb von 10 Minuten" in out
