"""The table of ``bench_serving.py``: payrisk against its peer, median [min-max]."""

from __future__ import annotations

import statistics


def _spread(values: list[float], digits: int = 0) -> str:
    median, low, high = statistics.median(values), min(values), max(values)
    return f"{median:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"


def _ratios(top: list[float], bottom: list[float]) -> str:
    return _spread([a / b for a, b in zip(top, bottom, strict=True)], 2)


def report(results: dict[str, list[dict[str, float]]]) -> None:
    """One table: median [min-max] over the repeats."""

    def values(phase: str, name: str) -> list[float]:
        return [run[name] for run in results[phase]]

    peer_rps = values("peer", "rps")
    rows = [
        ("(a) payrisk, cache off: requests/s", "cold", "rps", peer_rps, ">= 10x"),
        ("(a) payrisk, cache warm: requests/s", "warm", "rps", peer_rps, ">= 10x"),
    ]
    table = [
        (
            label,
            _spread(values(phase, key)),
            _spread(peer_rps),
            _ratios(values(phase, key), peer_rps),
            target,
        )
        for label, phase, key, _, target in rows
    ]
    for phase, label in (("cold", "cache off"), ("warm", "cache warm")):
        for key in ("p50_ms", "p99_ms", "cpu_ms"):
            target = "< 50" if key == "p99_ms" else ""
            table.append(
                (
                    f"(a) payrisk, {label}: {key}",
                    _spread(values(phase, key), 1 if key == "cpu_ms" else 0),
                    _spread(values("peer", key), 1 if key == "cpu_ms" else 0),
                    "",
                    target,
                )
            )
    refresh, peer_batch = values("cold", "rows_per_s"), values("peer", "batch_rows_per_s")
    table.append(
        (
            f"(b) refresh, {values('cold', 'rows')[0]:.0f} invoices: rows/s",
            _spread(refresh),
            _spread(peer_batch),
            _ratios(refresh, peer_batch),
            ">= 5x",
        )
    )
    raw = values("inproc", "raw_ms")
    for key, label in (("proba_ms", "predict_proba"), ("frame_ms", "predict_frame")):
        rows_n = values("inproc", "rows")[0]
        table.append(
            (
                f"(c) {label} vs Booster.predict, {rows_n:.0f} rows: ms",
                _spread(values("inproc", key), 1),
                _spread(raw, 1),
                _ratios(values("inproc", key), raw),
                "<= 2x",
            )
        )
    header = ("measure", "payrisk", "peer / raw booster", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(5)]
    for row in [header, tuple("-" * width for width in widths), *table]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
