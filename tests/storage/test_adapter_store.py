"""The adapter part of the ChatStore contract (usernames, DM contacts, one-time notices), on every backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from scoring.model import CommunityRef, UserRef
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.factories import COMMUNITY, EventFactory, msg

Backend = MemoryStore | SqliteStore
OTHER = CommunityRef("test", "c2")
ALICE = UserRef("test", "alice")


async def test_adapter_store_username_resolves_case_insensitively(store: Backend) -> None:
    await store.remember_usernames(COMMUNITY, {"@Alice_W": "alice"})
    assert await store.user_by_username(COMMUNITY, "alice_w") == "alice"
    assert await store.user_by_username(COMMUNITY, "@ALICE_W") == "alice"
    assert await store.user_by_username(OTHER, "alice_w") is None  # per community
    assert await store.user_by_username(COMMUNITY, "nobody") is None


async def test_adapter_store_username_follows_renames_and_takeovers(store: Backend) -> None:
    await store.remember_usernames(COMMUNITY, {"old": "alice"})
    await store.remember_usernames(COMMUNITY, {"new": "alice"})
    assert await store.user_by_username(COMMUNITY, "old") is None  # one current username per member
    assert await store.user_by_username(COMMUNITY, "new") == "alice"
    await store.remember_usernames(COMMUNITY, {"new": "bob"})  # the name moved to another account
    assert await store.user_by_username(COMMUNITY, "new") == "bob"


async def test_adapter_store_usernames_in_one_call(store: Backend) -> None:
    await store.remember_usernames(COMMUNITY, {"a1": "alice", "@B1": "bob", "": "nobody"})
    assert [await store.user_by_username(COMMUNITY, n) for n in ("a1", "b1", "")] == ["alice", "bob", None]


async def test_adapter_store_dm_open_round_trip(store: Backend) -> None:
    assert await store.dm_open(ALICE) is False
    await store.set_dm_open(ALICE, True)
    assert await store.dm_open(ALICE) is True
    assert await store.dm_open(UserRef("other", "alice")) is False  # the platform is part of the identity
    await store.set_dm_open(ALICE, False)
    assert await store.dm_open(ALICE) is False


async def test_adapter_store_notice_is_claimed_once_per_community(store: Backend) -> None:
    assert await store.claim_notice(COMMUNITY, "privacy-mode") is True
    assert await store.claim_notice(COMMUNITY, "privacy-mode") is False
    assert await store.claim_notice(OTHER, "privacy-mode") is True
    assert await store.claim_notice(COMMUNITY, "another") is True


async def test_adapter_store_optout_drops_username_there_only(store: Backend) -> None:
    await store.import_events([msg("m1", "alice", 0), EventFactory(community=OTHER).msg("m1", "alice", 0)])
    await store.remember_usernames(COMMUNITY, {"alice_w": "alice"})
    await store.remember_usernames(OTHER, {"alice_w": "alice"})
    await store.delete_member_data(COMMUNITY, "alice")
    assert await store.user_by_username(COMMUNITY, "alice_w") is None
    assert await store.user_by_username(OTHER, "alice_w") == "alice"


async def test_adapter_store_forget_user_drops_usernames_and_dm_mark(store: Backend) -> None:
    await store.import_events([msg("m1", "alice", 0), msg("m2", "bob", 10)])
    await store.remember_usernames(COMMUNITY, {"alice_w": "alice"})
    await store.remember_usernames(COMMUNITY, {"bobby": "bob"})
    await store.set_dm_open(ALICE, True)
    await store.forget_user(ALICE)
    assert await store.user_by_username(COMMUNITY, "alice_w") is None
    assert await store.user_by_username(COMMUNITY, "bobby") == "bob"
    assert await store.dm_open(ALICE) is False


async def test_adapter_store_export_lists_username_and_dm_mark(store: Backend) -> None:
    await store.import_events([msg("m1", "alice", 0)])
    await store.remember_usernames(COMMUNITY, {"Alice_W": "alice"})
    await store.set_dm_open(ALICE, True)
    data = await store.export_user(ALICE)
    assert data["dm_open"] is True
    assert [c["username"] for c in data["communities"]] == ["alice_w"]  # type: ignore[index, union-attr]
    assert "dm_open" not in await store.export_user(UserRef("test", "bob"))


async def test_adapter_store_sqlite_forget_leaves_no_adapter_row(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with SqliteStore(path) as store:
        await store.import_events([msg("m1", "alice", 0)])
        await store.remember_usernames(COMMUNITY, {"alice_w": "alice"})
        await store.set_dm_open(ALICE, True)
        await store.forget_user(ALICE)
    with sqlite3.connect(path) as conn:
        rows = [*conn.execute("SELECT * FROM usernames"), *conn.execute("SELECT * FROM dm_contacts")]
    conn.close()
    assert rows == []
