"""Plain-word reasons, in English and Hebrew, for a feature and its value.

``render_reason`` uses the first rule of the feature (``models.reason_texts.RULES``)
whose condition holds for the value, and fills in its template: ``{v}`` is the value and
``{other_feature}`` any other feature of the same row (the context), with format specs
for units: ``int``, ``pct``, ``x`` (a ratio), ``money`` (with the row's currency),
``days``, ``tenure``, ``weekday`` and ``count:singular:plural``; ``{v.abs}`` is the
absolute value and ``{v.drop}`` is 1 - v. A missing value gets the feature's text
in ``MISSING``, else its family's. A feature with no rule, or whose template needs a
context value the row lacks, falls back to "<description>: <value>" from
``features.registry``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import pandas as pd

from features.registry import FEATURES_BY_NAME
from models.reason_texts import FAMILY_MISSING, MISSING, RULES, UNITS, UNKNOWN, WEEKDAYS

Lang = Literal["en", "he"]
LANGS: tuple[Lang, ...] = ("en", "he")


def is_missing(value: Any) -> bool:
    """True for None, pandas NA and float NaN."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _plural(number: float, singular: str, plural: str) -> str:
    return singular if number == 1 else plural


class _Value:
    """A value that formats itself with the unit specs of the templates."""

    def __init__(self, value: Any, lang: Lang, context: Mapping[str, Any]) -> None:
        self.value, self.lang, self.context = value, lang, context

    @property
    def abs(self) -> _Value:
        return _Value(abs(float(self.value)), self.lang, self.context)

    @property
    def drop(self) -> _Value:
        return _Value(1.0 - float(self.value), self.lang, self.context)

    def __format__(self, spec: str) -> str:
        if is_missing(self.value):
            return UNKNOWN[self.lang]
        if not spec:
            return _plain(self.value)
        number = float(self.value)
        kind, _, rest = spec.partition(":")
        if kind == "count":
            singular, _, plural = rest.partition(":")
            return f"{round(number):,} {_plural(round(number), singular, plural)}"
        if kind == "days":
            return self._units(round(number), "day")
        if kind == "tenure":
            if number < 60:
                return self._units(round(number), "day")
            if number < 730:
                return self._units(round(number / 30.44), "month")
            return self._units(round(number / 365.25), "year")
        if kind == "weekday":
            return WEEKDAYS[self.lang][int(number) % 7]
        if kind == "x":
            return f"{number:.1f}x" if self.lang == "en" else f"{number:.1f}"
        if kind == "money":
            currency = self.context.get("currency")
            suffix = "" if is_missing(currency) else f" {currency}"
            return f"{number:,.0f}{suffix}"
        return _NUMBER_SPECS.get(kind, _plain)(number)

    def _units(self, number: int, unit: str) -> str:
        return f"{number:,} {_plural(number, *UNITS[self.lang][unit])}"


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


_NUMBER_SPECS: dict[str, Callable[[float], str]] = {
    "int": lambda number: f"{round(number):,}",
    "pct": lambda number: f"{number:.0%}",
}


class _Context(dict[str, Any]):
    """Row values for ``format_map``, each wrapped as a ``_Value``; unknown names -> KeyError."""

    def __init__(self, value: Any, lang: Lang, row: Mapping[str, Any]) -> None:
        super().__init__(v=_Value(value, lang, row))
        self.lang, self.row = lang, row

    def __missing__(self, name: str) -> _Value:
        if name not in self.row or is_missing(self.row[name]):
            raise KeyError(name)
        return _Value(self.row[name], self.lang, self.row)


def generic_text(feature: str, value: Any, lang: Lang = "en") -> str:
    """The fallback "<description>: <value>" from the feature registry."""
    spec = FEATURES_BY_NAME.get(feature)
    description = spec.description.split(";")[0] if spec else feature
    shown = UNKNOWN[lang] if is_missing(value) else _plain(value)
    return f"{description}: {shown}"


def _missing_text(feature: str, lang: Lang) -> str:
    spec = FEATURES_BY_NAME.get(feature)
    texts = MISSING.get(feature) or FAMILY_MISSING.get(spec.family if spec else "")
    if texts is None:
        return generic_text(feature, None, lang)
    return texts[LANGS.index(lang)]


def render_reason(
    feature: str, value: Any, *, lang: Lang = "en", context: Mapping[str, Any] | None = None
) -> str:
    """The reason in plain words, e.g. "invoice is 45 days overdue", in ``lang``.

    ``context`` is the row's other feature values (some templates quote them, e.g.
    "3 of 4 paid invoices paid late"); the row's ``currency`` is shown with amounts.
    """
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, got {lang!r}")
    if is_missing(value):
        return _missing_text(feature, lang)
    row = context if context is not None else {}
    number = _as_number(value)
    for when, english, hebrew in RULES.get(feature, []):
        if when is not None and (number is None or not when(number)):
            continue
        try:
            return (english if lang == "en" else hebrew).format_map(_Context(value, lang, row))
        except (KeyError, ValueError, TypeError):
            break
    return generic_text(feature, value, lang)


def _as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
