"""Explanations: what moved one member's score between two as-of times, and who moved it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from scoring.engine import ScoreTable

__all__ = ["Contributor", "Explanation", "Headline", "describe_en", "explain"]

TOP_CONTRIBUTORS = 5


@dataclass(frozen=True, slots=True)
class Contributor:
    """One responder's contribution (see `ScoreTable.responders`) now and then."""

    responder: str
    credit_now: float
    credit_then: float
    is_new: bool

    @property
    def change(self) -> float:
        return self.credit_now - self.credit_then


@dataclass(frozen=True, slots=True)
class Headline:
    """The numbers behind a sentence like "+5: 7 members replied to you, 3 of them new"."""

    delta: int
    responders: int
    new_responders: int
    lost_responders: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """One member's score now versus then, component by component, with the biggest contributors.

    `score_now` / `score_then` are None when the member was not scored at that time (no activity
    in the window); `delta` counts a missing score as 0. Component deltas are now minus then.
    `contributors` holds the responders whose contribution changed most (largest |change| first,
    then by responder id), at most `TOP_CONTRIBUTORS`. A responder is new when they contribute now
    and did not then; lost when the reverse.
    """

    user: str
    score_now: int | None
    score_then: int | None
    delta: int
    reach_delta: float
    resonance_delta: float
    network_delta: float
    activity_delta: float
    contributors: tuple[Contributor, ...]
    new_responders: int
    lost_responders: int
    responders_now: int

    @property
    def headline(self) -> Headline:
        """Structured data for the one-line summary; rendering to words is the caller's job."""
        return Headline(self.delta, self.responders_now, self.new_responders, self.lost_responders)


def explain(user: str, now: ScoreTable, then: ScoreTable, *, top: int = TOP_CONTRIBUTORS) -> Explanation:
    """Compare one member's score in two tables of the same community (usually a week apart)."""
    m_now, m_then = now.get(user), then.get(user)
    r_now, r_then = now.responders(user), then.responders(user)

    def comp(name: str) -> float:
        a = getattr(m_now, name) if m_now is not None else 0.0
        b = getattr(m_then, name) if m_then is not None else 0.0
        return float(a - b)

    everyone = sorted(set(r_now) | set(r_then))
    contributors = [Contributor(r, r_now.get(r, 0.0), r_then.get(r, 0.0), r in r_now and r not in r_then)
                    for r in everyone]
    contributors.sort(key=lambda c: (-abs(c.change), c.responder))
    s_now = m_now.score if m_now is not None else None
    s_then = m_then.score if m_then is not None else None
    return Explanation(
        user=user,
        score_now=s_now,
        score_then=s_then,
        delta=(s_now or 0) - (s_then or 0),
        reach_delta=comp("reach"),
        resonance_delta=comp("resonance"),
        network_delta=comp("network"),
        activity_delta=comp("activity"),
        contributors=tuple(c for c in contributors[:max(0, top)] if not math.isclose(c.change, 0.0, abs_tol=1e-12)),
        new_responders=sum(1 for r in r_now if r not in r_then),
        lost_responders=sum(1 for r in r_then if r not in r_now),
        responders_now=len(r_now),
    )


def _members(n: int) -> str:
    return "1 member" if n == 1 else f"{n} members"


def describe_en(explanation: Explanation, names: Mapping[str, str] | None = None) -> list[str]:
    """English sentences for the CLI (the bot renders its own, translated, from the same numbers).

    `names` maps responder ids to display names; ids are shown where no name is known.
    """
    ex = explanation
    names = names or {}
    lines: list[str] = []
    if ex.score_now is None:
        lines.append("No score now: no activity in the window.")
    elif ex.score_then is None:
        lines.append(f"New score {ex.score_now}: {_members(ex.responders_now)} responded to you.")
    else:
        sign = "+" if ex.delta > 0 else ("±" if ex.delta == 0 else "")
        line = f"{sign}{ex.delta}: {_members(ex.responders_now)} responded to you"
        if ex.new_responders:
            line += f", {ex.new_responders} of them new"
        lines.append(line + ".")
    if ex.lost_responders:
        lost = ex.lost_responders
        lines.append(f"{_members(lost)} who responded before {'has' if lost == 1 else 'have'} not in this window.")
    parts = []
    for label, value, fmt in (("reach", ex.reach_delta, "{:+.1f}"), ("resonance", ex.resonance_delta, "{:+.2f}"),
                              ("network", ex.network_delta, "{:+.2f}"), ("activity", ex.activity_delta, "{:+.1f}")):
        if abs(value) >= 0.005:
            parts.append(f"{label} {fmt.format(value)}")
    if parts:
        lines.append("Components: " + ", ".join(parts) + ".")
    for c in ex.contributors:
        what = "new responder" if c.is_new else ("no longer responding" if c.credit_now == 0 else "responder")
        lines.append(f"{what} {names.get(c.responder, c.responder)}: credit {c.credit_then:.2f} → {c.credit_now:.2f}")
    return lines
