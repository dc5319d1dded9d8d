"""The monitoring report as one self-contained HTML file: inline CSS, plots as base64 PNG.

No CDN, no script: it opens from a mail attachment or an MLflow artifact view as it is.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from models.monitoring import MonitorConfig, MonitorReport
from training.monitoring.figures import (
    calibration_figure,
    png_bytes,
    psi_figure,
    realized_figure,
)

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>payrisk monitoring: {{ status }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; display: block;
  overflow-x: auto; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.status { display: inline-block; padding: 0.2rem 0.6rem; border-radius: 0.3rem; color: #fff; }
.ok { background: #2e7d32; } .warn { background: #f9a825; } .alert { background: #c62828; }
.unknown { background: #9e9e9e; }
.notice { background: #fff8e1; border-left: 4px solid #f9a825; padding: 0.5rem 1rem; }
img { max-width: 100%; }
</style></head>
<body>
<h1>Model monitoring <span class="status {{ status }}" id="status">{{ status }}</span></h1>
<p>Model {{ model_uri }}{% if versions %} (scores from version {{ versions }}){% endif %}.
Recent window: as-of {{ since or "-" }} to {{ until or "-" }}, {{ recent_rows }} scored rows
of {{ scored_rows }} in all; outcomes known up to {{ cutoff or "-" }}.
Thresholds: PSI warn {{ warn }}, alert {{ alert }}.</p>
{% for notice in notices %}<p class="notice">{{ notice }}</p>{% endfor %}
{% if drift %}
<h2>Drift (PSI, recent vs training reference)</h2>
{% if top %}<p>Most drifted features: {{ top }}.</p>{% endif %}
<img alt="PSI" src="data:image/png;base64,{{ plots.psi }}">
{{ drift }}
{% endif %}
{% if realized %}
<h2>Realized performance by scoring month</h2>
<p>From the scores the service actually served; a target counts once it is known
(invoice paid, or already past the edge).</p>
<img alt="realized" src="data:image/png;base64,{{ plots.realized }}">
{{ realized }}
<h2>Realized calibration</h2>
<img alt="calibration" src="data:image/png;base64,{{ plots.calibration }}">
{{ calibration }}
{% endif %}
</body></html>
"""


def _table(frame: pd.DataFrame, table_id: str) -> str:
    """A plain HTML table, numbers to 3 decimals, missing as a dash."""
    return frame.to_html(
        index=False,
        table_id=table_id,
        border=0,
        na_rep="-",
        float_format=lambda value: "-" if math.isnan(value) else f"{value:.3f}",
    )


def _base64(figure: Any) -> str:
    return base64.b64encode(png_bytes(figure)).decode("ascii")


def render_report(report: MonitorReport, config: MonitorConfig, model_uri: str) -> str:
    """The whole report as an HTML string."""
    plots: dict[str, str] = {}
    drift_html = realized_html = calibration_html = ""
    if not report.drift.empty:
        plots["psi"] = _base64(psi_figure(report.drift, config.psi_warn, config.psi_alert))
        drift_html = _table(report.drift, "drift")
    if not report.realized.empty:
        plots["realized"] = _base64(realized_figure(report.realized))
        plots["calibration"] = _base64(calibration_figure(report.calibration))
        realized_html = _table(report.realized, "realized")
        calibration_html = _table(report.calibration, "calibration")
    summary = report.to_dict()
    environment = jinja2.Environment(autoescape=True)
    template = environment.from_string(_TEMPLATE)
    return template.render(
        status=report.status,
        model_uri=model_uri,
        versions=", ".join(report.model_versions),
        since=summary["since"],
        until=summary["until"],
        cutoff=summary["outcome_cutoff"],
        recent_rows=report.recent_rows,
        scored_rows=report.scored_rows,
        warn=config.psi_warn,
        alert=config.psi_alert,
        notices=report.notices,
        top=", ".join(summary["top_drifted_features"]),
        plots=plots,
        drift=Markup(drift_html),
        realized=Markup(realized_html),
        calibration=Markup(calibration_html),
    )
