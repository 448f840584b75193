"""Coordination of bot processes for the single-process stores: memory and SQLite.

A store that one process uses alone is always the leader and its refresh lock is always free (the
service's in-process lock already serializes refreshes). SQLite enforces "one bot process per
database file" with an exclusive `flock` on a sidecar file (`<database>.lock`): a second `clout run`
on the same file is refused with one sentence instead of two schedulers sending summaries twice.
The lock dies with the process (the kernel releases it), so a crash never leaves it stale.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from scoring.model import CommunityRef
from storage.base import StoreError

__all__ = ["RunFileLock", "SingleProcessLocks"]


class SingleProcessLocks:
    """The `LockStore` methods of a store used by one process: always leading, locks always free."""

    async def begin_run(self) -> None:
        """Announce a bot process (`clout run`); nothing to check for a store in memory."""

    async def try_lead(self) -> bool:
        """Become the process that runs the scheduler; here: always."""
        return True

    async def still_leading(self) -> bool:
        """Whether this process still leads; here: always."""
        return True

    async def stop_leading(self) -> None:
        """Give up leadership; nothing to give up here."""

    @asynccontextmanager
    async def refresh_lock(self, ref: CommunityRef) -> AsyncIterator[bool]:
        """Hold the cross-process refresh lock of a community; here it is always free (yields True)."""
        yield True


class RunFileLock:
    """An exclusive, non-blocking `flock` on `<path>.lock`, held while a bot process runs."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.path = f"{database}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise StoreError naming the database (idempotent while held)."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"Cannot create the lock file {self.path}: {exc.strerror}.") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(f"Another Clout process is already running on {self.database}; SQLite allows one "
                             "bot process per database (use PostgreSQL to run several).") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
