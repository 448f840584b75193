"""bot.card: the score card renders a valid 800×400 PNG for every shape of data, in every language."""

from __future__ import annotations

import dataclasses
import io
from datetime import date, timedelta

import pytest
from PIL import Image

from bot.card import HEIGHT, WIDTH, CardData, render_card, render_card_async
from bot.i18n import translator

START = date(2026, 1, 5)


def _card(**overrides: object) -> CardData:
    base = CardData(name="Alice", community="Rust Beginners", score=47, percentile=98.7, rank=3, members=1234,
                    reach=23.4, resonance=0.84, network=1.42, activity=12.3,
                    history=[(START + timedelta(weeks=i), 20 + 2 * i) for i in range(12)])
    return dataclasses.replace(base, **overrides)


def _decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_card_is_an_800_by_400_png() -> None:
    image = _decode(render_card(_card(), translator("en")))
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT) == (800, 400)
    assert image.mode in ("RGB", "RGBA")


@pytest.mark.parametrize("points", [0, 1, 2, 12, 20])
def test_card_renders_any_history_length(points: int) -> None:
    history = [(START + timedelta(weeks=i), 30 + i) for i in range(points)]
    assert _decode(render_card(_card(history=history), translator("en"))).size == (800, 400)


def test_card_renders_flat_history() -> None:
    history = [(START + timedelta(weeks=i), 30) for i in range(12)]
    assert _decode(render_card(_card(history=history), translator("de"))).size == (800, 400)


def test_card_without_history_differs_from_card_with_one() -> None:
    tr = translator("en")
    assert render_card(_card(history=[]), tr) != render_card(_card(), tr)


@pytest.mark.parametrize("name", [
    "👨‍👩‍👧‍👦🎉東京タワー李小龍Владимир" * 12,  # 204 characters of emoji, CJK and Cyrillic
    "東京タワー",
    "🎸🎸🎸",
    "عبد الله",
    "Zoë\u202e\nreversed\tname\x00",
    "",
])
def test_card_renders_unicode_and_long_names(name: str) -> None:
    assert _decode(render_card(_card(name=name, community=name), translator("en"))).size == (800, 400)


def test_card_long_name_is_truncated_not_overflowing() -> None:
    tr = translator("en")
    long = render_card(_card(name="W" * 200), tr)
    longer = render_card(_card(name="W" * 300), tr)
    assert long == longer  # both cut to the same width with an ellipsis


def test_card_renders_zero_components() -> None:
    card = _card(reach=0.0, resonance=0.0, network=0.0, activity=0.0, score=1, percentile=0.0, rank=40, members=40)
    assert _decode(render_card(card, translator("en"))).size == (800, 400)


def test_card_renders_extreme_components() -> None:
    card = _card(reach=1e9, resonance=50.0, network=1e6, activity=float("nan"), score=100, percentile=100.0,
                 rank=0, members=0)
    assert _decode(render_card(card, translator("de"))).size == (800, 400)


def test_card_german_differs_from_english() -> None:
    card = _card()
    assert render_card(card, translator("de")) != render_card(card, translator("en"))


def test_card_rendering_is_deterministic() -> None:
    card, tr = _card(), translator("en")
    assert render_card(card, tr) == render_card(card, tr)


async def test_card_async_matches_sync() -> None:
    card, tr = _card(), translator("de")
    assert await render_card_async(card, tr) == render_card(card, tr)


async def test_card_process_renderer_matches_sync_in_both_languages() -> None:
    from bot.card import CardRenderer

    renderer = CardRenderer(processes=1)
    try:
        await renderer.warm()
        for lang in ("en", "de"):
            card, tr = _card(), translator(lang)
            assert await renderer.render(card, tr) == render_card(card, tr)
    finally:
        renderer.close()
