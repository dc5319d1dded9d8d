"""The pages' charts from their data: payment history and KPI trends, labeled by locale."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from serving.web.charts import bar_chart, line_chart, scatter_chart
from serving.web.i18n import Texts


def history_chart(history: list[dict[str, Any]], texts: Texts) -> Markup:
    """Days late (y) of each paid invoice against its due date (x)."""
    xs = [float(row["due_date"].toordinal()) for row in history]
    ys = [float(row["days_late"]) for row in history]
    labels = [texts.date(row["due_date"], "short") for row in history]
    return scatter_chart(texts.gettext("Payment history"), labels, xs, ys)


def kpi_charts(block: dict[str, Any], texts: Texts) -> dict[str, Markup]:
    """Aging bars and the monthly DSO and CEI lines of one currency's KPIs."""
    _ = texts.gettext
    names = [_(name) for name, _amount in block["aging"]]
    months = [texts.date(row["as_of"], "MMM yy") for row in block["trend"]]
    return {
        "aging_chart": bar_chart(_("Aging by amount"), names, [a for _n, a in block["aging"]]),
        "dso_chart": line_chart(
            _("DSO (count-back) by month"),
            months,
            [row["dso_count_back_days"] for row in block["trend"]],
        ),
        "cei_chart": line_chart(
            _("CEI by month"), months, [row["cei_pct"] for row in block["trend"]]
        ),
    }
