"""Fast synthetic event streams for benchmarks: heavy-tailed members, replies, mentions, reactions.

Unlike bot/synthetic.py (readable JSONL for the sample), this draws in numpy chunks so that
millions of events can be produced quickly and with bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from scoring.model import CommunityRef, Event, Kind

START = datetime(2026, 6, 1, tzinfo=UTC)


def events(members: int, total: int, *, days: int = 90, seed: int = 7, community: str = "bench",
           chunk: int = 100_000, start: datetime = START, skew: float = 1.05) -> Iterator[Event]:
    """About `total` events (60 % messages, 40 % reactions) among `members` people over `days` days.

    Member k (1-based) acts and is mentioned with weight k ** -skew: 1.05 is a heavy tail in which
    many members of a large community never appear; a smaller skew reaches more of them.
    """
    rng = np.random.default_rng(seed)
    ref = CommunityRef("events", community)
    weights = 1.0 / np.arange(1, members + 1) ** skew
    weights /= weights.sum()
    cdf = np.cumsum(weights)
    span = days * 86_400
    n_msgs = int(total * 0.6)
    made = 0
    msg_seq = 0
    for lo in range(0, n_msgs, chunk):
        n = min(chunk, n_msgs - lo)
        t = np.sort(rng.random(n)) * (span / n_msgs * n) + span * lo / n_msgs
        authors = np.searchsorted(cdf, rng.random(n))
        is_reply = rng.random(n) < 0.3
        back = rng.integers(1, 50, n)
        has_mention = rng.random(n) < 0.05
        mentioned = np.searchsorted(cdf, rng.random(n))
        n_react = rng.poisson(0.67, n)
        reactors = np.searchsorted(cdf, rng.random(int(n_react.sum()) + 1))
        r = 0
        for i in range(n):
            msg_seq += 1
            ts = start + timedelta(seconds=float(t[i]))
            a = str(int(authors[i]))
            target = msg_seq - int(back[i])
            yield Event(Kind.MESSAGE, ref, ts, f"m{msg_seq}", actor=a, actor_name=f"member{a}",
                        reply_to=f"m{target}" if is_reply[i] and target > 0 else None,
                        mentions=(str(int(mentioned[i])),) if has_mention[i] else ())
            made += 1
            for _ in range(int(n_react[i])):
                yield Event(Kind.REACTION_ADD, ref, ts + timedelta(seconds=30), f"m{msg_seq}",
                            actor=str(int(reactors[r])), emoji="👍")
                r += 1
                made += 1
            if made >= total:
                return


def log_rows(events: Iterable[Event], batch: int) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
    """Rows of raw keyed log tables (messages, mentions, reactions; community 1), `batch` events at a
    time: what the raw-insert baselines of the benchmarks write."""
    msgs: list[tuple[Any, ...]] = []
    ments: list[tuple[Any, ...]] = []
    reacts: list[tuple[Any, ...]] = []
    for ev in events:
        e = ev.epoch
        if ev.kind is Kind.MESSAGE:
            msgs.append((1, ev.message_id, ev.actor, ev.channel, e, e // 86400, ev.reply_to))
            ments.extend((1, ev.message_id, m) for m in ev.mentions)
        else:
            reacts.append((1, ev.message_id, ev.actor, ev.emoji, e, e // 86400))
        if len(msgs) + len(reacts) >= batch:
            yield msgs, ments, reacts
            msgs, ments, reacts = [], [], []
    yield msgs, ments, reacts
