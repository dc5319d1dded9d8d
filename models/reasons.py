"""Plain-word reasons, in English and Hebrew, for a feature and its value.

Each feature has a list of rules ``(when, en, he)``: the first rule whose condition
holds for the value is used. Templates are ``str.format`` strings where ``{v}`` is the
value and ``{other_feature}`` any other feature of the same row (the context), with
format specs for units: ``int``, ``pct``, ``x`` (a ratio), ``money`` (with the row's
currency), ``days``, ``tenure`` and ``count:singular:plural``; ``{v.abs}`` is the
absolute value and ``{v.drop}`` is 1 - v. A missing value gets the feature's
``missing`` text, else its family's. A feature with no rule, or whose template needs a
context value the row lacks, falls back to "<description>: <value>" from
``features.registry``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import pandas as pd

from features.registry import FEATURES_BY_NAME

Lang = Literal["en", "he"]
LANGS: tuple[Lang, ...] = ("en", "he")
Condition = Callable[[float], bool] | None
Rule = tuple[Condition, str, str]

_WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "he": ("שני", "שלישי", "רביעי", "חמישי", "שישי", "שבת", "ראשון"),
}
_UNITS = {
    "en": {"day": ("day", "days"), "month": ("month", "months"), "year": ("year", "years")},
    "he": {"day": ("יום", "ימים"), "month": ("חודש", "חודשים"), "year": ("שנה", "שנים")},
}
_UNKNOWN = {"en": "unknown", "he": "לא ידוע"}


def _pos(value: float) -> bool:
    return value > 0


def _neg(value: float) -> bool:
    return value < 0


def _zero(value: float) -> bool:
    return value == 0


def _below_one(value: float) -> bool:
    return value < 1


_NEW_CUSTOMER = ("new customer: no payment history yet", "לקוח חדש: אין עדיין היסטוריית תשלומים")
_FAMILY_MISSING = {"history": _NEW_CUSTOMER}
_MISSING = {
    "days_since_last_payment": ("no payment received yet", "טרם התקבל תשלום"),
    "days_since_last_contact": ("no contact logged yet", "טרם תועד קשר עם הלקוח"),
}

RULES: dict[str, list[Rule]] = {
    "amount": [(None, "invoice amount {v:money}", "סכום החשבונית {v:money}")],
    "open_amount": [(None, "{v:money} still open on this invoice", "{v:money} פתוחים בחשבונית")],
    "log_amount": [(None, "invoice amount {amount:money}", "סכום החשבונית {amount:money}")],
    "paid_share": [
        (_zero, "nothing paid on this invoice yet", "טרם שולם דבר על החשבונית"),
        (None, "{v:pct} of the invoice already paid", "{v:pct} מהחשבונית כבר שולמו"),
    ],
    "amount_vs_customer_median": [
        (None, "amount is {v:x} the customer's usual", "הסכום פי {v:x} מהרגיל אצל הלקוח"),
    ],
    "terms": [(None, "payment terms {v}", "תנאי תשלום {v}")],
    "terms_days": [(None, "{v:days} of credit", "אשראי של {v:days}")],
    "days_to_due": [
        (_neg, "invoice is {v.abs:days} overdue", "החשבונית בפיגור של {v.abs:days}"),
        (_zero, "invoice is due today", "מועד התשלום של החשבונית היום"),
        (None, "due in {v:days}", "מועד התשלום בעוד {v:days}"),
    ],
    "days_overdue": [
        (_pos, "invoice is {v:days} overdue", "החשבונית בפיגור של {v:days}"),
        (None, "invoice is not due yet", "מועד התשלום של החשבונית טרם הגיע"),
    ],
    "days_since_issue": [(None, "issued {v:days} ago", "הונפקה לפני {v:days}")],
    "issued_month_end": [
        (_pos, "issued at month end", "הונפקה בסוף החודש"),
        (None, "issued before month end", "הונפקה לפני סוף החודש"),
    ],
    "issue_weekday": [(None, "issued on a {v:weekday}", "הונפקה ביום {v:weekday}")],
    "currency": [(None, "invoiced in {v}", "חשבונית במטבע {v}")],
    "disputed": [
        (_pos, "disputed invoice", "חשבונית במחלוקת"),
        (None, "invoice not disputed", "אין מחלוקת על החשבונית"),
    ],
    "paperless": [
        (_pos, "invoice sent electronically", "החשבונית נשלחה באופן אלקטרוני"),
        (None, "invoice sent on paper", "החשבונית נשלחה בדואר"),
    ],
    "paid_invoices_count": [
        (_zero, *_NEW_CUSTOMER),
        (None, "{v:count:invoice:invoices} paid so far", "חשבוניות ששולמו עד כה: {v:int}"),
    ],
    "late_invoices_count": [
        (_zero, "no invoice paid late so far", "אף חשבונית לא שולמה באיחור עד כה"),
        (
            None,
            "{v:count:invoice:invoices} paid late so far",
            "חשבוניות ששולמו באיחור עד כה: {v:int}",
        ),
    ],
    "late_ratio_by_count": [
        (
            None,
            "{late_invoices_count:int} of {paid_invoices_count:count:paid invoice:paid invoices}"
            " paid late",
            "שולמו באיחור: {late_invoices_count:int} מתוך {paid_invoices_count:int}"
            " החשבוניות ששולמו",
        ),
    ],
    "late_ratio_by_amount": [
        (
            None,
            "{v:pct} of the amount paid so far was late",
            "{v:pct} מהסכום ששולם עד כה שולם באיחור",
        )
    ],
    "mean_days_late": [
        (_pos, "pays {v:days} late on average", "משלם בממוצע באיחור של {v:days}"),
        (_neg, "pays {v.abs:days} early on average", "משלם בממוצע {v.abs:days} לפני המועד"),
        (None, "pays on the due date on average", "משלם בממוצע במועד"),
    ],
    "last_days_late": [
        (_pos, "last invoice paid {v:days} late", "החשבונית האחרונה שולמה באיחור של {v:days}"),
        (None, "last invoice paid on time", "החשבונית האחרונה שולמה בזמן"),
    ],
    "mean_days_late_last_4": [
        (
            _pos,
            "recent invoices paid {v:days} late on average",
            "החשבוניות האחרונות שולמו בממוצע באיחור של {v:days}",
        ),
        (None, "recent invoices paid on time", "החשבוניות האחרונות שולמו בזמן"),
    ],
    "days_late_trend": [
        (_pos, "paying {v:days} later than usual", "משלם {v:days} מאוחר יותר מהרגיל"),
        (_neg, "paying {v.abs:days} earlier than usual", "משלם {v.abs:days} מוקדם יותר מהרגיל"),
        (None, "paying as usual", "משלם כרגיל"),
    ],
    "std_days_late": [
        (None, "payment timing varies by {v:days}", "מועדי התשלום משתנים בכ-{v:days}")
    ],
    "max_days_late": [
        (_pos, "has paid as late as {v:days}", "האיחור הגדול ביותר: {v:days}"),
        (None, "has never paid late", "מעולם לא שילם באיחור"),
    ],
    "on_time_streak": [
        (_zero, "last invoice was not paid on time", "החשבונית האחרונה לא שולמה בזמן"),
        (
            None,
            "last {v:count:invoice:invoices} paid on time",
            "חשבוניות אחרונות ששולמו בזמן ברצף: {v:int}",
        ),
    ],
    "open_invoices_count": [
        (None, "{v:count:open invoice:open invoices}", "{v:count:חשבונית פתוחה:חשבוניות פתוחות}")
    ],
    "open_invoices_amount": [(None, "{v:money} open in total", "{v:money} פתוחים בסך הכול")],
    "overdue_invoices_count": [
        (_zero, "no overdue invoices", "אין חשבוניות בפיגור"),
        (
            None,
            "{v:count:overdue invoice:overdue invoices}",
            "{v:count:חשבונית בפיגור:חשבוניות בפיגור}",
        ),
    ],
    "overdue_invoices_amount": [(None, "{v:money} overdue", "{v:money} בפיגור")],
    "overdue_share": [
        (None, "{v:pct} of the open amount is overdue", "{v:pct} מהיתרה הפתוחה בפיגור")
    ],
    "max_days_overdue": [
        (
            None,
            "oldest overdue invoice is {v:days} past due",
            "החשבונית הוותיקה ביותר בפיגור של {v:days}",
        )
    ],
    "credit_utilization": [
        (None, "{v:pct} of the credit limit in use", "ניצול מסגרת האשראי: {v:pct}")
    ],
    "days_since_last_payment": [(None, "no payment for {v:days}", "לא התקבל תשלום כבר {v:days}")],
    "paid_amount_last_30d": [
        (None, "{v:money} paid in the last 30 days", "{v:money} שולמו ב-30 הימים האחרונים")
    ],
    "paid_amount_last_90d": [
        (None, "{v:money} paid in the last 90 days", "{v:money} שולמו ב-90 הימים האחרונים")
    ],
    "paid_amount_prev_90d": [
        (None, "{v:money} paid in the 90 days before", "{v:money} שולמו ב-90 הימים שלפני כן")
    ],
    "payment_drop_ratio": [
        (
            _below_one,
            "payments down {v.drop:pct} from the previous 90 days",
            "התשלומים ירדו ב-{v.drop:pct} לעומת 90 הימים הקודמים",
        ),
        (
            None,
            "payments at {v:pct} of the previous 90 days",
            "התשלומים ב-{v:pct} מ-90 הימים הקודמים",
        ),
    ],
    "partial_payment_share": [
        (None, "{v:pct} of payments were partial", "{v:pct} מהתשלומים היו חלקיים")
    ],
    "reminders_last_90d": [
        (
            None,
            "{v:count:reminder:reminders} in the last 90 days",
            "{v:count:תזכורת:תזכורות} ב-90 הימים האחרונים",
        )
    ],
    "promises_count": [
        (None, "{v:count:promise:promises} to pay made", "{v:count:הבטחת תשלום:הבטחות תשלום}")
    ],
    "broken_promises_count": [
        (_zero, "no broken promise to pay", "לא הופרה אף הבטחת תשלום"),
        (
            None,
            "{v:count:broken promise:broken promises} to pay",
            "{v:count:הבטחת תשלום שהופרה:הבטחות תשלום שהופרו}",
        ),
    ],
    "open_disputes_count": [
        (_zero, "no open dispute", "אין מחלוקת פתוחה"),
        (None, "{v:count:open dispute:open disputes}", "{v:count:מחלוקת פתוחה:מחלוקות פתוחות}"),
    ],
    "days_since_last_contact": [(None, "last contact {v:days} ago", "קשר אחרון לפני {v:days}")],
    "tenure_days": [(None, "customer for {v:tenure}", "לקוח כבר {v:tenure}")],
    "invoices_count": [
        (None, "{v:count:invoice:invoices} so far", "{v:count:חשבונית:חשבוניות} עד כה")
    ],
    "credit_limit": [(None, "credit limit {v:money}", "מסגרת אשראי {v:money}")],
    "segment": [(None, "segment: {v}", "סגמנט: {v}")],
    "industry": [(None, "industry: {v}", "ענף: {v}")],
    "country": [(None, "country: {v}", "מדינה: {v}")],
}


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
            return _UNKNOWN[self.lang]
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
            return _WEEKDAYS[self.lang][int(number) % 7]
        if kind == "x":
            return f"{number:.1f}x" if self.lang == "en" else f"{number:.1f}"
        if kind == "money":
            currency = self.context.get("currency")
            suffix = "" if is_missing(currency) else f" {currency}"
            return f"{number:,.0f}{suffix}"
        return _NUMBER_SPECS.get(kind, _plain)(number)

    def _units(self, number: int, unit: str) -> str:
        return f"{number:,} {_plural(number, *_UNITS[self.lang][unit])}"


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
    shown = _UNKNOWN[lang] if is_missing(value) else _plain(value)
    return f"{description}: {shown}"


def _missing_text(feature: str, lang: Lang) -> str:
    spec = FEATURES_BY_NAME.get(feature)
    texts = _MISSING.get(feature) or _FAMILY_MISSING.get(spec.family if spec else "")
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
