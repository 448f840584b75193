"""Unit tests of each rule and component of the clout-v1 engine (table-driven where it helps)."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

import pytest

from scoring.engine import ALGORITHM, V1, MemberStats, Params, compute, global_score, to_score
from tests.scoring.factories import AS_OF, aggs, day, member, mention, reaction, reply, score

# Clamping the network weight to exactly 1 makes `responders()` return the bare credit.
FLAT = dataclasses.replace(V1, network_min=1.0, network_max=1.0)
UNCAPPED = dataclasses.replace(FLAT, pair_cap=1e9)


def w(ago: int) -> float:
    """Recency weight of a day `ago` days before AS_OF (age from the day's midpoint, 12:00, to 23:00)."""
    return 0.5 ** ((ago + 11 / 24) / V1.half_life_days)


def credit(pairs: list, params: Params = UNCAPPED, target: str = "t", responder: str = "r") -> float:
    table = score([member(target)], pairs, params=params)
    return table.responders(target).get(responder, 0.0)


# --- window and recency ---------------------------------------------------------------------------

@pytest.mark.parametrize(("ago", "counted"), [(0, True), (45, True), (90, True), (91, False), (120, False), (-1, False)])
def test_window_keeps_only_days_overlapping_the_window(ago: int, counted: bool) -> None:
    # AS_OF is 23:00, so the day 90 days back still overlaps the window by one hour.
    assert (credit([reply("r", "t", ago)]) > 0) is counted


def test_window_days_argument_narrows_the_window() -> None:
    table = score([member("t")], [reply("r", "t", 10)], params=UNCAPPED, window_days=7)
    assert table.responders("t") == {}
    assert table.window_days == 7


def test_window_day_starting_exactly_at_as_of_is_kept_and_not_aged() -> None:
    midnight = datetime.fromtimestamp(day(0) * 86_400, AS_OF.tzinfo)
    table = score([member("t", 0)], [reply("r", "t", 0)], as_of=midnight, params=UNCAPPED)
    assert table.responders("t")["r"] == pytest.approx(1.0)


@pytest.mark.parametrize("ago", [0, 1, 7, 30, 60, 89])
def test_recency_weight_halves_every_30_days(ago: int) -> None:
    assert credit([reply("r", "t", ago)]) == pytest.approx(w(ago))


def test_naive_as_of_is_rejected() -> None:
    with pytest.raises(ValueError):
        compute(aggs([member("a")]), datetime(2024, 10, 4))


# --- anti-gaming rules -----------------------------------------------------------------------------

@pytest.mark.parametrize(("pairs", "expected"), [
    ([reply("r", "t", n=1)], 1.0),
    ([mention("r", "t", n=1)], 0.6),
    ([reaction("r", "t", n=1)], 0.4),
    ([reply("r", "t", n=3)], 2.0),
    ([reply("r", "t", n=7)], 3.0),
    ([reaction("r", "t", n=15)], 0.4 * 4),
    ([(day(0), "r", "t", 1, 1, 1)], 2.0),
    ([reply("r", "t", n=1), reply("r", "t", n=2)], 2.0),  # duplicate rows are merged before log2
    ([reply("r", "t", 0), reply("r", "t", 1)], 1.0 + w(1) / w(0)),  # diminishing is per day
])
def test_credit_is_kind_weighted_and_diminishing_per_pair_day(pairs: list, expected: float) -> None:
    assert credit(pairs) == pytest.approx(expected * w(0))


@pytest.mark.parametrize(("targets", "per_response"), [(1, 1.0), (10, 1.0), (20, 0.5), (40, 0.25)])
def test_selectivity_divides_credit_of_members_responding_to_many(targets: int, per_response: float) -> None:
    pairs = [reply("r", f"t{i}") for i in range(targets)]
    table = score([member(f"t{i}") for i in range(targets)], pairs, params=UNCAPPED)
    assert table.responders("t0")["r"] == pytest.approx(per_response * w(0))


def test_selectivity_counts_targets_per_day_not_per_window() -> None:
    pairs = [reply("r", f"t{i}", ago=i) for i in range(20)]
    table = score([member(f"t{i}") for i in range(20)], pairs, params=UNCAPPED)
    assert table.responders("t0")["r"] == pytest.approx(w(0))


@pytest.mark.parametrize(("pairs", "expected"), [
    ([reply("r", "t", n=1)], w(0)),
    ([reply("r", "t", ago=a, n=100) for a in range(30)], 1.5 * w(0)),
    ([reaction("r", "t", ago=a, n=1000) for a in range(40, 90)], 1.5 * w(40)),  # the cap ages with the pair
])
def test_pair_cap_limits_credit_from_one_responder(pairs: list, expected: float) -> None:
    assert credit(pairs, FLAT) == pytest.approx(expected)


def test_self_responses_are_ignored() -> None:
    base = score([member("a"), member("b")], [reply("b", "a")])
    with_self = score([member("a"), member("b")], [reply("b", "a"), reply("a", "a", n=50), reaction("b", "b", n=9)])
    assert with_self.members == base.members
    assert with_self.stats("a") == base.stats("a")


def test_self_only_user_is_not_scored() -> None:
    assert score([member("a")], [reply("x", "x", n=5)]).get("x") is None


def test_bots_are_ignored_as_authors_responders_and_targets() -> None:
    base = score([member("a"), member("b")], [reply("b", "a")])
    noisy = score([member("a"), member("b"), member("bot", messages=900)],
                  [reply("b", "a"), reply("bot", "a", n=40), reply("a", "bot"), reaction("b", "bot")], bots={"bot"})
    assert noisy.members == base.members


# --- components ----------------------------------------------------------------------------------------

def test_reach_counts_each_responder_once_weighted_by_latest_response() -> None:
    table = score([member("t")], [reply("r1", "t", 0, n=9), reply("r1", "t", 30), reply("r2", "t", 60),
                                  reaction("r3", "t", 89)])
    assert table.get("t").reach == pytest.approx(w(0) + w(60) + w(89))


@pytest.mark.parametrize(("messages", "pairs", "anon", "expected"), [
    (0, [], 0, 0.5),  # no evidence: the prior, which is the reference rate
    (3, [reaction("r", "t")], 0, (0.4 + 2.5) / (3 + 5)),
    (20, [reply(f"r{i}", "t") for i in range(10)], 0, (10 + 2.5) / (20 + 5)),
    (4, [], 10, (0.2 * 10 + 2.5) / (4 + 5)),  # anonymous reactions count toward resonance
])
def test_resonance_is_credit_per_counted_message_smoothed_by_a_prior(
        messages: int, pairs: list, anon: int, expected: float) -> None:
    rows = [member("t", messages=messages, anon=anon)] if messages or anon else [member("t", messages=0)]
    table = score(rows, pairs, params=FLAT, as_of=datetime.fromtimestamp(day(0) * 86_400 + 43_200, AS_OF.tzinfo))
    assert table.get("t").resonance == pytest.approx(expected)


def test_anonymous_reactions_do_not_count_as_reach() -> None:
    table = score([member("t", anon=50)], [])
    assert table.get("t").reach == 0
    assert table.stats("t").anonymous_reactions == 50


def test_network_is_rescaled_to_community_mean_one() -> None:
    table = score([member(u) for u in "abcde"], [reply("a", "b"), reply("c", "b"), reply("b", "d"), reaction("e", "a")])
    assert sum(m.network for m in table.members) / len(table) == pytest.approx(1.0)


def test_network_being_answered_by_the_answered_counts_more() -> None:
    fans = [reply(f"f{i}", "hub", n=3, ago=i % 5) for i in range(12)]
    table = score([member("hub"), member("x"), member("y")], [*fans, reply("hub", "x"), reply("nobody", "y")])
    assert table.get("x").network > table.get("y").network
    assert table.responders("x")["hub"] > table.responders("y")["nobody"]


@pytest.mark.parametrize(("rows", "expected"), [
    ([member("a", 0)], w(0)),
    ([member("a", 0, messages=50), member("a", 10)], w(0) + w(10)),
    ([member("a", 0, messages=5, counted=0)], 0.0),  # only days with counted messages are active
])
def test_activity_is_decayed_count_of_active_days(rows: list, expected: float) -> None:
    assert score(rows).get("a").activity == pytest.approx(expected)


def test_influence_is_resonance_scaled_effective_reach_plus_activity() -> None:
    table = score([member("t", 0, messages=6), member("t", 3), member("r1"), member("r2")],
                  [reply("r1", "t", n=2), reaction("r2", "t", 5), reply("t", "r1")])
    m = table.get("t")
    res = m.resonance
    factor = 0.5 + res / (res + V1.resonance_ref)
    expected = sum(table.responders("t").values()) * factor + V1.activity_weight * m.activity
    assert m.influence == pytest.approx(expected)


# --- mapping, ranks, percentiles -------------------------------------------------------------------------

@pytest.mark.parametrize(("influence", "expected"), [
    (0.0, 1), (-3.0, 1), (1.0, round(1 + 99 * math.log(2) / math.log(10_001))),
    (100.0, round(1 + 99 * math.log(101) / math.log(10_001))), (10_000.0, 100), (1e9, 100),
])
def test_to_score_is_log_scale_with_fixed_reference(influence: float, expected: int) -> None:
    assert to_score(influence) == expected


def test_to_score_is_monotone() -> None:
    values = [0.0, 0.1, 0.5, 1, 2, 5, 10, 50, 200, 1000, 5000, 20000]
    scores = [to_score(v) for v in values]
    assert scores == sorted(scores)


def test_global_score_maps_the_sum_of_influences() -> None:
    assert global_score([3.0, 7.0]) == to_score(10.0)
    assert global_score([]) == 1


def test_ranks_and_percentiles_handle_ties_deterministically() -> None:
    table = score([member("b"), member("a"), member("c")], [reply("a", "c")])
    assert [m.user for m in table.members] == ["c", "a", "b"]
    assert [m.rank for m in table.members] == [1, 2, 3]
    top, a, b = table.members
    assert a.score == b.score and a.percentile == b.percentile == pytest.approx(100 * (0 + 0.5 * 2) / 3)
    assert top.percentile == pytest.approx(100 * (2 + 0.5) / 3)


def test_table_carries_algorithm_and_as_of() -> None:
    table = score([member("a")])
    assert table.algorithm == ALGORITHM == "clout-v1"
    assert table.as_of == AS_OF and table.window_days == 90
    assert all(m.algorithm == ALGORITHM for m in table.members)
    assert len(table) == 1 and table.distribution()[0] == 1


def test_stats_are_raw_counts_in_the_window() -> None:
    table = score([member("t", 0, messages=7, counted=5, anon=2), member("t", 3, messages=1, counted=0),
                   member("t", 100, messages=50)],
                  [reply("a", "t", n=2), mention("a", "t", 1), reaction("b", "t", 2, n=4), reply("c", "t", 95)])
    assert table.stats("t") == MemberStats(distinct_responders=2, replies=2, mentions=1, reactions=4,
                                           anonymous_reactions=2, messages=8, counted_messages=5, active_days=1)
    assert table.stats("nobody") == MemberStats()
    assert table.get("nobody") is None and table.responders("nobody") == {}


def test_empty_aggregates_give_an_empty_table() -> None:
    table = compute(aggs(), AS_OF)
    assert len(table) == 0 and table.members == ()


def test_members_include_responders_who_never_post() -> None:
    table = score([member("t")], [reaction("lurker", "t")])
    assert table.get("lurker") is not None


def test_scores_are_recomputed_identically() -> None:
    rows = ([member("a"), member("b", 3)], [reply("a", "b"), reaction("c", "a", 2, n=4)])
    assert score(*rows).members == score(*rows).members
    assert score(*rows, as_of=AS_OF + timedelta(days=1)).get("a").influence < score(*rows).get("a").influence
