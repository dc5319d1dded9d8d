"""The model registry: aliases, the promotion gate and its recorded decisions, bad stores."""

from __future__ import annotations

import math
import re
import socket
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ledger.errors import PayriskError
from models.registry import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    AliasNotFoundError,
    ModelNotFoundError,
    RegistryError,
    TrackingStoreUnreachableError,
    aliases_of,
    get_version_by_alias,
    open_registry,
    promote,
    register,
    resolve_model_uri,
    set_alias,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    """One store for the module (creating one costs seconds); each test has its own model."""
    return open_registry(f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}")


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A registered-model name of this test's own (``models:/`` URIs take it as is)."""
    return "m-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")


def _versions(client: MlflowClient, tmp_path: Path, count: int, name: str) -> list[str]:
    return [register(client, (tmp_path / f"model-{n}").as_uri(), name) for n in range(count)]


class Scores:
    """A stand-in evaluation: a fixed ROC AUC per model URI, and the URIs it was asked."""

    def __init__(self, by_version: dict[str, float]) -> None:
        self.by_version = by_version
        self.asked: list[str] = []

    def __call__(self, model_uri: str) -> dict[str, float]:
        self.asked.append(model_uri)
        return {"roc_auc_late": self.by_version[model_uri.rsplit("/", 1)[1]]}


def test_first_challenger_becomes_champion(client: MlflowClient, tmp_path: Path, name: str) -> None:
    (first,) = _versions(client, tmp_path, 1, name)
    set_alias(client, name, CHALLENGER_ALIAS, first)
    decision = promote(client, name, evaluate=Scores({"1": 0.71}))
    assert (decision.decision, decision.promoted) == ("first", True)
    assert aliases_of(client, name) == {"challenger": "1", "champion": "1"}
    tags = client.get_model_version(name, "1").tags
    assert tags["promotion.decision"] == "first"
    assert tags["promotion.challenger_value"] == "0.710000"


def test_better_challenger_is_promoted_and_the_old_champion_marked(
    client: MlflowClient, tmp_path: Path, name: str
) -> None:
    _versions(client, tmp_path, 2, name)
    set_alias(client, name, CHAMPION_ALIAS, "1")
    set_alias(client, name, CHALLENGER_ALIAS, "2")
    scores = Scores({"1": 0.70, "2": 0.74})
    decision = promote(client, name, evaluate=scores)
    assert decision.decision == "promoted"
    assert (decision.champion_before, decision.champion_after) == ("1", "2")
    assert sorted(scores.asked) == [f"models:/{name}/1", f"models:/{name}/2"]
    assert str(get_version_by_alias(client, name, CHAMPION_ALIAS).version) == "2"
    assert client.get_model_version(name, "1").tags["promotion.superseded_by"].startswith("v2 at")


@pytest.mark.parametrize(("challenger", "margin"), [(0.70, 0.0), (0.69, 0.0), (0.705, 0.01)])
def test_challenger_that_does_not_beat_the_champion_is_refused(
    client: MlflowClient, tmp_path: Path, name: str, challenger: float, margin: float
) -> None:
    _versions(client, tmp_path, 2, name)
    set_alias(client, name, CHAMPION_ALIAS, "1")
    set_alias(client, name, CHALLENGER_ALIAS, "2")
    decision = promote(client, name, evaluate=Scores({"1": 0.70, "2": challenger}), margin=margin)
    assert (decision.decision, decision.promoted) == ("refused", False)
    assert "does not beat" in decision.message
    assert aliases_of(client, name)[CHAMPION_ALIAS] == "1"
    assert client.get_model_version(name, "2").tags["promotion.decision"] == "refused"


def test_undefined_metric_refuses_unless_forced(
    client: MlflowClient, tmp_path: Path, name: str
) -> None:
    _versions(client, tmp_path, 2, name)
    set_alias(client, name, CHAMPION_ALIAS, "1")
    set_alias(client, name, CHALLENGER_ALIAS, "2")
    scores = Scores({"1": 0.70, "2": math.nan})
    assert promote(client, name, evaluate=scores).decision == "refused"
    forced = promote(client, name, evaluate=scores, force=True, reason="ticket 42")
    assert (forced.decision, forced.forced, forced.champion_after) == ("forced", True, "2")
    tags = client.get_model_version(name, "2").tags
    assert tags["promotion.forced"] == "true"
    assert tags["promotion.reason"].endswith("overridden by --force; ticket 42")


