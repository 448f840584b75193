"""The constants of the scoring model, in one frozen value so a version is one object (see docs/scoring.md)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALGORITHM", "V1", "Params"]

ALGORITHM: str = "clout-v1"


@dataclass(frozen=True, slots=True)
class Params:
    """Every constant of the model. docs/scoring.md gives the reason for each value.

    Changing any of them changes scores, so a changed set must ship under a new `ALGORITHM`.
    """

    # Window and recency.
    window_days: int = 90
    half_life_days: float = 30.0

    # What one response is worth: credit = weight * log2(1 + n) per kind, per pair, per day.
    reply_weight: float = 1.0
    mention_weight: float = 0.6
    reaction_weight: float = 0.4

    # Selectivity: a responder who answers more than this many distinct members in one day
    # passes threshold / k of the credit of each response that day.
    selectivity_threshold: int = 10

    # The credit one responder can pass to one target in the window, in units of one reply made on
    # the day of their latest response to that target (so the cap decays with that response).
    pair_cap: float = 1.5

    # Network (weighted PageRank on responder -> author, weight = capped credit).
    damping: float = 0.85
    pagerank_tol: float = 1e-10
    pagerank_max_iter: int = 200
    # A responder passes on PageRank in proportion to min(1, out-credit / network_full_out); the
    # rest is spread evenly. Makes one stray response move almost nothing (continuity) and keeps
    # closed rings from concentrating rank.
    network_full_out: float = 10.0
    network_min: float = 0.5
    network_max: float = 3.0

    # Resonance: (credit received + prior_messages * resonance_ref) / (counted messages + prior_messages),
    # turned into a factor 0.5 + res / (res + resonance_ref), i.e. within [0.5, 1.5), 1.0 at the reference.
    resonance_ref: float = 0.5
    resonance_prior_messages: float = 5.0
    resonance_min: float = 0.5
    resonance_max: float = 1.5
    # Anonymous reactions (only a count is known) count toward resonance with this weight each.
    anonymous_weight: float = 0.2

    # Activity: influence gains this much per recency-weighted active day.
    activity_weight: float = 0.01

    # Mapping to 1..100: 1 + 99 * min(1, ln(1 + I) / ln(1 + mapping_reference)).
    mapping_reference: float = 10_000.0


V1 = Params()
