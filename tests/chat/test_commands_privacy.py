"""Privacy commands through the console: /forgetme (scanning every SQLite table), /optout at ingest,
/optin, /privacy, /mydata, /weekly."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from scoring.model import CommunityRef, UserRef
from tests.chat.conftest import REF, BuildChat, Chat


def _scan(db: Path, needles: tuple[str, ...]) -> list[tuple[str, tuple[object, ...]]]:
    """Every row of every table (sqlite_master) with a cell containing one of `needles` (case-insensitive)."""
    lowered = tuple(n.casefold() for n in needles)
    hits = []
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert tables
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for cell in row:
                    text = cell.decode("utf-8", "replace") if isinstance(cell, bytes) else str(cell)
                    if any(n in text.casefold() for n in lowered):
                        hits.append((table, row))
                        break
    return hits


async def test_commands_forgetme_leaves_no_row_naming_the_user(make_chat: BuildChat) -> None:
    chat = await make_chat(store="sqlite")
    db = chat.tmp / "clout-0.db"
    # Give Alice every kind of trace: live events, prefs, a pending link code and a linked account.
    await chat("hello @Bob", "as Bob", "reply 1 hi Alice", "react 1 🎉", "as Alice", "react 2",
               "/privacy hide", "/weekly on", "/score", "/link")
    other = chat.console(CommunityRef("telegram", "g1"), members=(("tg-77", "Telegram person"),))
    await chat("/link")
    code = chat.adapter.last_reply.text[0].split()[-1]  # type: ignore[union-attr]
    await other.handle_line(f"/link {code}")
    assert "Linked" in chat.output()
    await chat("refresh")
    await chat.store.flush()
    before = _scan(db, ("alice",))
    # The scan means something only if rows naming her were there, in several tables.
    assert len(before) > 20 and len({table for table, _ in before}) >= 4, before[:5]

    out = await chat("/forgetme")
    assert "(only you can see this)" in out and "[1] Yes, delete everything" in out
    out = await chat("press 1")
    assert "Done: everything about you has been deleted (1 community)." in out
    await chat("as Bob", "refresh")
    await chat.store.flush()
    assert _scan(db, ("alice",)) == []
    assert await chat.store.linked_accounts(UserRef("telegram", "tg-77")) == []
    # Bob's data is still there.
    assert await chat.store.score_of(REF, "bob") is not None


async def test_commands_forgetme_in_memory_and_german(chat_de: Chat) -> None:
    out = await chat_de("/forgetme")
    assert "Alle deine Daten löschen?" in out
    out = await chat_de("/forgetme bestätigen")
    assert "alles über dich wurde gelöscht" in out
    assert await chat_de.store.score_of(REF, "alice") is None
    names = await chat_de.store.member_names(REF)
    assert "alice" not in names


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", "There is nothing to confirm. Type /forgetme first."),
    ("de", "Es gibt nichts zu bestätigen. Tippe zuerst /forgetme."),
])
async def test_commands_forgetme_confirm_without_request(make_chat: BuildChat, locale: str, expected: str) -> None:
    chat = await make_chat(locale=locale)
    out = await chat("/forgetme confirm")
    assert expected in out
    assert await chat.store.score_of(REF, "alice") is not None


async def test_commands_forgetme_confirmation_expires_after_five_minutes(chat: Chat) -> None:
    await chat("/forgetme")
    chat.clock.advance(minutes=5, seconds=1)
    out = await chat("/forgetme confirm")
    assert "There is nothing to confirm." in out
    assert await chat.store.score_of(REF, "alice") is not None


async def test_commands_forgetme_confirmation_is_per_user(chat: Chat) -> None:
    await chat("/forgetme")
    out = await chat("as Bob", "/forgetme confirm")
    assert "There is nothing to confirm." in out
    assert await chat.store.score_of(REF, "bob") is not None


async def test_commands_forgetme_bad_argument(chat: Chat) -> None:
    out = await chat("/forgetme now")
    assert "Use /forgetme, then /forgetme confirm." in out


async def test_commands_optout_deletes_data_and_drops_later_events(chat: Chat) -> None:
    assert "(not counted)" not in await chat("before")  # the ingestor now has Alice's prefs cached
    out = await chat("/optout")
    assert "you are no longer scored in this community" in out
    assert await chat.store.score_of(REF, "alice") is None
    window = (chat.clock() - timedelta(days=30), chat.clock() + timedelta(days=1))
    await chat.store.flush()
    before = await chat.store.aggregates(REF, *window)

    out = await chat("hello everyone @Bob", "as Bob", "reply 2 hi @Alice", "react 2")
    assert out.count("(not counted)") == 1  # Alice's message; Bob's reply is kept without its link to her
    await chat.store.flush()
    after = await chat.store.aggregates(REF, *window)
    assert [r for r in after.member_rows() if r.user == "alice"] == [r for r in before.member_rows()
                                                                   if r.user == "alice"] == []
    assert [r for r in after.pair_rows() if "alice" in (r.target, r.responder)] == []
    assert chat.ingestor.dropped >= 1

    out = await chat("as Alice", "/score")
    assert "You opted out here" in out
    out = await chat("/leaderboard")
    assert "Alice" not in out


async def test_commands_optin_after_optout_scores_again(chat: Chat) -> None:
    await chat("/optout")
    out = await chat("/optin")
    assert "Welcome back" in out
    out = await chat("hello")
    assert "(not counted)" not in out
    out = await chat("/optin")
    assert "You are scored here already." in out


async def test_commands_optout_and_optin_in_german(chat_de: Chat) -> None:
    out = await chat_de("/optout")
    assert "deine Daten hier wurden gelöscht" in out
    out = await chat_de("/optin")
    assert "Willkommen zurück" in out


async def test_commands_optout_takes_no_arguments(chat: Chat) -> None:
    out = await chat("/optout please")
    assert "/optout takes no arguments." in out
    assert await chat.store.score_of(REF, "alice") is not None


async def test_commands_mydata_is_a_private_json_file(chat: Chat) -> None:
    out = await chat("/weekly on", "/mydata")
    reply = chat.adapter.last_reply
    assert reply is not None and reply.private and reply.file is not None
    assert reply.file.filename == "clout-mydata.json" and reply.file.mime == "application/json"
    assert isinstance(json.loads(reply.file.data), dict)
    assert "(only you can see this)" in out and "File saved to" in out
    assert json.loads(chat.adapter.saved[-1].read_text(encoding="utf-8")) == json.loads(reply.file.data)


async def test_commands_mydata_in_german(chat_de: Chat) -> None:
    out = await chat_de("/mydata")
    assert "Deine Daten" in out and "Datei gespeichert unter" in out


@pytest.mark.parametrize(("locale", "hide", "usage"), [
    ("en", "Done: you no longer appear on leaderboards", "Use /privacy hide or /privacy show."),
    ("de", "Erledigt: du erscheinst nicht mehr in Bestenlisten", "Nutze /privacy hide oder /privacy show."),
])
async def test_commands_privacy_hide_show_and_bad_argument(make_chat: BuildChat, locale: str, hide: str,
                                                           usage: str) -> None:
    chat = await make_chat(locale=locale)
    out = await chat("/privacy hide")
    assert hide in out
    assert (await chat.store.member_prefs(REF, "alice")).hidden
    out = await chat("/privacy maybe")
    assert usage in out
    await chat("/privacy show")
    assert not (await chat.store.member_prefs(REF, "alice")).hidden


async def test_commands_privacy_in_a_dm_is_refused(chat: Chat) -> None:
    out = await chat("dm", "/privacy hide")
    assert "works only in a community chat" in out


@pytest.mark.parametrize(("locale", "on", "off", "usage"), [
    ("en", "Done: you will get a personal summary every week.", "Done: no more personal weekly summaries.",
     "Use /weekly on or /weekly off."),
    ("de", "Erledigt: du bekommst jede Woche eine persönliche Zusammenfassung.",
     "Erledigt: keine persönlichen Wochenzusammenfassungen mehr.", "Nutze /weekly on oder /weekly off."),
])
async def test_commands_weekly_on_off(make_chat: BuildChat, locale: str, on: str, off: str, usage: str) -> None:
    chat = await make_chat(locale=locale)
    assert on in await chat("/weekly on")
    assert await chat.store.weekly_subscribers(REF) == ["alice"]
    assert (await chat.store.member_prefs(REF, "alice")).locale == locale
    assert off in await chat("/weekly off")
    assert await chat.store.weekly_subscribers(REF) == []
    assert usage in await chat("/weekly sometimes")
