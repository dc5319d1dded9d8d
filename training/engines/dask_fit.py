"""The payment-risk model fitted by ``lightgbm.dask`` on a training period left on the cluster.

The result is an ordinary ``models.estimator.PaymentRiskModel`` (a local ``lgb.Booster``
inside): serving never needs Dask. What differs from ``PaymentRiskModel.fit``:

* The booster is trained by ``lightgbm.dask.DaskLGBMClassifier`` (data-parallel, one
  LightGBM machine per Dask worker holding training rows), same parameters as the pandas
  engine. Categorical levels (sorted, as ``fit`` learns them) are found on the cluster,
  and each partition is encoded by the model's own matrix code.
* Early stopping: ``lightgbm.dask`` 4.x does not support it (lightgbm issues #3712, #4189;
  it hangs or errors across workers), and its eval sets are scored per worker on that
  worker's share only. So rounds are trained ``ROUNDS_PER_FIT`` at a time (each fit
  continues the previous booster), and after each batch the multi log loss of the
  (collected, exact-bucket) validation rows is computed round by round here and
  LightGBM's early-stopping rule (stop ``early_stopping_rounds`` after the best round) is
  applied to that curve: the same best iteration a local early-stopped fit would pick for
  these trees, at the cost of the rest of the last batch.
* Calibration and the days each bucket stands for: on the client, from the collected
  validation period and a per-bucket sum over the training partitions.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.registry import FEATURE_NAMES
from models.buckets import LateBuckets
from models.calibration import OrdinalCalibrator
from models.estimator import PaymentRiskModel, TrainingDataError, is_categorical

if TYPE_CHECKING:
    import dask.dataframe as dd
    import lightgbm as lgb
    from distributed import Client

_PROBABILITY_FLOOR = 1e-15  # LightGBM's multi_logloss clips probabilities here
ROUNDS_PER_FIT = 200  # boosting rounds per lightgbm.dask fit before checking the stopping rule


def _encode(part: pd.DataFrame, model: PaymentRiskModel) -> pd.DataFrame:
    """One partition's features as the float64 matrix LightGBM sees (the model's encoding)."""
    return pd.DataFrame(model.prepare(part), columns=model.feature_names_in_, index=part.index)


def _category_levels(features: dd.DataFrame, names: list[str], client: Client) -> dict[str, list]:
    """Sorted distinct values (as text) of each categorical column, over all partitions."""
    uniques = [features[name].dropna().astype(str).unique() for name in names]
    values = client.gather(client.compute(uniques))
    return {
        name: sorted(pd.Series(found).tolist()) for name, found in zip(names, values, strict=True)
    }


def _bucket_days(rows: dd.DataFrame, buckets: LateBuckets, client: Client) -> np.ndarray:
    """Days each bucket stands for: mean of max(days late, 0) of its training rows (known only)."""
    late = rows[["bucket", "days_late"]].assign(days_late=rows["days_late"].clip(lower=0))
    means = client.compute(late.groupby("bucket")["days_late"].mean()).result()
    bucket_days = buckets.default_representative_days()
    for bucket, mean in means.items():
        if pd.notna(mean):
            bucket_days[int(bucket)] = float(mean)
    return bucket_days


def _multi_logloss(raw: np.ndarray, target: np.ndarray) -> float:
    """Mean negative log softmax probability of the true class (LightGBM's multi_logloss)."""
    shifted = raw - raw.max(axis=1, keepdims=True)
    proba = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    picked = np.clip(proba[np.arange(len(target)), target], _PROBABILITY_FLOOR, None)
    return float(-np.log(picked).mean())


def early_stopped_iteration(
    booster: lgb.Booster, matrix: np.ndarray, target: np.ndarray, patience: int, n_classes: int
) -> int:
    """Best round (1-based) of LightGBM's early-stopping rule on ``matrix``'s log-loss curve.

    Raw scores are added up one round at a time (each round's trees on their own), so the
    curve costs one pass over the trees. ``patience`` <= 0: every round counts.
    """
    rounds = booster.current_iteration()
    if patience <= 0:
        return rounds
    raw = np.zeros((len(matrix), n_classes))
    best_round, best_loss = 0, np.inf
    for round_index in range(rounds):
        step = booster.predict(matrix, start_iteration=round_index, num_iteration=1, raw_score=True)
        raw += np.asarray(step, dtype="float64").reshape(len(matrix), n_classes)
        loss = _multi_logloss(raw, target)
        if loss < best_loss:
            best_round, best_loss = round_index, loss
        elif round_index - best_round >= patience:
            break
    return best_round + 1


def _classifier(model: PaymentRiskModel, client: Client, rounds: int) -> Any:
    """A ``DaskLGBMClassifier`` of ``rounds`` rounds, parameters as ``PaymentRiskModel``'s.

    Threads: lightgbm.dask uses each worker's thread count (``n_jobs`` is ignored).
    """
    from lightgbm import DaskLGBMClassifier

    return DaskLGBMClassifier(client=client, n_estimators=rounds, **model.lightgbm_params())


def _non_empty(frame: dd.DataFrame, client: Client) -> dd.DataFrame:
    """``frame`` without its empty partitions (a LightGBM machine needs rows)."""
    lengths = client.compute(frame.map_partitions(len)).result()
    keep = [index for index, length in enumerate(lengths) if length > 0]
    return frame.partitions[keep]


def _learn_inputs(model: PaymentRiskModel, features: dd.DataFrame, client: Client) -> None:
    """Set the learned input attributes ``fit`` would set from the training features."""
    meta = features._meta
    model.feature_names_in_ = [str(name) for name in meta.columns]
    model.n_features_in_ = len(model.feature_names_in_)
    model.categorical_features_ = [name for name in meta.columns if is_categorical(meta[name])]
    model.category_levels_ = _category_levels(features, model.categorical_features_, client)
    model.classes_ = np.arange(model.buckets.n_classes)


def fit_dask(
    train: dd.DataFrame,
    validation: pd.DataFrame,
    buckets: LateBuckets,
    params: dict[str, Any],
    client: Client,
) -> PaymentRiskModel:
    """``PaymentRiskModel(buckets, **params)`` fitted as ``training.pipeline.fit_all`` fits it.

    ``train``: the training period's rows on the cluster (split columns included);
    ``validation``: the validation period, collected, with ``bucket_floor`` when censored
    rows may calibrate. Raises ``TrainingDataError`` when a bucket has no training row
    (the multiclass booster would have fewer classes than the model).
    """
    model = PaymentRiskModel(buckets=buckets, **params)
    rows = _non_empty(train.loc[train["bucket_known"]], client)
    _learn_inputs(model, rows[list(FEATURE_NAMES)], client)
    target = rows["bucket"].astype("int64")
    present = set(client.compute(target.unique()).result().tolist())
    if present != set(model.classes_.tolist()):
        missing = [buckets.labels[b] for b in model.classes_ if b not in present]
        raise TrainingDataError(
            f"no training row is in bucket(s) {missing}: lightgbm.dask needs every bucket"
        )
    exact = validation["bucket_known"].to_numpy(dtype=bool)
    if not exact.any():
        raise TrainingDataError("none of the validation rows has an exact bucket to stop on")
    stopping = (
        model.prepare(validation.loc[exact, list(FEATURE_NAMES)]),
        validation.loc[exact, "bucket"].to_numpy(dtype="int64"),
    )
    model.booster_, model.best_iteration_ = _boost(model, rows, target, stopping, client)
    model.bucket_days_ = _bucket_days(rows, buckets, client)
    model.calibrator_ = _calibrator(model, validation)
    return model


def _boost(
    model: PaymentRiskModel,
    rows: dd.DataFrame,
    target: dd.Series,
    stopping: tuple[np.ndarray, np.ndarray],
    client: Client,
) -> tuple[lgb.Booster, int]:
    """The booster and its best round: ``ROUNDS_PER_FIT`` rounds per ``lightgbm.dask`` fit,
    each continuing the last (``init_model``), until the early-stopping rule on
    ``stopping`` (matrix, buckets) has decided or ``n_estimators`` rounds are trained."""
    meta = pd.DataFrame({name: pd.Series(dtype="float64") for name in model.feature_names_in_})
    matrix = rows[list(FEATURE_NAMES)].map_partitions(_encode, model=model, meta=meta)
    categorical = [model.feature_names_in_.index(name) for name in model.categorical_features_]
    booster: lgb.Booster | None = None
    while True:
        done = 0 if booster is None else booster.current_iteration()
        rounds = min(ROUNDS_PER_FIT, model.n_estimators - done)
        with client.as_current(), warnings.catch_warnings():  # it waits on the default client
            # Its sklearn parameters always carry n_jobs; the workers' threads set it instead.
            warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored")
            classifier = _classifier(model, client, rounds).fit(
                matrix,
                target,
                feature_name=model.feature_names_in_,
                categorical_feature=categorical,
                init_model=booster,
            )
        booster = classifier.to_local().booster_
        trained = booster.current_iteration()
        best = early_stopped_iteration(
            booster, *stopping, model.early_stopping_rounds, model.buckets.n_classes
        )
        if trained >= model.n_estimators or trained - best >= model.early_stopping_rounds:
            return booster, best


def _calibrator(model: PaymentRiskModel, validation: pd.DataFrame) -> OrdinalCalibrator | None:
    """The calibrator ``PaymentRiskModel.fit`` would learn on these validation rows."""
    if model.calibration == "none":
        return None
    censored_too = "bucket_floor" in validation
    floor = "bucket_floor" if censored_too else "bucket"
    validation = validation if censored_too else validation.loc[validation["bucket_known"]]
    raw = model.predict_proba_uncalibrated(validation[list(FEATURE_NAMES)])
    calibrator = OrdinalCalibrator(model.calibration, model.calibration_shift_late)
    return calibrator.fit(
        raw,
        validation[floor].to_numpy(dtype="int64"),
        validation["bucket_known"].to_numpy(dtype=bool),
    )
