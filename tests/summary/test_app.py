"""`clout run` wiring: with no token the console is the console platform's deliverer and the
scheduler catches up the due week at start, delivering it on screen."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from rich.console import Console

from bot.app import run_app
from bot.config import Config
from storage.sqlite import SqliteStore
from tests.chat.conftest import NOW, REF
from tests.summary.conftest import WEEK


class Screen(io.StringIO):
    """Console output that signals (thread-safely) once a given text has appeared."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.seen = threading.Event()

    def write(self, text: str) -> int:
        n = super().write(text)
        if self.wanted in self.getvalue():
            self.seen.set()
        return n


class QuitWhenSeen(io.StringIO):
    """Console input: one line, "quit", given once the screen shows what the test waits for."""

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.screen = screen
        self.done = False

    def readline(self, *args: object) -> str:
        if self.done:
            return ""
        self.screen.seen.wait(60)  # a guard: the event normally fires within a second
        self.done = True
        return "quit\n"


async def test_run_app_scheduler_delivers_the_due_week_to_the_console(store: SqliteStore, tmp_path: Path) -> None:
    await store.close()
    screen = Screen("Clout sent a private message to Xena:")
    config = Config(database=str(store.path), refresh_interval=0.0, console_community=REF.key)
    await run_app(config, console=Console(file=screen, width=200), console_input=QuitWhenSeen(screen),
                  clock=lambda: NOW)
    text = screen.getvalue()
    assert screen.seen.is_set()
    assert f"Weekly digest of demo, week {WEEK}" in text and "Clout posted in #general:" in text
    assert "Clout sent a private message to Alice:" in text
    async with SqliteStore(store.path) as s:
        (run,) = await s.summary_runs(REF)
        assert run.week == WEEK and run.completed is not None
        assert {i.state for i in await s.outbox_items(REF, WEEK)} == {"sent"}


async def test_run_app_without_scheduler_sends_nothing(store: SqliteStore) -> None:
    await store.close()
    config = Config(database=str(store.path), refresh_interval=0.0, console_community=REF.key, scheduler=False)
    out = io.StringIO()
    await run_app(config, console=Console(file=out, width=200), console_input=io.StringIO("quit\n"), clock=lambda: NOW)
    assert "Weekly digest" not in out.getvalue()
    async with SqliteStore(store.path) as s:
        assert await s.summary_runs(REF) == []
