"""Card renderers for tests of the card that follows a reply: one that waits to be released, and can fail."""

from __future__ import annotations

import asyncio

from bot.card import CardData, CardRenderer
from bot.i18n import Translator

# The note a reply carries when its card cannot be made, per language (parametrizes adapter tests).
CARD_NOTES = (("en", "The score card could not be made this time."),
              ("de", "Die Score-Karte konnte diesmal nicht erstellt werden."))


class GatedRenderer(CardRenderer):
    """Draws real cards, but each render waits for `release`; `started` is set when one begins.
    With `fail=True` a released render raises instead of drawing."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.fail = fail

    async def render(self, card: CardData, tr: Translator) -> bytes:
        self.started.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the card could not be drawn")
        return await super().render(card, tr)


def failing_renderer() -> GatedRenderer:
    """A renderer whose every render fails at once."""
    renderer = GatedRenderer(fail=True)
    renderer.release.set()
    return renderer
