"""The console adapter: a terminal chat with simulated members, over the real ingest path and commands."""

from __future__ import annotations

from bot.console.adapter import ConsoleAdapter

__all__ = ["ConsoleAdapter"]
