"""The single-writer queue both SQL stores share: live events are queued, one task drains the queue
into batches, and each batch is written in one transaction by the store's own SQL.

A store using `QueuedWriter` sets, in its constructor and `open`: `_queue` (an asyncio.Queue),
`_writer` (the task running `_write_loop`), `_failures` (a list), `_write_lock`, `batch_size`,
`_wconn` and `_closed`; and provides `_transaction()`, `_write_chunk(events, users)`,
`_write_users(users)` and `_refresh()`. `_target` names the database in messages.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scoring.model import Event
from storage.base import StoreError

__all__ = ["STOP", "QueuedWriter", "WriteFailedError"]

log = logging.getLogger("storage")

STOP = object()  # queue sentinel: the writer exits after the batch that contains it


class WriteFailedError(StoreError):
    """Queued events could not be saved (reported by flush() and close())."""


class QueuedWriter:
    """ingest/flush and the writer task of a store with one writing connection."""

    _queue: asyncio.Queue[object]
    _writer: asyncio.Task[None] | None
    _failures: list[BaseException]
    _write_lock: asyncio.Lock
    _wconn: Any
    _closed: bool
    batch_size: int
    _target: str  # "the database at PATH", "PostgreSQL": where events are saved, for messages

    def _check_open(self) -> None:
        if self._wconn is None or self._closed:
            raise StoreError("The store is not open.")

    async def ingest(self, event: Event) -> None:
        """Queue one live event for the writer (returns once queued, not committed)."""
        self._check_open()
        if self._writer is None or self._writer.done():
            raise StoreError("The database writer has stopped; see the log for the cause.")
        await self._queue.put(event)

    async def flush(self) -> None:
        """Wait until every queued event is committed; raises WriteFailedError if a batch failed."""
        self._check_open()
        await self._flush()

    async def _drain(self) -> None:
        """Wait until the writer has handled every queued event (failures stay for `flush`)."""
        writer = self._writer
        if writer is not None and not writer.done():
            join = asyncio.ensure_future(self._queue.join())
            try:
                await asyncio.wait({join, writer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not join.done():
                    join.cancel()

    async def _flush(self) -> None:
        await self._drain()
        writer = self._writer
        if self._failures:
            first, count = self._failures[0], len(self._failures)
            self._failures.clear()
            raise WriteFailedError(
                f"Saving events to {self._target} failed ({count} batch{'es' if count > 1 else ''}): "
                f"{first}; see the log for details.") from first
        if writer is not None and writer.done() and not writer.cancelled() and writer.exception():
            raise WriteFailedError("The database writer stopped; see the log for details.") \
                from writer.exception()

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the writer of %s stopped", self._target, exc_info=task.exception())

    async def _write_batch(self, events: list[Event]) -> None:
        """Write one batch in one transaction (a store may override this to retry, e.g. after reconnecting)."""
        async with self._write_lock, self._transaction():  # type: ignore[attr-defined]
            users: dict[Any, Any] = {}
            await self._write_chunk(events, users)  # type: ignore[attr-defined]
            await self._write_users(users)  # type: ignore[attr-defined]
            await self._refresh()  # type: ignore[attr-defined]

    async def _write_loop(self) -> None:
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self.batch_size:
                try:
                    batch.append(queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            stop = False
            events: list[Event] = []
            for item in batch:
                if item is STOP:
                    stop = True
                else:
                    events.append(item)  # type: ignore[arg-type]
            try:
                if events:
                    await self._write_batch(events)
            except Exception as exc:
                # Keep the writer alive for later batches; the failure reaches flush()/close().
                log.exception("writing %d events to %s failed; they were not stored", len(events), self._target)
                self._failures.append(exc)
            finally:
                for _ in batch:
                    queue.task_done()
            if stop:
                return
