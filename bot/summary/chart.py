"""The digest's chart: a community's weekly engagement over 12 weeks as an 800×320 PNG (Pillow)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from datetime import date

from PIL import Image, ImageDraw

# The card's font lookup and palette: the chart looks like the score card.
from bot.card import _ACCENT as _CURRENT
from bot.card import _BG, _FAINT, _MUTED, _TEXT, _font
from bot.i18n import Translator

__all__ = ["render_chart", "render_chart_async"]

WIDTH, HEIGHT = 800, 320
_BAR = (88, 100, 170)


def render_chart(weeks: Sequence[tuple[date, int]], tr: Translator) -> bytes:
    """Bars of responses per week (oldest first; the last bar is this week), labelled by week start."""
    image = Image.new("RGB", (WIDTH, HEIGHT), _BG)
    draw = ImageDraw.Draw(image)
    title, small = _font(9), _font(6)  # _font sizes are for the card's 2× canvas
    draw.text((24, 18), tr.gettext("Responses between members per week"), font=title, fill=_TEXT)
    x0, x1, top, bottom = 60, WIDTH - 24, 64, HEIGHT - 48
    draw.line((x0, bottom, x1, bottom), fill=_FAINT, width=1)
    if not weeks:
        draw.text(((x0 + x1) / 2, (top + bottom) / 2), tr.gettext("No activity yet"), font=title, fill=_MUTED,
                  anchor="mm")
        return _png(image)
    high = max(1, max(v for _, v in weeks))
    draw.text((x0 - 8, top), tr.number(high), font=small, fill=_MUTED, anchor="rm")
    draw.line((x0, top, x1, top), fill=_FAINT, width=1)
    slot = (x1 - x0) / len(weeks)
    for i, (start, value) in enumerate(weeks):
        left = x0 + i * slot + slot * 0.15
        right = x0 + (i + 1) * slot - slot * 0.15
        height = (bottom - top) * value / high
        fill = _CURRENT if i == len(weeks) - 1 else _BAR
        if value > 0:
            draw.rectangle((left, bottom - max(2.0, height), right, bottom), fill=fill)
        if i % 2 == (len(weeks) - 1) % 2:  # every other label, always the current week
            label = tr.date(start)
            draw.text(((left + right) / 2, bottom + 10), label, font=small, fill=_MUTED, anchor="mt")
    return _png(image)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


async def render_chart_async(weeks: Sequence[tuple[date, int]], tr: Translator) -> bytes:
    """`render_chart` in a worker thread (never on the event loop)."""
    return await asyncio.to_thread(render_chart, list(weeks), tr)
