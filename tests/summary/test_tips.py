"""Each tip rule fires in the situation it is for and stays quiet otherwise; words never shame."""

from __future__ import annotations

import dataclasses

import pytest

from bot.i18n import translator
from bot.summary.content import community_tip_text, tip_text
from bot.summary.tips import (
    Benchmark,
    CommunityFacts,
    Components,
    MemberFacts,
    Tip,
    best_channel,
    biggest_drop,
    celebrate,
    choose_tips,
    community_tip,
    first_steps,
    top_difference,
    weakest,
)

STEADY = Components(reach=10.0, resonance=0.6, network=1.2, activity=12.0)
# A member doing fine, with nothing remarkable this week: no rule should fire for them.
PLAIN = MemberFacts(score_now=30, score_then=30, now=STEADY, then=STEADY, responders=10, new_responders=1,
                    lost_responders=0, responses_per_message=1.0, active_days=20,
                    percentiles={"reach": 60.0, "resonance": 62.0, "network": 58.0, "activity": 65.0},
                    channels={"general": 2})
TOP = Benchmark(responders=14.0, responses_per_message=1.5, active_days=30.0)


def with_(**changes: object) -> MemberFacts:
    return dataclasses.replace(PLAIN, **changes)  # type: ignore[arg-type]


def test_tips_plain_member_gets_no_specific_rule_but_one_general_tip() -> None:
    for rule in (celebrate, best_channel, biggest_drop, weakest, first_steps):
        assert rule(PLAIN) is None, rule.__name__
    assert top_difference(PLAIN, TOP) is None
    assert choose_tips(PLAIN, TOP) == [Tip("keep_going")]


def test_tips_celebrate_fires_on_a_clear_rise_or_new_people() -> None:
    assert celebrate(with_(score_now=34)) == Tip("celebrate", values={"delta": 4, "new": 1})
    assert celebrate(with_(new_responders=3)) is not None
    assert celebrate(with_(score_now=31)) is None            # +1 is noise
    assert celebrate(with_(score_now=28, new_responders=3)) is None  # new people but a lower score
    assert celebrate(with_(score_then=None)) is None         # nothing to compare with


def test_tips_best_channel_names_the_channel_that_clearly_leads() -> None:
    tip = best_channel(with_(channels={"help": 6, "general": 2, "random": 1}))
    assert tip == Tip("best_channel", values={"channel": "help", "n": 6, "channels": 3})
    assert best_channel(with_(channels={"help": 2})) is None               # too few people
    assert best_channel(with_(channels={"help": 4, "general": 4})) is None  # a tie names nothing
    assert best_channel(with_(channels={})) is None


def test_tips_biggest_drop_picks_the_largest_relative_fall() -> None:
    now = dataclasses.replace(STEADY, reach=6.0, activity=10.0)  # reach −40 %, activity −17 %
    tip = biggest_drop(with_(now=now, lost_responders=4))
    assert tip is not None and tip.component == "reach" and tip.values["before"] == 10.0
    small = dataclasses.replace(STEADY, reach=9.0)  # −10 %: not news
    assert biggest_drop(with_(now=small)) is None
    assert biggest_drop(with_(now=dataclasses.replace(STEADY, reach=20.0))) is None  # a rise
    assert biggest_drop(with_(then=None)) is None


def test_tips_weakest_component_only_when_it_clearly_lags() -> None:
    lagging = {"reach": 70.0, "resonance": 20.0, "network": 65.0, "activity": 80.0}
    assert weakest(with_(percentiles=lagging)) == Tip("weakest", component="resonance",
                                                      values={"percentile": 20.0})
    even_low = {"reach": 30.0, "resonance": 25.0, "network": 35.0, "activity": 32.0}  # low, but no gap
    assert weakest(with_(percentiles=even_low)) is None
    assert weakest(PLAIN) is None  # all above the middle


def test_tips_top_difference_compares_what_top_members_do() -> None:
    tip = top_difference(with_(responders=3), TOP)
    assert tip is not None and tip.component == "responders" and tip.values == {"mine": 3, "theirs": 14.0}
    assert top_difference(with_(active_days=5), TOP) == Tip(
        "top_difference", component="active_days", values={"mine": 5, "theirs": 30.0})
    assert top_difference(with_(responders=8), TOP) is None  # 14 / 8 < 2
    assert top_difference(with_(responders=3), Benchmark()) is None  # no top members to compare with


