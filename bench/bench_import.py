"""Import speed and peak memory of a generated DiscordChatExporter file (issue #2).

Writes a DCE-shaped JSON file of N messages (replies, mentions, reactions with user lists, long
message content so the file is realistically large), then runs `clout import discord` on it in a
child process and reports messages/s and the child's peak RSS.

Usage: .venv/bin/python bench/bench_import.py [--messages 300000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_export(path: Path, n: int, members: int = 5_000, seed: int = 3) -> None:
    rng = random.Random(seed)
    users = [{"id": str(10**17 + i), "name": f"member{i}", "discriminator": "0000", "nickname": f"member{i}",
              "color": None, "isBot": False, "avatarUrl": "https://cdn.example/avatar.png"} for i in range(members)]
    weights = [1.0 / (i + 1) for i in range(members)]
    with path.open("w", encoding="utf-8") as f:
        f.write('{"guild": {"id": "4242", "name": "Bench Guild", "iconUrl": ""},\n'
                ' "channel": {"id": "77", "type": "GuildTextChat", "categoryId": "1", "category": "c",'
                ' "name": "general", "topic": null},\n "dateRange": {"after": null, "before": null},\n'
                ' "messages": [\n')
        base = 1_700_000_000
        for i in range(n):
            author = users[rng.choices(range(members), weights=weights)[0]]
            msg = {
                "id": str(2 * 10**17 + i), "type": "Default",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + i * 20)),
                "timestampEdited": None, "callEndedTimestamp": None, "isPinned": False,
                "content": "lorem ipsum dolor sit amet " * rng.randint(1, 12),
                "author": author, "attachments": [], "embeds": [], "stickers": [],
                "reactions": [], "mentions": [],
            }
            if i and rng.random() < 0.3:
                msg["type"] = "Reply"
                msg["reference"] = {"messageId": str(2 * 10**17 + rng.randrange(max(0, i - 50), i)),
                                    "channelId": "77", "guildId": "4242"}
            if rng.random() < 0.05:
                msg["mentions"] = [rng.choice(users)]
            if rng.random() < 0.3:
                who = rng.sample(users, rng.randint(1, 4))
                msg["reactions"] = [{"emoji": {"id": "", "name": "👍", "isAnimated": False, "imageUrl": ""},
                                     "count": len(who), "users": who}]
            f.write(("," if i else "") + json.dumps(msg, ensure_ascii=False) + "\n")
        f.write(f'],\n "messageCount": {n}}}\n')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export.json"
        write_export(export, args.messages)
        size = export.stat().st_size
        env = {**os.environ, "CLOUT_DATABASE": str(Path(tmp) / "c.db")}
        clout = str(Path(sys.executable).with_name("clout"))
        t0 = time.perf_counter()
        proc = subprocess.run([clout, "import", "discord", str(export), "--json"], env=env,
                              capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        stats = json.loads(proc.stdout)["files"][0]
    print(f"DiscordChatExporter file: {args.messages:,} messages, {size / 1e6:,.0f} MB, {stats['events']:,} events")
    print(f"clout import discord: {elapsed:.1f} s = {args.messages / elapsed:,.0f} messages/s "
          f"({size / 1e6 / elapsed:.1f} MB/s); peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
