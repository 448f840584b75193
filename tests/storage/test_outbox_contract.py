"""The OutboxStore contract (weekly-summary outbox, runs, per-channel responders), run against every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scoring.model import CommunityRef, UserRef
from storage import records
from storage.base import MemberPrefs
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.factories import BASE, COMMUNITY, EventFactory
from tests.storage.conftest import Write

Backend = MemoryStore | SqliteStore

WEEK = "2026-W10"
NOW = BASE + timedelta(days=7)
OTHER = CommunityRef("test", "c2")


async def test_outbox_enqueue_adds_pending_rows_once(store: Backend) -> None:
    assert await store.outbox_enqueue(COMMUNITY, WEEK, [("general", "digest"), ("bob", "personal"),
                                                        ("alice", "personal")]) == 3
    assert await store.outbox_enqueue(COMMUNITY, WEEK, [("alice", "personal"), ("carol", "personal")]) == 1
    items = await store.outbox_items(COMMUNITY, WEEK)
    assert [(i.kind, i.recipient, i.state, i.attempts) for i in items] == [
        ("digest", "general", "pending", 0), ("personal", "alice", "pending", 0),
        ("personal", "bob", "pending", 0), ("personal", "carol", "pending", 0)]
    assert items[1].nonce == records.nonce(COMMUNITY.key, WEEK, "alice", "personal")
    assert len({i.nonce for i in items}) == 4 and all(len(i.nonce) <= 25 for i in items)
    assert await store.outbox_items(COMMUNITY, "2026-W11") == []
    assert await store.outbox_items(OTHER, WEEK) == []


async def test_outbox_enqueue_rejects_an_unknown_kind(store: Backend) -> None:
    with pytest.raises(ValueError):
        await store.outbox_enqueue(COMMUNITY, WEEK, [("bob", "newsletter")])


async def test_outbox_claim_is_exclusive_and_counts_attempts(store: Backend) -> None:
    await store.outbox_enqueue(COMMUNITY, WEEK, [("bob", "personal")])
    first = await store.outbox_claim(COMMUNITY, WEEK, "bob", "personal", NOW)
    assert first is not None and first.state == "claimed" and first.attempts == 1 and first.claimed_at == NOW
    assert await store.outbox_claim(COMMUNITY, WEEK, "bob", "personal", NOW) is None  # already claimed
    assert await store.outbox_claim(COMMUNITY, WEEK, "nobody", "personal", NOW) is None
    assert await store.outbox_claim(OTHER, WEEK, "bob", "personal", NOW) is None
    await store.outbox_mark(COMMUNITY, WEEK, "bob", "personal", "pending", NOW)  # released for a retry
    again = await store.outbox_claim(COMMUNITY, WEEK, "bob", "personal", NOW + timedelta(seconds=1))
    assert again is not None and again.attempts == 2 and again.nonce == first.nonce


async def test_outbox_mark_final_states_are_not_claimable(store: Backend) -> None:
    await store.outbox_enqueue(COMMUNITY, WEEK, [("bob", "personal"), ("carol", "personal"), ("general", "digest")])
    for recipient, kind in (("bob", "personal"), ("carol", "personal"), ("general", "digest")):
        assert await store.outbox_claim(COMMUNITY, WEEK, recipient, kind, NOW) is not None
    await store.outbox_mark(COMMUNITY, WEEK, "bob", "personal", "sent", NOW)
    await store.outbox_mark(COMMUNITY, WEEK, "carol", "personal", "unreachable", NOW, detail="unreachable")
    await store.outbox_mark(COMMUNITY, WEEK, "general", "digest", "gone", NOW, detail="destination_gone")
    sent = await store.outbox_items(COMMUNITY, WEEK, state="sent")
    assert [(i.recipient, i.done_at) for i in sent] == [("bob", NOW)]
    (carol,) = await store.outbox_items(COMMUNITY, WEEK, kind="personal", state="unreachable")
    assert carol.recipient == "carol" and carol.detail == "unreachable"
    assert [i.recipient for i in await store.outbox_items(COMMUNITY, WEEK, kind="digest")] == ["general"]
    for recipient, kind in (("bob", "personal"), ("carol", "personal"), ("general", "digest")):
        assert await store.outbox_claim(COMMUNITY, WEEK, recipient, kind, NOW) is None
    with pytest.raises(ValueError):
        await store.outbox_mark(COMMUNITY, WEEK, "bob", "personal", "delivered-ish", NOW)


async def test_outbox_state_survives_reopening_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "o.db"
    async with SqliteStore(path) as store:
        await store.outbox_enqueue(COMMUNITY, WEEK, [("bob", "personal"), ("carol", "personal")])
        await store.outbox_claim(COMMUNITY, WEEK, "bob", "personal", NOW)
    async with SqliteStore(path) as store:
        states = {i.recipient: i.state for i in await store.outbox_items(COMMUNITY, WEEK)}
    assert states == {"bob": "claimed", "carol": "pending"}


async def test_summary_runs_start_is_idempotent_and_finish_completes(store: Backend) -> None:
    run = await store.start_summary_run(COMMUNITY, WEEK, NOW, "clout-v1")
    assert (run.week, run.scheduled, run.completed, run.algorithm) == (WEEK, NOW, None, "clout-v1")
    assert await store.start_summary_run(COMMUNITY, WEEK, NOW + timedelta(hours=1)) == run  # unchanged
    await store.start_summary_run(COMMUNITY, "2026-W11", NOW + timedelta(days=7))
    await store.finish_summary_run(COMMUNITY, WEEK, NOW + timedelta(minutes=5))
    runs = await store.summary_runs(COMMUNITY)
    assert [(r.week, r.completed) for r in runs] == [("2026-W11", None), (WEEK, NOW + timedelta(minutes=5))]
    assert len(await store.summary_runs(COMMUNITY, limit=1)) == 1
    assert await store.summary_runs(OTHER) == []


async def test_outbox_rows_of_a_member_go_with_their_data(store: Backend) -> None:
    await store.outbox_enqueue(COMMUNITY, WEEK, [("alice", "personal"), ("bob", "personal"), ("general", "digest")])
    await store.outbox_enqueue(OTHER, WEEK, [("alice", "personal")])
    await store.delete_member_data(COMMUNITY, "alice")
    assert [i.recipient for i in await store.outbox_items(COMMUNITY, WEEK)] == ["general", "bob"]
    assert [i.recipient for i in await store.outbox_items(OTHER, WEEK)] == ["alice"]
    await store.set_member_prefs(OTHER, "alice", MemberPrefs(weekly=True))
    await store.forget_user(UserRef("test", "alice"))
    assert await store.outbox_items(OTHER, WEEK) == []
    assert [i.recipient for i in await store.outbox_items(COMMUNITY, WEEK)] == ["general", "bob"]


async def test_channel_responders_counts_distinct_people_per_channel(store: Backend, write: Write) -> None:
    f = EventFactory(community=COMMUNITY)
    await write([
        f.msg("h1", "alice", 100, channel="help"), f.msg("h2", "alice", 200, channel="help"),
        f.msg("g1", "alice", 300, channel="general"),
        f.reply("r1", "bob", "h1", 400, channel="help"), f.reply("r2", "bob", "h2", 410, channel="help"),  # bob once
        f.react("h2", "carol", 420), f.react("h1", "dave", 430), f.unreact("h1", "dave", 440),  # dave took it back
        f.react("h1", "alice", 450),  # herself: not counted
        f.react("g1", "bot1", 460, bot=True),  # a bot: not counted
        f.reply("r3", "erin", "g1", 470), f.msg("x", "erin", 480, channel="help"),
        f.react("x", "alice", 490),
        f.reply("late", "frank", "h1", 10_000, channel="help"),  # after the end
        f.msg("old", "alice", -100, channel="help"), f.react("old", "grace", 500),  # before the start
    ])
    got = await store.channel_responders(COMMUNITY, BASE, BASE + timedelta(seconds=1_000))
    assert got == {"alice": {"help": 2, "general": 1}, "erin": {"help": 1}}
    assert await store.channel_responders(COMMUNITY, BASE, BASE) == {}
    assert await store.channel_responders(OTHER, BASE, BASE + timedelta(days=1)) == {}


async def test_sqlite_forget_user_leaves_no_outbox_row_naming_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    path = tmp_path / "f.db"
    async with SqliteStore(path) as store:
        f = EventFactory(community=COMMUNITY)
        await store.import_events([f.msg("m1", "alice", 0), f.reply("m2", "bob", "m1", 60)])
        await store.outbox_enqueue(COMMUNITY, WEEK, [("alice", "personal"), ("bob", "personal")])
        await store.outbox_enqueue(OTHER, WEEK, [("alice", "personal")])
        await store.outbox_claim(COMMUNITY, WEEK, "alice", "personal", NOW)
        await store.forget_user(UserRef("test", "alice"))
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT recipient FROM outbox").fetchall()
    conn.close()
    assert rows == [("bob",)]


async def test_export_user_lists_their_personal_summaries(store: Backend) -> None:
    await store.set_member_prefs(COMMUNITY, "alice", MemberPrefs(weekly=True))
    await store.outbox_enqueue(COMMUNITY, "2026-W11", [("alice", "personal"), ("general", "digest")])
    await store.outbox_enqueue(COMMUNITY, WEEK, [("alice", "personal"), ("bob", "personal")])
    await store.outbox_claim(COMMUNITY, WEEK, "alice", "personal", NOW)
    await store.outbox_mark(COMMUNITY, WEEK, "alice", "personal", "sent", NOW)
    (community,) = (await store.export_user(UserRef("test", "alice")))["communities"]  # type: ignore[misc]
    assert community["summaries"] == [
        {"week": WEEK, "state": "sent", "done_at": NOW.isoformat()},
        {"week": "2026-W11", "state": "pending", "done_at": None}]
