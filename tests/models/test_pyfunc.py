"""The MLflow pyfunc wrapper: log, load back, predict, serve-compatible parsing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc import scoring_server

from models.buckets import LateBuckets
from models.estimator import PaymentRiskModel
from models.pyfunc import (
    FeatureInputError,
    ModelCard,
    ModelLoadError,
    bucket_frame,
    feature_code_version,
    load_payment_risk_model,
    log_pyfunc_model,
    make_card,
    model_frame,
    output_columns,
    tracking_uri_set,
)


def _features(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    days_overdue = rng.integers(-30, 60, n_rows).astype("float64")
    late_ratio = rng.uniform(0, 1, n_rows)
    late_ratio[rng.uniform(size=n_rows) < 0.2] = np.nan
    currency = pd.array(rng.choice(["USD", "ILS", "EUR"], n_rows), dtype="string")
    frame = pd.DataFrame(
        {"days_overdue": days_overdue, "late_ratio": late_ratio, "currency": currency}
    )
    score = days_overdue / 30 + np.nan_to_num(late_ratio) * 2 + rng.normal(0, 0.5, n_rows)
    buckets = np.digitize(score, [0.5, 1.5, 2.2, 2.8])
    return frame, buckets


@pytest.fixture(scope="module")
def tiny_model() -> tuple[PaymentRiskModel, pd.DataFrame]:
    """A tiny calibrated model on a synthetic feature frame (fits in well under a second)."""
    train_x, train_y = _features(400, seed=1)
    valid_x, valid_y = _features(200, seed=2)
    model = PaymentRiskModel(
        n_estimators=30, min_child_samples=5, early_stopping_rounds=10, n_jobs=1
    )
    model.fit(train_x, train_y, X_val=valid_x, y_val=valid_y)
    return model, valid_x


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One MLflow store for the module: creating one costs seconds."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('pyfunc') / 'mlflow.db'}"
    with tracking_uri_set(uri):
        yield uri


@pytest.fixture(scope="module")
def logged(
    tiny_model: tuple[PaymentRiskModel, pd.DataFrame],
    tracking_uri: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, PaymentRiskModel, pd.DataFrame]:
    """The tiny model logged once as a pyfunc; its URI, the model and the input example."""
    model, frame = tiny_model
    card = make_card(model, LateBuckets(), frame)
    artifacts = tmp_path_factory.mktemp("artifacts").as_uri()
    experiment = mlflow.create_experiment("pyfunc", artifact_location=artifacts)
    example = frame.head(5).copy()
    example.loc[example.index[0], "currency"] = pd.NA
    with mlflow.start_run(experiment_id=experiment):
        info = log_pyfunc_model(model, card, example)
    return info.model_uri, model, example


def test_bucket_frame_derives_late_and_expected_days() -> None:
    card = ModelCard(
        edges_days=(0, 30),
        grace_days=0,
        feature_names=("x",),
        feature_dtypes={"x": "float64"},
        categorical_features=(),
        representative_days=(0.0, 10.0, 50.0),
        feature_code_version="abc",
        payrisk_version="0",
    )
    proba = np.array([[0.5, 0.3, 0.2], [0.0, 0.0, 1.0]])
    frame = bucket_frame(proba, card, pd.Index([7, 8]))
    assert list(frame.columns) == output_columns(card.buckets)
    assert list(frame.columns) == [
        "p_on_time", "p_late_1_30", "p_late_over_30", "p_late", "p_over_30", "expected_days_late"
    ]  # fmt: skip
    assert frame.loc[7, "p_late"] == pytest.approx(0.5)
    assert frame.loc[7, "p_over_30"] == pytest.approx(0.2)
    assert frame.loc[7, "expected_days_late"] == pytest.approx(3.0 + 10.0)
    assert frame.loc[8, "expected_days_late"] == pytest.approx(50.0)


def test_model_frame_names_missing_columns(
    tiny_model: tuple[PaymentRiskModel, pd.DataFrame],
) -> None:
    model, frame = tiny_model
    card = make_card(model, LateBuckets(), frame)
    assert card.categorical_features == ("currency",)
    with pytest.raises(FeatureInputError, match="late_ratio"):
        model_frame(frame.drop(columns=["late_ratio"]), card)


def test_loaded_pyfunc_predicts_like_the_model(
    logged: tuple[str, PaymentRiskModel, pd.DataFrame],
) -> None:
    model_uri, model, example = logged
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    predicted = pyfunc.predict(example)
    bucket_columns = [f"p_{label}" for label in LateBuckets().labels]
    np.testing.assert_allclose(predicted[bucket_columns].to_numpy(), model.predict_proba(example))
    np.testing.assert_allclose(predicted["p_late"], 1 - predicted["p_on_time"])
    inputs = {spec.name: spec for spec in pyfunc.metadata.get_input_schema().inputs}
    assert inputs["currency"].type.name == "string"
    assert inputs["late_ratio"].type.name == "double"
    assert not any(spec.required for spec in inputs.values())


def test_scoring_server_parses_a_dataframe_split_payload(
    logged: tuple[str, PaymentRiskModel, pd.DataFrame],
) -> None:
    """The same parsing and predict path `mlflow models serve` runs for /invocations."""
    model_uri, model, _ = logged
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    payload = {
        "dataframe_split": {
            "columns": ["days_overdue", "late_ratio", "currency"],
            "data": [[45.0, None, "ILS"], [-10.0, 0.1, None], [3.0, 0.5, "XXX"]],
        }
    }
    response = scoring_server.invocations(
        json.dumps(payload), "application/json", pyfunc, pyfunc.metadata.get_input_schema()
    )
    assert response.status == 200
    predictions = pd.DataFrame(json.loads(response.response)["predictions"])
    expected = model.predict_proba(
        pd.DataFrame(
            payload["dataframe_split"]["data"], columns=payload["dataframe_split"]["columns"]
        )
    )
    np.testing.assert_allclose(predictions["p_on_time"], expected[:, 0])
    assert predictions.shape == (3, len(output_columns(LateBuckets())))


def test_unwrapped_model_carries_its_card(
    logged: tuple[str, PaymentRiskModel, pd.DataFrame], tracking_uri: str
) -> None:
    model_uri, model, example = logged
    loaded = load_payment_risk_model(model_uri, tracking_uri=tracking_uri)
    assert isinstance(loaded.model, PaymentRiskModel)
    assert loaded.card.feature_code_version == feature_code_version()
    assert loaded.card.feature_names == ("days_overdue", "late_ratio", "currency")
    np.testing.assert_allclose(
        loaded.predict_buckets(example)["p_late"], 1 - model.predict_proba(example)[:, 0]
    )


def test_unknown_model_uri_is_a_clear_error(tracking_uri: str) -> None:
    with pytest.raises(ModelLoadError, match="models:/payment-risk@champion"):
        load_payment_risk_model("models:/payment-risk@champion", tracking_uri=tracking_uri)
