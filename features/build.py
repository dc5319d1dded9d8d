"""``build_features``: the feature frame for a set of (invoice, as-of date) rows.

Pure and vectorized: the ledger is turned into arrays once, customer-level families are
computed once per distinct (customer, as-of day) and expanded back to the rows. Nothing
outside the ledger passed in is used, so calling it on one partition holding all of some
customers' data gives exactly those customers' rows of the whole-ledger call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.activities import (
    DISPUTE_KINDS,
    ActivityArrays,
    activity_arrays,
    activity_features,
    activity_kinds,
)
from features.asof import from_days, unique_points
from features.columns import string_array
from features.context import Context, Points, build_context, build_points
from features.customer import CustomerMaster, credit_limits, customer_features, customer_master
from features.history import history_features
from features.invoice import invoice_features
from features.payments import effective_payments, payment_features
from features.position import position_features
from features.registry import CATEGORICAL_FEATURES, FEATURE_NAMES
from ledger.frames import Ledger

_Columns = dict[str, np.ndarray | pd.api.extensions.ExtensionArray]


def ledger_has_dispute_activities(ledger: Ledger) -> bool:
    """Whether the ledger records disputes as activities (see ``build_features``)."""
    return bool(np.isin(activity_kinds(ledger.activities), DISPUTE_KINDS).any())


def _customer_day_features(
    context: Context, activities: ActivityArrays, master: CustomerMaster, points: Points
) -> _Columns:
    """Position, payment and activity features, once per distinct (customer, day)."""
    codes, days, inverse = unique_points(points.customer_code, points.day)
    payments = effective_payments(context)
    families = (
        position_features(context, codes, days, credit_limits(master)),
        payment_features(payments, codes, days),
        activity_features(context, activities, payments, codes, days),
    )
    return {name: values[inverse] for family in families for name, values in family.items()}


def _assemble(context: Context, points: Points, columns: _Columns) -> pd.DataFrame:
    """The output frame: key columns, then the features in registry order and dtypes."""
    keys = {
        "invoice_id": context.invoice_ids.take(points.invoice_pos),
        "customer_id": context.customer_ids.take(points.customer_code, allow_fill=True),
        "as_of": from_days(points.day),
    }
    ordered = {
        name: string_array(columns[name])
        if name in CATEGORICAL_FEATURES
        else np.asarray(columns[name], dtype=np.float64)
        for name in FEATURE_NAMES
    }
    return pd.DataFrame({**keys, **ordered}, copy=False)


def build_features(
    ledger: Ledger, rows: pd.DataFrame, *, disputes_from_activities: bool | None = None
) -> pd.DataFrame:
    """One row of features per row of ``rows`` (columns ``invoice_id``, ``as_of``).

    Point in time: a row as of t uses only invoices issued <= t, payments and activities
    dated <= t, settlements <= t and due dates < t (see ``features.registry``). Returns a
    new frame in the rows' order (index 0..n-1): ``invoice_id``, ``customer_id``,
    ``as_of``, then ``FEATURE_NAMES`` -- numeric float64, categorical pandas string.

    ``disputes_from_activities`` picks the source of the ``disputed`` feature: by default
    per customer (``features.invoice.invoice_features``), which any split of the ledger
    by customer agrees with.
    """
    context = build_context(ledger)
    points = build_points(context, rows)
    activities = activity_arrays(context)
    master = customer_master(context)
    columns: _Columns = {
        **invoice_features(context, activities, master, points, disputes_from_activities),
        **history_features(context, points),
        **_customer_day_features(context, activities, master, points),
        **customer_features(context, master, points),
    }
    if set(columns) != set(FEATURE_NAMES):
        raise RuntimeError(
            f"features out of sync with the registry: {set(columns) ^ set(FEATURE_NAMES)}"
        )
    return _assemble(context, points, columns)
