"""Property-based tests (hypothesis): the importer on random malformed CSV and Parquet.

Whatever the file holds, reading it either raises a ``PayriskError`` that names the file,
or returns a report in which every row is accounted for (read = accepted + rejected) and
every rejection says where (file, line, column) and why. Nothing else may escape.
Bounded: a few dozen examples per property, derandomized, no example database.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from ledger.contract import INVOICES, PAYMENTS
from ledger.errors import PayriskError
from ledger.importer import LedgerSources, LoadedLedger, read_ledger
from tests.bounded import bounded

BOUNDED = bounded(40)

# Values a messy export holds: plausible ones, near misses and junk.
CELLS = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "2026-11-30",
            "30/11/2026",
            "2026-02-30",
            "12000",
            "-5",
            "1e400",
            "nan",
            "inf",
            "12,000.50",
            "true",
            "כן",
            "net30",
            "eom+60",
            "C-1",
            "INV-1",
            "NULL",
            "0",
            "9" * 40,
            '"',
            "a,b",
            "x\ny",
        ]
    ),
    st.text(max_size=12),
)
COLUMN_NAMES = st.one_of(
    st.sampled_from([*INVOICES.column_names, *PAYMENTS.column_names]),
    st.text(min_size=1, max_size=10),
)


@st.composite
def csv_tables(draw: st.DrawFn) -> bytes:
    """A CSV file: a header of real and junk column names, rows of random cells."""
    columns = draw(st.lists(COLUMN_NAMES, min_size=1, max_size=8))
    rows = draw(
        st.lists(st.lists(CELLS, min_size=0, max_size=len(columns) + 1), min_size=0, max_size=6)
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8", errors="surrogatepass")


RAW_BYTES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", errors="surrogatepass")),
)

PARQUET_COLUMNS = st.sampled_from(
    [
        [1, 2, -3],
        [1.5, float("nan"), float("inf")],
        ["2026-01-01", "not a date", None],
        [True, False, None],
        [pd.Timestamp("2026-01-01"), pd.NaT, pd.Timestamp("1700-01-01")],
        [None, None, None],
        ["C-1", "", "C-1"],
        [b"\x00bytes", b"", b"x"],
    ]
)


@st.composite
def parquet_frames(draw: st.DrawFn) -> pd.DataFrame:
    names = draw(st.lists(COLUMN_NAMES, min_size=1, max_size=6, unique=True))
    return pd.DataFrame({name: draw(PARQUET_COLUMNS) for name in names})


def _read(table: str, path: Path) -> LoadedLedger | PayriskError:
    try:
        return read_ledger(LedgerSources(files={table: path}))
    except PayriskError as error:
        return error


def _check_explained(outcome: LoadedLedger | PayriskError, path: Path) -> None:
    if isinstance(outcome, PayriskError):
        assert path.name in str(outcome), f"the error does not name the file: {outcome}"
        return
    for name, counts in outcome.report.counts.items():
        assert counts.read == counts.accepted + counts.rejected, (name, counts)
    for rejection in outcome.report.rejections:
        assert rejection.file and rejection.column and rejection.reason.strip(), rejection
        assert rejection.line >= 2, rejection  # line 1 is the header


@given(content=csv_tables(), table=st.sampled_from(["invoices", "payments"]))
@BOUNDED
def test_random_csv_is_read_or_refused_with_reasons(content: bytes, table: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{table}.csv"
        path.write_bytes(content)
        _check_explained(_read(table, path), path)


@given(content=RAW_BYTES)
@BOUNDED
def test_random_bytes_as_csv_or_parquet_never_escape(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for suffix in (".csv", ".parquet"):
            path = Path(folder) / f"invoices{suffix}"
            path.write_bytes(content)
            _check_explained(_read("invoices", path), path)


@given(frame=parquet_frames())
@BOUNDED
def test_random_parquet_is_read_or_refused_with_reasons(frame: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "invoices.parquet"
        frame.to_parquet(path)
        outcome = _read("invoices", path)
        _check_explained(outcome, path)
        if not isinstance(outcome, PayriskError):
            counts = outcome.report.counts["invoices"]
            assert counts.read == len(frame)
            assert np.isfinite(outcome.ledger.invoices["amount"].astype("float64")).all()
