"""/leaderboard through the console: paging, buttons, periods, and who never appears."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.chat.conftest import IDS, NAMES, REF, BuildChat, Chat


def _listed(chat: Chat) -> list[str]:
    reply = chat.adapter.last_reply
    assert reply is not None and reply.table is not None
    return [row[1] for row in reply.table.rows]


async def _all_pages(chat: Chat, period: str = "all") -> list[str]:
    names: list[str] = []
    page = 1
    while True:
        await chat(f"/leaderboard {period} {page}")
        reply = chat.adapter.last_reply
        assert reply is not None and not reply.error, reply
        names += _listed(chat)
        if not any(b.command.endswith(f" {page + 1}") for b in reply.buttons):
            return names
        page += 1


async def test_commands_leaderboard_first_page_has_ten_ranked_rows(chat: Chat) -> None:
    out = await chat("/leaderboard")
    assert "Leaderboard: last 90 days" in out
    assert "Page 1 of 3" in out
    reply = chat.adapter.last_reply
    assert reply is not None and reply.table is not None
    assert [row[0] for row in reply.table.rows] == [str(i) for i in range(1, 11)]
    assert reply.table.rows[0][1] == "Alice"
    assert [b.command for b in reply.buttons] == ["leaderboard all 2"]
    assert "[1] Next page" in out


async def test_commands_leaderboard_buttons_page_forward_and_back(chat: Chat) -> None:
    await chat("/leaderboard week")
    out = await chat("press 1")
    assert "Leaderboard: last 7 days" in out and "Page 2 of 3" in out
    assert "[1] Previous page  [2] Next page" in out
    assert chat.adapter.last_reply.table.rows[0][0] == "11"  # type: ignore[union-attr]
    out = await chat("press 2")
    assert "Page 3 of 3" in out
    out = await chat("press 1")
    assert "Page 2 of 3" in out


async def test_commands_leaderboard_lists_everyone_once(chat: Chat) -> None:
    names = await _all_pages(chat)
    assert sorted(names) == sorted(NAMES)


@pytest.mark.parametrize("period", ["week", "month", "all"])
async def test_commands_leaderboard_periods(chat: Chat, period: str) -> None:
    out = await chat(f"/leaderboard {period}")
    days = {"week": 7, "month": 30, "all": 90}[period]
    assert f"Leaderboard: last {days} days" in out


async def test_commands_leaderboard_hidden_and_opted_out_never_listed(chat: Chat) -> None:
    await chat("as Bob", "/privacy hide", "as Carol", "/optout")
    for period in ("week", "month", "all"):
        names = await _all_pages(chat, period)
        assert "Bob" not in names and "Carol" not in names
        assert len(names) == 22
    reply = chat.adapter.last_reply
    await chat("/leaderboard")
    reply = chat.adapter.last_reply
    assert reply is not None and reply.table is not None
    assert [row[0] for row in reply.table.rows][:3] == ["1", "2", "3"]  # ranks among visible members


async def test_commands_leaderboard_show_again_after_privacy_show(chat: Chat) -> None:
    await chat("as Bob", "/privacy hide", "/privacy show")
    assert "Bob" in await _all_pages(chat)


async def test_commands_leaderboard_optin_mode_hides_members_who_did_not_join(chat: Chat) -> None:
    await chat("/settings mode optin")
    out = await chat("/leaderboard")
    assert "Nobody has a score here yet." in out
    await chat("as Dave", "/optin", "as Erin", "/optin")
    assert sorted(await _all_pages(chat)) == ["Dave", "Erin"]


async def test_commands_leaderboard_optin_mode_drops_events_of_members_who_did_not_join(chat: Chat) -> None:
    await chat("/settings mode optin", "as Dave", "/optin")
    out = await chat("as Bob", "hello @Dave")
    assert "(not counted)" in out
    out = await chat("as Dave", "reply 1 hi @Bob")
    assert "(not counted)" not in out
    await chat.store.flush()
    agg = await chat.store.aggregates(REF, chat.clock() - timedelta(minutes=1), chat.clock() + timedelta(hours=1))
    assert [r.user for r in agg.member_rows()] == ["dave"]
    assert list(agg.pair_rows()) == []  # the reply's and the mention's links to Bob were removed


@pytest.mark.parametrize(("line", "en", "de"), [
    ("/leaderboard 0", "Page numbers start at 1.", "Seitenzahlen beginnen bei 1."),
    ("/leaderboard -3", "Page numbers start at 1.", "Seitenzahlen beginnen bei 1."),
    ("/leaderboard 99", "There is no page 99: the leaderboard has 3 pages.",
     "Seite 99 gibt es nicht: die Bestenliste hat 3 Seiten."),
    ("/leaderboard year", "Use /leaderboard [week|month|all] [page]",
     "Nutze /leaderboard [week|month|all] [Seite]"),
])
async def test_commands_leaderboard_bad_page(make_chat: BuildChat, line: str, en: str, de: str) -> None:
    for locale, expected in (("en", en), ("de", de)):
        chat = await make_chat(locale=locale)
        out = await chat(line)
        assert expected in out, out
        assert chat.adapter.last_reply is not None and chat.adapter.last_reply.error


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "This command works only in a community chat, not in a private chat with me."),
    ("de", "Dieser Befehl funktioniert nur im Chat einer Community, nicht im privaten Chat mit mir."),
])
async def test_commands_leaderboard_in_a_dm_is_refused(make_chat: BuildChat, locale: str, expected: str) -> None:
    chat = await make_chat(locale=locale)
    out = await chat("dm", "/leaderboard")
    assert expected in out


async def test_commands_leaderboard_german_titles(chat_de: Chat) -> None:
    out = await chat_de("/leaderboard woche")
    assert "Bestenliste: letzte 7 Tage" in out and "Seite 1 von 3" in out
    assert "Nächste Seite" in out


async def test_commands_leaderboard_empty_community(make_chat: BuildChat) -> None:
    chat = await make_chat(seed=False)
    out = await chat("/leaderboard")
    assert "Nobody has a score here yet." in out


async def test_commands_leaderboard_names_fall_back_to_ids(chat: Chat) -> None:
    await chat("/leaderboard")
    assert all(re.fullmatch(r"[A-Z][a-z]+", name) for name in _listed(chat))
    assert set(IDS) >= {n.lower() for n in _listed(chat)}
