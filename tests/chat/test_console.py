"""The console adapter: scripted lines become events through the real ingest path and commands."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from bot.console.adapter import ConsoleAdapter
from scoring.model import CommunityRef, Event, Kind
from tests.chat.conftest import REF, BuildChat, Chat


class Recorder:
    """Wraps the ingestor to see the events the console produces."""

    def __init__(self, chat: Chat) -> None:
        self.events: list[Event] = []
        self._inner = chat.ingestor.event
        chat.ingestor.event = self.event  # type: ignore[method-assign]

    async def event(self, ev: Event) -> bool:
        self.events.append(ev)
        return await self._inner(ev)


async def test_console_say_numbers_messages_and_resolves_mentions(chat: Chat) -> None:
    rec = Recorder(chat)
    out = await chat("hello @Bob and @carol, see https://example.org", "say as well")
    assert "#1 Alice: hello @Bob and @carol, see https://example.org" in out
    assert "#2 Alice: as well" in out
    first = rec.events[0]
    assert first.kind is Kind.MESSAGE and first.actor == "alice" and first.actor_name == "Alice"
    assert first.mentions == ("bob", "carol")
    assert first.has_link and first.length == len("hello @Bob and @carol, see https://example.org")
    assert first.channel == "general" and first.community == REF
    assert not hasattr(first, "text")


async def test_console_reply_react_unreact_delete(chat: Chat) -> None:
    rec = Recorder(chat)
    out = await chat("hello", "as Bob", "reply 1 hi Alice", "react 1 🎉", "unreact 1 🎉", "react #2", "delete 2")
    assert "#2 Bob ↩ #1: hi Alice" in out
    assert "Bob reacted 🎉 to #1" in out
    assert "Bob removed 🎉 from #1" in out
    assert "Bob reacted 👍 to #2" in out
    assert "#2 was deleted" in out
    kinds = [e.kind for e in rec.events]
    assert kinds == [Kind.MESSAGE, Kind.MESSAGE, Kind.REACTION_ADD, Kind.REACTION_REMOVE, Kind.REACTION_ADD,
                     Kind.MESSAGE_DELETE]
    reply = rec.events[1]
    assert reply.reply_to == rec.events[0].message_id and reply.reply_to_author == "alice"
    assert rec.events[2].target_author == "alice" and rec.events[2].emoji == "🎉"


async def test_console_events_reach_the_store_and_scores(chat: Chat) -> None:
    before = await chat.store.aggregates(REF, chat.clock() - timedelta(minutes=1), chat.clock() + timedelta(hours=1))
    assert list(before.pair_rows()) == []
    await chat("hello", "as Bob", "reply 1 welcome", "as Carol", "react 1")
    await chat.store.flush()
    after = await chat.store.aggregates(REF, chat.clock() - timedelta(minutes=1), chat.clock() + timedelta(hours=1))
    assert {(r.responder, r.target) for r in after.pair_rows()} == {("bob", "alice"), ("carol", "alice")}
    assert chat.service._dirty  # type: ignore[attr-defined]  # the refresher was told
    out = await chat("refresh")
    assert "Scores recomputed." in out


@pytest.mark.parametrize("line", ["reply 9 hi", "reply x hi", "reply 1", "react", "react 7", "delete 3", "delete"])
async def test_console_bad_message_numbers(chat: Chat, line: str) -> None:
    await chat("hello")
    out = await chat(line)
    assert "Usage:" in out


async def test_console_as_switches_and_creates_members(chat: Chat) -> None:
    out = await chat("as bob")
    assert "You are now Bob." in out
    out = await chat("as Zoë Quartz", "whoami")
    assert "Zoë Quartz joined the chat." in out
    assert "You are Zoë Quartz (zoë-quartz, member) in #general of console:demo." in out
    out = await chat("members")
    assert "Zoë Quartz" in out and "admin" in out and "you" in out
    out = await chat("hi @Zoë Quartz")
    assert "#1 Zoë Quartz: hi @Zoë Quartz" in out


async def test_console_channel_switch(chat: Chat) -> None:
    rec = Recorder(chat)
    out = await chat("channel #random", "hi")
    assert "You are in #random." in out
    assert rec.events[-1].channel == "random"
    assert "Usage: channel NAME" in await chat("channel bad/name")


async def test_console_dm_only_runs_commands(chat: Chat) -> None:
    rec = Recorder(chat)
    out = await chat("dm", "hello there", "whoami")
    assert "only commands work here" in out
    assert "the private chat with Clout" in out
    assert rec.events == []
    out = await chat("group", "whoami")
    assert "#general of console:demo" in out


async def test_console_press_without_buttons(chat: Chat) -> None:
    assert "There is no button 1." in await chat("press 1")
    await chat("/leaderboard")
    assert "There is no button 5." in await chat("press 5")


async def test_console_help_and_german_chrome(make_chat: BuildChat) -> None:
    chat = await make_chat()
    out = await chat("help")
    assert "reply to message number N" in out and "press button N of the last reply" in out
    out = await chat("lang de", "help", "whoami")
    assert "auf Nachricht Nummer N antworten" in out
    assert "Du bist Alice (alice, Admin) in #general von console:demo." in out
    out = await chat("/link")
    assert "(nur du siehst das)" in out


async def test_console_quit_and_slash_quit(chat: Chat) -> None:
    await chat("quit")
    assert chat.adapter.closed
    chat.adapter.closed = False
    await chat("/quit")
    assert chat.adapter.closed


async def test_console_run_reads_until_quit(chat: Chat) -> None:
    rec = Recorder(chat)
    await chat.adapter.run(io.StringIO("hello\nas Bob\nreply 1 hi\nquit\nnever said\n"))
    out = chat.output()
    assert "#1 Alice: hello" in out and "#2 Bob ↩ #1: hi" in out
    assert "never said" not in out
    assert len(rec.events) == 2


async def test_console_run_ends_at_end_of_input(chat: Chat) -> None:
    await chat.adapter.run(io.StringIO("/help\n"))
    assert "Clout commands" in chat.output()


async def test_console_for_community_loads_members_from_the_store(chat: Chat) -> None:
    adapter = await ConsoleAdapter.for_community(chat.commands, chat.ingestor, REF, console=chat.adapter.console,
                                                 clock=chat.clock)
    await adapter.handle_line("members")
    out = chat.output()
    assert "Xena" in out and "Alice" in out
    await adapter.handle_line("as Xena")
    await adapter.handle_line("/score")
    assert "Your Clout score" in chat.output()


async def test_console_works_on_any_community(make_chat: BuildChat) -> None:
    ref = CommunityRef("jsonl", "imported")
    chat = await make_chat(community=ref)
    out = await chat("/score", "/leaderboard")
    assert "Your Clout score" in out and "Leaderboard" in out


async def test_console_message_text_never_reaches_the_database(make_chat: BuildChat) -> None:
    chat = await make_chat(store="sqlite", seed=False)
    secret = "the quick brown fox jumps over the lazy dog 4711"
    await chat(secret, "as Bob", f"reply 1 {secret} again")
    await chat.store.flush()
    blob = b"".join(p.read_bytes() for p in chat.tmp.iterdir() if p.name.startswith("clout-0.db"))
    assert b"Alice" in blob  # names are stored, so the file was written
    assert secret.encode() not in blob
