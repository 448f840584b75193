"""`clout run` and `clout demo`: the composition root wires store, refresher, ingest and console, and
shuts down cleanly (pending events flushed) on end of input and on SIGTERM."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

import bot.app as app_module
from bot.app import App, run_app
from bot.config import Config
from scoring.model import CommunityRef, Event, Kind
from storage.sqlite import SqliteStore

CLOUT = str(Path(sys.executable).with_name("clout"))
LOBBY = CommunityRef("console", "lobby")


async def _messages(path: Path) -> int:
    async with SqliteStore(path) as store:
        info = await store.community(LOBBY)
        return info.messages if info else 0


async def test_run_app_console_session_flushes_events(tmp_path: Path) -> None:
    db = tmp_path / "run.db"
    out = io.StringIO()
    script = io.StringIO("say hello everyone\nas Bob\nreply 1 hi Alice\nas Alice\n/leaderboard\nquit\n")
    await run_app(Config(database=str(db), refresh_interval=0.0), console=Console(file=out, width=120),
                  console_input=script)
    text = out.getvalue()
    assert "No platform token set" in text
    assert "hello everyone" in text  # shown on screen (never stored)
    assert await _messages(db) == 2


class _FakeAdapter:
    """Stands in for a platform adapter: counts one message through the app's ingestor, then asks to stop."""

    platform = "telegram"

    def __init__(self, app: App) -> None:
        self.app = app
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")
        ref = CommunityRef("telegram", "-1001")
        await self.app.ingestor.event(Event(Kind.MESSAGE, ref, datetime(2026, 11, 20, tzinfo=UTC), "m1", actor="42"))
        signal.raise_signal(signal.SIGTERM)  # run_app owns SIGTERM: this must end it cleanly

    async def stop(self) -> None:
        self.calls.append("stop")

    async def post(self, community: CommunityRef, channel: str, reply: object, *, nonce: str | None = None) -> None:
        raise AssertionError("not used")

    async def dm(self, user: str, reply: object, *, nonce: str | None = None) -> None:
        raise AssertionError("not used")


async def test_run_app_starts_configured_adapters_and_stops_them_on_sigterm(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[_FakeAdapter] = []

    def factory(platform: str):  # type: ignore[no-untyped-def]
        assert platform == "telegram"
        return lambda app: made.append(_FakeAdapter(app)) or made[-1]

    monkeypatch.setattr(app_module, "_factory", factory)
    out = io.StringIO()
    db = tmp_path / "t.db"
    await run_app(Config(database=str(db), telegram_token="123:abc"), console=Console(file=out, width=200))
    assert [a.calls for a in made] == [["start", "stop"]]
    assert "Connected: telegram" in out.getvalue()
    assert "123:abc" not in out.getvalue()
    async with SqliteStore(db) as store:  # the adapter's event was flushed before the store closed
        info = await store.community(CommunityRef("telegram", "-1001"))
        assert info is not None and info.messages == 1


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUT_")}
    env.update(CLOUT_DATABASE=str(db), COLUMNS="120", PYTHONUNBUFFERED="1")
    return env


def test_run_sigterm_flushes_pending_events(tmp_path: Path) -> None:
    db = tmp_path / "sig.db"
    proc = subprocess.Popen([CLOUT, "run"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(db))
    assert proc.stdin and proc.stdout
    proc.stdin.write("say one\nsay two\nsay three\nwhoami\n")
    proc.stdin.flush()
    seen = []
    for line in proc.stdout:  # wait for the console to have handled every line (no sleeping)
        seen.append(line)
        if "three" in "".join(seen) and ("Alice" in line or "whoami" in line.lower()):
            break
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    assert asyncio.run(_messages(db)) == 3


def test_demo_builds_a_scored_community(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    proc = subprocess.run([CLOUT, "demo", "--db", str(db), "--members", "30", "--messages", "800"],
                          input="/leaderboard\nquit\n", capture_output=True, text=True, env=_env(db), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Demo community events:demo" in proc.stdout
    assert "Traceback" not in proc.stderr
    # the leaderboard was answered with ranked rows
    assert "1" in proc.stdout and "2" in proc.stdout
    asyncio.run(_check_demo(db))


async def _check_demo(db: Path) -> None:
    async with SqliteStore(db) as store:
        info = await store.community(CommunityRef("events", "demo"))
        assert info is not None and info.messages >= 700
        stored = await store.stored_scores(CommunityRef("events", "demo"), "all")
        assert stored is not None and stored.members >= 20
