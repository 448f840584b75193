"""Engagement tips chosen by rules: pure functions of a member's (or the community's) numbers.

No I/O and no clock: the summary builder gathers the facts, these rules pick what to say, and the
renderer turns a `Tip` into localized words. Every rule coaches, none ranks a person's worth: tips
name a next step or celebrate, and compare with what top members *do*, never with who they are.
docs/summaries.md lists every rule with an example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["COMPONENTS", "Benchmark", "CommunityFacts", "Components", "MemberFacts", "Tip", "choose_tips",
           "community_tip"]

COMPONENTS = ("reach", "resonance", "network", "activity")
MAX_TIPS = 3

# A component "dropped" when it fell by at least this share and this much (noise is not news).
DROP_SHARE = 0.2
MIN_DROP = {"reach": 1.0, "resonance": 0.05, "network": 0.1, "activity": 0.5}
# Celebrate a score that rose by this much, or this many new responders.
CELEBRATE_DELTA = 2
CELEBRATE_NEW = 2
# The best channel must have drawn this many distinct responders.
BEST_CHANNEL_MIN = 3
# Weakest component: below this percentile and this far below the member's best component.
WEAK_PERCENTILE = 50.0
WEAK_GAP = 15.0
# What top members do differently: their median is at least this many times the member's.
TOP_RATIO = 2.0


@dataclass(frozen=True, slots=True)
class Components:
    reach: float = 0.0
    resonance: float = 0.0
    network: float = 0.0
    activity: float = 0.0

    def get(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """One member's week. `then` is None when they had no score a week ago; `now` when they have none now.

    `percentiles` holds each component's percentile (0–100) in the community; `channels` the
    distinct members who responded to their messages of the week, per channel.
    """

    score_now: int | None
    score_then: int | None
    now: Components | None
    then: Components | None
    responders: int = 0
    new_responders: int = 0
    lost_responders: int = 0
    responses_per_message: float = 0.0
    active_days: int = 0
    percentiles: Mapping[str, float] = field(default_factory=dict)
    channels: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Benchmark:
    """What the community's top members (visible top 10) do: medians of their numbers."""

    responders: float = 0.0
    responses_per_message: float = 0.0
    active_days: float = 0.0


@dataclass(frozen=True, slots=True)
class CommunityFacts:
    """The community's week: responses between members this week and the week before, members who
    posted this week, how many of them got no response at all, and the share of responses that
    went to the top 10."""

    engagement_now: int = 0
    engagement_then: int = 0
    posters: int = 0
    unanswered: int = 0
    top_share: float = 0.0


@dataclass(frozen=True, slots=True)
class Tip:
    """A chosen rule and the numbers its sentence needs (rendering is the caller's job)."""

    rule: str
    component: str | None = None
    values: Mapping[str, float | int | str] = field(default_factory=dict)


# -- member rules (each returns a Tip when it fires, else None) ----------------------------------

def celebrate(f: MemberFacts) -> Tip | None:
    """The score rose clearly, or several new people responded: say so first."""
    if f.score_now is None or f.score_then is None:
        return None
    delta = f.score_now - f.score_then
    if delta >= CELEBRATE_DELTA or (delta >= 0 and f.new_responders >= CELEBRATE_NEW):
        return Tip("celebrate", values={"delta": delta, "new": f.new_responders})
    return None


