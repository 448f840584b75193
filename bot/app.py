"""The composition root: open the store, start the refresher and the adapters, shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

from bot.card import CardRenderer
from bot.chat.commands import Commands
from bot.chat.delivery import Adapter
from bot.chat.ingest import Backend, Ingestor
from bot.chat.service import ScoreService, favour_event_loop
from bot.config import Config
from bot.console.adapter import ConsoleAdapter
from bot.leader import Leadership
from scoring.model import CommunityRef
from storage import open_store

if TYPE_CHECKING:
    from bot.summary.scheduler import SummaryScheduler

__all__ = ["ADAPTERS", "App", "run_app"]

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


# platform -> "module:factory"; a factory takes the App and returns an unstarted Adapter. Imported
# only when that platform's token is set, so `discord` and `telegram` load only when used.
ADAPTERS = {
    "discord": "bot.discord.adapter:create",
    "telegram": "bot.telegram.adapter:create",
}


def _factory(platform: str) -> Callable[[App], Adapter]:
    module, _, name = ADAPTERS[platform].partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


@dataclass(slots=True)
class App:
    """The wired parts of a running bot (the same objects every adapter uses)."""

    config: Config
    store: Backend
    service: ScoreService
    ingestor: Ingestor
    commands: Commands
    renderer: CardRenderer
    clock: Callable[[], datetime] = utcnow
    adapters: dict[str, Adapter] = field(default_factory=dict)  # platform -> started adapter
    scheduler: SummaryScheduler | None = None  # weekly summaries (started while this process leads)
    leadership: Leadership | None = None  # leader election (started by run_app when the scheduler is on)

    @classmethod
    async def start(cls, config: Config, *, clock: Callable[[], datetime] = utcnow) -> App:
        favour_event_loop()
        store = open_store(config.database)
        await store.open()
        service = ScoreService(store, clock=clock, min_interval=config.refresh_interval)
        ingestor = Ingestor(store, service)
        renderer = CardRenderer(config.card_processes)
        commands = Commands(store, service, clock=clock, ingestor=ingestor, renderer=renderer)
        service.listeners.append(commands.warm)
        return cls(config, store, service, ingestor, commands, renderer, clock)

    async def start_adapters(self) -> None:
        """Start the adapter of every platform whose token is configured (in this event loop)."""
        for platform in self.config.platforms:
            adapter = _factory(platform)(self)
            await adapter.start()
            self.adapters[platform] = adapter
            log.info("%s adapter started", platform)

    async def stop_adapters(self) -> None:
        for platform, adapter in reversed(list(self.adapters.items())):
            try:
                await adapter.stop()
            except Exception:  # one adapter failing to stop must not keep the others running
                log.exception("stopping the %s adapter failed", platform)
        self.adapters.clear()

    async def start_scheduler(self) -> None:
        """Start the weekly-summary scheduler (delivering through `adapters`) and catch up missed weeks."""
        from bot.summary.runner import SummaryRunner
        from bot.summary.scheduler import SummaryScheduler

        runner = SummaryRunner(self.store, self.adapters, renderer=self.renderer, clock=self.clock)
        self.scheduler = scheduler = SummaryScheduler(self.store, runner, clock=self.clock)
        self.commands.settings_listeners.append(scheduler.reschedule)
        self.service.listeners.append(scheduler.ensure)
        await scheduler.start()

    async def stop_scheduler(self, *, abort: bool = False) -> None:
        """Stop the scheduler: gracefully (the summary in flight is finished), or at once with
        `abort` (leadership lost: another process may already run the outbox)."""
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is None:
            return
        with contextlib.suppress(ValueError):
            self.commands.settings_listeners.remove(scheduler.reschedule)
        with contextlib.suppress(ValueError):
            self.service.listeners.remove(scheduler.ensure)
        await (scheduler.abort() if abort else scheduler.stop())

    async def lead(self) -> None:
        """Take part in leader election: while this process leads it runs the scheduler (started
        after the adapters, so the catch-up can deliver)."""
        self.leadership = Leadership(self.store, poll=self.config.leader_poll, on_gain=self.start_scheduler,
                                     on_loss=partial(self.stop_scheduler, abort=True))
        await self.leadership.start()

    async def stop_leading(self) -> None:
        """Stop the election, then the scheduler (gracefully), then release leadership."""
        if self.leadership is not None:
            await self.leadership.halt()
        await self.stop_scheduler()
        if self.leadership is not None:
            await self.leadership.stop()

    async def close(self) -> None:
        """Flush pending events, close the store and stop card workers."""
        try:
            await self.store.close()
        finally:
            self.renderer.close()


async def run_app(config: Config, *, community: CommunityRef | None = None, console: Console | None = None,
                  console_input: TextIO | None = None, clock: Callable[[], datetime] = utcnow,
                  admin_ids: list[str] | None = None) -> None:
    """Run until the console ends or SIGINT/SIGTERM; always flush pending events before returning.

    With a platform token, or `headless`, there is no console: the process runs until a signal."""
    console = console or Console()
    app = await App.start(config, clock=clock)
    try:
        await app.store.begin_run()  # SQLite: one bot process per file (refused with one sentence)
    except BaseException:
        await app.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(app.service.run(), name="clout-refresher")]
    stopper = asyncio.create_task(stop.wait(), name="clout-stop")
    tasks.append(stopper)
    try:
        if config.platforms or config.headless:
            await app.start_adapters()
            # A process without a chat adapter could not deliver summaries: it never leads.
            if config.scheduler and config.platforms:
                await app.lead()
            if config.platforms:
                console.print(f"Connected: {', '.join(config.platforms)}. Stop with Ctrl-C.")
            else:
                log.info("running headless (pid %d) until SIGTERM or SIGINT", os.getpid())
            await stopper
            return
        console.print("[dim]No platform token set: starting the console. Set CLOUT_DISCORD_TOKEN or "
                      "CLOUT_TELEGRAM_TOKEN (see .env.example) to connect a real chat.[/dim]")
        ref = community or CommunityRef.parse(config.console_community)
        adapter = await ConsoleAdapter.for_community(app.commands, app.ingestor, ref, console=console, clock=clock,
                                                     **({"admin_ids": admin_ids} if admin_ids else {}))
        # The console delivers summaries of its community's platform (console:… by default) on screen.
        app.adapters.setdefault(ref.platform, adapter)  # type: ignore[arg-type]
        if config.scheduler:
            await app.lead()
        console_task = asyncio.create_task(adapter.run(console_input), name="clout-console")
        tasks.append(console_task)
        await asyncio.wait({console_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if console_task.done() and console_task.exception() is not None:
            raise console_task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app.stop_leading()
        for sig in installed:
            loop.remove_signal_handler(sig)
        await app.stop_adapters()
        await app.close()
        log.info("stopped; pending events flushed")
