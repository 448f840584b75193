"""CardRenderer keeps rendered cards: the same card in the same locale is not drawn twice."""

from __future__ import annotations

from datetime import date

import pytest

import bot.card
from bot.card import CardData, CardRenderer
from bot.i18n import translator


async def test_card_renderer_reuses_a_card_until_it_changes_or_is_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[CardData] = []
    real = bot.card.render_card

    def counting(card: CardData, tr: object) -> bytes:
        drawn.append(card)
        return real(card, tr)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.card, "render_card", counting)
    card = CardData("Alice", "Rust", 47, 98.7, 3, 1234, 12.0, 1.4, 1.1, 20.0, [(date(2026, 6, 1), 40)])
    renderer = CardRenderer(cache_size=4)
    first = await renderer.render(card, translator("en"))
    assert await renderer.render(card, translator("en")) == first
    assert len(drawn) == 1
    await renderer.render(card, translator("de"))  # another locale: another card
    await renderer.render(CardData("Alice", "Rust", 48, 98.7, 3, 1234, 12.0, 1.4, 1.1, 20.0,
                                   [(date(2026, 6, 1), 40)]), translator("en"))
    assert len(drawn) == 3
    renderer.forget()
    await renderer.render(card, translator("en"))
    assert len(drawn) == 4
