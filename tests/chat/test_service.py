"""The score service: the refresh loop coalesces bursts, notifies listeners, and keeps explanations."""

from __future__ import annotations

import asyncio

from bot.chat.commands import Commands
from bot.chat.service import ScoreService
from storage.memory import MemoryStore
from tests.chat.conftest import NOW, REF, seed_events


async def _service() -> tuple[MemoryStore, ScoreService]:
    store = MemoryStore()
    await store.open()
    await store.import_events(seed_events())
    return store, ScoreService(store, clock=lambda: NOW, min_interval=0.0)


async def test_service_loop_coalesces_dirty_marks_into_one_refresh() -> None:
    store, service = await _service()
    task = asyncio.create_task(service.run())
    for _ in range(5):
        service.mark_dirty(REF)
    await service.wait_idle()
    task.cancel()
    assert service.refreshes == 1
    assert (await store.stored_scores(REF, "all")) is not None
    assert {p: (await store.stored_scores(REF, p)) is not None for p in ("week", "month")} == {"week": True,
                                                                                             "month": True}


async def test_service_refresh_notifies_listeners_and_warms_rankings() -> None:
    store, service = await _service()
    commands = Commands(store, service, clock=lambda: NOW)
    service.listeners.append(commands.warm)
    await service.refresh(REF)
    assert {key[1] for key in commands._rankings if key[0] == REF} == {"all", "week", "month"}


async def test_service_failing_listener_does_not_break_refresh() -> None:
    store, service = await _service()

    async def broken(ref: object) -> None:
        raise RuntimeError("boom")

    service.listeners.append(broken)
    table = await service.refresh(REF)
    assert len(table) > 0 and service.refreshes == 1


async def test_service_backfills_weekly_history_for_a_new_community() -> None:
    store, service = await _service()
    await service.refresh(REF)
    history = await store.score_history(REF, "alice", NOW.replace(year=NOW.year - 1))
    assert len(history) >= 3  # weekly snapshots back to the first event, plus today


async def test_service_explanation_names_new_responders() -> None:
    store, service = await _service()
    await service.refresh(REF)
    ex = await service.explanation(REF, "alice")
    assert ex is not None and ex.new_responders >= 4
    assert await service.explanation(REF, "nobody") is None


async def test_ranking_built_across_a_preference_change_is_not_cached() -> None:
    store, service = await _service()
    commands = Commands(store, service, clock=lambda: NOW)
    await service.refresh(REF)
    original = store.invisible_members

    async def racing(ref):  # a /privacy hide lands while the ranking is being built
        commands._changed(ref)
        return await original(ref)

    store.invisible_members = racing  # type: ignore[method-assign]
    ranking = await commands._ranking(REF, "all")
    assert ranking.members
    assert (REF, "all") not in commands._rankings


async def test_stale_ranking_is_served_while_the_new_one_builds() -> None:
    store, service = await _service()
    commands = Commands(store, service, clock=lambda: NOW)
    await service.refresh(REF)
    first = await commands._ranking(REF, "all")
    await service.refresh(REF)  # new stamp: the cached ranking is out of date
    commands._building.add((REF, "all"))  # as if warm() were rebuilding it right now
    assert await commands._ranking(REF, "all") is first
