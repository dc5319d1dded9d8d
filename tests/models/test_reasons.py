"""Reason texts: exact words for the key features, and every registry feature renders."""

from __future__ import annotations

import re

import numpy as np
import pytest

from features.registry import FEATURES
from models.reason_texts import RULES
from models.reasons import LANGS, generic_text, render_reason

HEBREW = re.compile("[\u0590-\u05ff]")


@pytest.mark.parametrize(
    ("feature", "value", "context", "english", "hebrew"),
    [
        ("days_overdue", 45.0, {}, "invoice is 45 days overdue", "החשבונית בפיגור של 45 ימים"),
        ("days_overdue", 1.0, {}, "invoice is 1 day overdue", "החשבונית בפיגור של 1 יום"),
        ("days_to_due", -45.0, {}, "invoice is 45 days overdue", "החשבונית בפיגור של 45 ימים"),
        ("days_to_due", 0.0, {}, "invoice is due today", "מועד התשלום של החשבונית היום"),
        ("days_to_due", 12.0, {}, "due in 12 days", "מועד התשלום בעוד 12 ימים"),
        (
            "days_since_last_payment",
            74.0,
            {},
            "no payment for 74 days",
            "לא התקבל תשלום כבר 74 ימים",
        ),
        ("days_since_last_payment", np.nan, {}, "no payment received yet", "טרם התקבל תשלום"),
        ("disputed", 1.0, {}, "disputed invoice", "חשבונית במחלוקת"),
        ("paid_invoices_count", 0.0, {}, "new customer: no payment history yet", None),
        ("mean_days_late", np.nan, {}, "new customer: no payment history yet", None),
        (
            "late_ratio_by_count",
            0.75,
            {"late_invoices_count": 3.0, "paid_invoices_count": 4.0},
            "3 of 4 paid invoices paid late",
            "שולמו באיחור: 3 מתוך 4 החשבוניות ששולמו",
        ),
        (
            "open_amount",
            12500.0,
            {"currency": "ILS"},
            "12,500 ILS still open on this invoice",
            None,
        ),
        ("overdue_share", 0.4, {}, "40% of the open amount is overdue", None),
        ("tenure_days", 800.0, {}, "customer for 2 years", "לקוח כבר 2 שנים"),
        ("payment_drop_ratio", 0.25, {}, "payments down 75% from the previous 90 days", None),
        ("issue_weekday", 6.0, {}, "issued on a Sunday", "הונפקה ביום ראשון"),
    ],
)
def test_key_texts(
    feature: str, value: float, context: dict, english: str, hebrew: str | None
) -> None:
    assert render_reason(feature, value, lang="en", context=context) == english
    if hebrew is not None:
        assert render_reason(feature, value, lang="he", context=context) == hebrew


def test_template_needing_absent_context_falls_back_to_the_ratio() -> None:
    text = render_reason("late_ratio_by_count", 0.75, lang="en", context={})
    assert text == "late / paid invoices: 0.75"


def test_feature_without_template_uses_the_registry_description() -> None:
    assert generic_text("unknown_feature", 2.5) == "unknown_feature: 2.50"
    assert render_reason("unknown_feature", 3.0) == "unknown_feature: 3"


@pytest.mark.parametrize("lang", LANGS)
def test_every_registry_feature_renders(lang: str) -> None:
    context = {"currency": "USD", "amount": 100.0, "late_invoices_count": 1.0,
               "paid_invoices_count": 2.0}  # fmt: skip
    for spec in FEATURES:
        values = ["net30", None] if spec.kind == "categorical" else [0.0, 1.0, 37.5, -3.0, np.nan]
        for value in values:
            text = render_reason(spec.name, value, lang=lang, context=context)  # type: ignore[arg-type]
            assert text.strip(), (spec.name, value)
            if lang == "he" and spec.name in RULES and value is not None and value == value:
                assert HEBREW.search(text), (spec.name, value, text)


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        render_reason("days_overdue", 3.0, lang="fr")  # type: ignore[arg-type]
