"""Importers: stream export files (Telegram Desktop, DiscordChatExporter, generic JSONL) into Events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from bot.importers.discord_export import read_discord
from bot.importers.jsonl import read_events
from bot.importers.reading import ImportFormatError, Progress
from bot.importers.telegram import read_telegram
from scoring.model import Event

__all__ = ["READERS", "ImportFormatError", "Progress", "Reader", "read_discord", "read_events", "read_telegram"]

Reader = Callable[[Path, Progress | None], Iterator[Event]]

READERS: dict[str, Reader] = {
    "telegram": read_telegram,
    "discord": read_discord,
    "events": read_events,
}
