"""The composition root: open the store, start the refresher and the adapters, shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console

from bot.card import CardRenderer
from bot.chat.commands import Commands
from bot.chat.ingest import Backend, Ingestor
from bot.chat.service import ScoreService
from bot.config import Config
from bot.console.adapter import ConsoleAdapter
from scoring.model import CommunityRef
from storage import open_store

__all__ = ["App", "run_app"]

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class App:
    """The wired parts of a running bot (the same objects every adapter uses)."""

    config: Config
    store: Backend
    service: ScoreService
    ingestor: Ingestor
    commands: Commands
    renderer: CardRenderer

    @classmethod
    async def start(cls, config: Config, *, clock: Callable[[], datetime] = utcnow) -> App:
        store = open_store(config.database)
        await store.open()
        service = ScoreService(store, clock=clock, min_interval=config.refresh_interval)
        ingestor = Ingestor(store, service)
        renderer = CardRenderer(config.card_processes)
        commands = Commands(store, service, clock=clock, ingestor=ingestor, renderer=renderer)
        service.listeners.append(commands.warm)
        return cls(config, store, service, ingestor, commands, renderer)

    async def close(self) -> None:
        """Flush pending events, close the store and stop card workers."""
        try:
            await self.store.close()
        finally:
            self.renderer.close()


async def run_app(config: Config, *, community: CommunityRef | None = None, console: Console | None = None,
                  console_input: TextIO | None = None, clock: Callable[[], datetime] = utcnow,
                  admin_ids: list[str] | None = None) -> None:
    """Run until the console ends or SIGINT/SIGTERM; always flush pending events before returning."""
    console = console or Console()
    app = await App.start(config, clock=clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(app.service.run(), name="clout-refresher")]
    try:
        for platform in config.platforms:
            # The Discord and Telegram adapters arrive with their issues; until then say so plainly.
            console.print(f"[yellow]A {platform} token is set, but this version has no {platform} adapter yet; "
                          "using the console.[/yellow]")
        if not config.platforms:
            console.print("[dim]No platform token set: starting the console. Set CLOUT_DISCORD_TOKEN or "
                          "CLOUT_TELEGRAM_TOKEN (see .env.example) to connect a real chat.[/dim]")
        ref = community or CommunityRef.parse(config.console_community)
        adapter = await ConsoleAdapter.for_community(app.commands, app.ingestor, ref, console=console, clock=clock,
                                                     **({"admin_ids": admin_ids} if admin_ids else {}))
        console_task = asyncio.create_task(adapter.run(console_input), name="clout-console")
        stopper = asyncio.create_task(stop.wait(), name="clout-stop")
        tasks += [console_task, stopper]
        await asyncio.wait({console_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if console_task.done() and console_task.exception() is not None:
            raise console_task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sig in installed:
            loop.remove_signal_handler(sig)
        await app.close()
        log.info("stopped; pending events flushed")
