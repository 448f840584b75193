"""ChatStore.latest_message_ids (the Discord backfill position of every channel), on every backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from scoring.model import CommunityRef
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.factories import COMMUNITY, EventFactory, delete, msg, react, reply
from tests.storage.conftest import Write

Backend = MemoryStore | SqliteStore


async def test_latest_message_ids_empty_community(store: Backend) -> None:
    assert await store.latest_message_ids(COMMUNITY) == {}


async def test_latest_message_ids_newest_per_channel(store: Backend, write: Write) -> None:
    await write([
        msg("100", "alice", 0, channel="general"),
        msg("300", "bob", 120, channel="general"),
        reply("200", "carol", "100", 60, channel="general"),
        msg("150", "dave", 30, channel="random"),
        react("300", "alice", 500),  # reactions are not messages: they move no position
    ])
    assert await store.latest_message_ids(COMMUNITY) == {"general": "300", "random": "150"}


async def test_latest_message_ids_ties_go_to_the_greater_snowflake(store: Backend, write: Write) -> None:
    # Same second: "1000" > "999" numerically although "999" > "1000" as strings.
    await write([msg("999", "alice", 10, channel="general"), msg("1000", "bob", 10, channel="general")])
    assert await store.latest_message_ids(COMMUNITY) == {"general": "1000"}


async def test_latest_message_ids_counts_deleted_and_skips_no_channel(store: Backend, write: Write) -> None:
    await write([msg("1", "alice", 0, channel="general"), msg("2", "bob", 60, channel="general"),
                 delete("2", 90), msg("3", "carol", 120, channel=None)])
    assert await store.latest_message_ids(COMMUNITY) == {"general": "2"}


async def test_latest_message_ids_per_community(store: Backend, write: Write) -> None:
    other = EventFactory(community=CommunityRef("discord", "g2"))
    await write([msg("1", "alice", 0, channel="general"), other.msg("9", "bob", 0, channel="general")])
    assert await store.latest_message_ids(COMMUNITY) == {"general": "1"}
    assert await store.latest_message_ids(CommunityRef("discord", "g2")) == {"general": "9"}
    assert await store.latest_message_ids(CommunityRef("discord", "nowhere")) == {}


async def test_latest_message_ids_forgets_an_opted_out_author(store: Backend, write: Write) -> None:
    await write([msg("1", "alice", 0, channel="general"), msg("2", "bob", 60, channel="general")])
    await store.delete_member_data(COMMUNITY, "bob")
    assert await store.latest_message_ids(COMMUNITY) == {"general": "1"}


async def test_latest_message_ids_uses_the_channel_index(tmp_path: Path) -> None:
    db = tmp_path / "plan.db"
    async with SqliteStore(db):
        pass
    from storage.sqlite import _LATEST_BY_CHANNEL

    with sqlite3.connect(db) as conn:
        plan = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + _LATEST_BY_CHANNEL, (1,)))
    assert "messages_by_channel" in plan
    assert "SCAN m" not in plan and "SCAN messages" not in plan
