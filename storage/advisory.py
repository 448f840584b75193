"""Coordination of several bot processes on one PostgreSQL database, with session advisory locks.

One dedicated connection per process holds its locks (`pg_try_advisory_lock`, never blocking):

- leadership: the process holding the leader lock runs the scheduler and the outbox. PostgreSQL
  releases a session lock when the session ends, so a leader that dies (or whose connection is
  cut) frees it at once and a follower's next try takes it over. The leader checks its
  connection with a cheap query (`still_leading`); a failed or slow check counts as lost, and the
  connection is closed so the server drops the lock if it still held it (fencing: better no
  leader for a moment than two);
- a refresh lock per community: held around compute + save of its scores, so a community is
  never refreshed by two processes at once.

Keys are two int4s: `hashtext('clout <purpose> <schema>')` and a per-purpose key (0 for the
leader, `hashtext(community key)` for refreshes, computed by the server in the same statement), so deployments in different schemas of one
database do not share locks. A hash collision only makes two communities wait for each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import asyncpg

from scoring.model import CommunityRef

__all__ = ["AdvisoryLocks"]

log = logging.getLogger("storage")

_LEADER = "hashtext('clout leader ' || current_schema()), 0"
_REFRESH = "hashtext('clout refresh ' || current_schema()), hashtext($1)"
# What a lock query may raise when the server or the session is gone (or too slow to answer).
_UNREACHABLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


class AdvisoryLocks:
    """Leader and refresh locks of one process, on a connection of their own (opened lazily)."""

    def __init__(self, url: str, settings: Mapping[str, str], *, check_timeout: float = 5.0) -> None:
        self.url = url
        # TCP keepalives on the lock session: when a leader's machine vanishes without closing its
        # socket, the server notices within about 25 s and releases its locks (unix sockets ignore them).
        self.settings = {**settings, "tcp_keepalives_idle": "10", "tcp_keepalives_interval": "5",
                         "tcp_keepalives_count": "3"}
        self.check_timeout = check_timeout
        self._conn: asyncpg.Connection | None = None
        self._mutex = asyncio.Lock()  # one query at a time on the lock connection
        self._leading = False

    async def _connection(self) -> asyncpg.Connection:
        conn = self._conn
        if conn is None or conn.is_closed():
            # A new session holds no lock: whatever the old one held is gone with it.
            self._leading = False
            conn = self._conn = await asyncpg.connect(self.url, server_settings=self.settings,
                                                      timeout=self.check_timeout)
        return conn

    async def _drop(self) -> None:
        """Close the lock connection (the server releases every lock it held)."""
        conn, self._conn, self._leading = self._conn, None, False
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def try_lead(self) -> bool:
        """Take the leader lock if it is free; False when another process leads (or the server is away)."""
        async with self._mutex:
            if self._leading and self._conn is not None and not self._conn.is_closed():
                return True
            try:
                conn = await self._connection()
                self._leading = bool(await conn.fetchval(f"SELECT pg_try_advisory_lock({_LEADER})",
                                                         timeout=self.check_timeout))
            except _UNREACHABLE as exc:
                log.warning("cannot reach PostgreSQL to take the leader lock: %s", type(exc).__name__)
                await self._drop()
            return self._leading

    async def still_leading(self) -> bool:
        """Whether the leader lock is still held: its session answers a cheap query in time."""
        async with self._mutex:
            conn = self._conn
            if not self._leading or conn is None or conn.is_closed():
                self._leading = False
                return False
            try:
                await conn.fetchval("SELECT 1", timeout=self.check_timeout)
            except _UNREACHABLE as exc:
                log.warning("the leader lock's connection failed (%s); leadership is lost", type(exc).__name__)
                await self._drop()
                return False
            return True

    async def stop_leading(self) -> None:
        """Release the leader lock (a follower takes over at its next try)."""
        async with self._mutex:
            if not self._leading:
                return
            self._leading = False
            conn = self._conn
            try:
                if conn is not None and not conn.is_closed():
                    await conn.fetchval(f"SELECT pg_advisory_unlock({_LEADER})", timeout=self.check_timeout)
            except _UNREACHABLE:
                await self._drop()

    @asynccontextmanager
    async def refresh_lock(self, ref: CommunityRef) -> AsyncIterator[bool]:
        """Hold the community's refresh lock for the block; yields False (and holds nothing) when
        another process holds it, or when the server cannot be reached."""
        got = False
        conn: asyncpg.Connection | None = None
        async with self._mutex:
            try:
                conn = await self._connection()
                got = bool(await conn.fetchval(f"SELECT pg_try_advisory_lock({_REFRESH})", ref.key,
                                               timeout=self.check_timeout))
            except _UNREACHABLE as exc:
                log.warning("cannot take the refresh lock of %s: %s", ref.key, type(exc).__name__)
                await self._drop()
        try:
            yield got
        finally:
            if got:
                async with self._mutex:
                    # The lock lives only as long as its session: a replaced connection holds nothing.
                    if conn is self._conn and conn is not None and not conn.is_closed():
                        try:
                            await conn.fetchval(f"SELECT pg_advisory_unlock({_REFRESH})", ref.key,
                                                  timeout=self.check_timeout)
                        except _UNREACHABLE:
                            await self._drop()

    async def close(self) -> None:
        async with self._mutex:
            conn, self._conn, self._leading = self._conn, None, False
            if conn is not None and not conn.is_closed():
                await conn.close()
