"""The pages' language: which one a request wants, its texts, and locale-aware formatting.

The language comes from ``?lang=he|en``, then the ``lang`` cookie, then Accept-Language,
else English. Texts are looked up in ``locales/<lang>.po`` (read with Babel's ``read_po``
on first use, no compile step); a text without a translation is shown as written.
Numbers, dates and money are formatted by Babel for the language's locale (``he_IL``:
``₪`` for ILS, Hebrew month names, right-to-left).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from babel.dates import format_date
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from markupsafe import Markup, escape
from starlette.requests import Request

LANGUAGES = ("en", "he")
DEFAULT_LANGUAGE = "en"
LOCALES = {"en": "en_US", "he": "he_IL"}
LANG_COOKIE = "lang"
LOCALE_DIR = Path(__file__).parent / "locales"


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """Translated texts of ``language`` (msgid -> msgstr); empty for English."""
    path = LOCALE_DIR / f"{language}.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return {}
    with path.open("rb") as po_file:
        messages = read_po(po_file, locale=LOCALES[language])
    return {
        str(message.id): str(message.string)
        for message in messages
        if message.id and isinstance(message.id, str) and message.string
    }


def _from_accept_language(header: str) -> str | None:
    """The first supported language of an Accept-Language header, by its q weights."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().lower().split("-")[0]
        # "iw" is the old code for Hebrew that some browsers still send.
        language = "he" if language == "iw" else language
        if language in LANGUAGES and quality > 0:
            weighted.append((-quality, position, language))
    return min(weighted)[2] if weighted else None


def choose_language(request: Request) -> str:
    """The request's language: ``?lang=``, then the ``lang`` cookie, then Accept-Language."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return str(candidate)
    return _from_accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANGUAGE


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, list | tuple | dict) and bool(pd.isna(value)))


@dataclass(frozen=True)
class Texts:
    """One language's texts and formats, handed to the templates as ``t``."""

    language: str

    @property
    def locale(self) -> str:
        return LOCALES[self.language]

    @property
    def direction(self) -> str:
        return "rtl" if self.language == "he" else "ltr"

    def gettext(self, text: str, **values: Any) -> Markup:
        """``text`` in this language, with ``%(name)s`` placeholders filled from ``values``.

        HTML-safe: the text and the values are escaped, except values already ``Markup``.
        """
        translated = escape(catalog(self.language).get(text, text))
        return translated % values if values else translated

    def money(self, amount: Any, currency: str | None) -> str:
        """An amount with its currency sign by locale (``₪`` for ILS); an em dash if missing."""
        if _missing(amount):
            return "—"
        if not currency:
            return self.number(amount, 2)
        return str(format_currency(float(amount), currency.upper(), locale=self.locale))

    def number(self, value: Any, digits: int = 0) -> str:
        """A number with the locale's separators and ``digits`` decimals."""
        if _missing(value):
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return str(format_decimal(float(value), format=pattern, locale=self.locale))

    def percent(self, value_pct: Any) -> str:
        """A value already in percent (0-100) with one decimal and a percent sign."""
        return "—" if _missing(value_pct) else f"{self.number(value_pct, 1)}%"

    def date(self, value: Any, style: str = "medium") -> str:
        """A date in the locale's format (Hebrew month names for ``he``)."""
        if _missing(value):
            return "—"
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            value = dt.date.fromisoformat(str(value)[:10])
        return str(format_date(value, format=style, locale=self.locale))


def texts_for(request: Request) -> Texts:
    """The ``Texts`` of the request's language."""
    return Texts(choose_language(request))