def best_channel(f: MemberFacts) -> Tip | None:
    """The channel where their messages drew the most distinct responders (when it clearly leads)."""
    ranked = sorted(f.channels.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked or ranked[0][1] < BEST_CHANNEL_MIN:
        return None
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None  # a tie names no channel in particular
    channel, n = ranked[0]
    return Tip("best_channel", values={"channel": channel, "n": n, "channels": len(ranked)})


def biggest_drop(f: MemberFacts) -> Tip | None:
    """The component that fell the most (relative), if it fell by at least DROP_SHARE and MIN_DROP."""
    if f.now is None or f.then is None:
        return None
    best: tuple[float, str] | None = None
    for name in COMPONENTS:
        before, after = f.then.get(name), f.now.get(name)
        if before <= 0 or before - after < MIN_DROP[name]:
            continue
        share = (before - after) / before
        if share >= DROP_SHARE and (best is None or share > best[0]):
            best = (share, name)
    if best is None:
        return None
    name = best[1]
    return Tip("biggest_drop", component=name,
               values={"before": f.then.get(name), "after": f.now.get(name), "lost": f.lost_responders})


def weakest(f: MemberFacts) -> Tip | None:
    """The component where they stand lowest in the community, when it lags their best clearly."""
    if f.now is None or len(f.percentiles) < 2:
        return None
    ranked = sorted((f.percentiles[c], c) for c in COMPONENTS if c in f.percentiles)
    (low, name), (high, _) = ranked[0], ranked[-1]
    if low >= WEAK_PERCENTILE or high - low < WEAK_GAP:
        return None
    return Tip("weakest", component=name, values={"percentile": low})


def top_difference(f: MemberFacts, bench: Benchmark) -> Tip | None:
    """What top members do that this member does much less of (the largest ratio, at least TOP_RATIO)."""
    if f.now is None:
        return None
    gaps = []
    for measure, mine, theirs in (("responders", f.responders, bench.responders),
                                  ("responses_per_message", f.responses_per_message, bench.responses_per_message),
                                  ("active_days", f.active_days, bench.active_days)):
        if theirs <= 0:
            continue
        ratio = theirs / mine if mine > 0 else float("inf")
        if ratio >= TOP_RATIO:
            gaps.append((ratio, measure, mine, theirs))
    if not gaps:
        return None
    gaps.sort(key=lambda g: (-g[0], g[1]))
    _, measure, mine, theirs = gaps[0]
    return Tip("top_difference", component=measure, values={"mine": mine, "theirs": theirs})


def first_steps(f: MemberFacts) -> Tip | None:
    """Nobody has responded to them yet (no score, or no responders in the window)."""
    if f.score_now is None or f.responders == 0:
        return Tip("first_steps")
    return None


def choose_tips(f: MemberFacts, bench: Benchmark, limit: int = MAX_TIPS) -> list[Tip]:
    """One to `limit` tips, in this order of preference: celebrate, best channel, biggest drop,
    what top members do, weakest component, first steps; a component is advised on at most once.
    When no rule fires, one general tip ("keep_going")."""
    candidates = (celebrate(f), best_channel(f), biggest_drop(f), top_difference(f, bench), weakest(f),
                  first_steps(f))
    chosen: list[Tip] = []
    topics: set[str] = set()
    for tip in candidates:
        if tip is None:
            continue
        topic = _topic(tip)
        if topic is not None and topic in topics:
            continue
        if topic is not None:
            topics.add(topic)
        chosen.append(tip)
        if len(chosen) >= max(1, limit):
            break
    return chosen or [Tip("keep_going")]


# Measures of `top_difference` map onto the component they mostly drive, so that "reach dropped"
# and "top members hear from more people" are not both said.
_TOPIC = {"responders": "reach", "responses_per_message": "resonance", "active_days": "activity"}


def _topic(tip: Tip) -> str | None:
    if tip.component is None:
        return None
    return _TOPIC.get(tip.component, tip.component)


# -- the community tip -----------------------------------------------------------------------------

ENGAGEMENT_CHANGE = 0.1     # ±10 % week over week is news
UNANSWERED_MIN = 3
UNANSWERED_SHARE = 0.2
CONCENTRATED_SHARE = 0.6


def community_tip(c: CommunityFacts) -> Tip:
    """Exactly one tip for the digest: a quiet week (no responses at all), engagement down, members
    left unanswered, engagement up, responses concentrated on a few, else steady (first that fires)."""
    if c.engagement_now == 0:
        return Tip("quiet")
    change = (c.engagement_now - c.engagement_then) / c.engagement_then if c.engagement_then > 0 else 0.0
    if c.engagement_then > 0 and change <= -ENGAGEMENT_CHANGE:
        return Tip("engagement_down", values={"change": change})
    if c.unanswered >= UNANSWERED_MIN and c.posters > 0 and c.unanswered / c.posters >= UNANSWERED_SHARE:
        return Tip("unanswered", values={"n": c.unanswered})
    if c.engagement_then > 0 and change >= ENGAGEMENT_CHANGE:
        return Tip("engagement_up", values={"change": change})
    if c.engagement_now > 0 and c.top_share >= CONCENTRATED_SHARE:
        return Tip("concentrated", values={"share": c.top_share})
    return Tip("steady")
