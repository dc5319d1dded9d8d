"""Settings, read from the environment (prefix ``PAYRISK_``) or a ``.env`` file."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of payrisk. Paths are relative to the working directory."""

    model_config = SettingsConfigDict(env_prefix="PAYRISK_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".payrisk"), description="where embedded stores live")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite at DATA_DIR/payrisk.db"
    )
    mlflow_tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; default: sqlite:///DATA_DIR/mlflow.db"
    )
    mlflow_artifact_root: Path | None = Field(
        None, description="artifact folder for the embedded store; default: DATA_DIR/mlartifacts"
    )
    experiment_name: str = "payrisk"
    registered_model_name: str = "payment-risk"

    # Modeling
    late_bucket_edges_days: list[int] = Field(
        [0, 30, 60, 90], description="upper edges of the days-late buckets; the last is open"
    )
    grace_days: int = Field(0, ge=0, description="days after due still counted as on time")
    snapshot_every_days: int = Field(14, ge=1, description="snapshot interval while open")
    random_seed: int = 42

    # Training split and evaluation (training/split.py, training/evaluate.py)
    training_cutoff: date | None = Field(
        None, description="data cutoff for training; default: the ledger's last date"
    )
    test_months: int = Field(3, ge=1, description="months of as-of dates in the test period")
    validation_months: int = Field(3, ge=1, description="months of as-of dates in validation")
    label_maturity_days: int = Field(
        60, ge=0, description="gap before each label cutoff so outcomes can mature"
    )
    min_train_months: int = Field(3, ge=1, description="fewest months of training as-of dates")
    min_split_rows: int = Field(50, ge=1, description="fewest labeled rows per split")
    backtest_folds: int = Field(3, ge=1, description="cutoffs in the backtest, the latest first")
    backtest_step_months: int = Field(3, ge=1, description="months between backtest cutoffs")
    cold_start_min_paid: int = Field(
        3, ge=1, description="customers with fewer paid invoices at t are cold start"
    )
    small_sample_rows: int = Field(
        2000, ge=1, description="warn about rough metrics when a test slice has fewer rows"
    )
    bootstrap_rounds: int = Field(200, ge=0, description="bootstrap resamples for metric CIs")
    model_n_estimators: int = Field(2000, ge=1, description="most boosting rounds (early-stopped)")
    model_learning_rate: float = Field(0.05, gt=0, description="LightGBM learning rate")
    # 15 leaves of >= 200 rows beat 31 of >= 50 on validation in all 4 demo backtest folds
    # (models.calibration has the evidence and what else was tried)
    model_num_leaves: int = Field(15, ge=2, description="LightGBM leaves per tree")
    model_min_child_samples: int = Field(200, ge=1, description="LightGBM rows per leaf, at least")
    model_early_stopping_rounds: int = Field(100, ge=1, description="patience on validation")
    model_calibration: str = Field("sigmoid", description="isotonic, sigmoid or none")
    model_calibration_shift_late: bool = Field(
        False, description="sigmoid only: let the P(late) calibration shift its level"
    )
    model_n_jobs: int = Field(2, ge=1, description="LightGBM threads (BLAS stays at 1)")

    # Dask engine (training/engines/, `payrisk train --engine dask`, `payrisk score-batch`)
    dask_scheduler: str | None = Field(
        None, description="Dask scheduler address; default: a LocalCluster on this machine"
    )
    dask_workers: int | None = Field(
        None, ge=1, description="LocalCluster worker processes; default: one per CPU core"
    )
    dask_worker_memory: str = Field(
        "4GiB", description="LocalCluster memory limit per worker (Dask pauses/restarts above it)"
    )
    dask_connect_timeout_seconds: float = Field(
        10.0, gt=0, description="seconds to wait for the Dask scheduler before giving up"
    )
    dask_processes: bool = Field(
        True, description="LocalCluster workers as processes (memory limits hold); false: threads"
    )

    # Promotion gate (models/promotion.py, `payrisk promote`)
    promotion_margin: float = Field(
        0.0, ge=0, description="ROC AUC P(late) the challenger must gain over the champion"
    )

    # Retraining (training/retrain.py, `payrisk retrain`)
    retrain_window_months: int = Field(
        24, ge=1, description="months of as-of dates up to the data cutoff a retrain trains on"
    )
    retrain_brier_tolerance: float = Field(
        0.005, ge=0, description="Brier P(late) a retrained challenger may lose to the champion"
    )

    # Monitoring (models/monitoring.py, `payrisk monitor`, GET /v1/model/health)
    monitor_psi_warn: float = Field(0.1, gt=0, description="PSI from which a column is 'warn'")
    monitor_psi_alert: float = Field(0.25, gt=0, description="PSI from which it is 'alert'")
    monitor_window_days: int = Field(
        30, ge=1, description="recent scores: as-of dates within this many days of the newest"
    )
    monitor_top_features: int = Field(5, ge=1, description="drifted features the report names")
    monitor_cache_seconds: float = Field(
        300.0, ge=0, description="how long GET /v1/model/health reuses its last report"
    )

    # Serving (serving/, `payrisk serve`)
    host: str = Field("127.0.0.1", description="address `payrisk serve` listens on")
    port: int = Field(8000, ge=1, le=65535, description="port `payrisk serve` listens on")
    workers: int = Field(1, ge=1, description="uvicorn worker processes")
    model_alias: str = Field("champion", description="registry alias the service serves")
    model_poll_seconds: float = Field(
        30.0, ge=0, description="seconds between checks of the served alias; 0 = never poll"
    )
    bulk_lane_size: int = Field(
        1,
        ge=1,
        description="worklist, KPI and page requests computing at once per worker; more wait "
        "(scoring never does: serving.lanes)",
    )
    bulk_runner: Literal["process", "thread"] = Field(
        "process",
        description="where the worklist, KPI and page requests compute: in children of each "
        "worker at a lower OS priority ('process'), or in the worker's threads ('thread'; "
        "scoring then shares the worker's interpreter lock with them: serving.bulk_runner)",
    )
    # 19, the lowest priority: under make soak (2 cores) the p99 of scoring was 53.5-54.7 ms
    # over four runs, against 73.7-76.3 over the two taken in turns at 10 (51-108 over
    # seven at 10 in all); the pages' throughput and latencies did not move beyond noise
    bulk_process_nice: int = Field(
        19, ge=0, le=19, description="how much lower the bulk children's OS priority is (nice)"
    )
    bulk_timeout_seconds: float = Field(
        120.0,
        gt=0,
        description="a bulk child's longest computation; past it the request gets 503 and "
        "the worker's bulk children are replaced",
    )
    thread_switch_seconds: float = Field(
        0.001,
        gt=0,
        le=0.1,
        description="serving: the interpreter's thread switch interval; short, so the event "
        "loop answering cached scores is not kept waiting by a computing thread",
    )
    ingest_lane_size: int = Field(
        2, ge=1, description="ingest requests writing at once per worker; more wait (serving.lanes)"
    )
    max_batch_rows: int = Field(10_000, ge=1, description="most rows in one ledger batch request")
    max_body_bytes: int = Field(
        20_000_000, ge=1024, description="largest request body accepted, in bytes"
    )
    api_key_cache_seconds: float = Field(
        5.0, ge=0, description="seconds a checked API key is trusted; a revoke waits this long"
    )
    rate_limit_per_second: float = Field(
        1000.0, ge=0, description="requests a second one API key may send per worker; 0 = off"
    )
    rate_limit_burst: int = Field(
        2000, ge=1, description="requests one API key may send at once per worker (bucket size)"
    )
    migrate_on_start: bool = Field(
        True, description="migrate the ledger database to the newest schema when serving starts"
    )
    db_connect_timeout_seconds: float = Field(
        3.0, gt=0, description="serving: seconds to open a PostgreSQL connection before a 503"
    )
    db_statement_timeout_seconds: float | None = Field(
        60.0, gt=0, description="serving: seconds one SQL statement may run (PostgreSQL)"
    )
    db_pool_timeout_seconds: float = Field(
        10.0, gt=0, description="serving: seconds a request waits for a pooled connection"
    )
    log_level: str = Field("INFO", description="level of the service's JSON logs")

    # Scoring (serving/scoring.py, serving/routes/scores.py)
    max_score_customers: int = Field(
        1_000, ge=1, description="most customer ids in one POST /v1/scores request"
    )
    score_max_future_days: int = Field(
        366, ge=0, description="latest as_of accepted for scoring, in days after today"
    )
    score_cache_entries: int = Field(
        2048, ge=0, description="stored-mode answers each worker keeps (0: no cache)"
    )
    score_cache_max_age_seconds: float = Field(
        300.0, gt=0, description="seconds a cached stored-mode answer may be served"
    )
    score_warm_seconds: float = Field(
        0.1,
        ge=0,
        description="seconds between rounds that re-score changed customers asked about "
        "lately, before they are asked again (serving.answer_warmer); 0 = off",
    )
    shared_answers_path: Path | None = Field(
        None,
        description="SQLite file in which the workers of one `payrisk serve` share "
        "stored-mode answers (serving.shared_answers); serve sets it for 2+ workers",
    )
    score_reasons_method: Literal["shap", "path"] = Field(
        "path",
        description="live reasons: 'path' (fast path attributions, as the refresh stores)"
        " or 'shap' (exact TreeSHAP, ~10 ms of CPU per open invoice)",
    )

    # Worklist and KPIs (serving/worklist.py, serving/kpis.py, serving/policy.py)
    reporting_currency: str = Field("USD", description="currency the worklist and KPIs report in")
    fx_rates: dict[str, float] = Field(
        default_factory=dict,
        description="units of the reporting currency per 1 unit of each currency, e.g. ILS=0.27",
    )
    tier_high_amount: float = Field(
        10_000.0, ge=0, description="expected amount at risk (reporting currency) for tier high"
    )
    tier_medium_amount: float = Field(
        1_000.0, ge=0, description="expected amount at risk (reporting currency) for tier medium"
    )  # the one tier of the API, refresh, worklist, pages and metrics (models/rollup.py)
    calls_per_collector_per_day: int = Field(
        25, ge=1, description="customers one collector can work in a day (worklist split)"
    )
    worklist_policy_file: Path | None = Field(
        None, description="YAML file with the next-action rules; default: serving/policy.py"
    )
    worklist_effect_top_n: int = Field(
        20, ge=1, description="top customers of last month's worklist the KPI effect follows"
    )

    # Web pages (serving/web/)
    session_secret: str | None = Field(
        None, description="key signing the pages' session cookie; default: random per start"
    )
    session_max_age_seconds: int = Field(
        8 * 3600, ge=60, description="seconds a page sign-in lasts"
    )
    session_cookie_secure: bool | None = Field(
        None, description="Secure session cookie; default: yes except on http://127.0.0.1"
    )

    @model_validator(mode="after")
    def _tiers_ordered(self) -> Settings:
        if self.tier_medium_amount > self.tier_high_amount:
            raise ValueError(
                f"tier_medium_amount ({self.tier_medium_amount}) must not exceed "
                f"tier_high_amount ({self.tier_high_amount})"
            )
        return self

    @field_validator("late_bucket_edges_days")
    @classmethod
    def _edges_increase(cls, edges: list[int]) -> list[int]:
        if not edges or any(b <= a for a, b in pairwise(edges)):
            raise ValueError(f"late_bucket_edges_days must be strictly increasing, got {edges}")
        return edges

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'payrisk.db'}"

    @property
    def resolved_tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.data_dir / 'mlflow.db'}"

    @property
    def resolved_artifact_root(self) -> Path:
        return self.mlflow_artifact_root or self.data_dir / "mlartifacts"

    def ensure_data_dir(self) -> Path:
        """Create the data folder on demand (never at import)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir
