"""The chat layer under load: what keeps /score and /leaderboard fast while a refresh and live ingest run.

A ranking built while a save is in flight uses the table being saved (never a read of the whole
board); /score answers from the cached ranking with few store trips; ingest in an open community
reads no member preferences for members who have none; the service freezes its tables out of the
garbage collector's way.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Iterator

import pytest

from bot.chat.commands import STORED_RUN_TTL, Commands
from bot.chat.ingest import Ingestor
from bot.chat.reply import Context
from bot.chat.service import ScoreService
from storage.base import MemberPrefs
from storage.memory import MemoryStore
from tests.chat.conftest import NOW, REF, Chat, seed_events
from tests.factories import EventFactory


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()  # tests share a process: give frozen objects back to the collector


class _Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _stack(*, freeze_gc: bool = False,
                 monotonic: _Monotonic | None = None) -> tuple[MemoryStore, ScoreService, Commands]:
    store = MemoryStore()
    await store.open()
    await store.import_events(seed_events())
    service = ScoreService(store, clock=lambda: NOW, min_interval=0.0, freeze_gc=freeze_gc)
    commands = Commands(store, service, clock=lambda: NOW, monotonic=monotonic or _Monotonic())
    return store, service, commands


def _count_calls(store: MemoryStore, *names: str) -> Counter[str]:
    calls: Counter[str] = Counter()
    for name in names:
        original = getattr(store, name)

        def counted(*args: object, _name: str = name, _original: object = original, **kw: object) -> object:
            calls[_name] += 1
            return _original(*args, **kw)  # type: ignore[operator]

        setattr(store, name, counted)
    return calls


async def test_ranking_built_while_the_save_is_in_flight_uses_the_table_being_saved() -> None:
    store, service, commands = await _stack()
    await service.refresh(REF)
    await commands._ranking(REF, "all")
    committed, release = asyncio.Event(), asyncio.Event()
    original_save = store.save_scores

    async def slow_save(*args: object, **kw: object) -> None:
        await original_save(*args, **kw)  # type: ignore[arg-type]
        committed.set()  # the new run is stored; the call has not returned to the service yet
        await release.wait()

    store.save_scores = slow_save  # type: ignore[method-assign]
    calls = _count_calls(store, "leaderboard")
    refresh = asyncio.create_task(service.refresh(REF, as_of=NOW.replace(hour=13)))
    await asyncio.wait_for(committed.wait(), 5)
    ranking = await commands._ranking(REF, "all")
    release.set()
    await asyncio.wait_for(refresh, 5)
    stored = await store.stored_scores(REF, "all")
    assert stored is not None and stored.as_of == NOW.replace(hour=13)
    assert calls["leaderboard"] == 0
    assert [m.user for m in ranking.members] == [m.user for m in await store.leaderboard(REF, "all", 0, 0)]


async def test_saved_table_matches_only_the_stored_run() -> None:
    store, service, _ = await _stack()
    table = await service.refresh(REF)
    assert service.saved_table(REF, "all", table.as_of, len(table)) is table
    assert service.saved_table(REF, "all", table.as_of, len(table) + 1) is None
    assert service.saved_table(REF, "all", NOW.replace(hour=1), len(table)) is None
    service.forget(REF)
    assert service.saved_table(REF, "all", table.as_of, len(table)) is None


async def test_ensure_fresh_reads_the_store_once_per_community() -> None:
    store, service, _ = await _stack()
    await service.refresh(REF)
    calls = _count_calls(store, "stored_scores")
    for _ in range(3):
        await service.ensure_fresh(REF)
    assert calls["stored_scores"] == 0
    service.forget(REF)  # after a deletion the store is asked again
    await service.ensure_fresh(REF)
    assert calls["stored_scores"] == 1


async def test_score_answers_from_the_cached_ranking_with_few_store_reads() -> None:
    clock = _Monotonic()
    store, service, commands = await _stack(monotonic=clock)
    await service.refresh(REF)
    await commands.warm(REF)
    calls = _count_calls(store, "score_of", "invisible_members", "leaderboard", "names_of", "stored_scores",
                         "community_settings", "score_history")
    alice = Context("console", "alice", NOW, community=REF, name="Alice")
    reply = await commands.handle(alice, "/score")
    assert not reply.error and reply.image is None and reply.later is not None
    assert "rank 1 of 24" in reply.plain
    # The text: the stored run is the one warm() just read, one names lookup (target and movers
    # together; no ingestor here, so the settings are read too); the card, which follows, reads
    # the history.
    assert calls == Counter({"names_of": 1, "community_settings": 1})
    card = await reply.later.result()
    assert card is not None and card.data.startswith(b"\x89PNG")
    assert calls["score_history"] == 1
    await commands.handle(alice, "/score")  # again: the names are known too
    assert calls["names_of"] == 1 and calls["stored_scores"] == 0
    clock.now += STORED_RUN_TTL  # after a while the stored run is checked again (another process may save)
    await commands.handle(alice, "/score")
    assert calls["stored_scores"] == 1 and calls["names_of"] == 1


async def test_a_run_saved_elsewhere_shows_after_the_stored_run_ttl() -> None:
    clock = _Monotonic()
    store, service, commands = await _stack(monotonic=clock)
    await service.refresh(REF)
    ctx = Context("console", "alice", NOW, community=REF)
    before = (await commands.handle(ctx, "/leaderboard")).plain
    other = ScoreService(store, clock=lambda: NOW, min_interval=0.0, freeze_gc=False)  # another process
    await store.set_member_prefs(REF, "alice", MemberPrefs(hidden=True))  # e.g. /privacy hide over there
    await other.refresh(REF, as_of=NOW.replace(hour=13))
    assert (await commands.handle(ctx, "/leaderboard")).plain == before  # within the TTL: the run read before
    clock.now += STORED_RUN_TTL
    after = (await commands.handle(ctx, "/leaderboard")).plain
    assert "Alice" in before and "Alice" not in after


async def test_score_card_is_made_once_per_member_stored_run_and_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    store, service, commands = await _stack()
    await service.refresh(REF)
    rendered: list[str] = []
    real = commands.renderer.render

    async def counting(card: object, tr: object) -> bytes:
        rendered.append(tr.locale)  # type: ignore[attr-defined]
        return await real(card, tr)  # type: ignore[arg-type]

    monkeypatch.setattr(commands.renderer, "render", counting)
    calls = _count_calls(store, "score_history")

    async def card(user: str, locale: str | None = None) -> bytes:
        reply = await commands.handle(Context("console", user, NOW, community=REF, locale=locale), "/score")
        assert reply.later is not None
        made = await reply.later.result()
        assert made is not None
        return made.data

    first = await card("alice")
    assert await card("alice") == first  # asked again: the same card, no render, no history read
    assert rendered == ["en"] and calls["score_history"] == 1
    await card("alice", "de")  # another language: another card
    await card("bob")
    assert rendered == ["en", "de", "en"]
    await service.refresh(REF, as_of=NOW.replace(hour=13))  # a new stored run: cards are made anew
    await card("alice")
    assert rendered == ["en", "de", "en", "en"]
    await commands.handle(Context("console", "carol", NOW, community=REF), "/privacy hide")  # ranks change
    await card("alice")
    assert len(rendered) == 5


async def test_score_of_a_member_outside_the_ranking_falls_back_to_the_store() -> None:
    store, service, commands = await _stack()
    await service.refresh(REF)
    calls = _count_calls(store, "score_of")
    reply = await commands.handle(Context("console", "newcomer", NOW, community=REF, name="Newcomer"), "/score")
    assert "no score here yet" in reply.plain
    assert calls["score_of"] == 1


async def test_refresh_freezes_big_tables_out_of_full_collections() -> None:
    gc.unfreeze()
    _, service, _ = await _stack(freeze_gc=True)
    service.freeze_min_members = 1
    await service.refresh(REF)
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    _, service, _ = await _stack(freeze_gc=True)  # the seeded community is small: nothing to freeze
    await service.refresh(REF)
    assert gc.get_freeze_count() == 0
    _, service, _ = await _stack(freeze_gc=False)
    service.freeze_min_members = 1
    await service.refresh(REF)
    assert gc.get_freeze_count() == 0


async def test_frozen_garbage_is_reclaimed_once_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    store = MemoryStore()
    await store.open()
    await store.import_events(seed_events())
    service = ScoreService(store, clock=lambda: NOW, min_interval=0.0, monotonic=lambda: now[0])
    service.freeze_min_members = 1
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collections.append(generation) or 0)
    await service.refresh(REF)
    assert collections == []
    now[0] = 3_601.0
    await service.refresh(REF)
    assert collections == [2]  # once, at the first freeze after the hour
    assert gc.get_freeze_count() > 0


async def test_open_community_ingest_reads_prefs_only_of_hidden_or_opted_out_members(chat: Chat) -> None:
    await chat.store.set_member_prefs(REF, "bob", MemberPrefs(opted_out=True))
    await chat.store.set_member_prefs(REF, "carol", MemberPrefs(hidden=True))
    ingestor = Ingestor(chat.store, chat.service)
    calls = _count_calls(chat.store, "member_prefs")  # type: ignore[arg-type]
    f = EventFactory(base=NOW, community=REF)
    kept = [await ingestor.event(f.msg(f"live-{i}", user, i)) for i, user in
            enumerate(("dave", "erin", "dave", "bob", "carol", "frank"))]
    assert kept == [True, True, True, False, True, True]
    assert calls["member_prefs"] == 2  # bob and carol only, each once
    assert ingestor.dropped == 1


async def test_ingest_sees_an_opt_out_after_invalidate(chat: Chat) -> None:
    ingestor = Ingestor(chat.store, chat.service)
    f = EventFactory(base=NOW, community=REF)
    assert await ingestor.event(f.msg("live-1", "dave", 1))
    await chat.store.set_member_prefs(REF, "dave", MemberPrefs(opted_out=True))
    ingestor.invalidate(REF)
    assert not await ingestor.event(f.msg("live-2", "dave", 2))


async def test_collector_pauses_while_a_big_community_is_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.chat.service

    seen: list[bool] = []
    real = bot.chat.service.compute

    def compute(*args: object, **kw: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.chat.service, "compute", compute)
    _, service, _ = await _stack(freeze_gc=True)
    service.freeze_min_members = 1
    await service.refresh(REF)  # first sight: its size is unknown, the collector runs
    assert seen[0] is True
    seen.clear()
    await service.refresh(REF, as_of=NOW.replace(hour=13))  # now known to be big: paused
    assert seen and not any(seen)
    assert gc.isenabled()
    _, small, _ = await _stack(freeze_gc=True)  # a small community never pauses it
    await small.refresh(REF)
    seen.clear()
    await small.refresh(REF, as_of=NOW.replace(hour=13))
    assert seen and all(seen)
