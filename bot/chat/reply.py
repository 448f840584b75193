"""Neutral replies: what a command answers, before an adapter turns it into a platform message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from scoring.model import CommunityRef

__all__ = ["Attachment", "Button", "Context", "Reply", "Table"]


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


@dataclass(frozen=True, slots=True)
class Reply:
    """Text blocks (paragraphs, already localized), an optional table, image or file, and buttons.

    `private` asks the adapter to show it only to the caller (Discord: ephemeral; Telegram: a DM
    when possible). `title` is a short heading adapters may use (embed title, bold first line).
    """

    text: tuple[str, ...] = ()
    title: str | None = None
    table: Table | None = None
    image: Attachment | None = None
    file: Attachment | None = None
    private: bool = False
    buttons: tuple[Button, ...] = field(default=())
    error: bool = False

    @property
    def plain(self) -> str:
        """All text of the reply as one string (title, paragraphs, table rows) — for logs and tests."""
        parts = [self.title] if self.title else []
        parts.extend(self.text)
        if self.table:
            parts.append(" | ".join(self.table.columns))
            parts.extend(" | ".join(r) for r in self.table.rows)
        return "\n".join(parts)