def test_a_champion_that_cannot_be_rescored_needs_force(
    client: MlflowClient, tmp_path: Path, name: str
) -> None:
    _versions(client, tmp_path, 2, name)
    set_alias(client, name, CHAMPION_ALIAS, "1")
    set_alias(client, name, CHALLENGER_ALIAS, "2")

    def evaluate(model_uri: str) -> dict[str, float]:
        if model_uri.endswith("/1"):
            raise PayriskError("the rows lack the model's feature columns ['old_feature']")
        return {"roc_auc_late": 0.7}

    with pytest.raises(RegistryError, match=r"champion v1 cannot be re-scored .*old_feature"):
        promote(client, name, evaluate=evaluate)
    assert aliases_of(client, name)[CHAMPION_ALIAS] == "1"
    forced = promote(client, name, evaluate=evaluate, force=True)
    assert (forced.decision, forced.champion_after, forced.champion_value) == ("forced", "2", None)


def test_promoting_the_champion_again_is_a_clear_no_op(
    client: MlflowClient, tmp_path: Path, name: str
) -> None:
    _versions(client, tmp_path, 1, name)
    set_alias(client, name, CHAMPION_ALIAS, "1")
    set_alias(client, name, CHALLENGER_ALIAS, "1")
    scores = Scores({"1": 0.7})
    decision = promote(client, name, evaluate=scores)
    assert (decision.decision, decision.promoted) == ("noop", False)
    assert "already champion" in decision.message
    assert scores.asked == []


def test_version_sets_the_champion_without_the_gate(
    client: MlflowClient, tmp_path: Path, name: str
) -> None:
    _versions(client, tmp_path, 3, name)
    set_alias(client, name, CHAMPION_ALIAS, "3")
    decision = promote(client, name, evaluate=None, version="1")
    assert (decision.decision, decision.champion_before, decision.champion_after) == (
        "rollback",
        "3",
        "1",
    )
    assert aliases_of(client, name)[CHAMPION_ALIAS] == "1"
    assert client.get_model_version(name, "1").tags["promotion.decision"] == "rollback"
    with pytest.raises(ModelNotFoundError, match="no version '9'"):
        promote(client, name, evaluate=None, version="9")


def test_missing_model_and_alias_are_clear_errors(
    client: MlflowClient, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ModelNotFoundError, match=f"no registered model '{name}'"):
        promote(client, name, evaluate=None)
    _versions(client, tmp_path, 1, name)
    with pytest.raises(AliasNotFoundError, match="no alias 'challenger'"):
        promote(client, name, evaluate=None)


def test_resolve_model_uri(client: MlflowClient, tmp_path: Path, name: str) -> None:
    _versions(client, tmp_path, 2, name)
    set_alias(client, name, CHAMPION_ALIAS, "2")
    resolved = resolve_model_uri(client, f"models:/{name}@champion")
    assert resolved is not None and str(resolved.version) == "2"
    assert str(resolve_model_uri(client, f"models:/{name}/1").version) == "1"  # type: ignore[union-attr]
    assert resolve_model_uri(client, "runs:/abc/model") is None
    with pytest.raises(AliasNotFoundError):
        resolve_model_uri(client, f"models:/{name}@staging")
    with pytest.raises(ModelNotFoundError):
        resolve_model_uri(client, "models:/nope/1")


def test_sqlite_store_in_a_missing_folder_is_unreachable(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(TrackingStoreUnreachableError, match="does not exist"):
        open_registry(f"sqlite:///{missing / 'mlflow.db'}")
    assert not missing.exists()


def test_http_store_nobody_listens_on_fails_fast() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(TrackingStoreUnreachableError, match=f"127.0.0.1:{port}"):
        open_registry(f"http://127.0.0.1:{port}", timeout_seconds=2)
    assert time.monotonic() - started < 10
