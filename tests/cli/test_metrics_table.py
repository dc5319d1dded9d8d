"""The printed metrics (``payrisk.commands._metrics_table``): every scorer and every
headline metric is readable in an 80-column terminal, ranking apart from probabilities."""

from __future__ import annotations

import itertools
import re

import pandas as pd
import pytest
from rich.console import Console

from payrisk.commands import _metrics_table
from training.plots import HEADLINE_METRICS, HEADLINE_SCORERS


def test_all_scorers_and_metrics_fit_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = Console(width=80, record=True, color_system=None)
    monkeypatch.setattr(_metrics_table, "console", narrow)
    metrics = pd.DataFrame(
        [
            {"scorer": scorer, "slice": "all", "metric": metric, "value": 0.123456}
            for (scorer, _), (metric, _) in itertools.product(HEADLINE_SCORERS, HEADLINE_METRICS)
        ]
    )
    _metrics_table.print_metrics_table(metrics, "Test period")
    text = narrow.export_text()
    assert "…" not in text  # nothing cut short
    assert "Test period: ranking" in text and "Test period: probabilities" in text
    for _, label in HEADLINE_SCORERS:  # each scorer named on a row of both tables
        row = re.compile(rf" {re.escape(label)}\s+0\.123")
        assert sum(bool(row.match(line)) for line in text.splitlines()) == 2
    assert text.count("0.123") == len(HEADLINE_SCORERS) * len(HEADLINE_METRICS)
    assert max(len(line) for line in text.splitlines()) <= 80
