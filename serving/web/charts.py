"""Small charts as inline SVG, drawn on the server (no JavaScript chart library).

Each function takes plain values and labels already formatted for the page's locale and
returns escaped SVG markup. The drawing is always left to right (``direction="ltr"`` on
the ``<svg>``): a time axis reads that way in Hebrew too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 16, 16, 40


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _scale(low: float, high: float, size: float, flip: bool) -> tuple[float, float]:
    """(offset, factor) mapping [low, high] onto [0, size] (flipped for the y axis)."""
    span = (high - low) or 1.0
    return (size, -size / span) if flip else (0.0, size / span)


def _tick(value: float) -> str:
    """A short axis label: 12.5M, 340k, 86."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.1f}M"
    if size >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}"


def _frame(title: str, body: str, low: float, high: float) -> Markup:
    plot_bottom = HEIGHT - PAD_BOTTOM
    axes = (
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{plot_bottom}" class="axis"/>'
        f'<line x1="{PAD_LEFT}" y1="{plot_bottom}" x2="{WIDTH - PAD_RIGHT}" y2="{plot_bottom}"'
        ' class="axis"/>'
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 4}" class="tick" text-anchor="end">'
        f"{_tick(high)}</text>"
        f'<text x="{PAD_LEFT - 6}" y="{plot_bottom}" class="tick" text-anchor="end">'
        f"{_tick(low)}</text>"
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" direction="ltr"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title>{axes}{body}</svg>'
    )


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> str:
    step = max(1, math.ceil(len(labels) / 6))
    return "".join(
        f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 16}" class="tick" text-anchor="middle">'
        f"{escape(label)}</text>"
        for position, (label, x) in enumerate(zip(labels, xs, strict=True))
        if position % step == 0
    )


def line_chart(title: str, labels: Sequence[str], values: Sequence[float | None]) -> Markup:
    """A line over equally spaced points (e.g. months); missing values break the line."""
    finite = _finite(values)
    if not finite:
        return _frame(title, "", 0.0, 1.0)
    low, high = min(0.0, *finite), max(finite)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / max(len(values) - 1, 1)
    xs = [PAD_LEFT + position * step for position in range(len(values))]
    offset, factor = _scale(low, high, inner_h, flip=True)
    segments: list[list[str]] = []
    current: list[str] = []
    for x, value in zip(xs, values, strict=True):
        if value is None or not math.isfinite(float(value)):
            segments, current = [*segments, current] if current else segments, []
            continue
        current.append(f"{x:.1f},{PAD_TOP + offset + factor * (float(value) - low):.1f}")
    segments = [*segments, current] if current else segments
    lines = "".join(f'<polyline points="{" ".join(s)}" class="line"/>' for s in segments)
    dots = "".join(
        f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" class="dot"/>'
        for s in segments
        for p in s
    )
    return _frame(title, lines + dots + _x_labels(labels, xs), low, high)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float]) -> Markup:
    """Vertical bars, one per label (e.g. aging buckets)."""
    finite = [v if v is not None and math.isfinite(v) else 0.0 for v in values]
    high = max([*finite, 1.0])
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = inner_w / max(len(values), 1)
    bars, xs = [], []
    for position, value in enumerate(finite):
        height = inner_h * max(value, 0.0) / high
        x = PAD_LEFT + position * slot + slot * 0.15
        xs.append(x + slot * 0.35)
        bars.append(
            f'<rect x="{x:.1f}" y="{PAD_TOP + inner_h - height:.1f}" width="{slot * 0.7:.1f}"'
            f' height="{height:.1f}" class="bar bar-{position}"/>'
        )
    return _frame(title, "".join(bars) + _x_labels(labels, xs), 0.0, high)


def scatter_chart(
    title: str, labels: Sequence[str], xs: Sequence[float], ys: Sequence[float]
) -> Markup:
    """Points at (x, y), e.g. days late (y) against due date as a day number (x)."""
    if not xs:
        return _frame(title, "", 0.0, 1.0)
    low_y, high_y = min(0.0, *ys), max(1.0, *ys)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    x_offset, x_factor = _scale(min(xs), max(xs), inner_w, flip=False)
    y_offset, y_factor = _scale(low_y, high_y, inner_h, flip=True)
    px = [PAD_LEFT + x_offset + x_factor * (x - min(xs)) for x in xs]
    py = [PAD_TOP + y_offset + y_factor * (y - low_y) for y in ys]
    zero = PAD_TOP + y_offset + y_factor * (0.0 - low_y)
    body = (
        f'<line x1="{PAD_LEFT}" y1="{zero:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{zero:.1f}"'
        ' class="zero"/>'
    )
    body += "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot {"late" if v > 0 else "ontime"}">'
        f"<title>{escape(label)}: {v:+.0f}</title></circle>"
        for x, y, v, label in zip(px, py, ys, labels, strict=True)
    )
    return _frame(title, body + _x_labels(labels, px), low_y, high_y)
