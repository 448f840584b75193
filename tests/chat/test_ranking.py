"""The compact leaderboard ranking: pages and ranks among visible members, without a per-member index."""

from __future__ import annotations

import random

from bot.chat.commands import _build_ranking
from scoring.result import MemberScore


def _members(n: int) -> list[MemberScore]:
    return [MemberScore(user=f"u{i}", score=100 - i % 100, percentile=50.0, rank=i + 1, influence=1.0, reach=1.0,
                        resonance=1.0, network=1.0, activity=1.0, algorithm="t") for i in range(n)]


def test_ranking_pages_and_ranks_match_the_filtered_list() -> None:
    rng = random.Random(3)
    for n in (0, 1, 7, 40):
        members = _members(n)
        for share in (0.0, 0.2, 0.9, 1.0):
            invisible = {m.user for m in members if rng.random() < share} | {"not-scored"}
            ranking = _build_ranking(members, None, invisible)
            visible = [m for m in members if m.user not in invisible]
            assert ranking.visible == len(visible)
            for start in range(0, n + 3):
                assert ranking.page(start, 5) == visible[start:start + 5]
            for m in members:
                assert ranking.rank_of(m) == sum(1 for v in visible if v.rank < m.rank) + 1
                assert ranking.shows(m.user) == (m.user not in invisible)
