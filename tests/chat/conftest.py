"""Fixtures for the chat layer: a seeded community, an injected clock, and the console adapter wired to
the real command layer, ingest path and score service (no sleeps, no network)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from bot.chat.commands import Commands
from bot.chat.ingest import Ingestor
from bot.chat.service import ScoreService
from bot.console.adapter import ConsoleAdapter
from scoring.model import CommunityRef, Event
from storage.memory import MemoryStore
from storage.sqlite import SqliteStore
from tests.factories import EventFactory

NOW = datetime(2026, 3, 23, 12, 0, tzinfo=UTC)  # a Monday noon; the seed spans the three weeks before
REF = CommunityRef("console", "demo")
NAMES = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Ken", "Liam",
         "Mia", "Nina", "Oscar", "Paul", "Quinn", "Rita", "Sam", "Tina", "Uma", "Vic", "Wendy", "Xena")
IDS = tuple(n.lower() for n in NAMES)
MEMBERS = tuple(zip(IDS, NAMES, strict=True))


class Clock:
    """Wall time and a monotonic reading that move together, only when a test says so."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start
        self.mono = 1_000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self.now += step
        self.mono += step.total_seconds()


def seed_events(ref: CommunityRef = REF, now: datetime = NOW) -> list[Event]:
    """Three weeks of a heavy-tailed community: early members are answered by many, late ones by few.

    In the last week four members who never answered Alice before start replying to her, so her
    week-over-week explanation has new responders.
    """
    f = EventFactory(base=now - timedelta(days=21), community=ref)
    n = len(IDS)
    events: list[Event] = []
    for day in range(21):
        for i, author in enumerate(IDS):
            mid = f"m{day}-{i}"  # ids never embed a user id, so a scan for the id finds only real traces
            t0 = timedelta(days=day, minutes=10 * i)
            events.append(f.msg(mid, author, t0, name=NAMES[i]))
            responders = max(1, 6 - i // 4)
            for k in range(1, responders + 1):
                r = IDS[(i + k) % n]
                events.append(f.reply(f"r{day}-{i}-{k}", r, mid, t0 + timedelta(minutes=1, seconds=k),
                                      name=NAMES[(i + k) % n]))
            if author == "alice" and day >= 14:
                for r in IDS[20:]:
                    events.append(f.react(mid, r, t0 + timedelta(minutes=5), name=NAMES[IDS.index(r)]))
    return events


@dataclass
class Chat:
    """One console session over a full chat stack; `await chat("line", …)` returns the new output."""

    store: MemoryStore | SqliteStore
    service: ScoreService
    ingestor: Ingestor
    commands: Commands
    adapter: ConsoleAdapter
    clock: Clock
    buffer: io.StringIO
    tmp: Path
    _pos: int = field(default=0)

    async def __call__(self, *lines: str) -> str:
        for line in lines:
            await self.adapter.handle_line(line)
        return self.output()

    def output(self) -> str:
        text = self.buffer.getvalue()
        new, self._pos = text[self._pos:], len(text)
        return new

    def console(self, community: CommunityRef, **options: object) -> ConsoleAdapter:
        """Another console (another community or platform) on the same stack and screen."""
        options.setdefault("members", MEMBERS)
        return ConsoleAdapter(self.commands, self.ingestor, community=community, clock=self.clock,
                              console=self.adapter.console, out_dir=self.tmp, **options)  # type: ignore[arg-type]


BuildChat = Callable[..., Awaitable[Chat]]


@pytest.fixture
async def make_chat(tmp_path: Path) -> AsyncIterator[BuildChat]:
    """Build a chat stack: `await make_chat(store="memory"|"sqlite", seed=True, locale=None, rate=…)`."""
    stores: list[MemoryStore | SqliteStore] = []

    async def build(*, store: str = "memory", seed: bool = True, locale: str | None = None,
                    rate: tuple[int, float] = (1_000, 10.0), members: tuple[tuple[str, str], ...] = MEMBERS,
                    admin_ids: tuple[str, ...] = ("alice",), community: CommunityRef = REF) -> Chat:
        backend: MemoryStore | SqliteStore = (
            MemoryStore() if store == "memory" else SqliteStore(tmp_path / f"clout-{len(stores)}.db"))
        await backend.open()
        stores.append(backend)
        clock = Clock()
        if seed:
            await backend.import_events(seed_events(community))
        service = ScoreService(backend, clock=clock, min_interval=0)
        if seed:
            await service.refresh(community)  # as after an import: stored scores and weekly history exist
        ingestor = Ingestor(backend, service)
        commands = Commands(backend, service, clock=clock, rate=rate, monotonic=clock.monotonic, ingestor=ingestor)
        buffer = io.StringIO()
        console = Console(file=buffer, width=120)
        adapter = ConsoleAdapter(commands, ingestor, community=community, members=members, console=console,
                                 clock=clock, admin_ids=admin_ids, locale=locale, out_dir=tmp_path,
                                 session="t")
        return Chat(backend, service, ingestor, commands, adapter, clock, buffer, tmp_path)

    yield build
    for backend in stores:
        await backend.close()


@pytest.fixture
async def chat(make_chat: BuildChat) -> Chat:
    """The seeded community in memory, English, Alice (an admin) speaking in #general."""
    return await make_chat()


@pytest.fixture
async def chat_de(make_chat: BuildChat) -> Chat:
    """The same, with Alice's app set to German."""
    return await make_chat(locale="de")
