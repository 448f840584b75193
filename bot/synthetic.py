"""A generator of realistic synthetic communities (heavy-tailed activity), for the sample, demo and benchmarks.

Real communities are lopsided: a few members write most messages and draw most responses, most
members speak rarely, and some only react. The generator reproduces that with Zipf-like weights
for posting and a separate "draw" weight (how much others want to answer someone), so posting a
lot and being answered a lot are correlated but not the same. It yields records in the generic
`events` JSONL format (docs/formats.md); names are made up from syllables.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

__all__ = ["community_records", "member_name"]

_SYLLABLES = ("ka", "lo", "mi", "ra", "te", "zu", "an", "el", "is", "or", "ven", "dri", "sol", "mar", "ty",
              "ne", "bo", "fa", "gi", "ju")
_EMOJI = ("👍", "❤", "😂", "🎉", "🤔", "🔥")


def member_name(i: int) -> str:
    """A stable, made-up display name for member number i."""
    rng = random.Random(i * 7919 + 13)
    first = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    return f"{first}{i % 97:02d}" if i >= 200 else first + str(i)


def community_records(
    *,
    members: int = 60,
    messages: int = 2_000,
    days: int = 60,
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC),
    community: str = "sample",
    channels: tuple[str, ...] = ("general", "help", "random"),
    seed: int = 1,
    reply_rate: float = 0.35,
    mention_rate: float = 0.08,
    reactions_per_message: float = 0.6,
    bots: int = 1,
) -> Iterator[dict[str, object]]:
    """Yield generic-JSONL records (messages, then their reactions) in time order.

    `members` people; about `messages` messages over `days` days from `start`. Member 0..bots-1
    are bots that post announcements nobody should get credit for answering.
    """
    rng = random.Random(seed)
    # Posting weight ~ Zipf(1.1); "draw" mixes posting weight with an independent lognormal factor.
    post_w = [1.0 / (i + 1) ** 1.1 for i in range(members)]
    rng.shuffle(post_w)
    draw_w = [w ** 0.6 * rng.lognormvariate(0, 0.8) for w in post_w]
    for b in range(bots):
        post_w[b] = max(post_w) * 0.05
        draw_w[b] = 0.0
    ids = [f"u{i}" for i in range(members)]
    span = days * 86_400
    times = sorted(rng.random() * span for _ in range(messages))
    recent: list[tuple[str, int]] = []  # (message id, author index), the last few messages
    seq = 0
    for t in times:
        author = rng.choices(range(members), weights=post_w)[0]
        ts = start + timedelta(seconds=t)
        seq += 1
        mid = f"m{seq}"
        rec: dict[str, object] = {
            "type": "message", "id": mid, "ts": ts.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "community": community, "channel": channels[seq % len(channels)] if rng.random() < 0.7 else channels[0],
            "author": ids[author], "author_name": member_name(author),
        }
        if author < bots:
            rec["bot"] = True
        elif recent and rng.random() < reply_rate:
            weights = [draw_w[a] + 1e-9 for _, a in recent]
            target_id, target = rng.choices(recent, weights=weights)[0]
            if target != author:
                rec["reply_to"] = target_id
        if author >= bots and rng.random() < mention_rate:
            other = rng.choices(range(members), weights=draw_w)[0]
            if other != author:
                rec["mentions"] = [ids[other]]
        yield rec
        recent.append((mid, author))
        if len(recent) > 12:
            recent.pop(0)
        # Reactions come from members in proportion to their activity, aimed by the author's draw.
        lam = reactions_per_message * (0.3 + 3.0 * draw_w[author] / (max(draw_w) or 1.0))
        n = min(members - 1, _poisson(rng, lam))
        reactors = {rng.choices(range(members), weights=post_w)[0] for _ in range(n)} - {author}
        for r in sorted(reactors):
            if r < bots:
                continue
            yield {
                "type": "reaction", "message_id": mid, "user": ids[r], "emoji": rng.choice(_EMOJI),
                "ts": (ts + timedelta(seconds=rng.randint(5, 3_600))).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "community": community,
            }


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method is fine for the small rates used here.
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def write_jsonl(path: str, **kwargs: object) -> int:
    """Write `community_records(**kwargs)` to a JSONL file; returns the number of lines."""
    import json

    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for rec in community_records(**kwargs):  # type: ignore[arg-type]
            f.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n


if __name__ == "__main__":  # regenerate the bundled sample: python -m bot.synthetic
    print(write_jsonl("bot/samples/sample.jsonl", members=40, messages=1_200, days=56,
                      start=datetime(2026, 9, 7, tzinfo=UTC)))
