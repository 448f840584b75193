"""/score through the console: components in words, the week's change and why, the card, privacy, global."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from PIL import Image

from bot.chat.service import favour_event_loop
from scoring.engine import global_score
from scoring.model import CommunityRef, UserRef
from tests.chat.conftest import REF, BuildChat, Chat, seed_events
from tests.chat.renderers import CARD_NOTES, failing_renderer
from tests.factories import EventFactory


async def test_commands_score_shows_score_percentile_rank_and_components(chat: Chat) -> None:
    out = await chat("/score")
    ms = await chat.store.score_of(REF, "alice")
    assert ms is not None
    assert "Your Clout score" in out
    assert f"{ms.score}/100" in out
    assert "top " in out and "rank 1 of 24" in out
    assert "members responded to you" in out
    for label in ("Reach", "Resonance", "Network", "Activity"):
        assert label in out


async def test_commands_score_explains_the_week_change(chat: Chat) -> None:
    out = await chat("/score")
    ex = await chat.service.explanation(REF, "alice")
    assert ex is not None and ex.new_responders == 4
    assert "since last week" in out
    assert "4 of them new" in out
    assert "Components: reach +" in out
    assert "Who moved it:" in out and "(new)" in out


async def test_commands_score_in_german(chat_de: Chat) -> None:
    out = await chat_de("/score")
    assert "Dein Clout-Score" in out
    assert "Reichweite" in out and "Resonanz" in out and "Netzwerk" in out and "Aktivität" in out
    assert "seit letzter Woche" in out and "davon 4 neu" in out
    assert "Rang 1 von 24" in out


async def test_commands_score_community_language_german(make_chat: BuildChat) -> None:
    chat = await make_chat()
    await chat("/settings language de")
    out = await chat("/score")
    assert "Dein Clout-Score" in out


async def test_commands_score_attaches_an_800_by_400_card(chat: Chat) -> None:
    await chat("/score")
    reply = chat.adapter.last_reply
    assert reply is not None and reply.image is not None
    assert reply.image.mime == "image/png"
    path = chat.adapter.saved[-1]
    assert path.suffix == ".png"
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG" and image.size == (800, 400)


async def test_commands_score_card_line_follows_the_text(chat: Chat) -> None:
    out = await chat("/score")
    assert out.index("Reach") < out.index("Image saved to") and out.rstrip().endswith(".png")


async def test_commands_score_failed_card_leaves_the_text_and_a_note(make_chat: BuildChat) -> None:
    for locale, note in CARD_NOTES:
        chat = await make_chat(locale=locale)
        chat.commands.renderer = failing_renderer()
        out = await chat("/score")
        assert "/100" in out and out.index("/100") < out.index(note)
        assert "Image saved" not in out and not chat.adapter.saved
        reply = chat.adapter.last_reply
        assert reply is not None and not reply.error and reply.image is None


async def test_commands_score_of_another_member_by_name_mention_and_id(chat: Chat) -> None:
    for query in ("Bob", "@bob", "bob", "<@bob>", '"Bob"'):
        out = await chat(f"/score {query}")
        assert "Clout score of Bob" in out, query
        assert "members responded to Bob" in out
    assert chat.adapter.last_reply is not None and not chat.adapter.last_reply.private


async def test_commands_score_unknown_member(chat: Chat) -> None:
    out = await chat("/score Nobody")
    assert "I found no member called Nobody here." in out
    assert chat.adapter.last_reply is not None and chat.adapter.last_reply.error


async def test_commands_score_unknown_member_german(chat_de: Chat) -> None:
    out = await chat_de("/score Niemand")
    assert "Ich habe hier kein Mitglied namens Niemand gefunden." in out


async def test_commands_score_hidden_member_only_visible_to_themselves(chat: Chat) -> None:
    await chat("as Bob", "/privacy hide")
    own = await chat("/score")
    assert "Your Clout score" in own
    assert chat.adapter.last_reply is not None and chat.adapter.last_reply.private
    assert "(only you can see this)" in own
    other = await chat("as Carol", "/score Bob")
    assert "I found no member called Bob here." in other
    assert "Reach" not in other


async def test_commands_score_rank_counts_only_visible_members(chat: Chat) -> None:
    await chat("/privacy hide")  # Alice, first place, hides
    out = await chat("as Bob", "/score")
    assert "rank 1 of 23" in out


async def test_commands_score_member_without_score(chat: Chat) -> None:
    out = await chat("as Newbie", "/score")
    assert "You have no score here yet." in out
    out = await chat("say hi all", "as Alice", "/score Newbie")
    assert "Newbie has no score yet." in out


async def test_commands_score_in_a_dm_is_the_global_score(chat: Chat) -> None:
    out = await chat("dm", "/score")
    assert "Your global Clout score" in out
    assert "(only you can see this)" in out
    out = await chat("/score Bob")
    assert "Looking up a member works only in a community chat." in out


async def test_commands_score_global_combines_linked_accounts(chat: Chat) -> None:
    other_ref = CommunityRef("telegram", "g9")
    await chat.store.import_events(seed_events(other_ref))
    out = await chat("/link")
    code = chat.adapter.last_reply.text[0].split()[-1]  # type: ignore[union-attr]
    assert "(only you can see this)" in out
    telegram = chat.console(other_ref)
    await telegram.handle_line(f"/link {code}")
    out = chat.output()
    assert "Linked: this account is now linked with your console account." in out
    await telegram.handle_line("/score global")
    out = chat.output()
    here = await chat.store.score_of(REF, "alice")
    there = await chat.store.score_of(other_ref, "alice")
    assert here is not None and there is not None
    combined = global_score([here.influence, there.influence])
    assert combined >= max(here.score, there.score)
    assert f"Global score: {combined}/100, from 2 communities." in out
    assert "telegram" in out and "console" in out
    assert await chat.store.linked_accounts(UserRef("telegram", "alice")) == [UserRef("console", "alice")]


async def test_commands_score_global_without_links_suggests_link(chat: Chat) -> None:
    out = await chat("/score global")
    assert "from 1 community" in out
    assert "Use /link" in out


@pytest.fixture
def bot_switch_interval() -> Iterator[None]:
    """The GIL switch interval a bot process runs with (App.start sets it), restored afterwards."""
    before = sys.getswitchinterval()
    favour_event_loop()
    yield
    sys.setswitchinterval(before)


async def test_commands_score_answers_without_blocking_the_loop_during_a_big_refresh(
        make_chat: BuildChat, bot_switch_interval: None) -> None:
    chat = await make_chat(store="sqlite")
    # A bigger, busier month on top of the seed, so that the refresh takes a while.
    f = EventFactory(base=chat.clock() - timedelta(days=30), community=REF)
    big = []
    for day in range(30):
        for i in range(300):
            author = f"x{i}"
            mid = f"b{day}-{i}"
            big.append(f.msg(mid, author, timedelta(days=day, seconds=60 * i)))
            for k in (1, 7, 31):
                big.append(f.reply(f"{mid}-{k}", f"x{(i + k) % 300}", mid, timedelta(days=day, seconds=60 * i + k)))
    await chat.store.import_events(big)

    lags: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - t0 - 0.005)

    probe_task = asyncio.create_task(probe())
    refresh = asyncio.create_task(chat.service.refresh(REF))
    await asyncio.sleep(0)
    started = time.perf_counter()
    out = await chat("/score")
    answered = time.perf_counter() - started
    assert "Your Clout score" in out
    await refresh
    stop.set()
    await probe_task
    assert lags and max(lags) < 0.1, max(lags)
    assert answered < 5.0
