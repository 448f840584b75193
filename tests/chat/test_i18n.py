"""bot.i18n: language negotiation, catalogs compiled from the .po files, Babel formatting."""

from __future__ import annotations

import gettext
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import SUPPORTED, Translator, negotiate, translator

LOCALE_DIR = Path(__file__).resolve().parents[2] / "bot" / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _messages(catalog):
    return [m for m in catalog if m.id]


@pytest.mark.parametrize(("user", "community", "expected"), [
    ("de", None, "de"),
    ("de-DE", None, "de"),
    ("de_AT", "en", "de"),
    ("DE-ch", None, "de"),
    ("de_DE.UTF-8", None, "de"),
    ("en-US", "de", "en"),
    ("en-GB", "de", "en"),
    ("fr", "de", "de"),
    ("pt-BR", "de-DE", "de"),
    (None, "de", "de"),
    ("", "de", "de"),
    ("fr", "es", "en"),
    (None, None, "en"),
    ("  ", "  ", "en"),
])
def test_negotiate_picks_user_then_community_then_english(user, community, expected) -> None:
    assert negotiate(user, community) == expected


def test_translator_normalises_tags_and_is_cached() -> None:
    assert translator("de-DE") is translator("de")
    assert translator("zh-CN").locale == "en"


def test_translator_de_translates_labels() -> None:
    tr = translator("de-DE")
    assert tr.gettext("Reach") == "Reichweite"
    assert tr._("No history yet") == "Noch kein Verlauf"


def test_translator_en_is_identity() -> None:
    assert translator("en-US").gettext("Reach") == "Reach"


def test_translator_fills_placeholders() -> None:
    assert translator("de").gettext("rank %(rank)s of %(total)s", rank="3", total="39") == "Rang 3 von 39"
    assert translator("en").gettext("top %(pct)s%%", pct="5") == "top 5%"


@pytest.mark.parametrize(("locale", "expected"), [("en", "1,234.5"), ("de", "1.234,5")])
def test_number_uses_locale_separators(locale, expected) -> None:
    assert translator(locale).number(1234.5, 1) == expected


def test_number_rounds_to_digits() -> None:
    assert translator("en").number(1234.5678, 2) == "1,234.57"
    assert translator("en").number(1234.4) == "1,234"


def test_percent_follows_locale_style() -> None:
    assert translator("en").percent(0.25) == "25%"
    assert translator("de").percent(0.255, 1) == "25,5\xa0%"


def test_signed_always_shows_the_sign() -> None:
    tr = translator("en")
    assert (tr.signed(5), tr.signed(-3), tr.signed(0)) == ("+5", "\u22123", "0")
    assert translator("de").signed(1234) == "+1.234"


def test_date_and_datetime_use_medium_format() -> None:
    assert translator("en").date(date(2026, 3, 1)) == "Mar 1, 2026"
    assert translator("de").date(date(2026, 3, 1)) == "01.03.2026"
    moment = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert translator("de").datetime(moment, tz="Europe/Berlin") == "01.03.2026, 11:00:00"
    assert "10:00:00" in translator("en").datetime(moment)


REACH = ("Reach %(value)s: %(n)s member responded to you", "Reach %(value)s: %(n)s members responded to you")


@pytest.mark.parametrize(("locale", "one", "five"), [
    ("en", "Reach 2: 1 member responded to you", "Reach 2: 5 members responded to you"),
    ("de", "Reichweite 2: 1 Mitglied hat dir geantwortet", "Reichweite 2: 5 Mitglieder haben dir geantwortet"),
])
def test_ngettext_picks_plural_form(locale, one, five) -> None:
    tr = translator(locale)
    singular, plural = REACH
    assert tr.ngettext(singular, plural, 1, value="2") == one
    assert tr.ngettext(singular, plural, 5, value="2") == five


def test_ngettext_formats_n_for_the_locale() -> None:
    tr = translator("de")
    text = tr.ngettext(*REACH, 1234, value="9")
    assert text == "Reichweite 9: 1.234 Mitglieder haben dir geantwortet"


def test_ngettext_keeps_a_given_n_and_does_not_format_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The weekly build passes its own fast `n` for a million members: the translator must not
    format it once more with babel (a `setdefault` did, ~40 µs a member)."""
    tr = Translator("de", gettext.NullTranslations())
    calls: list[float] = []
    monkeypatch.setattr(Translator, "number", lambda self, x, digits=0: calls.append(x) or str(x))
    assert tr.ngettext(*REACH, 1234, value="9", n="1.234") == "Reach 9: 1.234 members responded to you"
    assert calls == []
    assert tr.ngettext(*REACH, 3, value="9") == "Reach 9: 3 members responded to you"
    assert calls == [3]


def test_untranslated_message_falls_back_to_english() -> None:
    tr = translator("de")
    assert tr.gettext("Not in any catalog") == "Not in any catalog"
    assert tr.ngettext("%(n)s new thing", "%(n)s new things", 2) == "2 new things"


def test_broken_translation_falls_back_to_english() -> None:
    class Broken(gettext.NullTranslations):
        def gettext(self, message: str) -> str:
            return "Rang %(platz)s"

    tr = Translator("de", Broken())
    assert tr.gettext("rank %(rank)s of %(total)s", rank="3", total="9") == "rank 3 of 9"


def test_catalog_every_msgid_has_a_german_translation() -> None:
    template = _read(LOCALE_DIR / "messages.pot")
    german = _read(LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po", "de")
    missing = []
    for message in _messages(template):
        translated = german.get(message.id, message.context)
        if translated is None or translated.fuzzy:
            missing.append(message.id)
            continue
        forms = translated.string if translated.pluralizable else (translated.string,)
        if not all(forms):
            missing.append(message.id)
    assert not missing, f"no German translation for {missing}"


def test_catalog_german_placeholders_match_msgid() -> None:
    german = _read(LOCALE_DIR / "de" / "LC_MESSAGES" / "messages.po", "de")
    for message in _messages(german):
        ids = message.id if message.pluralizable else (message.id,)
        strings = message.string if message.pluralizable else (message.string,)
        expected = {name for msgid in ids for name in PLACEHOLDER.findall(msgid)}
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == expected, (message.id, string)
            if "python-format" in message.flags:
                string % dict.fromkeys(expected, "x")  # "%" must be escaped as "%%"


def test_catalog_template_lists_every_string_in_the_code() -> None:
    template = {m.id if isinstance(m.id, str) else m.id[0] for m in _messages(_read(LOCALE_DIR / "messages.pot"))}
    in_code = {msg if isinstance(msg, str) else msg[0]
               for _, _, msg, _, _ in extract_from_dir(str(LOCALE_DIR.parent))}
    stale = in_code - template
    assert not stale, f"run `pybabel extract` and `pybabel update` (docs/i18n.md): missing {stale}"


@pytest.mark.parametrize("locale", SUPPORTED)
def test_catalog_loads_for_every_supported_language(locale) -> None:
    assert translator(locale).locale == locale
