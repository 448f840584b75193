"""Explanations: deltas between two as-of times and the responders behind them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scoring.explain import Headline, describe_en, explain
from tests.scoring.factories import AS_OF, member, reaction, reply, score

BEFORE = ([member("me", 10, 5), member("old", 10)], [reply("old", "me", 10), reply("gone", "me", 93)])
AFTER = ([*BEFORE[0], member("me", 2, 4)],
         [*BEFORE[1], reply("new1", "me", 2), reply("new2", "me", 1), reaction("old", "me", 1, n=3)])


def _pair() -> tuple:
    now = score(*AFTER)
    then = score(*BEFORE, as_of=AS_OF - timedelta(days=7))
    return now, then


def test_explain_names_new_responders_as_new() -> None:
    now, then = _pair()
    ex = explain("me", now, then)
    new = {c.responder for c in ex.contributors if c.is_new}
    assert new == {"new1", "new2"}
    assert ex.new_responders == 2
    assert ex.responders_now == 3  # gone's response is outside the window now
    assert ex.lost_responders == 1


def test_explain_deltas_are_now_minus_then() -> None:
    now, then = _pair()
    ex = explain("me", now, then)
    a, b = now.get("me"), then.get("me")
    assert ex.score_now == a.score and ex.score_then == b.score and ex.delta == a.score - b.score
    assert ex.reach_delta == pytest.approx(a.reach - b.reach)
    assert ex.resonance_delta == pytest.approx(a.resonance - b.resonance)
    assert ex.network_delta == pytest.approx(a.network - b.network)
    assert ex.activity_delta == pytest.approx(a.activity - b.activity)
    assert ex.headline == Headline(ex.delta, 3, 2, 1)


def test_explain_contributors_are_sorted_by_absolute_change_and_credits_match_tables() -> None:
    now, then = _pair()
    ex = explain("me", now, then)
    changes = [abs(c.change) for c in ex.contributors]
    assert changes == sorted(changes, reverse=True)
    for c in ex.contributors:
        assert c.credit_now == now.responders("me").get(c.responder, 0.0)
        assert c.credit_then == then.responders("me").get(c.responder, 0.0)


def test_explain_limits_contributors_to_top_n() -> None:
    pairs = [reply(f"r{i}", "me", 1) for i in range(12)]
    ex = explain("me", score([member("me")], pairs), score([member("me")], []), top=4)
    assert len(ex.contributors) == 4 and ex.new_responders == 12


def test_explain_member_not_scored_then() -> None:
    now = score([member("me")], [reply("a", "me")])
    then = score([member("other")], [])
    ex = explain("me", now, then)
    assert ex.score_then is None and ex.delta == ex.score_now
    assert describe_en(ex)[0].startswith(f"New score {ex.score_now}")


def test_describe_en_renders_the_headline() -> None:
    now, then = _pair()
    ex = explain("me", now, then)
    lines = describe_en(ex)
    sign = "+" if ex.delta > 0 else ("±" if ex.delta == 0 else "")
    assert lines[0] == f"{sign}{ex.delta}: 3 members responded to you, 2 of them new."
    assert any(line.startswith("new responder new1") for line in lines)
