"""The words of the reasons: per feature, its templates in English and Hebrew.

Each feature has a list of rules ``(when, en, he)``; ``models.reasons.render_reason``
uses the first whose condition holds for the value and formats its template (the unit
specs, such as ``{v:days}`` or ``{v:money}``, are described there). ``MISSING`` holds a
feature's ``(en, he)`` text for a missing value, ``FAMILY_MISSING`` its family's;
``WEEKDAYS``, ``UNITS`` and ``UNKNOWN`` the words the specs use.
"""

from __future__ import annotations

from collections.abc import Callable

Condition = Callable[[float], bool] | None
Rule = tuple[Condition, str, str]

WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "he": ("שני", "שלישי", "רביעי", "חמישי", "שישי", "שבת", "ראשון"),
}
UNITS = {
    "en": {"day": ("day", "days"), "month": ("month", "months"), "year": ("year", "years")},
    "he": {"day": ("יום", "ימים"), "month": ("חודש", "חודשים"), "year": ("שנה", "שנים")},
}
UNKNOWN = {"en": "unknown", "he": "לא ידוע"}


def _pos(value: float) -> bool:
    return value > 0


def _neg(value: float) -> bool:
    return value < 0


def _zero(value: float) -> bool:
    return value == 0


def _below_one(value: float) -> bool:
    return value < 1


_NEW_CUSTOMER = ("new customer: no payment history yet", "לקוח חדש: אין עדיין היסטוריית תשלומים")
FAMILY_MISSING = {"history": _NEW_CUSTOMER}
MISSING = {
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
