"""Logging set-up for the long-running commands (never at import time), with tokens redacted."""

from __future__ import annotations

import logging
import os
import re

__all__ = ["RedactingFormatter", "setup_logging"]

# Discord bot tokens (three dot-separated base64 parts) and Telegram tokens (digits:35 chars).
_TOKEN_SHAPES = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}|\d{6,12}:[A-Za-z0-9_-]{30,}")


class RedactingFormatter(logging.Formatter):
    """Formats a record, traceback included, then removes configured tokens and token-shaped strings."""

    def __init__(self, fmt: str, secrets: list[str] | None = None) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in (secrets or []) if s]

    def format(self, record: logging.LogRecord) -> str:
        text = _TOKEN_SHAPES.sub("[redacted]", super().format(record))
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with the tokens from the environment redacted."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s",
        [os.environ.get("CLOUT_DISCORD_TOKEN", ""), os.environ.get("CLOUT_TELEGRAM_TOKEN", "")],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
