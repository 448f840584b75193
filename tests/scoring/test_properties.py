"""Property tests: every invariant DESIGN.md promises, on random communities built from aggregate rows."""

from __future__ import annotations

import random
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import engine
from scoring.engine import V1, compute
from tests.scoring.factories import AS_OF, aggs, communities, day, member, reaction, reply, score

SETTINGS = settings(max_examples=200, deadline=None)
ago = st.integers(0, 89)


@SETTINGS
@given(communities(), st.lists(ago, min_size=1, max_size=30), ago, st.lists(ago, min_size=10, max_size=10),
       st.data())
def test_flooder_scores_below_member_answered_by_ten(bg, flood_days, member_day, answer_days, data) -> None:
    members, pairs = bg
    # 500 messages spread over the flooder's days; nobody answers.
    per_day = [500 // len(flood_days) + (1 if i < 500 % len(flood_days) else 0) for i in range(len(flood_days))]
    flood = [member("flooder", a, n, data.draw(st.integers(1, n))) for a, n in zip(flood_days, per_day, strict=True)]
    answered = [member("answered", member_day, 20)]
    answers = [reply(f"fan{i}", "answered", a) for i, a in enumerate(answer_days)]
    table = score(members + flood + answered, pairs + answers)
    assert table.get("flooder").score < table.get("answered").score


@SETTINGS
@given(communities(), st.lists(ago, min_size=1, max_size=90, unique=True), st.integers(1, 100),
       st.integers(1, 500), st.integers(0, 50), st.integers(0, 7), st.integers(1, 30), st.data())
def test_three_account_ring_never_outranks_member_answered_by_fifteen(
        bg, ring_days, ring_messages, reactions, replies, answer_age, honest_messages, data) -> None:
    members, pairs = bg
    ring = ["ring0", "ring1", "ring2"]
    rows = [member(u, a, ring_messages) for u in ring for a in ring_days]
    ring_pairs = [(day(a), r, t, replies, replies // 2, reactions) for a in ring_days for r in ring for t in ring
                  if r != t]
    # The honest member is answered within the last week by 15 distinct members (background or new).
    bg_users = sorted({m[1] for m in members} | {p[1] for p in pairs})
    pool = bg_users + [f"new{i}" for i in range(15)]
    fans = data.draw(st.lists(st.sampled_from(pool), min_size=15, max_size=15, unique=True))
    honest = [member("honest", answer_age, honest_messages)]
    answers = [reply(f, "honest", answer_age) for f in fans]
    table = score(members + rows + honest, pairs + ring_pairs + answers)
    for u in ring:
        assert table.get(u).rank > table.get("honest").rank


@SETTINGS
@given(communities(), st.data())
def test_adding_a_distinct_responder_never_lowers_a_score(bg, data) -> None:
    members, pairs = bg
    users = sorted({m[1] for m in members} | {p[1] for p in pairs} | {p[2] for p in pairs} | {"bg0"})
    target = data.draw(st.sampled_from(users))
    existing = {p[1] for p in pairs if p[2] == target and sum(p[3:]) > 0}
    candidates = [u for u in users if u != target and u not in existing] + ["newcomer"]
    responder = data.draw(st.sampled_from(candidates))
    kind = data.draw(st.sampled_from([reply, reaction]))
    new_row = kind(responder, target, data.draw(ago), data.draw(st.integers(1, 5)))
    before = score(members, pairs).get(target)
    after = score(members, pairs + [new_row]).get(target)
    assert after is not None
    assert before is None or after.score >= before.score
    assert before is None or after.reach > before.reach


@SETTINGS
@given(communities(), st.lists(st.tuples(ago, st.integers(1, 20), st.integers(0, 20)), min_size=1, max_size=10),
       st.data())
def test_self_rows_change_nothing(bg, selfs, data) -> None:
    members, pairs = bg
    users = sorted({m[1] for m in members} | {p[1] for p in pairs}) + ["selfish"]
    extra = [(day(a), u, u, n, 0, r) for (a, n, r), u in
             zip(selfs, data.draw(st.lists(st.sampled_from(users), min_size=len(selfs), max_size=len(selfs))),
                 strict=True)]
    assert score(members, pairs + extra).members == score(members, pairs).members


@SETTINGS
@given(communities(), st.lists(st.tuples(ago, st.integers(1, 20)), min_size=1, max_size=10), st.data())
def test_a_bot_changes_nothing(bg, bot_rows, data) -> None:
    members, pairs = bg
    users = sorted({m[1] for m in members} | {p[1] for p in pairs} | {"bg0"})
    extra_m = [member("bot", a, n) for a, n in bot_rows]
    extra_p = [reply("bot", data.draw(st.sampled_from(users)), a, n) for a, n in bot_rows]
    extra_p += [reaction(data.draw(st.sampled_from(users)), "bot", a) for a, _ in bot_rows]
    noisy = compute(aggs(members + extra_m, pairs + extra_p), AS_OF, bots={"bot"})
    assert noisy.members == score(members, pairs).members


@SETTINGS
@given(communities(), st.randoms(use_true_random=False))
def test_row_order_is_irrelevant(bg, rnd: random.Random) -> None:
    members, pairs = bg
    m2, p2 = members[:], pairs[:]
    rnd.shuffle(m2)
    rnd.shuffle(p2)
    a, b = score(members, pairs), score(m2, p2)
    assert a.members == b.members
    for m in a.members:
        assert a.responders(m.user) == b.responders(m.user)
        assert a.stats(m.user) == b.stats(m.user)


@SETTINGS
@given(communities())
def test_splitting_rows_gives_the_same_scores(bg) -> None:
    members, pairs = bg
    # The same events aggregated in two batches (e.g. two imports of one day) score the same.
    split = [half for p in pairs for half in ((*p[:3], p[3] // 2, p[4] // 2, p[5] // 2),
                                              (*p[:3], p[3] - p[3] // 2, p[4] - p[4] // 2, p[5] - p[5] // 2))]
    a, b = score(members, pairs), score(members, split)
    assert [(m.user, m.score, m.rank) for m in a.members] == [(m.user, m.score, m.rank) for m in b.members]
    for x, y in zip(a.members, b.members, strict=True):
        assert x.influence == pytest.approx(y.influence, rel=1e-9, abs=1e-12)


@SETTINGS
@given(communities(), communities(prefix="future"), st.integers(1, 400))
def test_days_after_as_of_are_ignored(bg, future, shift) -> None:
    members, pairs = bg
    fm, fp = future
    later = [(d + 90 + shift, *rest) for d, *rest in fm]
    later_p = [(d + 90 + shift, *rest) for d, *rest in fp]
    # Future rows of existing members too.
    later += [(day(0) + shift, m[1], 30, 30, 9) for m in members]
    later_p += [(day(0) + shift, p[2], p[1], 5, 5, 5) for p in pairs]
    assert score(members + later, pairs + later_p).members == score(members, pairs).members


@SETTINGS
@given(communities())
def test_scores_ranks_and_percentiles_are_in_range(bg) -> None:
    members, pairs = bg
    table = score(*bg)
    n = len(table)
    assert sorted(m.rank for m in table.members) == list(range(1, n + 1))
    assert [m.rank for m in table.members] == list(range(1, n + 1))
    for m in table.members:
        assert 1 <= m.score <= 100
        assert 0 < m.percentile < 100 or n == 1
        assert m.influence >= 0 and m.reach >= 0 and m.activity >= 0
    if n:
        assert sum(m.network for m in table.members) == pytest.approx(n)
    scores = [m.score for m in table.members]
    assert scores == sorted(scores, reverse=True)


@SETTINGS
@given(communities())
def test_influence_is_the_sum_of_responder_contributions(bg) -> None:
    table = score(*bg)
    for m in table.members:
        factor = 0.5 + m.resonance / (m.resonance + V1.resonance_ref)
        expected = sum(table.responders(m.user).values()) * factor + V1.activity_weight * m.activity
        assert m.influence == pytest.approx(expected, rel=1e-9, abs=1e-12)


def _merged(rows: list, width: int) -> list:
    """Rows with equal keys (the first `width` fields) summed into one, in key order."""
    out: dict[tuple, list[int]] = {}
    for r in rows:
        acc = out.setdefault(tuple(r[:width]), [0] * (len(r) - width))
        for i, v in enumerate(r[width:]):
            acc[i] += v
    return [(*k, *v) for k, v in sorted(out.items())]


@SETTINGS
@given(communities(), st.randoms(use_true_random=False))
def test_rows_in_key_order_skip_the_grouping_sort_with_the_same_result(bg, rnd: random.Random) -> None:
    """A store hands over each day's rows in key order (one row per key): compute() then skips its
    grouping sorts. The result is the one of the same rows shuffled (the sorting path), exactly."""
    members, pairs = bg
    m1, p1 = _merged(members, 2), _merged(pairs, 3)
    m2, p2 = m1[:], p1[:]
    rnd.shuffle(m2)
    rnd.shuffle(p2)
    skipped: list[bool] = []
    real_group = engine._group

    def spy(keys):  # noqa: ANN001, ANN202
        out = real_group(keys)
        skipped.append(out[1] is None)
        return out

    with patch.object(engine, "_group", spy):
        a = score(m1, p1)
        fast = skipped[:]
        skipped.clear()
        b = score(m2, p2)
    if len(m1) > 1 and len(p1) > 1 and a.members:
        assert fast[:2] == [True, True]  # member days, pair days
    assert a.members == b.members
    for m in a.members:
        assert a.responders(m.user) == b.responders(m.user)
        assert a.stats(m.user) == b.stats(m.user)
