"""The Store contract, run against every backend and both write paths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from scoring.daily import aggregate_events
from scoring.model import CommunityRef, Event, day_of, epoch
from scoring.result import MemberScore
from storage.base import Store
from tests.factories import (
    BASE,
    COMMUNITY,
    EventFactory,
    anon,
    delete,
    mention,
    msg,
    react,
    reply,
    unreact,
)
from tests.storage.conftest import WIDE_END, WIDE_START, Rows, Write, read, rows

D0 = day_of(epoch(BASE))
DAY = 86_400


def reference(events: list[Event], start: datetime = WIDE_START, end: datetime = WIDE_END) -> Rows:
    return rows(aggregate_events(events, start=epoch(start), end=epoch(end)))


async def stored_matches_reference(store: Store, events: list[Event]) -> Rows:
    got = await read(store)
    assert got == reference(events)
    return got


# -- messages, idempotency -------------------------------------------------------------------

async def test_store_message_makes_member_day(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), msg("m2", "alice", 120), msg("m3", "bob", DAY + 5)]
    await write(events)
    members, pairs = await stored_matches_reference(store, events)
    assert members == [(D0, "alice", 2, 2, 0), (D0 + 1, "bob", 1, 1, 0)]
    assert pairs == []


async def test_store_reimport_changes_nothing(store: Store) -> None:
    events = [msg("m1", "alice", 0), reply("m2", "bob", "m1", 60), react("m1", "carol", 90), anon("m1", 3, 100)]
    first = await store.import_events(events)
    before = await read(store)
    again = await store.import_events(events)
    assert (first.events, first.new) == (4, 4)
    assert (again.events, again.new) == (4, 0)
    assert await read(store) == before == reference(events)


async def test_store_reingest_changes_nothing(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), reply("m2", "bob", "m1", 60), react("m1", "carol", 90)]
    await write(events)
    before = await read(store)
    await write(events)
    await write(reversed(events))
    assert await read(store) == before


async def test_store_first_message_write_wins(store: Store, write: Write) -> None:
    await write([msg("m1", "alice", 0)])
    await write([msg("m1", "mallory", 500)])
    members, _ = await read(store)
    assert members == [(D0, "alice", 1, 1, 0)]


# -- replies ----------------------------------------------------------------------------------

async def test_store_reply_credits_target_author(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), reply("m2", "bob", "m1", 60)]
    await write(events)
    _, pairs = await stored_matches_reference(store, events)
    assert pairs == [(D0, "bob", "alice", 1, 0, 0)]


async def test_store_reply_before_its_target_resolves_when_target_arrives(store: Store, write: Write) -> None:
    await write([reply("m2", "bob", "m1", 60)])
    assert (await read(store))[1] == []  # unresolved: counts nothing yet
    await write([msg("m1", "alice", 0)])
    assert (await read(store))[1] == [(D0, "bob", "alice", 1, 0, 0)]


async def test_store_reply_resolves_across_days_when_target_arrives(store: Store, write: Write) -> None:
    await write([reply("m2", "bob", "m1", DAY + 60), react("m1", "carol", 2 * DAY)])
    await write([msg("m1", "alice", 0)])
    assert (await read(store))[1] == [(D0 + 1, "bob", "alice", 1, 0, 0), (D0 + 2, "carol", "alice", 0, 0, 1)]


async def test_store_reply_hint_used_when_target_not_in_log(store: Store, write: Write) -> None:
    events = [reply("m2", "bob", "m1", 60, to_author="alice")]
    await write(events)
    _, pairs = await stored_matches_reference(store, events)
    assert pairs == [(D0, "bob", "alice", 1, 0, 0)]


async def test_store_log_author_beats_reply_hint(store: Store, write: Write) -> None:
    await write([reply("m2", "bob", "m1", 60, to_author="wrong")])
    await write([msg("m1", "alice", 0)])
    assert (await read(store))[1] == [(D0, "bob", "alice", 1, 0, 0)]


async def test_store_reply_on_its_own_day(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), reply("m2", "bob", "m1", DAY + 10)]
    await write(events)
    _, pairs = await stored_matches_reference(store, events)
    assert pairs == [(D0 + 1, "bob", "alice", 1, 0, 0)]


# -- mentions -----------------------------------------------------------------------------------

async def test_store_mentions_count_each_distinct_user_once(store: Store, write: Write) -> None:
    events = [mention("m1", "alice", "bob", "bob", "carol", "alice")]
    await write(events)
    _, pairs = await stored_matches_reference(store, events)
    assert pairs == [(D0, "alice", "bob", 0, 1, 0), (D0, "alice", "carol", 0, 1, 0)]


async def test_store_mention_of_reply_target_not_double_counted(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), reply("m2", "bob", "m1", 60, mentions=["alice", "carol"])]
    await write(events)
    _, pairs = await stored_matches_reference(store, events)
    assert pairs == [(D0, "bob", "alice", 1, 0, 0), (D0, "bob", "carol", 0, 1, 0)]


async def test_store_mention_of_reply_target_resolved_later_not_double_counted(store: Store, write: Write) -> None:
    await write([reply("m2", "bob", "m1", 60, mentions=["alice"])])
    assert (await read(store))[1] == [(D0, "bob", "alice", 0, 1, 0)]
    await write([msg("m1", "alice", 0)])
    assert (await read(store))[1] == [(D0, "bob", "alice", 1, 0, 0)]


# -- reactions ----------------------------------------------------------------------------------

async def test_store_reaction_credits_author_on_reaction_day(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), react("m1", "bob", DAY + 30), react("m1", "bob", DAY + 40, emoji="🎉")]
    await write(events)
    _, pairs = await stored_matches_reference(store, events)
    assert pairs == [(D0 + 1, "bob", "alice", 0, 0, 2)]


async def test_store_reaction_before_message_equals_in_order(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), react("m1", "bob", 30), reply("m2", "carol", "m1", 40)]
    await write(list(reversed(events)))
    got = await read(store)
    assert got == reference(events)
    assert got[1] == [(D0, "bob", "alice", 0, 0, 1), (D0, "carol", "alice", 1, 0, 0)]


async def test_store_reaction_hint_used_when_message_unknown(store: Store, write: Write) -> None:
    events = [react("m1", "bob", 30, target_author="alice"), react("m9", "bob", 30)]
    await write(events)
    _, pairs = await stored_matches_reference(store, events)
    assert pairs == [(D0, "bob", "alice", 0, 0, 1)]


async def test_store_reaction_remove_deletes_the_add(store: Store, write: Write) -> None:
    await write([msg("m1", "alice", 0), react("m1", "bob", 30), react("m1", "bob", 31, emoji="🎉")])
    await write([unreact("m1", "bob", 60)])
    assert (await read(store))[1] == [(D0, "bob", "alice", 0, 0, 1)]


async def test_store_remove_before_add_cancels_an_earlier_add(store: Store, write: Write) -> None:
    # The remove arrives first but is later in time: the reaction stays removed.
    events = [unreact("m1", "bob", 60), msg("m1", "alice", 0), react("m1", "bob", 30)]
    await write(events)
    assert (await stored_matches_reference(store, events))[1] == []


async def test_store_readd_after_remove_counts_again(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), react("m1", "bob", 30), unreact("m1", "bob", 60), react("m1", "bob", 90)]
    await write(list(reversed(events)))
    assert (await stored_matches_reference(store, events))[1] == [(D0, "bob", "alice", 0, 0, 1)]


async def test_store_remove_wins_a_tie_with_add(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), react("m1", "bob", 30), unreact("m1", "bob", 30)]
    await write(events)
    assert (await stored_matches_reference(store, events))[1] == []


# -- anonymous reaction counts --------------------------------------------------------------

async def test_store_anon_counts_credit_author_on_message_day(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), anon("m1", 3, DAY + 5), anon("m1", 2, DAY + 6, emoji="🎉")]
    await write(events)
    members, pairs = await stored_matches_reference(store, events)
    assert members == [(D0, "alice", 1, 1, 5)]
    assert pairs == []


async def test_store_anon_count_latest_wins(store: Store, write: Write) -> None:
    await write([msg("m1", "alice", 0), anon("m1", 7, 100)])
    await write([anon("m1", 4, 50), anon("m1", 9, 200)])
    await write([anon("m1", 2, 150)])
    assert (await read(store))[0] == [(D0, "alice", 1, 1, 9)]


async def test_store_anon_count_same_time_larger_wins(store: Store, write: Write) -> None:
    await write([msg("m1", "alice", 0), anon("m1", 4, 100), anon("m1", 6, 100), anon("m1", 5, 100)])
    assert (await read(store))[0] == [(D0, "alice", 1, 1, 6)]


async def test_store_anon_count_waits_for_its_message(store: Store, write: Write) -> None:
    await write([anon("m1", 3, 100)])
    assert await read(store) == ([], [])
    await write([msg("m1", "alice", 0)])
    assert (await read(store))[0] == [(D0, "alice", 1, 1, 3)]


# -- deletes --------------------------------------------------------------------------------------

async def test_store_delete_removes_message_pairs_and_reactions(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), reply("m2", "bob", "m1", 60, mentions=["carol"]), react("m2", "alice", 90),
              anon("m2", 4, 95)]
    await write(events)
    await write([delete("m2", 120)])
    members, pairs = await stored_matches_reference(store, [*events, delete("m2", 120)])
    assert members == [(D0, "alice", 1, 1, 0)]
    assert pairs == []


async def test_store_reply_to_deleted_message_keeps_counting(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), reply("m2", "bob", "m1", 60), react("m1", "carol", 70)]
    await write(events)
    await write([delete("m1", 120)])
    members, pairs = await read(store)
    assert members == [(D0, "bob", 1, 1, 0)]
    assert pairs == [(D0, "bob", "alice", 1, 0, 0)]  # the reaction on m1 went with it


async def test_store_delete_before_message_is_a_tombstone(store: Store, write: Write) -> None:
    events = [delete("m1", 120), react("m1", "bob", 30), msg("m1", "alice", 0), reply("m2", "bob", "m1", 60)]
    await write(events)
    members, pairs = await stored_matches_reference(store, events)
    assert members == [(D0, "bob", 1, 1, 0)]
    assert pairs == [(D0, "bob", "alice", 1, 0, 0)]


# -- bots and self ------------------------------------------------------------------------------

async def test_store_bots_and_responses_to_bots_count_nothing(store: Store, write: Write) -> None:
    events = [msg("b1", "bot", 0, bot=True), msg("m1", "alice", 10), reply("m2", "alice", "b1", 100),
              react("m1", "bot", 20, bot=True), mention("m3", "bob", "bot", "alice", when=200),
              react("b1", "bob", 30)]
    await write(events)
    members, pairs = await stored_matches_reference(store, events)
    assert members == [(D0, "alice", 2, 2, 0), (D0, "bob", 1, 1, 0)]
    assert pairs == [(D0, "bob", "alice", 0, 1, 0)]


async def test_store_bot_flag_arriving_later_drops_earlier_responses(store: Store, write: Write) -> None:
    await write([mention("m1", "alice", "helper", when=0), react("m9", "alice", 5, target_author="helper")])
    assert (await read(store))[1] == [(D0, "alice", "helper", 0, 1, 1)]
    await write([msg("h1", "helper", 100, bot=True)])
    assert await read(store) == ([(D0, "alice", 1, 1, 0)], [])


async def test_store_self_responses_count_nothing(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), reply("m2", "alice", "m1", 60, mentions=["alice"]), react("m1", "alice", 70)]
    await write(events)
    members, pairs = await stored_matches_reference(store, events)
    assert members == [(D0, "alice", 2, 2, 0)]
    assert pairs == []


# -- turn rule ------------------------------------------------------------------------------------

async def test_store_turn_rule_needs_60_seconds(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), msg("m2", "alice", 59), msg("m3", "alice", 119), msg("m4", "alice", 179),
              msg("m5", "alice", 179)]
    await write(events)
    members, _ = await stored_matches_reference(store, events)
    # gaps: -, 59, 60, 60, 0 → counted m1, m3, m4
    assert members == [(D0, "alice", 5, 3, 0)]


async def test_store_turn_rule_restarts_each_utc_day(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", DAY - 10), msg("m2", "alice", DAY + 10)]
    await write(events)
    members, _ = await stored_matches_reference(store, events)
    assert members == [(D0, "alice", 1, 1, 0), (D0 + 1, "alice", 1, 1, 0)]


async def test_store_turn_rule_is_order_independent(store: Store, write: Write) -> None:
    events = [msg("m3", "alice", 100), msg("m1", "alice", 0), msg("m2", "alice", 30)]
    await write(events)
    members, _ = await stored_matches_reference(store, events)
    assert members == [(D0, "alice", 3, 2, 0)]


async def test_store_turn_rule_skips_deleted_messages(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), msg("m2", "alice", 30), msg("m3", "alice", 70), delete("m1", 200)]
    await write(events)
    members, _ = await stored_matches_reference(store, events)
    assert members == [(D0, "alice", 2, 1, 0)]  # m2 is now the day's first; m3 is 40 s after it


async def test_store_turn_rule_after_delete_uses_remaining_neighbours(store: Store, write: Write) -> None:
    events = [msg("m1", "alice", 0), msg("m2", "alice", 30), msg("m3", "alice", 100), delete("m2", 200)]
    await write(events)
    members, _ = await stored_matches_reference(store, events)
    assert members == [(D0, "alice", 2, 2, 0)]


# -- windows ----------------------------------------------------------------------------------------

def _window_events() -> list[Event]:
    return [msg("m1", "alice", 100), reply("m2", "bob", "m1", 200), msg("m3", "alice", 130),
            react("m1", "carol", DAY - 100), msg("m4", "bob", DAY + 50, reply_to="m1"),
            react("m4", "alice", DAY + 3000), anon("m4", 2, DAY + 4000), msg("m5", "carol", 3 * DAY + 7)]


async def test_store_window_ignores_events_after_end(store: Store, write: Write) -> None:
    events = _window_events()
    await write(events)
    end = BASE + timedelta(seconds=DAY + 100)
    got = await read(store, BASE - timedelta(days=1), end)
    assert got == reference(events, BASE - timedelta(days=1), end)
    assert got[1] == [(D0, "bob", "alice", 1, 0, 0), (D0, "carol", "alice", 0, 0, 1),
                      (D0 + 1, "bob", "alice", 1, 0, 0)]
    assert (D0 + 1, "alice", "bob", 0, 0, 1) not in got[1]


async def test_store_window_start_is_exclusive(store: Store, write: Write) -> None:
    events = _window_events()
    await write(events)
    got = await read(store, BASE + timedelta(seconds=100), WIDE_END)
    assert got == reference(events, BASE + timedelta(seconds=100), WIDE_END)
    # m1 at exactly `start` is out; m3 (30 s after m1) keeps the flag computed over its whole day
    assert (D0, "alice", 1, 0, 0) in got[0]


@pytest.mark.parametrize(("start", "end"), [
    (0, DAY), (-1, DAY - 1), (150, 2 * DAY + 1), (DAY - 100, DAY + 3000), (220, 240), (5 * DAY, 6 * DAY),
    (0, 0), (DAY, 0),
])
async def test_store_windows_match_reference(store: Store, write: Write, start: int, end: int) -> None:
    events = _window_events()
    await write(events)
    lo, hi = BASE + timedelta(seconds=start), BASE + timedelta(seconds=end)
    assert await read(store, lo, hi) == reference(events, lo, hi)


async def test_store_unknown_community_is_empty(store: Store) -> None:
    assert await store.community(CommunityRef("test", "nope")) is None
    agg = await store.aggregates(CommunityRef("test", "nope"), WIDE_START, WIDE_END)
    assert agg.users == () and len(agg.md_day) == 0


async def test_store_communities_do_not_mix(store: Store, write: Write) -> None:
    other = EventFactory(community=CommunityRef("test", "c2"))
    await write([msg("m1", "alice", 0), other.msg("m1", "zed", 0), other.reply("m2", "yan", "m1", 60)])
    assert (await read(store)) == ([(D0, "alice", 1, 1, 0)], [])
    theirs = rows(await store.aggregates(other.community, WIDE_START, WIDE_END))
    assert theirs[1] == [(D0, "yan", "zed", 1, 0, 0)]


async def test_store_failed_import_keeps_nothing(store: Store) -> None:
    await store.import_events([msg("m0", "alice", 0)])
    before = await read(store)

    def source() -> Iterator[Event]:
        for i in range(1, 8):
            yield msg(f"m{i}", "bob", i * 100, reply_to="m0")
        raise ValueError("line 8: not JSON")

    with pytest.raises(ValueError, match="line 8"):
        await store.import_events(source())
    assert await read(store) == before
    assert (await store.community(COMMUNITY)).messages == 1  # type: ignore[union-attr]


# -- communities and members --------------------------------------------------------------------

async def test_store_community_info(store: Store, write: Write) -> None:
    await write([msg("m1", "alice", 100, community_name="Test Club"), msg("b1", "bot", 150, bot=True),
                 reply("m2", "bob", "m1", 200), react("m1", "carol", 500), delete("m2", 600)])
    info = await store.community(COMMUNITY)
    assert info is not None
    assert (info.name, info.members, info.messages) == ("Test Club", 3, 2)
    assert info.first_event == BASE + timedelta(seconds=100)
    assert info.last_event == BASE + timedelta(seconds=500)
    assert [c.ref for c in await store.communities()] == [COMMUNITY]


async def test_store_communities_ordered_by_key(store: Store, write: Write) -> None:
    b, a = EventFactory(community=CommunityRef("test", "b")), EventFactory(community=CommunityRef("discord", "z"))
    await write([b.msg("m1", "x", 0), a.msg("m1", "y", 0)])
    assert [c.ref.key for c in await store.communities()] == ["discord:z", "test:b"]


async def test_store_member_names_are_latest(store: Store, write: Write) -> None:
    await write([msg("m2", "alice", 200, name="Alice B"), msg("m1", "alice", 100, name="Alice A"),
                 react("m1", "bob", 300, name="Bobby")])
    assert await store.member_names(COMMUNITY) == {"alice": "Alice B", "bob": "Bobby"}


async def test_store_find_member(store: Store, write: Write) -> None:
    await write([msg("m1", "u1", 0, name="Zoë"), msg("m2", "u2", 100, name="Sam"), msg("m3", "u3", 200, name="sam")])
    assert await store.find_member(COMMUNITY, "u2") == "u2"
    assert await store.find_member(COMMUNITY, "ZOË") == "u1"
    assert await store.find_member(COMMUNITY, "Sam") is None  # ambiguous
    assert await store.find_member(COMMUNITY, "nobody") is None
    assert await store.find_member(CommunityRef("test", "other"), "u1") is None


# -- scores ---------------------------------------------------------------------------------------

def _score(user: str, rank: int, score: int, algorithm: str = "v1") -> MemberScore:
    return MemberScore(user=user, score=score, percentile=100.0 - rank, rank=rank, influence=score * 1.5,
                       reach=2.0, resonance=1.1, network=0.9, activity=3.0, algorithm=algorithm)


async def test_store_save_and_read_scores(store: Store, write: Write) -> None:
    await write([msg("m1", "alice", 0)])
    as_of = BASE + timedelta(hours=5, microseconds=123)
    scores = [_score("bob", 2, 40), _score("alice", 1, 55), _score("carol", 3, 12)]
    await store.save_scores(COMMUNITY, as_of, "all", scores)
    assert [s.user for s in await store.leaderboard(COMMUNITY)] == ["alice", "bob", "carol"]
    assert await store.score_of(COMMUNITY, "bob") == scores[0]
    assert await store.score_of(COMMUNITY, "bob", "week") is None
    assert await store.score_of(COMMUNITY, "nobody") is None
    saved = await store.stored_scores(COMMUNITY)
    assert saved is not None
    assert (saved.as_of, saved.period, saved.algorithm, saved.members) == (as_of, "all", "v1", 3)
    assert await store.stored_scores(COMMUNITY, "week") is None


async def test_store_save_scores_replaces_the_period(store: Store) -> None:
    await store.save_scores(COMMUNITY, BASE, "week", [_score("alice", 1, 50), _score("bob", 2, 30)])
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "week", [_score("carol", 1, 20, "v2")])
    await store.save_scores(COMMUNITY, BASE, "all", [_score("dave", 1, 70)])
    assert [s.user for s in await store.leaderboard(COMMUNITY, "week")] == ["carol"]
    assert await store.score_of(COMMUNITY, "alice", "week") is None
    assert [s.user for s in await store.leaderboard(COMMUNITY, "all")] == ["dave"]
    saved = await store.stored_scores(COMMUNITY, "week")
    assert saved is not None and (saved.algorithm, saved.members) == ("v2", 1)


async def test_store_leaderboard_paging(store: Store) -> None:
    await store.save_scores(COMMUNITY, BASE, "all", [_score(f"u{i:02d}", i, 100 - i) for i in range(1, 26)])
    page2 = await store.leaderboard(COMMUNITY, offset=10, limit=10)
    assert [s.rank for s in page2] == list(range(11, 21))
    assert [s.rank for s in await store.leaderboard(COMMUNITY, offset=20, limit=10)] == list(range(21, 26))
    assert len(await store.leaderboard(COMMUNITY, limit=0)) == 25
    assert len(await store.leaderboard(COMMUNITY, offset=5, limit=-1)) == 20
    assert await store.leaderboard(COMMUNITY, offset=30) == []
    assert await store.leaderboard(CommunityRef("test", "none")) == []


async def test_store_score_history_one_snapshot_per_day(store: Store) -> None:
    await store.save_scores(COMMUNITY, BASE + timedelta(hours=1), "all", [_score("alice", 1, 30)])
    await store.save_scores(COMMUNITY, BASE + timedelta(hours=9), "all", [_score("alice", 1, 33)])
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1, hours=9), "all", [_score("alice", 1, 35)])
    await store.save_scores(COMMUNITY, BASE + timedelta(days=2), "week", [_score("alice", 1, 99)])
    day0 = datetime(2026, 3, 2, tzinfo=UTC)
    assert await store.score_history(COMMUNITY, "alice", BASE - timedelta(days=3)) == [
        (day0, 33), (day0 + timedelta(days=1), 35)]
    assert await store.score_history(COMMUNITY, "alice", BASE + timedelta(hours=30)) == [
        (day0 + timedelta(days=1), 35)]
    assert await store.score_history(COMMUNITY, "bob", BASE) == []


async def test_store_save_scores_rescoring_overlapping_members(store: Store) -> None:
    """Saving over a period that shares members rewrites their rows and drops the others."""
    await store.save_scores(COMMUNITY, BASE, "all", [_score("alice", 1, 90), _score("bob", 2, 50),
                                                     _score("carol", 3, 10)])
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "all",
                            [_score("dave", 1, 80), _score("bob", 2, 60), _score("alice", 3, 5)])
    board = await store.leaderboard(COMMUNITY, "all", limit=0)
    assert [(s.user, s.rank, s.score) for s in board] == [("dave", 1, 80), ("bob", 2, 60), ("alice", 3, 5)]
    assert [s.user for s in await store.leaderboard(COMMUNITY, "all", offset=1, limit=1)] == ["bob"]
    assert await store.score_of(COMMUNITY, "carol") is None
    saved = await store.stored_scores(COMMUNITY, "all")
    assert saved is not None and saved.members == 3
    assert [s for _, s in await store.score_history(COMMUNITY, "alice", BASE - timedelta(days=1))] == [90, 5]
    await store.save_scores(COMMUNITY, BASE + timedelta(days=1), "all", [])
    assert await store.leaderboard(COMMUNITY, "all", limit=0) == []