def test_tips_first_steps_for_members_nobody_answered_yet() -> None:
    assert first_steps(with_(score_now=None, now=None)) == Tip("first_steps")
    assert first_steps(with_(responders=0)) == Tip("first_steps")
    assert first_steps(PLAIN) is None


def test_tips_choose_orders_caps_and_advises_each_component_once() -> None:
    busy = with_(score_now=35, channels={"help": 6, "general": 1}, responders=3,
                 now=dataclasses.replace(STEADY, reach=5.0), lost_responders=5,
                 percentiles={"reach": 10.0, "resonance": 60.0, "network": 60.0, "activity": 60.0})
    tips = choose_tips(busy, TOP)
    assert [t.rule for t in tips] == ["celebrate", "best_channel", "biggest_drop"]
    assert len(choose_tips(busy, TOP, limit=2)) == 2
    # Without the celebration the reach drop and "top members hear from more people" are one topic.
    calm = dataclasses.replace(busy, score_now=30, channels={})
    assert [(t.rule, t.component) for t in choose_tips(calm, TOP)] == [("biggest_drop", "reach")]


def test_tips_community_rules_each_fire_in_their_situation() -> None:
    assert community_tip(CommunityFacts(80, 100, 20, 1, 0.3)).rule == "engagement_down"
    assert community_tip(CommunityFacts(100, 100, 20, 5, 0.3)) == Tip("unanswered", values={"n": 5})
    assert community_tip(CommunityFacts(100, 100, 20, 2, 0.3)).rule == "steady"  # 2 unanswered is few
    assert community_tip(CommunityFacts(125, 100, 20, 1, 0.3)).rule == "engagement_up"
    assert community_tip(CommunityFacts(100, 100, 20, 1, 0.75)).rule == "concentrated"
    assert community_tip(CommunityFacts(0, 0, 0, 0, 0.0)).rule == "quiet"
    assert community_tip(CommunityFacts(0, 100, 20, 20, 0.0)).rule == "quiet"  # before "engagement down"


_MEMBER_TIPS = [
    Tip("celebrate", values={"delta": 4, "new": 0}), Tip("celebrate", values={"delta": 4, "new": 2}),
    Tip("celebrate", values={"delta": 0, "new": 2}),
    Tip("best_channel", values={"channel": "help", "n": 6, "channels": 3}),
    Tip("best_channel", values={"channel": "help", "n": 6, "channels": 1}),
    *(Tip("biggest_drop", component=c, values={"before": 10.0, "after": 5.0, "lost": 2})
      for c in ("reach", "resonance", "network", "activity")),
    *(Tip("top_difference", component=c, values={"mine": 2, "theirs": 9.0})
      for c in ("responders", "responses_per_message", "active_days")),
    *(Tip("weakest", component=c, values={"percentile": 10.0}) for c in ("reach", "resonance", "network", "activity")),
    Tip("first_steps"), Tip("keep_going"),
]
_COMMUNITY_TIPS = [Tip("engagement_down", values={"change": -0.2}), Tip("unanswered", values={"n": 5}),
                   Tip("engagement_up", values={"change": 0.25}), Tip("concentrated", values={"share": 0.7}),
                   Tip("steady"), Tip("quiet")]
_SHAMING = ("bad", "poor", "worst", "fail", "lazy", "only ", "low score", "behind", "schlecht", "faul", "nur ")


@pytest.mark.parametrize("lang", ["en", "de"])
def test_tips_render_in_both_languages_without_shaming_words(lang: str) -> None:
    tr = translator(lang)
    texts = [tip_text(t, tr) for t in _MEMBER_TIPS] + [community_tip_text(t, tr) for t in _COMMUNITY_TIPS]
    assert len(set(texts)) == len(texts)  # every rule says something of its own
    for text in texts:
        assert "%(" not in text and text.strip()
        assert not any(word in text.lower() for word in _SHAMING), text
    if lang == "de":
        assert "Kanal" in tip_text(_MEMBER_TIPS[3], tr) and "#help" in tip_text(_MEMBER_TIPS[3], tr)
