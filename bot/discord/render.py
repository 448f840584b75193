"""Neutral replies as Discord messages: an embed (title, paragraphs, the table as a code block), the
score card PNG attached and shown in the embed, files attached, buttons in a View that times out."""

from __future__ import annotations

import contextlib
import io
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.chat.reply import Button, Reply, Table

__all__ = ["BUTTON_TIMEOUT", "ButtonsView", "message_kwargs"]

BUTTON_TIMEOUT = 300.0   # seconds a leaderboard's buttons keep working
COLOUR = discord.Colour(0x3B82F6)
ERROR_COLOUR = discord.Colour(0xDC2626)
_DESCRIPTION = 4096
_TITLE = 256

Press = Callable[[discord.Interaction, str, "ButtonsView"], Awaitable[None]]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(table: Table) -> str:
    rows = [table.columns, *table.rows]
    widths = [max(_width(r[i]) for r in rows) for i in range(len(table.columns))]
    lines = ["  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    body = "\n".join(lines).replace("```", "'''")
    return f"```\n{body}\n```"


def embed_of(reply: Reply) -> discord.Embed:
    parts = list(reply.text)
    if reply.table is not None:
        parts.append(_table(reply.table))
    description = "\n\n".join(parts)
    if len(description) > _DESCRIPTION:
        description = description[:_DESCRIPTION - 1] + "…"
    embed = discord.Embed(title=(reply.title or "")[:_TITLE] or None, description=description or None,
                          colour=ERROR_COLOUR if reply.error else COLOUR)
    if reply.image is not None:
        embed.set_image(url=f"attachment://{reply.image.filename}")
    return embed


def files_of(reply: Reply) -> list[discord.File]:
    """Fresh File objects (a File is consumed by one send)."""
    return [discord.File(io.BytesIO(a.data), filename=a.filename) for a in (reply.image, reply.file) if a is not None]


def message_kwargs(reply: Reply) -> dict[str, Any]:
    """Keyword arguments for `send`/`send_message`: embed and files (the view is added by the caller)."""
    kwargs: dict[str, Any] = {"embed": embed_of(reply)}
    files = files_of(reply)
    if files:
        kwargs["files"] = files
    return kwargs


class ButtonsView(discord.ui.View):
    """The reply's buttons; pressing one runs its command for whoever pressed. Disabled on timeout."""

    def __init__(self, buttons: tuple[Button, ...], press: Press, *, timeout: float = BUTTON_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.interaction: discord.Interaction | None = None  # whose response carries this view
        for i, button in enumerate(buttons[:25]):
            style = discord.ButtonStyle.danger if button.command.startswith("forgetme") else discord.ButtonStyle.secondary
            item: discord.ui.Button[ButtonsView] = discord.ui.Button(
                label=button.label[:80], style=style, custom_id=f"clout:{i}:{button.command}"[:100])
            item.callback = self._callback(button.command, press)  # type: ignore[method-assign]
            self.add_item(item)

    def _callback(self, command: str, press: Press) -> Callable[[discord.Interaction], Awaitable[None]]:
        async def pressed(interaction: discord.Interaction) -> None:
            await press(interaction, command, self)
        return pressed

    async def on_timeout(self) -> None:
        if self.interaction is not None:
            for item in self.children:
                if isinstance(item, discord.ui.Button):
                    item.disabled = True
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.edit_original_response(view=self)
