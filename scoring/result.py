"""Score results: what the engine returns per member and what the store keeps."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MemberScore"]


@dataclass(frozen=True, slots=True)
class MemberScore:
    """One member's score in one community as of one time.

    `score` is the 1–100 integer shown to people; `influence` is the unmapped value I it comes
    from (kept so global scores can sum I across communities). `percentile` is 0–100: the share of
    scored members in the community with a strictly lower score, plus half of the ties.
    `rank` is 1-based (ties broken by influence, then user id, so it is deterministic).
    """

    user: str
    score: int
    percentile: float
    rank: int
    influence: float
    reach: float
    resonance: float
    network: float
    activity: float
    algorithm: str
