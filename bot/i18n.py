"""Localisation: pick a language, translate through gettext catalogs, format numbers and dates with Babel.

The `.po` files under `bot/locale/` are the only source of translations: they are compiled in memory
when first needed, so no binary `.mo` file is ever committed. English msgids are the source text;
anything a catalog lacks (missing, empty or fuzzy) falls back to English. See docs/i18n.md.
"""

from __future__ import annotations

import copy
import gettext as _gettext
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date as _date
from datetime import datetime as _datetime
from functools import cache
from importlib import resources

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import NumberPattern, parse_pattern

__all__ = ["DEFAULT", "DOMAIN", "SUPPORTED", "Translator", "negotiate", "translator"]

SUPPORTED = ("en", "de")
DEFAULT = "en"
DOMAIN = "messages"

# U+2212 MINUS SIGN: lines up with "+" and is not mistaken for a hyphen or a dash.
MINUS = "\u2212"

_TAG_SPLIT = re.compile(r"[-_.@]")


def negotiate(user_locale: str | None, community_locale: str | None) -> str:
    """The language to answer in: the user's if supported, else the community's, else English.

    Accepts BCP 47 and POSIX spellings ("de", "de-DE", "de_AT", "en-US", "de_DE.UTF-8"); only the
    primary language subtag decides, because the catalogs are per language, not per region.
    """
    for tag in (user_locale, community_locale):
        if tag:
            primary = _TAG_SPLIT.split(tag.strip(), maxsplit=1)[0].lower()
            if primary in SUPPORTED:
                return primary
    return DEFAULT


@dataclass(frozen=True, slots=True)
class Translator:
    """Translations and formatting for one language. Get one with `translator(locale)`.

    `gettext` and `ngettext` return the translated text with `%(name)s` placeholders filled from
    keyword arguments (when any are given; `ngettext` always supplies `n`, formatted for the locale).
    """

    locale: str
    catalog: _gettext.NullTranslations = field(repr=False, compare=False)
    # msgid -> the catalog's text: a dict hit instead of gettext's lookup chain (a weekly run asks
    # for the same few dozen messages a million times).
    _texts: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def gettext(self, message: str, /, **params: object) -> str:
        text = self._texts.get(message)
        if text is None:
            text = self._texts[message] = self.catalog.gettext(message)
        return self._fill(text, message, params)

    _ = gettext

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        if "n" not in params:  # (not setdefault: that would format `n` with babel even when given)
            params["n"] = self.number(n)
        english = singular if n == 1 else plural
        return self._fill(self.catalog.ngettext(singular, plural, n), english, params)

    def number(self, x: float, digits: int = 0) -> str:
        """`x` with exactly `digits` fraction digits and the locale's separators: 1,234.5 / 1.234,5."""
        return _pattern(self.locale, "decimal", digits).apply(x, self.locale)

    def percent(self, fraction: float, digits: int = 0) -> str:
        """A fraction as a percentage in the locale's style: 0.25 → "25%" (en), "25 %" (de)."""
        return _pattern(self.locale, "percent", digits).apply(fraction, self.locale)

    def signed(self, n: float, digits: int = 0) -> str:
        """A change with its sign always shown: "+5", "−3", "0"."""
        text = self.number(abs(n), digits)
        if text == self.number(0, digits):
            return text
        return ("+" if n > 0 else MINUS) + text

    def date(self, d: _date) -> str:
        """A date in the locale's medium style: "Mar 1, 2026" / "01.03.2026"."""
        return format_date(d, format="medium", locale=self.locale)

    def datetime(self, dt: _datetime, tz: str | None = None) -> str:
        """A date and time in the locale's medium style, in time zone `tz` (IANA name).

        Without `tz` an aware datetime keeps its own zone and a naive one is taken as UTC.
        An unknown zone name raises LookupError: it is a configuration error, not a user's.
        """
        return format_datetime(dt, format="medium", tzinfo=get_timezone(tz) if tz else None,
                               locale=self.locale)

    @staticmethod
    def _fill(text: str, english: str, params: Mapping[str, object]) -> str:
        if not params:
            return text
        try:
            return text % params
        except (KeyError, ValueError, TypeError):
            # A broken translation (tests catch these) must not break a reply: fall back to English.
            return english % params


def translator(locale: str) -> Translator:
    """The Translator for `locale`: any tag `negotiate` understands; unsupported ones give English."""
    return _translator(negotiate(locale, None))


@cache  # keyed by supported language only, so user-supplied tags cannot grow it
def _translator(lang: str) -> Translator:
    return Translator(lang, _load_catalog(lang))


def _load_catalog(lang: str) -> _gettext.NullTranslations:
    po = resources.files("bot") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return _gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    return _gettext.GNUTranslations(io.BytesIO(_compile(catalog)))


def _compile(catalog: Catalog) -> bytes:
    # write_mo keeps plural entries whose forms are all empty ('' , ''), which would translate to "";
    # drop every entry with an empty form so those fall back to English instead.
    for message in list(catalog):
        if not message.id:
            continue  # the header
        forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if not all(forms):
            del catalog[message.id]
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


@cache
def _pattern(lang: str, kind: str, digits: int) -> NumberPattern:
    formats = Locale.parse(lang).decimal_formats if kind == "decimal" else Locale.parse(lang).percent_formats
    pattern = copy.copy(parse_pattern(formats[None].pattern))
    pattern.frac_prec = (digits, digits)
    return pattern
