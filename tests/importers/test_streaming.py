"""Bounded memory on a large generated export, laziness, and the byte-progress callback."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from bot.importers import READERS, read_discord
from tests.importers.conftest import FIXTURES

# Few messages but long ones: tracemalloc taxes every allocation, and the file must still be large.
MESSAGES = 10_000
CONTENT = "lantern " * 500


def write_big_discord_export(path: Path, count: int, content: str = "a small message") -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write('{"guild": {"id": "1", "name": "Big"}, "channel": {"id": "2", "name": "c"}, "messages": [')
        for n in range(count):
            if n:
                out.write(",")
            out.write(json.dumps({
                "id": str(10_000 + n), "type": "Reply" if n % 3 else "Default",
                "timestamp": "2024-01-01T10:00:00+00:00", "content": content,
                "author": {"id": str(n % 50), "name": f"user{n % 50}", "isBot": False},
                "attachments": [], "reactions": [{"emoji": {"id": None, "name": "x"}, "count": 1}],
                "mentions": [{"id": str((n + 1) % 50)}],
                "reference": {"messageId": str(10_000 + n - 1)} if n % 3 else None,
            }, separators=(",", ":")))
        out.write("]}")


def test_read_discord_large_export_runs_in_bounded_memory(tmp_path):
    path = tmp_path / "big.json"
    write_big_discord_export(path, MESSAGES, CONTENT)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_discord(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 2 * MESSAGES
    # The file is ~42 MB; holding even a twentieth of it would mean the reader is not streaming.
    assert size > 40_000_000
    assert peak < 1_000_000, f"peak {peak} bytes for a {size}-byte file"


@pytest.mark.parametrize(("fmt", "name"), [
    ("telegram", "telegram_supergroup.json"), ("discord", "discordchatexporter.json"), ("events", "events.jsonl"),
])
def test_readers_report_monotone_progress_ending_at_the_file_size(fmt, name):
    path = FIXTURES / name
    seen: list[int] = []
    list(READERS[fmt](path, seen.append))
    assert seen, "progress was never reported"
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size


def test_read_discord_reports_progress_every_few_hundred_messages(tmp_path):
    path = tmp_path / "mid.json"
    write_big_discord_export(path, 5_000)
    seen: list[int] = []
    list(read_discord(path, seen.append))
    assert 5 <= len(seen) <= 100
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert seen[-1] == path.stat().st_size
