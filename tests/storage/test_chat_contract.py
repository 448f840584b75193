"""The ChatStore contract (settings, prefs, privacy deletes, export, account links), run against every
backend; plus the SQLite file scan that proves /forgetme leaves no row naming the user."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from scoring.daily import aggregate_events
from scoring.model import CommunityRef, Event, UserRef, epoch
from scoring.result import MemberScore
from storage import records
from storage.base import CommunitySettings, LinkCode, MemberPrefs
from storage.memory import MemoryStore
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from tests.factories import BASE, COMMUNITY, EventFactory, anon, delete, msg, react, reply
from tests.postgres import postgres_store, postgres_url
from tests.storage.conftest import WIDE_END, WIDE_START, Rows, Write, read, rows

ChatBackend = MemoryStore | SqliteStore | PostgresStore

DAY = 86_400
OTHER = CommunityRef("test", "c2")
ELSEWHERE = CommunityRef("discord", "c1")  # same ids on another platform: another person
ALICE = UserRef("test", "alice")
NOW = BASE + timedelta(days=2)


def reference(events: list[Event]) -> Rows:
    return rows(aggregate_events(events, start=epoch(WIDE_START), end=epoch(WIDE_END)))


def score(user: str, rank: int, value: int) -> MemberScore:
    return MemberScore(user=user, score=value, percentile=100.0 - rank, rank=rank, influence=value / 100,
                       reach=0.5, resonance=0.25, network=0.125, activity=1.0, algorithm="v1")


def named(data: Rows, user: str) -> list[tuple[object, ...]]:
    members, pairs = data
    return [r for r in [*members, *pairs] if user in r]


# Alice in every role: author, replied to (by log and by hint), mentioned, mentioning, reacting,
# reacted to (by log and by hint), anonymous reactions on her message, her deleted message, a
# delete she made, and wrong hints naming her on other people's messages.
TRACES = [
    msg("m1", "alice", 0, mentions=["bob"]),
    reply("m2", "bob", "m1", 60, mentions=["carol"]),
    reply("m3", "carol", "m2", 120, mentions=["alice"]),
    react("m1", "carol", 150),
    react("m2", "alice", 160),
    anon("m1", 3, 170),
    reply("m4", "dave", "m9", DAY + 10, to_author="alice"),
    react("m9", "bob", DAY + 20, target_author="alice"),
    msg("m5", "alice", DAY + 30), delete("m5", DAY + 40),
    msg("m6", "carol", DAY + 60), delete("m6", DAY + 70, actor="alice"),
    reply("m7", "bob", "m3", DAY + 80, to_author="alice"),
    react("m3", "dave", DAY + 90, target_author="alice"),
]
# The same community as if Alice had never been there (replies to her are plain messages).
WITHOUT_ALICE = [
    msg("m2", "bob", 60, mentions=["carol"]),
    reply("m3", "carol", "m2", 120),
    msg("m4", "dave", DAY + 10),
    msg("m6", "carol", DAY + 60), delete("m6", DAY + 70),
    reply("m7", "bob", "m3", DAY + 80),
    react("m3", "dave", DAY + 90),
]


# -- settings and prefs ---------------------------------------------------------------------------

async def test_chat_settings_default_until_set(store: ChatBackend) -> None:
    assert await store.community_settings(COMMUNITY) == CommunitySettings()


async def test_chat_settings_round_trip_before_any_event(store: ChatBackend) -> None:
    settings = CommunitySettings(summary_channel="digest", weekday="fri", hour=18, timezone="Europe/Berlin",
                                 language="de", excluded_channels=("random", "memes"), mode="optin")
    await store.set_community_settings(COMMUNITY, settings)
    assert await store.community_settings(COMMUNITY) == settings
    assert await store.community_settings(OTHER) == CommunitySettings()
    assert await store.community(COMMUNITY) is None  # a settings row is not an event
    assert await store.communities() == []


async def test_chat_settings_replace_and_survive_events(store: ChatBackend, write: Write) -> None:
    await store.set_community_settings(COMMUNITY, CommunitySettings(hour=7))
    await write([msg("m1", "alice", 0, community_name="Club")])
    await store.set_community_settings(COMMUNITY, CommunitySettings(weekday="sun"))
    assert await store.community_settings(COMMUNITY) == CommunitySettings(weekday="sun")
    assert (await store.community(COMMUNITY)).name == "Club"  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [CommunitySettings(weekday="monday"), CommunitySettings(hour=24),
                                 CommunitySettings(mode="closed")])
async def test_chat_settings_refuse_impossible_values(store: ChatBackend, bad: CommunitySettings) -> None:
    with pytest.raises(ValueError):
        await store.set_community_settings(COMMUNITY, bad)
    assert await store.community_settings(COMMUNITY) == CommunitySettings()


async def test_chat_prefs_default_until_set_and_per_community(store: ChatBackend) -> None:
    prefs = MemberPrefs(hidden=True, weekly=True, locale="de")
    assert await store.member_prefs(COMMUNITY, "alice") == MemberPrefs()
    await store.set_member_prefs(COMMUNITY, "alice", prefs)
    assert await store.member_prefs(COMMUNITY, "alice") == prefs
    assert await store.member_prefs(OTHER, "alice") == MemberPrefs()
    assert await store.member_prefs(COMMUNITY, "bob") == MemberPrefs()
    await store.set_member_prefs(COMMUNITY, "alice", MemberPrefs(opted_out=True))
    assert await store.member_prefs(COMMUNITY, "alice") == MemberPrefs(opted_out=True)


async def test_chat_invisible_members_open_mode(store: ChatBackend, write: Write) -> None:
    await write([msg("m1", "alice", 0), msg("m2", "bob", 100), msg("m3", "carol", 200)])
    await store.set_member_prefs(COMMUNITY, "alice", MemberPrefs(hidden=True))
    await store.set_member_prefs(COMMUNITY, "bob", MemberPrefs(opted_out=True))
    await store.set_member_prefs(COMMUNITY, "carol", MemberPrefs(weekly=True))
    await store.set_member_prefs(OTHER, "carol", MemberPrefs(hidden=True))
    assert await store.invisible_members(COMMUNITY) == {"alice", "bob"}
    assert await store.invisible_members(CommunityRef("test", "nowhere")) == set()


async def test_chat_invisible_members_optin_mode(store: ChatBackend, write: Write) -> None:
    await write([msg("m1", "alice", 0), react("m1", "bob", 100), msg("m2", "carol", 200), msg("m3", "dave", 300)])
    await store.save_scores(COMMUNITY, NOW, "all", [score("erin", 1, 90)])  # scored, never seen acting
    await store.set_community_settings(COMMUNITY, CommunitySettings(mode="optin"))
    await store.set_member_prefs(COMMUNITY, "carol", MemberPrefs(opted_in=True))
    await store.set_member_prefs(COMMUNITY, "dave", MemberPrefs(opted_in=True, hidden=True))
    await store.set_member_prefs(COMMUNITY, "frank", MemberPrefs(weekly=True))  # prefs only
    assert await store.invisible_members(COMMUNITY) == {"alice", "bob", "dave", "erin", "frank"}


async def test_chat_weekly_subscribers_ordered_and_not_opted_out(store: ChatBackend) -> None:
    for user, prefs in [("carol", MemberPrefs(weekly=True)), ("alice", MemberPrefs(weekly=True, hidden=True)),
                        ("bob", MemberPrefs(weekly=True, opted_out=True)), ("dave", MemberPrefs())]:
        await store.set_member_prefs(COMMUNITY, user, prefs)
    await store.set_member_prefs(OTHER, "erin", MemberPrefs(weekly=True))
    assert await store.weekly_subscribers(COMMUNITY) == ["alice", "carol"]


# -- delete_member_data ---------------------------------------------------------------------------

async def test_chat_delete_member_data_leaves_the_community_as_if_they_never_were(store: ChatBackend,
                                                                                  write: Write) -> None:
    await write(TRACES)
    assert named(await read(store), "alice")  # she was in the aggregates
    await store.delete_member_data(COMMUNITY, "alice")
    got = await read(store)
    assert got == reference(WITHOUT_ALICE)
    assert named(got, "alice") == []


async def test_chat_delete_member_data_removes_name_but_keeps_others(store: ChatBackend, write: Write) -> None:
    await write([*TRACES, react("m2", "erin", 200, name="Erin")])
    await store.delete_member_data(COMMUNITY, "alice")
    names = await store.member_names(COMMUNITY)
    assert "alice" not in names and names["erin"] == "Erin" and names["bob"] == "Bob"
    assert await store.find_member(COMMUNITY, "Alice") is None
    info = await store.community(COMMUNITY)
    assert info is not None and (info.members, info.messages) == (4, 4)


async def test_chat_delete_member_data_keeps_prefs(store: ChatBackend, write: Write) -> None:
    await write(TRACES)
    await store.set_member_prefs(COMMUNITY, "alice", MemberPrefs(opted_out=True))
    await store.delete_member_data(COMMUNITY, "alice")
    assert await store.member_prefs(COMMUNITY, "alice") == MemberPrefs(opted_out=True)
    assert await store.communities_of(ALICE) == [COMMUNITY]


async def test_chat_delete_member_data_removes_scores_and_keeps_pages_gapless(store: ChatBackend) -> None:
    board = [score("bob", 1, 90), score("alice", 2, 80), score("carol", 3, 70)]
    await store.save_scores(COMMUNITY, NOW, "all", board)
    await store.save_scores(COMMUNITY, NOW, "week", board[:2])
    await store.delete_member_data(COMMUNITY, "alice")
    assert await store.score_of(COMMUNITY, "alice") is None
    assert await store.score_history(COMMUNITY, "alice", WIDE_START) == []
    assert [s.user for s in await store.leaderboard(COMMUNITY, "all", 0, 0)] == ["bob", "carol"]
    assert [s.user for s in await store.leaderboard(COMMUNITY, "all", 1, 1)] == ["carol"]
    assert [s.user for s in await store.leaderboard(COMMUNITY, "week", 1, 1)] == []
    assert (await store.stored_scores(COMMUNITY, "all")).members == 2  # type: ignore[union-attr]
    assert (await store.stored_scores(COMMUNITY, "week")).members == 1  # type: ignore[union-attr]
    assert [s for _, s in await store.score_history(COMMUNITY, "carol", WIDE_START)] == [70]


async def test_chat_delete_member_data_touches_only_that_community(store: ChatBackend, write: Write) -> None:
    other = EventFactory(community=OTHER)
    await write([*TRACES, other.msg("m1", "alice", 0), other.reply("m2", "bob", "m1", 60)])
    await store.save_scores(OTHER, NOW, "all", [score("alice", 1, 50)])
    before = rows(await store.aggregates(OTHER, WIDE_START, WIDE_END))
    await store.delete_member_data(COMMUNITY, "alice")
    assert rows(await store.aggregates(OTHER, WIDE_START, WIDE_END)) == before
    assert await store.score_of(OTHER, "alice") is not None
    assert await store.communities_of(ALICE) == [OTHER]


async def test_chat_delete_member_data_waits_for_queued_events(store: ChatBackend) -> None:
    for e in TRACES:
        await store.ingest(e)  # not flushed: the delete must not be overtaken by these
    await store.delete_member_data(COMMUNITY, "alice")
    await store.flush()
    assert await read(store) == reference(WITHOUT_ALICE)


async def test_chat_delete_member_data_of_the_only_member_empties_the_community(store: ChatBackend,
                                                                                write: Write) -> None:
    await write([msg("m1", "alice", 0, community_name="Solo"), msg("m2", "alice", 100), delete("m2", 200)])
    await store.delete_member_data(COMMUNITY, "alice")
    assert await store.community(COMMUNITY) is None
    assert await store.communities() == []
    await write([msg("m3", "bob", 300)])
    info = await store.community(COMMUNITY)
    assert info is not None and info.messages == 1


async def test_chat_delete_member_data_of_unknown_user_or_community_is_a_noop(store: ChatBackend,
                                                                              write: Write) -> None:
    await write(TRACES)
    before = await read(store)
    await store.delete_member_data(COMMUNITY, "nobody")
    await store.delete_member_data(CommunityRef("test", "nowhere"), "alice")
    assert await read(store) == before


async def test_chat_later_events_of_others_count_normally_after_delete(store: ChatBackend, write: Write) -> None:
    await write(TRACES)
    await store.delete_member_data(COMMUNITY, "alice")
    later = [reply("m8", "dave", "m2", 2 * DAY, mentions=["bob"]), react("m8", "bob", 2 * DAY + 10)]
    await write(later)
    assert await read(store) == reference([*WITHOUT_ALICE, *later])


async def test_chat_delete_member_data_keeps_others_bot_flags(store: ChatBackend, write: Write) -> None:
    # Bob is known as a bot only from his reaction to Alice, which goes with her data.
    await write([msg("m1", "alice", 0), react("m1", "bob", 10, bot=True), msg("m2", "bob", 20),
                 reply("m3", "carol", "m2", 30), reply("m4", "dave", "m9", 40, to_author="bob")])
    await store.delete_member_data(COMMUNITY, "alice")
    members, pairs = await read(store)
    assert [r[1] for r in members] == ["carol", "dave"] and pairs == []


# -- forget_user ----------------------------------------------------------------------------------

async def _everywhere(store: ChatBackend, write: Write) -> None:
    other, elsewhere = EventFactory(community=OTHER), EventFactory(community=ELSEWHERE)
    await write([*TRACES, other.msg("m1", "alice", 0), other.reply("m2", "bob", "m1", 60),
                 elsewhere.msg("m1", "alice", 0), elsewhere.reply("m2", "bob", "m1", 60)])
    for ref in (COMMUNITY, OTHER, ELSEWHERE):
        await store.save_scores(ref, NOW, "all", [score("alice", 1, 60), score("bob", 2, 40)])
        await store.set_member_prefs(ref, "alice", MemberPrefs(hidden=True))
    await store.set_member_prefs(CommunityRef("test", "c3"), "alice", MemberPrefs(weekly=True))


async def test_chat_forget_user_everywhere_on_their_platform_only(store: ChatBackend, write: Write) -> None:
    await _everywhere(store, write)
    assert await store.communities_of(ALICE) == [COMMUNITY, OTHER, CommunityRef("test", "c3")]
    assert await store.forget_user(ALICE) == 3
    assert await store.communities_of(ALICE) == []
    assert await read(store) == reference(WITHOUT_ALICE)
    for ref in (COMMUNITY, OTHER):
        assert await store.member_prefs(ref, "alice") == MemberPrefs()
        assert await store.score_of(ref, "alice") is None
        assert "alice" not in await store.member_names(ref)
        assert await store.score_of(ref, "bob") is not None
    # The discord account with the same id is another person.
    assert await store.communities_of(UserRef("discord", "alice")) == [ELSEWHERE]
    assert await store.member_prefs(ELSEWHERE, "alice") == MemberPrefs(hidden=True)
    assert named(rows(await store.aggregates(ELSEWHERE, WIDE_START, WIDE_END)), "alice")


async def test_chat_forget_unknown_user_touches_nothing(store: ChatBackend, write: Write) -> None:
    await write(TRACES)
    assert await store.forget_user(UserRef("test", "nobody")) == 0
    assert named(await read(store), "alice")


async def test_chat_forget_user_removes_link_codes_and_links(store: ChatBackend) -> None:
    tg, dc = UserRef("telegram", "t1"), UserRef("discord", "d1")
    await store.save_link_code(LinkCode("CODE1", ALICE, NOW + timedelta(minutes=10)))
    await store.save_link_code(LinkCode("CODE2", ALICE, NOW + timedelta(minutes=10)))
    assert await store.redeem_link_code("CODE1", tg, NOW) == ALICE
    await store.forget_user(ALICE)
    assert await store.linked_accounts(tg) == []
    assert await store.redeem_link_code("CODE2", dc, NOW) is None  # her pending code is gone too


async def test_chat_forget_user_keeps_the_rest_of_a_group_linked(store: ChatBackend) -> None:
    tg, dc = UserRef("telegram", "t1"), UserRef("discord", "d1")
    await store.save_link_code(LinkCode("AAAA", ALICE, NOW + timedelta(minutes=1)))
    await store.save_link_code(LinkCode("BBBB", tg, NOW + timedelta(minutes=1)))
    await store.redeem_link_code("AAAA", tg, NOW)
    await store.redeem_link_code("BBBB", dc, NOW)
    await store.forget_user(ALICE)
    assert await store.linked_accounts(tg) == [dc]
    assert await store.linked_accounts(dc) == [tg]


async def leave_traces(store: ChatBackend, f: EventFactory) -> None:
    """Alice (display name "Alice Liddell") in every kind of row: events, one still queued, scores,
    preferences in two communities, link codes and a link (the scans below look for her)."""
    events = [*TRACES, f.msg("m10", "alice", 500, name="Alice Liddell"), f.reply("m11", "bob", "m10", 560)]
    await store.import_events(events)
    await store.ingest(f.msg("m12", "alice", 600))  # queued, not flushed
    # Two days: the earlier day's scores become its snapshot rows when the later day's replace them.
    await store.save_scores(COMMUNITY, NOW - timedelta(days=1), "all", [score("alice", 1, 70), score("bob", 2, 45)])
    await store.save_scores(COMMUNITY, NOW, "all", [score("alice", 1, 80), score("bob", 2, 40)])
    await store.set_member_prefs(COMMUNITY, "alice", MemberPrefs(weekly=True, locale="en"))
    await store.set_member_prefs(OTHER, "alice", MemberPrefs(hidden=True))
    await store.save_link_code(LinkCode("CODEX", ALICE, NOW + timedelta(minutes=10)))
    await store.save_link_code(LinkCode("CODEY", ALICE, NOW + timedelta(minutes=10)))
    assert await store.redeem_link_code("CODEX", UserRef("telegram", "t1"), NOW) == ALICE


async def test_sqlite_forget_user_leaves_no_row_naming_them(tmp_path: Path) -> None:
    """Every cell of every table: none equals or contains her id or display name after /forgetme."""
    path = tmp_path / "c.db"
    needles = ("alice", "Alice Liddell")

    def scan() -> list[tuple[str, tuple[object, ...]]]:
        hits = []
        with sqlite3.connect(path) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    cells = [c.decode("utf-8", "replace") if isinstance(c, bytes) else str(c) for c in row]
                    if any(n.casefold() in c.casefold() for c in cells for n in needles):
                        hits.append((table, row))
        conn.close()
        return hits

    f = EventFactory(community=COMMUNITY)
    async with SqliteStore(path) as store:
        await leave_traces(store, f)
        await store.flush()
        before = {table for table, _ in scan()}
        assert {"users", "messages", "mentions", "reactions", "day_aggregates", "scores",
                "score_snapshots", "member_prefs", "link_codes", "account_links"} <= before

        await store.forget_user(ALICE)
        assert scan() == []
        assert await store.score_of(COMMUNITY, "bob") is not None
        assert await read(store) == reference([*WITHOUT_ALICE, f.msg("m11", "bob", 560)])
    assert scan() == []


async def test_postgres_forget_user_leaves_no_row_naming_them() -> None:
    """The same scan on PostgreSQL: every cell of every table of the store's schema."""
    url, why = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    needles = ("alice", "Alice Liddell")
    f = EventFactory(community=COMMUNITY)
    async with postgres_store(url) as store:

        async def scan() -> list[tuple[str, tuple[object, ...]]]:
            conn = await asyncpg.connect(url, server_settings={"search_path": store.schema or "public"})
            try:
                tables = [r[0] for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", store.schema)]
                hits = []
                for table in tables:
                    for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                        cells = [str(c) for c in row.values()]
                        if any(n.casefold() in c.casefold() for c in cells for n in needles):
                            hits.append((table, tuple(row.values())))
                return hits
            finally:
                await conn.close()

        await leave_traces(store, f)
        await store.remember_usernames(COMMUNITY, {"alice_l": "alice"})
        await store.set_dm_open(ALICE, True)
        await store.outbox_enqueue(COMMUNITY, "2026-W47", [("alice", "personal")])
        await store.flush()
        before = {table for table, _ in await scan()}
        assert {"users", "messages", "mentions", "reactions", "day_aggregates", "scores",
                "score_snapshots", "member_prefs", "link_codes", "account_links", "usernames",
                "dm_contacts", "outbox"} <= before

        await store.forget_user(ALICE)
        assert await scan() == []
        assert await store.score_of(COMMUNITY, "bob") is not None
        assert await read(store) == reference([*WITHOUT_ALICE, f.msg("m11", "bob", 560)])


# -- communities_of and export_user ---------------------------------------------------------------

async def test_chat_communities_of_counts_events_prefs_and_scores(store: ChatBackend, write: Write) -> None:
    a, b = EventFactory(community=CommunityRef("test", "a")), EventFactory(community=CommunityRef("test", "b"))
    await write([a.react("x1", "alice", 0), b.mention("x2", "bob", "alice", when=10)])  # a mention is not hers
    await store.set_member_prefs(CommunityRef("test", "d"), "alice", MemberPrefs(weekly=True))
    await store.save_scores(CommunityRef("test", "c"), NOW, "week", [score("alice", 1, 10)])
    await store.set_member_prefs(ELSEWHERE, "alice", MemberPrefs())
    assert [r.id for r in await store.communities_of(ALICE)] == ["a", "c", "d"]
    assert await store.communities_of(UserRef("test", "nobody")) == []


EXPECTED_EXPORT = {
    "user": {"platform": "test", "id": "alice"},
    "communities": [{
        "community": "test:c1", "community_name": "Club", "name": "Alice",
        "prefs": {"hidden": True, "opted_out": False, "opted_in": False, "weekly": True, "locale": "de"},
        "messages": {"count": 2, "truncated": False, "items": [
            {"message_id": "m1", "channel": "general", "ts": "2026-03-02T00:00:00+00:00", "reply_to": None,
             "deleted": False, "length": 10, "has_link": False, "has_attachment": False, "mentions": ["bob"]},
            {"message_id": "m5", "channel": "general", "ts": "2026-03-03T00:00:30+00:00", "reply_to": "m2",
             "deleted": True, "length": 10, "has_link": False, "has_attachment": False, "mentions": []},
        ]},
        "reactions_given": {"count": 1, "truncated": False, "items": [
            {"message_id": "m2", "emoji": "👍", "ts": "2026-03-02T00:02:40+00:00", "removed": False}]},
        "scores": {
            "all": {"score": 80, "percentile": 99.0, "rank": 1, "influence": 0.8, "reach": 0.5,
                    "resonance": 0.25, "network": 0.125, "activity": 1.0, "algorithm": "v1",
                    "as_of": "2026-03-04T00:00:00+00:00"},
            "week": {"score": 80, "percentile": 99.0, "rank": 1, "influence": 0.8, "reach": 0.5,
                     "resonance": 0.25, "network": 0.125, "activity": 1.0, "algorithm": "v1",
                     "as_of": "2026-03-04T00:00:00+00:00"}},
        "snapshots": [{"day": "2026-03-03", "score": 75}, {"day": "2026-03-04", "score": 80}],
        "summaries": [],
    }],
    "linked_accounts": [{"platform": "telegram", "id": "t1"}],
    "link_codes": [{"expires": "2026-03-04T00:10:00+00:00"}],
}


async def test_chat_export_user(store: ChatBackend, write: Write) -> None:
    await write([msg("m1", "alice", 0, mentions=["bob", "bob"], community_name="Club"),
                 reply("m2", "bob", "m1", 60), react("m2", "alice", 160),
                 reply("m5", "alice", "m2", DAY + 30, mentions=["bob"]), delete("m5", DAY + 40),
                 EventFactory(community=OTHER).msg("m1", "alice", 0)])
    await store.delete_member_data(OTHER, "alice")
    await store.set_member_prefs(COMMUNITY, "alice", MemberPrefs(hidden=True, weekly=True, locale="de"))
    await store.save_scores(COMMUNITY, NOW - timedelta(days=1), "all", [score("alice", 1, 75)])
    await store.save_scores(COMMUNITY, NOW, "all", [score("alice", 1, 80), score("bob", 2, 20)])
    await store.save_scores(COMMUNITY, NOW, "week", [score("alice", 1, 80)])
    await store.save_link_code(LinkCode("CODE1", ALICE, NOW))
    await store.save_link_code(LinkCode("CODE2", ALICE, NOW + timedelta(minutes=10)))
    assert await store.redeem_link_code("CODE1", UserRef("telegram", "t1"), NOW - timedelta(seconds=1)) == ALICE
    assert await store.export_user(ALICE) == EXPECTED_EXPORT


async def test_chat_export_of_a_stranger_is_empty(store: ChatBackend) -> None:
    assert await store.export_user(UserRef("test", "nobody")) == {
        "user": {"platform": "test", "id": "nobody"}, "communities": [], "linked_accounts": [], "link_codes": []}


async def test_chat_export_lists_are_bounded_with_exact_counts(store: ChatBackend, write: Write,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "EXPORT_LIMIT", 2)
    await write([msg(f"m{i}", "alice", i * 100) for i in range(5)] + [react("m0", "alice", 900)])
    (community,) = (await store.export_user(ALICE))["communities"]  # type: ignore[misc]
    assert community["messages"]["count"] == 5 and community["messages"]["truncated"]
    assert [m["message_id"] for m in community["messages"]["items"]] == ["m0", "m1"]
    assert community["reactions_given"] == {"count": 1, "truncated": False, "items": [
        {"message_id": "m0", "emoji": "👍", "ts": "2026-03-02T00:15:00+00:00", "removed": False}]}


# -- link codes -----------------------------------------------------------------------------------

async def test_chat_link_code_links_both_ways_and_is_single_use(store: ChatBackend) -> None:
    tg, mallory = UserRef("telegram", "t1"), UserRef("telegram", "t2")
    await store.save_link_code(LinkCode("CODE", ALICE, NOW + timedelta(minutes=10)))
    assert await store.redeem_link_code("CODE", tg, NOW) == ALICE
    assert await store.linked_accounts(tg) == [ALICE]
    assert await store.linked_accounts(ALICE) == [tg]
    assert await store.redeem_link_code("CODE", mallory, NOW) is None
    assert await store.linked_accounts(mallory) == []


async def test_chat_link_code_expires_at_its_time(store: ChatBackend) -> None:
    await store.save_link_code(LinkCode("CODE", ALICE, NOW))
    assert await store.redeem_link_code("CODE", UserRef("telegram", "t1"), NOW) is None
    assert await store.redeem_link_code("CODE", UserRef("telegram", "t1"), NOW - timedelta(seconds=1)) is None
    assert await store.linked_accounts(ALICE) == []


async def test_chat_link_code_same_platform_consumes_nothing(store: ChatBackend) -> None:
    await store.save_link_code(LinkCode("CODE", ALICE, NOW + timedelta(minutes=10)))
    assert await store.redeem_link_code("CODE", UserRef("test", "bob"), NOW) is None
    assert await store.redeem_link_code("CODE", ALICE, NOW) is None
    assert await store.linked_accounts(UserRef("test", "bob")) == []
    assert await store.redeem_link_code("CODE", UserRef("telegram", "t1"), NOW) == ALICE


async def test_chat_link_code_unknown(store: ChatBackend) -> None:
    assert await store.redeem_link_code("NOPE", ALICE, NOW) is None


async def test_chat_links_are_transitive_and_groups_merge(store: ChatBackend) -> None:
    tg, dc, mx, x = (UserRef("telegram", "t1"), UserRef("discord", "d1"), UserRef("matrix", "m1"),
                     UserRef("console", "x"))
    codes = [("AB", ALICE, tg), ("BC", tg, dc), ("MX", mx, x), ("JOIN", x, ALICE)]
    for code, owner, _ in codes:
        await store.save_link_code(LinkCode(code, owner, NOW + timedelta(minutes=5)))
    for code, owner, redeemer in codes[:3]:
        assert await store.redeem_link_code(code, redeemer, NOW) == owner
    assert await store.linked_accounts(ALICE) == [dc, tg]
    assert await store.linked_accounts(mx) == [x]
    assert await store.redeem_link_code("JOIN", ALICE, NOW) == x  # two groups become one
    assert await store.linked_accounts(dc) == [x, mx, tg, ALICE]  # ordered by (platform, id)
    # Linking again changes nothing.
    await store.save_link_code(LinkCode("AGAIN", tg, NOW + timedelta(minutes=5)))
    assert await store.redeem_link_code("AGAIN", dc, NOW) == tg
    assert len(await store.linked_accounts(ALICE)) == 4


async def test_chat_link_codes_need_aware_times(store: ChatBackend) -> None:
    with pytest.raises(ValueError):
        await store.save_link_code(LinkCode("CODE", ALICE, NOW.replace(tzinfo=None)))


async def test_names_of_returns_only_the_asked_users(store) -> None:
    from tests.factories import EventFactory

    f = EventFactory()
    await store.import_events([f.msg("m1", "alice", 0, name="Alice"), f.msg("m2", "bob", 100, name="Bob"),
                               f.msg("m3", "carol", 200)])
    assert await store.names_of(f.community, ["alice", "nobody"]) == {"alice": "Alice"}
    assert await store.names_of(f.community, []) == {}
