"""No message text reaches the disk: import the real exports, then search the database bytes for their texts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

EXPORTS = [
    ("discord", DATA / "discord-tyrrrz-open-source" / "discord-chat-exporter-channel.json"),
    ("telegram", DATA / "telegram-personal-adobyy" / "result.json"),
    ("telegram", DATA / "telegram-channel-cs-programming" / "result.json"),
]


def _texts(fmt: str, path: Path) -> list[str]:
    """Distinctive message texts (long enough not to collide with names or ids)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for m in data["messages"]:
        if fmt == "discord":
            text = m.get("content") or ""
        else:
            raw = m.get("text", "")
            text = raw if isinstance(raw, str) else "".join(p if isinstance(p, str) else p.get("text", "") for p in raw)
        if len(text) >= 16 and "http" not in text:
            out.append(text)
    return out


@pytest.mark.parametrize(("fmt", "path"), EXPORTS, ids=[p.parent.name for _, p in EXPORTS])
def test_privacy_no_message_text_in_database_files(tmp_path: Path, fmt: str, path: Path) -> None:
    if not path.exists():
        pytest.skip("../shared/data is absent")
    db = tmp_path / "clout.db"
    result = CliRunner().invoke(main, ["import", fmt, str(path), "--db", str(db)])
    assert result.exit_code == 0, result.stderr
    texts = _texts(fmt, path)
    assert len(texts) > 50  # the check means something only if there is text to look for
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("clout.db"))
    assert len(blob) > 10_000
    leaked = [t for t in texts if t.encode("utf-8") in blob]
    assert leaked == []
