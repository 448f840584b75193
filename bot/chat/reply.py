"""Neutral replies: what a command answers, before an adapter turns it into a platform message."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime

from scoring.model import CommunityRef

__all__ = ["PENDING_TIMEOUT", "Attachment", "Button", "Context", "Pending", "Reply", "Table"]

log = logging.getLogger(__name__)

PENDING_TIMEOUT = 30.0  # seconds an adapter waits for a pending attachment before sending the note instead


@dataclass(frozen=True, slots=True)
class Context:
    """Who runs a command, where, and when. `community` is None in a private chat with the bot."""

    platform: str
    user: str
    now: datetime
    community: CommunityRef | None = None
    channel: str | None = None
    name: str | None = None
    locale: str | None = None
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Button:
    """A button that runs `command` (e.g. "leaderboard week 2") for whoever presses it."""

    label: str
    command: str


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes
    mime: str


class Pending:
    """An attachment still being made (the score card): an adapter sends the reply's text at once
    and then the attachment, when `result()` gives it, or `failed` (a short localized note) when it
    gives None: the making failed or took longer than `timeout` seconds.

    The making starts when the Pending is created, so it runs while the text is being sent.
    """

    __slots__ = ("_task", "failed", "timeout")

    def __init__(self, make: Awaitable[Attachment], failed: str, *, timeout: float = PENDING_TIMEOUT) -> None:
        self._task: asyncio.Future[Attachment] = asyncio.ensure_future(make)
        self._task.add_done_callback(_retrieve)
        self.failed = failed
        self.timeout = timeout

    async def result(self) -> Attachment | None:
        """The attachment, or None if it cannot be made (logged); never raises but CancelledError."""
        try:
            # shield: a caller that gives up (or is cancelled) does not cancel the shared making.
            return await asyncio.wait_for(asyncio.shield(self._task), self.timeout)
        except TimeoutError:
            log.warning("an attachment was not ready after %.0f s; sending the reply without it", self.timeout)
            return None
        except asyncio.CancelledError:
            if self._task.cancelled():
                return None
            raise
        except Exception:
            return None  # logged once by _retrieve


def _retrieve(task: asyncio.Future[Attachment]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("making an attachment failed", exc_info=task.exception())


@dataclass(frozen=True, slots=True)
class Reply:
    """Text blocks (paragraphs, already localized), an optional table, image or file, and buttons.

    `private` asks the adapter to show it only to the caller (Discord: ephemeral; Telegram: a DM
    when possible). `title` is a short heading adapters may use (embed title, bold first line).
    `later` is an image still being made: send the rest first, then the image (see `Pending`);
    `completed()` waits for it and gives the reply as one message.
    """

    text: tuple[str, ...] = ()
    title: str | None = None
    table: Table | None = None
    image: Attachment | None = None
    file: Attachment | None = None
    private: bool = False
    buttons: tuple[Button, ...] = field(default=())
    error: bool = False
    later: Pending | None = None

    async def completed(self) -> Reply:
        """This reply with its pending image in place (or the pending's note as a last paragraph),
        for senders that send a reply as one message."""
        if self.later is None:
            return self
        image = await self.later.result()
        if image is None:
            return dataclasses.replace(self, text=(*self.text, self.later.failed), later=None)
        return dataclasses.replace(self, image=image, later=None)

    @property
    def plain(self) -> str:
        """All text of the reply as one string (title, paragraphs, table rows) — for logs and tests."""
        parts = [self.title] if self.title else []
        parts.extend(self.text)
        if self.table:
            parts.append(" | ".join(self.table.columns))
            parts.extend(" | ".join(r) for r in self.table.rows)
        return "\n".join(parts)
