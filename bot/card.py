"""The score card: an 800×400 PNG with a member's score, its four components and a 12-week history."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import math
import multiprocessing
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from bot.i18n import Translator

__all__ = ["HEIGHT", "WIDTH", "CardData", "CardRenderer", "render_card", "render_card_async"]

WIDTH, HEIGHT = 800, 400
# Drawn at twice the size and scaled down: Pillow does not anti-alias lines, dots or rounded bars.
_SS = 2

_BG = (22, 24, 31)
_PANEL = (31, 34, 43)
_TEXT = (236, 238, 243)
_MUTED = (146, 152, 168)
_FAINT = (58, 62, 76)
_TRACK = (48, 52, 64)
_ACCENT = (120, 140, 255)
_ACCENT_SOFT = (40, 46, 74)  # the accent blended into the panel, for the area under the history line

# Full-bar references. Activity is a recency-weighted count of active days: with a 30-day half-life
# over a 90-day window (scoring/params.py) someone active every day reaches Σ 0.5^(d/30) ≈ 38.
_REACH_FULL = 100.0
_ACTIVITY_FULL = 38.0
_NETWORK_SPAN = 8.0  # network is 1 for the community average; the bar spans 1/8 … 8 on a log scale
_RESONANCE_FULL = 2.0


@dataclass(frozen=True, slots=True)
class CardData:
    """What a card shows. `percentile` is 0–100; `history` holds up to 12 weekly scores, oldest first."""

    name: str
    community: str
    score: int
    percentile: float
    rank: int
    members: int
    reach: float
    resonance: float
    network: float
    activity: float
    history: Sequence[tuple[date, int]]


def render_card(card: CardData, tr: Translator) -> bytes:
    """Render `card` with the labels and number formats of `tr`; returns PNG bytes (800×400, RGB)."""
    image = Image.new("RGB", (WIDTH * _SS, HEIGHT * _SS), _BG)
    canvas = _Canvas(ImageDraw.Draw(image))
    canvas.rect((12, 12, WIDTH - 12, HEIGHT - 12), _PANEL, radius=18)
    _draw_header(canvas, card)
    _draw_score(canvas, card, tr)
    _draw_components(canvas, card, tr)
    _draw_history(canvas, card, tr)
    out = io.BytesIO()
    # Level 1: half the encoding time of level 6 (most of a render) for a file ~12 % larger.
    image.reduce(_SS).save(out, format="PNG", compress_level=1)
    return out.getvalue()


class CardRenderer:
    """Renders cards off the event loop: in a worker thread by default, or in a worker *process*
    (`processes=1`) so that a busy bot's loop never competes with Pillow for the GIL.

    Call `close()` when done with a process renderer.
    """

    def __init__(self, processes: int = 0, cache_size: int = 256) -> None:
        self._pool: ProcessPoolExecutor | None = None
        # Rendered cards by (what they show, locale): a member asking again before the next refresh
        # (or several asking about the same member) gets the same PNG without another render.
        self._cache: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._cache_size = cache_size
        if processes > 0:
            # spawn: a fresh interpreter, never a fork of a process that runs an event loop and threads.
            self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))

    async def render(self, card: CardData, tr: Translator) -> bytes:
        key = (dataclasses.replace(card, history=tuple(card.history)), tr.locale)
        png = self._cache.get(key)
        if png is not None:
            self._cache.move_to_end(key)
            return png
        if self._pool is None:
            png = await asyncio.to_thread(render_card, card, tr)
        else:
            loop = asyncio.get_running_loop()
            png = await loop.run_in_executor(self._pool, _render_for_locale, card, tr.locale)
        if self._cache_size > 0:
            self._cache[key] = png
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return png

    async def warm(self) -> None:
        """Load fonts and catalogs in the worker before the first real card (the first render is slow)."""
        from bot.i18n import translator

        await self.render(CardData("Clout", "Clout", 1, 0.0, 1, 1, 0.0, 0.0, 1.0, 0.0, ()), translator("en"))

    def forget(self) -> None:
        """Drop cached cards (after preference changes and deletions)."""
        self._cache.clear()

    def close(self) -> None:
        self._cache.clear()
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _render_for_locale(card: CardData, locale: str) -> bytes:
    from bot.i18n import translator

    return render_card(card, translator(locale))


_THREAD_RENDERER = CardRenderer()


async def render_card_async(card: CardData, tr: Translator) -> bytes:
    """`render_card` in a worker thread, so rendering never blocks the event loop."""
    return await _THREAD_RENDERER.render(card, tr)


# ── layout ────────────────────────────────────────────────────────────────────────────────────────

_LEFT, _RIGHT = 36, WIDTH - 36


def _draw_header(c: _Canvas, card: CardData) -> None:
    name, name_font = _for_font(card.name, 30, bold=True)
    community, community_font = _for_font(card.community, 16)
    c.text((_LEFT, 30), _fit(name, name_font, _RIGHT - _LEFT), name_font, _TEXT)
    c.text((_LEFT, 68), _fit(community, community_font, _RIGHT - _LEFT), community_font, _MUTED)


def _draw_score(c: _Canvas, card: CardData, tr: Translator) -> None:
    label, big, small, line = _font(15), _font(84, bold=True), _font(26), _font(16)
    c.text((_LEFT, 106), tr.gettext("Clout score"), label, _MUTED)
    score = tr.number(card.score)
    c.text((_LEFT - 3, 198), score, big, _TEXT, anchor="ls")
    c.text((_LEFT + c.length(score, big) + 6, 198), "/100", small, _MUTED, anchor="ls")

    percentile = max(0.0, min(100.0, card.percentile))
    facts = []
    top = math.ceil(100.0 - percentile)
    if top <= 50:  # "top 80%" tells nobody anything; below the middle the percentile alone says it
        facts.append(tr.gettext("top %(pct)s%%", pct=tr.number(max(1, top))))
    if card.rank > 0 and card.members > 0:
        facts.append(tr.gettext("rank %(rank)s of %(total)s", rank=tr.number(card.rank),
                                total=tr.number(card.members)))
    c.text((_LEFT, 216), _fit(" · ".join(facts), line, 270), line, _TEXT)
    percentile_label = tr.gettext("Percentile")
    c.text((_LEFT, 240), f"{percentile_label} {tr.number(math.floor(percentile))}", line, _MUTED)


def _draw_components(c: _Canvas, card: CardData, tr: Translator) -> None:
    label_font, value_font = _font(15), _font(15, bold=True)
    x_label, x_bar, x_bar_end = 330, 440, 680
    rows = (
        (tr.gettext("Reach"), _log_fraction(card.reach, _REACH_FULL), tr.number(_finite(card.reach), 1), None),
        (tr.gettext("Resonance"), _finite(card.resonance) / _RESONANCE_FULL, tr.number(_finite(card.resonance), 2),
         None),
        (tr.gettext("Network"), _network_fraction(card.network), tr.number(_finite(card.network), 2), 0.5),
        (tr.gettext("Activity"), _log_fraction(card.activity, _ACTIVITY_FULL), tr.number(_finite(card.activity), 1),
         None),
    )
    for i, (label, fraction, value, tick) in enumerate(rows):
        y = 116 + i * 36
        c.text((x_label, y), _fit(label, label_font, x_bar - x_label - 10), label_font, _MUTED, anchor="lm")
        c.rect((x_bar, y - 5, x_bar_end, y + 5), _TRACK, radius=5)
        fill = max(0.0, min(1.0, fraction))
        if fill > 0:
            c.rect((x_bar, y - 5, max(x_bar + 10, x_bar + fill * (x_bar_end - x_bar)), y + 5), _ACCENT, radius=5)
        if tick is not None:  # the community average
            x = x_bar + tick * (x_bar_end - x_bar)
            c.rect((x - 1, y - 9, x + 1, y + 9), _MUTED)
        c.text((_RIGHT, y), value, value_font, _TEXT, anchor="rm")


def _draw_history(c: _Canvas, card: CardData, tr: Translator) -> None:
    title, axis = _font(14), _font(12)
    c.rect((_LEFT, 272, _RIGHT, 273), _FAINT)
    c.text((_LEFT, 284), tr.gettext("12-week history"), title, _MUTED)
    points = list(card.history)[-12:]
    x0, x1, y_top, y_bottom = 86, _RIGHT - 8, 312, 360
    if len(points) < 2:
        c.text(((x0 + x1) / 2, (y_top + y_bottom) / 2), tr.gettext("No history yet"), title, _MUTED, anchor="mm")
        return

    scores = [s for _, s in points]
    low, high = min(scores), max(scores)
    if low == high:  # a flat line sits mid-chart rather than on an edge
        low, high = low - 1, high + 1
    step = (x1 - x0) / (len(points) - 1)
    xy = [(x0 + i * step, y_bottom - (s - low) / (high - low) * (y_bottom - y_top)) for i, s in enumerate(scores)]

    for value in {min(scores), max(scores)}:
        y = y_bottom - (value - low) / (high - low) * (y_bottom - y_top)
        c.rect((x0, y, x1, y + 0.5), _FAINT)
        c.text((x0 - 12, y), tr.number(value), axis, _MUTED, anchor="rm")
    c.polygon([(x0, y_bottom + 4), *xy, (x1, y_bottom + 4)], _ACCENT_SOFT)
    c.line(xy, _ACCENT, width=2.5)
    for x, y in xy[:-1]:
        c.ellipse((x, y), 3.5, _ACCENT)
    c.ellipse(xy[-1], 6, _TEXT)
    c.ellipse(xy[-1], 4, _ACCENT)
    c.text((x0, y_bottom + 12), tr.date(points[0][0]), axis, _MUTED, anchor="lt")
    c.text((x1, y_bottom + 12), tr.date(points[-1][0]), axis, _MUTED, anchor="rt")


# ── helpers ───────────────────────────────────────────────────────────────────────────────────────


def _finite(x: float) -> float:
    return x if math.isfinite(x) and x > 0 else 0.0


def _log_fraction(x: float, full: float) -> float:
    return math.log1p(_finite(x)) / math.log1p(full)


def _network_fraction(x: float) -> float:
    x = _finite(x)
    return 0.0 if x == 0 else 0.5 + math.log(x) / (2 * math.log(_NETWORK_SPAN))


def _fit(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    """`text`, cut with an ellipsis so it is at most `width` wide (in card pixels)."""
    if font.getlength(text) <= width * _SS:
        return text
    lo, hi = 0, len(text)  # the longest prefix that fits is text[:lo]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid].rstrip() + "…") <= width * _SS:
            lo = mid
        else:
            hi = mid - 1
    # Do not split a character from its combining marks, variation selector or ZWJ sequence.
    while lo > 0 and (unicodedata.combining(text[lo]) or text[lo] in "\u200d\ufe0f" or text[lo - 1] == "\u200d"):
        lo -= 1
    return text[:lo].rstrip() + "…"


# Faces in order of preference, looked up in the system font directories. DejaVu covers Latin,
# Greek, Cyrillic and more; the CJK faces are used for a name only when installed and DejaVu
# lacks some of its characters. Pillow's built-in font is the last resort.
_FACES = {
    False: ("DejaVuSans.ttf", "NotoSansCJK-Regular.ttc", "DroidSansFallbackFull.ttf"),
    True: ("DejaVuSans-Bold.ttf", "NotoSansCJK-Bold.ttc", "DroidSansFallbackFull.ttf"),
}


@lru_cache(maxsize=64)
def _face(filename: str | None, size: int) -> ImageFont.FreeTypeFont | None:
    if filename is None:
        return ImageFont.load_default(size=size * _SS)
    try:
        return ImageFont.truetype(filename, size * _SS)
    except OSError:
        return None


def _faces(size: int, bold: bool) -> list[ImageFont.FreeTypeFont]:
    found = [f for f in (_face(name, size) for name in _FACES[bold]) if f is not None]
    return found or [_face(None, size)]


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return _faces(size, bold)[0]


_KEEP_FORMAT = {"\u200c", "\u200d"}  # ZWNJ and ZWJ shape scripts and emoji sequences
_JOINERS = "\u200d\ufe0e\ufe0f"  # ZWJ and variation selectors: meaningless once their base is gone
# A plane-16 private-use character: no font we use has a glyph there, so it draws the "missing" box.
_MISSING = "\U0010fffd"


def _for_font(text: str, size: int, bold: bool = False) -> tuple[str, ImageFont.FreeTypeFont]:
    """`text` as one drawable line, and the face to draw it with.

    Drops control and format characters (newlines, bidi overrides). Prefers the first face with a
    glyph for every character; failing that, uses the main face without the characters it cannot
    draw (typically emoji: a name reads better without them than with a row of boxes), unless
    nothing would be left, in which case the boxes it is.
    """
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text
                   if unicodedata.category(ch) != "Cf" or ch in _KEEP_FORMAT)
    faces = _faces(size, bold)
    for face in faces:
        if all(_has_glyph(ch, face) for ch in kept):
            return " ".join(kept.split()), face
    drawable, dropped = [], False
    for ch in kept:
        if ch in _JOINERS and dropped:
            continue
        dropped = not _has_glyph(ch, faces[0])
        if not dropped:
            drawable.append(ch)
    line = " ".join("".join(drawable).split())
    return (line if line else " ".join(kept.split())), faces[0]


@lru_cache(maxsize=8192)
def _has_glyph(ch: str, face: ImageFont.FreeTypeFont) -> bool:
    if ch.isspace() or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return True  # zero-width or combining: never drawn as a box on its own
    return bytes(face.getmask(ch)) != bytes(face.getmask(_MISSING))


class _Canvas:
    """Drawing in card coordinates on the supersampled image."""

    def __init__(self, draw: ImageDraw.ImageDraw) -> None:
        self._draw = draw

    def text(self, xy: tuple[float, float], text: str, font: ImageFont.FreeTypeFont,
             fill: tuple[int, int, int], anchor: str = "la") -> None:
        if text:
            self._draw.text((xy[0] * _SS, xy[1] * _SS), text, font=font, fill=fill, anchor=anchor)

    def length(self, text: str, font: ImageFont.FreeTypeFont) -> float:
        return font.getlength(text) / _SS

    def rect(self, box: tuple[float, float, float, float], fill: tuple[int, int, int], radius: float = 0) -> None:
        scaled = tuple(v * _SS for v in box)
        if radius:
            self._draw.rounded_rectangle(scaled, radius=radius * _SS, fill=fill)
        else:
            self._draw.rectangle(scaled, fill=fill)

    def line(self, points: list[tuple[float, float]], fill: tuple[int, int, int], width: float) -> None:
        self._draw.line([(x * _SS, y * _SS) for x, y in points], fill=fill, width=round(width * _SS),
                        joint="curve")

    def polygon(self, points: list[tuple[float, float]], fill: tuple[int, int, int]) -> None:
        self._draw.polygon([(x * _SS, y * _SS) for x, y in points], fill=fill)

    def ellipse(self, center: tuple[float, float], radius: float, fill: tuple[int, int, int]) -> None:
        x, y = center[0] * _SS, center[1] * _SS
        r = radius * _SS
        self._draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
