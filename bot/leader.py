"""Leader election: exactly one process per database runs the weekly scheduler and the outbox.

The store decides (storage.base.LockStore): on PostgreSQL a session advisory lock held by the
leader; SQLite and memory are single-process, so their one process always leads (SQLite refuses
a second `clout run` on the same file). `Leadership` polls every `poll` seconds: a follower tries
to take the lock, the leader checks that its lock is still held. Gaining calls `on_gain` (start
the scheduler, which catches up missed weeks); losing calls `on_loss` at once (stop the scheduler
without finishing anything: better no leader for a moment than two).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from storage.base import LockStore, StoreError

__all__ = ["Leadership"]

log = logging.getLogger(__name__)


class Leadership:
    """Polls the store's leader lock and runs the callbacks when this process gains or loses it."""

    def __init__(self, store: LockStore, *, poll: float, on_gain: Callable[[], Awaitable[None]],
                 on_loss: Callable[[], Awaitable[None]]) -> None:
        self.store = store
        self.poll = poll
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.leading = False
        self.changes = 0  # how often leadership was gained or lost (tests and logs)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._followed = False  # "follows" logged once

    async def start(self) -> None:
        """Try once now (StoreError from a single-process store is raised here, before anything
        else starts), then keep polling in a task."""
        await self.step()
        self._task = asyncio.create_task(self._loop(), name="clout-leader")

    async def step(self) -> None:
        """One round: a leader checks its lock, a follower tries to take it."""
        s = self.store
        if self.leading:
            try:
                held = await s.still_leading()
            except Exception:  # any doubt counts as lost (fencing)
                log.exception("checking the leader lock failed")
                held = False
            if not held:
                self.leading = False
                self.changes += 1
                log.warning("leader: pid %d lost leadership; the scheduler stops", os.getpid())
                await self.on_loss()
            return
        try:
            got = await s.try_lead()
        except StoreError:
            raise
        except Exception:
            log.exception("trying to become the leader failed")
            got = False
        if not got and not self._followed:
            self._followed = True
            log.info("leader: pid %d follows (another process leads; retrying every %g s)", os.getpid(), self.poll)
        if got:
            self.leading = True
            self.changes += 1
            log.info("leader: pid %d is the leader (runs the weekly summaries)", os.getpid())
            try:
                await self.on_gain()
            except asyncio.CancelledError:
                raise
            except Exception:  # a leader that cannot schedule must let another process try
                log.exception("starting the scheduler failed; giving up leadership")
                await self._give_up()

    async def _give_up(self) -> None:
        self.leading = False
        self.changes += 1
        await self.store.stop_leading()

    async def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll)
            if self._stop.is_set():
                return
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep polling: the database may come back
                log.exception("leader election round failed")

    async def halt(self) -> None:
        """Stop polling (leadership, if held, stays held until `stop`)."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        """Stop polling and release leadership (stop the scheduler gracefully between `halt` and this)."""
        await self.halt()
        if self.leading:
            await self._give_up()
