"""One bot process of the several-processes test: `python -m tests.app.multi_child API_BASE GATEWAY COMMUNITY`.

It runs the real `clout run --headless` command line (configured by the CLOUT_* environment the
test sets: PostgreSQL URL, shard count and this process's shard ids, leader poll), with three test
hooks that a production setting must not offer:

- discord.py is pointed at the parent's loopback fake Discord by patching `discord.http.Route.BASE`
  and the gateway URL (private class attributes; an environment switch that sends the bot token to
  another server would be a hazard in production), and the adapter gets the fast start-up
  options the in-process Discord tests use;
- every span in which this process holds the refresh lock of COMMUNITY is printed as
  `span <pid> <start> <end>` (time.monotonic: one clock for all processes of the machine);
- once started it prints `hammer ready`, waits for a line on stdin, refreshes COMMUNITY in a loop for
  two seconds and prints `hammer done <refreshes> <skipped>`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

import discord
import yarl

import bot.app
from bot.app import App
from bot.config import Config
from bot.discord.adapter import DiscordAdapter
from scoring.model import CommunityRef
from storage.postgres import PostgresStore

HAMMER_SECONDS = 2.0
_TASKS: set[asyncio.Task[None]] = set()


def create_adapter(app: App) -> DiscordAdapter:
    return DiscordAdapter(app, guild_ready_timeout=0.01, identify_delay=0.0, backfill_pause=0.0, start_timeout=30.0)


def _spans(original: Callable[[PostgresStore, CommunityRef], AbstractAsyncContextManager[bool]],
           watched: CommunityRef) -> Callable[[PostgresStore, CommunityRef], AbstractAsyncContextManager[bool]]:
    @asynccontextmanager
    async def refresh_lock(self: PostgresStore, ref: CommunityRef) -> AsyncIterator[bool]:
        async with original(self, ref) as held:
            start = time.monotonic()
            try:
                yield held
            finally:
                if held and ref == watched:
                    print(f"span {os.getpid()} {start:.6f} {time.monotonic():.6f}", flush=True)
    return refresh_lock


async def _hammer(app: App, ref: CommunityRef) -> None:
    print("hammer ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    done = 0
    skipped = app.service.skipped
    end = time.monotonic() + HAMMER_SECONDS
    while time.monotonic() < end:
        await app.service.refresh(ref)
        done += 1
    print(f"hammer done {done} {app.service.skipped - skipped}", flush=True)


def install(api_base: str, gateway: str, ref: CommunityRef) -> None:
    discord.http.Route.BASE = api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    bot.app.ADAPTERS["discord"] = "tests.app.multi_child:create_adapter"
    PostgresStore.refresh_lock = _spans(PostgresStore.refresh_lock, ref)  # type: ignore[method-assign]
    start = App.start.__func__  # type: ignore[attr-defined]

    async def start_with_hammer(cls: type[App], config: Config, **kwargs: Any) -> App:
        app: App = await start(cls, config, **kwargs)
        _TASKS.add(asyncio.get_running_loop().create_task(_hammer(app, ref)))
        return app

    App.start = classmethod(start_with_hammer)  # type: ignore[method-assign, assignment]


def main(argv: list[str]) -> None:
    api_base, gateway, community = argv
    install(api_base, gateway, CommunityRef.parse(community))
    from bot.cli import main as clout

    print(f"child {os.getpid()} started {datetime.now().isoformat()}", flush=True)
    clout(["run", "--headless"])


if __name__ == "__main__":
    main(sys.argv[1:])
