"""Loaders turning the third-party data in ../shared/data into scoring rows (bench only, never shipped).

Each loader returns a list of `Msg` (one per message: author, time, the users it responds to by
kind, anonymous reaction count); `aggregate` applies the store's rules roughly (UTC days, the
60-second turn rule, self-responses dropped) to build `DailyAggregates` rows.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from scoring.daily import DailyAggregates

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DAY = 86_400
TURN_SECONDS = 60


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
    """DiscordChatExporter JSON: replies via reference.messageId, mentions, reaction counts (anonymous)."""
    path = path or DATA / "discord-tyrrrz-open-source" / "discord-chat-exporter-channel.json"
    data = json.loads(path.read_text())
    by_id: dict[str, str] = {}
    bots: set[str] = set()
    for m in data["messages"]:
        by_id[m["id"]] = "d" + m["author"]["id"]
        if m["author"].get("isBot"):
            bots.add("d" + m["author"]["id"])
    out = []
    for m in data["messages"]:
        who = "d" + m["author"]["id"]
        if who in bots:
            continue
        ts = int(datetime.fromisoformat(m["timestamp"]).astimezone(UTC).timestamp())
        msg = Msg(ts, who)
        ref = (m.get("reference") or {}).get("messageId")
        target = by_id.get(ref) if ref else None
        if target and target not in bots:
            msg.replies_to.append(target)
        for u in m.get("mentions") or []:
            uid = "d" + u["id"]
            if uid != target and not u.get("isBot") and uid not in bots:
                msg.mentions.append(uid)
        msg.anon_reactions = sum(int(r.get("count", 0)) for r in m.get("reactions") or [])
        out.append(msg)
    return out


def aggregate(msgs: Iterable[Msg], *, before_day: int | None = None) -> DailyAggregates:
    """Daily rows from messages (only days < before_day when given), with the turn and self rules."""
    member: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    pair: dict[tuple[int, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    last_seen: dict[tuple[int, str], int] = {}
    for m in sorted(msgs, key=lambda m: (m.ts, m.author)):
        d = m.ts // DAY
        if before_day is not None and d >= before_day:
            continue
        row = member[(d, m.author)]
        row[0] += 1
        prev = last_seen.get((d, m.author))
        if prev is None or m.ts - prev >= TURN_SECONDS:
            row[1] += 1
        last_seen[(d, m.author)] = m.ts
        for t in m.replies_to:
            if t != m.author:
                pair[(d, m.author, t)][0] += 1
        for t in m.mentions:
            if t != m.author:
                pair[(d, m.author, t)][1] += 1
        if m.anon_reactions:
            member[(d, m.author)][2] += m.anon_reactions
    return DailyAggregates.from_rows(
        [(d, u, v[0], v[1], v[2]) for (d, u), v in sorted(member.items())],
        [(d, r, t, v[0], v[1], v[2]) for (d, r, t), v in sorted(pair.items())],
    )
