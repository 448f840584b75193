"""`clout summary`: renders without sending, --send delivers through the outbox, bad input is one sentence."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from storage.base import CommunitySettings, MemberPrefs
from storage.sqlite import SqliteStore
from tests.chat.conftest import REF, seed_events
from tests.summary.conftest import WEEK


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"

    async def build() -> None:
        async with SqliteStore(path) as s:
            await s.import_events(seed_events(REF))
            await s.set_community_settings(REF, CommunitySettings(summary_channel="general"))
            await s.set_member_prefs(REF, "alice", MemberPrefs(weekly=True))
            await s.set_member_prefs(REF, "bob", MemberPrefs(weekly=True, locale="de"))

    asyncio.run(build())
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(main, ["summary", *args])


def test_cli_summary_renders_the_digest_without_sending(db: Path, tmp_path: Path) -> None:
    result = run("-c", REF.key, "--week", WEEK, "--db", str(db), "--out", str(tmp_path / "img"))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = result.output  # type: ignore[attr-defined]
    assert f"Weekly digest of demo, week {WEEK}" in out and "Tip: " in out
    assert "2 personal summaries would be sent; channel: general" in out
    assert (tmp_path / "img" / "clout-weekly.png").read_bytes().startswith(b"\x89PNG")
    rows = asyncio.run(_outbox(db))
    assert rows == []  # rendering sends nothing


def test_cli_summary_member_json_in_their_language(db: Path) -> None:
    result = run("-c", REF.key, "--week", WEEK, "--member", "Bob", "--json", "--db", str(db))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    data = json.loads(result.output)  # type: ignore[attr-defined]
    assert (data["kind"], data["member"], data["week"]) == ("personal", "bob", WEEK)
    assert data["title"] == f"Deine Woche in demo ({WEEK})"
    assert any(t.startswith("Tipps für die kommende Woche:") for t in data["text"])
    assert data["image"] == "clout-score.png"


def test_cli_summary_send_delivers_through_the_outbox_once(db: Path) -> None:
    first = run("-c", REF.key, "--week", WEEK, "--send", "--db", str(db))
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    assert "Clout posted in #general:" in first.output  # type: ignore[attr-defined]
    assert "Clout sent a private message to Bob:" in first.output  # type: ignore[attr-defined]
    assert f"{REF.key} {WEEK}: 3 sent." in first.output  # type: ignore[attr-defined]
    second = run("-c", REF.key, "--week", WEEK, "--send", "--db", str(db))
    assert second.exit_code == 0 and "private message" not in second.output  # type: ignore[attr-defined]
    assert sorted(asyncio.run(_outbox(db))) == [("alice", "sent"), ("bob", "sent"), ("general", "sent")]


@pytest.mark.parametrize(("args", "message"), [
    (["--week", "2026-W99"], "2026 has no week 99"),
    (["--week", "soon"], "is not an ISO week"),
    (["--week", "2099-W01"], "has not come yet"),
    (["--member", "nobody-here", "--week", WEEK], "There is no member 'nobody-here'"),
    (["--member", "alice", "--send"], "leave out --member"),
])
def test_cli_summary_bad_input_is_one_sentence_exit_2(db: Path, args: list[str], message: str) -> None:
    result = run("-c", REF.key, "--db", str(db), *args)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert message in result.output and "Traceback" not in result.output  # type: ignore[attr-defined]


def test_cli_summary_unknown_community(db: Path) -> None:
    result = run("-c", "console:nope", "--db", str(db))
    assert result.exit_code == 2 and "There is no community" in result.output  # type: ignore[attr-defined]


async def _outbox(db: Path) -> list[tuple[str, str]]:
    async with SqliteStore(db) as s:
        return [(i.recipient, i.state) for i in await s.outbox_items(REF, WEEK)]
