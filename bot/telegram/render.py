"""Neutral replies as Telegram HTML messages: every piece of text is escaped, tables become lines."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat.reply import Reply

__all__ = ["CAPTION_LIMIT", "TEXT_LIMIT", "html_text", "keyboard"]

TEXT_LIMIT = 4096      # characters of a message
CAPTION_LIMIT = 1024   # characters of a photo or document caption
CALLBACK_LIMIT = 64    # bytes of callback_data


def html_text(reply: Reply, *, extra: tuple[str, ...] = (), limit: int = TEXT_LIMIT) -> str:
    """The reply as HTML: a bold title, paragraphs, the table as lines. Names and all other text are
    escaped (they come from members); cut to `limit` characters at a line end when too long."""
    parts: list[str] = []
    if reply.title:
        parts.append(f"<b>{html.escape(reply.title)}</b>")
    parts.extend(html.escape(block) for block in (*reply.text, *extra) if block)
    if reply.table is not None and reply.table.rows:
        lines = [f"<i>{html.escape(' · '.join(reply.table.columns))}</i>"]
        for row in reply.table.rows:
            first, *rest = row
            lines.append(" · ".join([f"<b>{html.escape(first)}</b>", *(html.escape(c) for c in rest)]))
        parts.append("\n".join(lines))
    text = "\n\n".join(parts)
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit - 1)
    return text[:cut if cut > 0 else limit - 1] + "…"


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """One row of buttons; a button carries its command line as callback data."""
    buttons = [InlineKeyboardButton(b.label, callback_data=b.command)
               for b in reply.buttons if len(b.command.encode("utf-8")) <= CALLBACK_LIMIT]
    return InlineKeyboardMarkup([buttons]) if buttons else None
