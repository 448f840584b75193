"""compute()'s members as columns (RankedMembers): the same MemberScores as a tuple, made lazily."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from scoring.engine import RankedMembers, ScoreTable
from scoring.result import MemberScore
from tests.scoring.factories import communities, member, reaction, reply, score


def _table() -> ScoreTable:
    return score([member("alice", 0, 5), member("bob", 1, 3), member("carol", 2, 2), member("dave", 0, 1)],
                 [reply("bob", "alice"), reaction("carol", "alice", 1, 3), reply("alice", "bob", 2),
                  reaction("dave", "carol")])


def _expected(members: RankedMembers) -> tuple[MemberScore, ...]:
    c = members.columns
    return tuple(MemberScore(c.users[i], int(c.score[i]), float(c.percentile[i]), i + 1, float(c.influence[i]),
                             float(c.reach[i]), float(c.resonance[i]), float(c.network[i]), float(c.activity[i]),
                             c.algorithm) for i in range(len(members)))


def test_ranked_members_read_one_item_without_making_all() -> None:
    members = _table().members
    assert isinstance(members, RankedMembers)
    first, last = members[0], members[-1]
    assert members._all is None
    assert (first.rank, last.rank) == (1, len(members))
    assert (first, last) == (_expected(members)[0], _expected(members)[-1])


def test_ranked_members_iterate_slice_and_compare_like_a_tuple() -> None:
    members = _table().members
    assert isinstance(members, RankedMembers)
    expected = _expected(members)
    assert tuple(members) == expected
    assert members[1:3] == expected[1:3]
    assert members == expected
    assert members == _table().members
    assert members != list(expected)  # a tuple was never equal to a list either
    assert [m.rank for m in members] == list(range(1, len(expected) + 1))


def test_ranked_members_index_out_of_range_raises() -> None:
    members = _table().members
    with pytest.raises(IndexError):
        members[len(members)]
    with pytest.raises(IndexError):
        members[-len(members) - 1]


def test_ranked_members_by_user_orders_rank_positions_by_user_id() -> None:
    members = _table().members
    assert isinstance(members, RankedMembers)
    users = [members.columns.users[i] for i in members.columns.by_user.tolist()]
    assert users == sorted(members.columns.users)


def test_score_table_lookups_and_distribution_from_columns() -> None:
    table = _table()
    for pos, m in enumerate(table.members):
        assert table.get(m.user) == m
        assert table.position(m.user) == pos
    counts = [0] * 10
    for m in table.members:
        counts[min(9, (m.score - 1) // 10)] += 1
    assert table.distribution() == tuple(counts)


@settings(max_examples=40, deadline=None)
@given(communities())
def test_ranked_members_match_their_columns_on_random_communities(community: tuple[list, list]) -> None:
    table = score(*community)
    if not len(table):
        return
    members = table.members
    assert isinstance(members, RankedMembers)
    assert tuple(members) == _expected(members)
    assert sorted(m.user for m in members) == [members.columns.users[i] for i in members.columns.by_user.tolist()]


def test_edges_and_stats_at_agree_with_the_per_member_reads() -> None:
    table = _table()
    targets, responders, values = table.edges()
    assert list(table.users) == sorted(table.users)
    seen: dict[str, dict[str, float]] = {}
    for t, r, v in zip(targets.tolist(), responders.tolist(), values.tolist(), strict=True):
        seen.setdefault(table.users[t], {})[table.users[r]] = v
    assert seen == {u: table.responders(u) for u in table.users if table.responders(u)}
    assert seen["alice"].keys() == {"bob", "carol"}
    keys = list(zip(targets.tolist(), responders.tolist(), strict=True))
    assert keys == sorted(keys)
    assert [table.stats_at(i) for i in range(len(table.users))] == [table.stats(u) for u in table.users]
