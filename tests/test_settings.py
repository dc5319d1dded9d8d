from pathlib import Path

import pytest
from pydantic import ValidationError

from payrisk.settings import Settings


def test_defaults_live_under_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYRISK_DATA_DIR", "/srv/payrisk")
    monkeypatch.delenv("PAYRISK_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYRISK_MLFLOW_TRACKING_URI", raising=False)
    settings = Settings()
    assert settings.resolved_database_url == "sqlite:////srv/payrisk/payrisk.db"
    assert settings.resolved_tracking_uri == "sqlite:////srv/payrisk/mlflow.db"
    assert settings.resolved_artifact_root == Path("/srv/payrisk/mlartifacts")


def test_explicit_urls_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYRISK_DATABASE_URL", "postgresql+psycopg://u@db/payrisk")
    monkeypatch.setenv("PAYRISK_MLFLOW_TRACKING_URI", "http://mlflow:5000")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u@db/payrisk"
    assert settings.resolved_tracking_uri == "http://mlflow:5000"


def test_bucket_edges_must_increase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYRISK_LATE_BUCKET_EDGES_DAYS", "[0, 60, 30]")
    with pytest.raises(ValidationError, match="strictly increasing"):
        Settings()


def test_settings_do_not_touch_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "not-yet"
    monkeypatch.setenv("PAYRISK_DATA_DIR", str(data_dir))
    settings = Settings()
    assert not data_dir.exists()
    assert settings.ensure_data_dir().is_dir()
