"""Loaders turning the third-party data in ../shared/data into scoring rows (bench only, never shipped).

Each loader returns a list of `Msg` (one per message: author, time, the users it responds to by
kind, anonymous reaction count); `aggregate` turns them into Events and applies the store's own
rules (`scoring.daily.aggregate_events`) to build `DailyAggregates`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from scoring.daily import DailyAggregates, aggregate_events
from scoring.model import CommunityRef, Event, Kind

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DAY = 86_400


@dataclass(slots=True)
class Msg:
    ts: int
    author: str
    replies_to: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    anon_reactions: int = 0


def load_collegemsg(path: Path | None = None) -> list[Msg]:
    """SNAP CollegeMsg: each private message SRC->TGT is a message by SRC and a reply-like response to TGT."""
    path = path or DATA / "snap-collegemsg" / "CollegeMsg.txt"
    out = []
    with path.open() as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3 or not parts[2].isdigit():
                continue
            out.append(Msg(int(parts[2]), "c" + parts[0], replies_to=["c" + parts[1]]))
    return out


_IRC_LINE = re.compile(r"^\[(\d\d):(\d\d)\] <([^>]+)> ")
IRC_BASE_DAY = 20_000  # files are years apart; the bench lays them out as consecutive days


def irc_files(path: Path | None = None) -> list[Path]:
    path = path or DATA / "irc-ubuntu-disentanglement"
    return sorted(path.glob("dev/*.raw.txt")) + sorted(path.glob("test/*.raw.txt"))


def load_irc(path: Path | None = None) -> list[Msg]:
    """Ubuntu IRC disentanglement: file i becomes synthetic day IRC_BASE_DAY + i (sorted dev, then test).

    Only the annotated part of each file is used (from its first annotated line), so every message
    there has its reply links; "A B" (A != B) means line B replies to line A.
    """
    out: list[Msg] = []
    for i, raw in enumerate(irc_files(path)):
        ann = raw.with_name(raw.name.replace(".raw.txt", ".annotation.txt"))
        links: list[tuple[int, int]] = []
        for line in ann.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                links.append((int(parts[0]), int(parts[1])))
        first = min(b for _, b in links)
        hour = int(raw.name.split("_")[1][:2])
        day_start = (IRC_BASE_DAY + i) * DAY
        lines = raw.read_text(errors="replace").splitlines()
        author: dict[int, str] = {}
        ts: dict[int, int] = {}
        last_minute, offset = None, 0
        for n, line in enumerate(lines):
            m = _IRC_LINE.match(line)
            if not m or n < first:
                continue
            minute = int(m.group(1)) * 60 + int(m.group(2))
            if last_minute is not None and minute < last_minute:
                offset += 24 * 60  # the log crossed midnight
            last_minute = minute
            t = minute + offset - hour * 60  # minutes since the file's hour
            author[n] = m.group(3)
            ts[n] = day_start + min(DAY - 1, hour * 3600 + max(0, t) * 60)
        msgs = {n: Msg(ts[n], "i" + author[n]) for n in sorted(author)}
        for a, b in links:
            if a != b and a in author and b in msgs:
                msgs[b].replies_to.append("i" + author[a])
        out.extend(msgs.values())
    return out


def load_discord(path: Path | None = None) -> list[Msg]:
    """DiscordChatExporter JSON, read with the project's own importer (replies, mentions, anonymous
    reaction counts; bots and system messages dropped as on import)."""
    from bot.importers import read_discord

    path = path or DATA / "discord-tyrrrz-open-source" / "discord-chat-exporter-channel.json"
    events = list(read_discord(path))
    bots = {"d" + e.actor for e in events if e.actor and e.actor_is_bot}
    author = {e.message_id: "d" + e.actor for e in events if e.kind is Kind.MESSAGE and e.actor}
    by_id: dict[str, Msg] = {}
    out = []
    for e in events:
        if e.kind is Kind.MESSAGE and e.actor and "d" + e.actor not in bots:
            msg = by_id[e.message_id] = Msg(e.epoch, "d" + e.actor)
            target = author.get(e.reply_to) if e.reply_to else None
            if target and target not in bots:
                msg.replies_to.append(target)
            msg.mentions.extend(u for u in ("d" + m for m in e.mentions) if u != target and u not in bots)
            out.append(msg)
        elif e.kind is Kind.REACTION_COUNT and e.message_id in by_id:
            by_id[e.message_id].anon_reactions += e.count
    return out


def aggregate(msgs: Iterable[Msg], *, before_day: int | None = None) -> DailyAggregates:
    """Daily rows from messages (only days < before_day when given), through the store's own rules
    (`scoring.daily.aggregate_events`: turn rule, self-responses, mention of the reply target)."""
    ref = CommunityRef("bench", "realdata")
    events: list[Event] = []
    for n, m in enumerate(msgs):
        if before_day is not None and m.ts // DAY >= before_day:
            continue
        ts = datetime.fromtimestamp(m.ts, UTC)
        mid = f"m{n}"
        # Replies point at a message outside the log, resolved through the author hint; a message
        # replying to several people becomes one reply plus mentions of the others.
        first, *others = m.replies_to or [None]
        events.append(Event(Kind.MESSAGE, ref, ts, mid, actor=m.author, reply_to=f"x{n}" if first else None,
                            reply_to_author=first, mentions=tuple(dict.fromkeys([*others, *m.mentions]))))
        if m.anon_reactions:
            events.append(Event(Kind.REACTION_COUNT, ref, ts, mid, emoji="*", count=m.anon_reactions))
    return aggregate_events(events)
