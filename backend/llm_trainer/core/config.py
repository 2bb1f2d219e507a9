"""One Settings object for paths, limits and host/port, read from env (LLM_TRAINER_*) or `.env`."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as LLM_TRAINER_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="LLM_TRAINER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where uploads, models and the SQLite file live.")
    host: str = Field("127.0.0.1", description="Interface the server listens on.")
    port: int = Field(8000, description="Port the server listens on.")
    server_url: str = Field(
        "",
        description="Set by `llm-trainer serve` for its own process: the address it answers at, announced in the data "
        "dir so a CLI on the same data dir submits its work to it over HTTP.",
    )
    max_upload_mb: int = Field(200, description="Largest dataset/prediction file accepted, in MB.")
    insert_batch_size: int = Field(5000, description="Rows per INSERT batch when storing a dataset.")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of a shared database, e.g. postgresql+psycopg://user:password@host/db; "
        "empty: the SQLite file in the data dir.",
    )
    cpu_time_budget_minutes: float = Field(
        15.0, ge=0, description="Default time budget of CPU training runs, in minutes (0 = off); see TrainingConfig."
    )
    max_concurrent_runs: int = Field(1, description="Training runs allowed at the same time.")
    max_background_jobs: int = Field(
        2, ge=1, description="Light jobs (batch predictions, exports) running at the same time: the pool size."
    )
    max_concurrent_exports: int = Field(1, ge=1, description="ONNX exports running at the same time (CPU-heavy).")
    job_heartbeat_timeout_s: float = Field(
        120.0, gt=0, description="A running job silent for longer is marked interrupted and its processes killed."
    )
    job_heartbeat_slow_timeout_s: float = Field(
        900.0,
        gt=0,
        description="The same limit while a job starts, loads or downloads its model, evaluates or saves.",
    )
    stop_timeout_s: float = Field(120.0, description="Seconds a stopping worker gets before it is killed.")
    predict_max_texts: int = Field(256, description="Most texts in one /predict request.")
    predict_max_chars: int = Field(2000, description="Longer texts are truncated (and flagged) before prediction.")
    model_cache_size: int = Field(3, description="Model versions kept loaded in memory (LRU).")
    preload_default: bool = Field(
        True,
        description="Load the version /predict answers with by default in the background at start-up, so the first "
        "answer after a restart does not wait for torch and the model (about 7 s on 2 CPU cores).",
    )
    frontend_dist: Path = Field(REPO_ROOT / "frontend" / "dist", description="Built web UI served at /.")
    # Access (README "Security").
    token: str = Field("", description="Access token; required on every route but health when set.")
    allowed_hosts: str = Field("", description="Comma-separated extra Host names accepted (loopback always is).")
    cors_origins: str = Field("", description="Comma-separated origins allowed to call the API cross-site.")
    login_attempts_per_minute: int = Field(10, description="Wrong tokens accepted per client and minute.")
    # Hostile-input caps: each is named in the error a request hits.
    max_columns: int = Field(1000, description="Most columns in an uploaded file.")
    max_header_chars: int = Field(256, description="Longest column name in a header row.")
    max_text_chars: int = Field(100_000, description="Longer texts are cut at ingest (the report counts them).")
    max_rows: int = Field(2_000_000, description="Most data rows in one uploaded file.")
    max_json_depth: int = Field(32, description="Deepest nesting accepted in a JSON/JSONL record.")
    max_form_fields: int = Field(16, description="Most parts in one multipart upload.")
    max_part_header_bytes: int = Field(8 * 1024, description="Largest header block of one multipart part.")
    max_body_kb: int = Field(1024, description="Largest JSON request body (e.g. /predict), in KB.")
    xlsx_max_uncompressed_mb: int = Field(1024, description="Largest total uncompressed size inside an XLSX.")
    xlsx_max_ratio: int = Field(200, description="Highest compression ratio of an XLSX member (zip bombs).")
    model_roots: str = Field("", description="Comma-separated folders local base models must lie under.")
    hub_max_download_gb: float = Field(20.0, description="Largest base-model download from a hub, in GB.")
    use_modelscope_hub: bool = Field(
        False,
        validation_alias=AliasChoices("LLM_TRAINER_USE_MODELSCOPE_HUB", "USE_MODELSCOPE_HUB"),
        description="Download plain hub ids (bert-base-chinese, owner/name) from ModelScope instead of Hugging Face.",
    )
    # Several machines per run (README "Scaling out"): torchrun's c10d rendezvous hosted on this machine.
    nnodes: int = Field(1, ge=1, le=64, description="Machines one training run spans; >1 needs rdzv_endpoint.")
    rdzv_endpoint: str = Field(
        "",
        description="host:port of the rendezvous on this machine, which `llm-trainer join-run` on the other nodes "
        "connects to (e.g. 10.0.0.5:29400).",
    )
    node_addr: str = Field("", description="Address other nodes reach this machine at (empty: its hostname).")
    # Tracking (README "Experiment tracking"): MLflow's own variable names are accepted too.
    mlflow_tracking_uri: str = Field(
        "",
        validation_alias=AliasChoices("LLM_TRAINER_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI (a server URL, file:///path or sqlite:///path); empty: no MLflow logging.",
    )
    mlflow_experiment: str = Field(
        "llm-trainer",
        validation_alias=AliasChoices("LLM_TRAINER_MLFLOW_EXPERIMENT", "MLFLOW_EXPERIMENT_NAME"),
        description="MLflow experiment the runs are logged under.",
    )

    @model_validator(mode="after")
    def _nodes_need_an_endpoint(self) -> Settings:
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ValueError(
                f"LLM_TRAINER_NNODES={self.nnodes} needs LLM_TRAINER_RDZV_ENDPOINT=host:port on this machine, "
                "which the other nodes' `llm-trainer join-run` connect to."
            )
        return self

    @property
    def hub_max_download_bytes(self) -> int:
        return int(self.hub_max_download_gb * 1e9)

    @property
    def allowed_host_names(self) -> set[str]:
        return {h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()}

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def model_root_paths(self) -> list[Path]:
        """Local base models must lie under one of these (default: the data dir's models/ and the HF cache)."""
        roots = [Path(r.strip()).expanduser() for r in self.model_roots.split(",") if r.strip()]
        if not roots:
            hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
            roots = [self.models_dir, self.cache_dir, hf_home]
        return [r.resolve() for r in roots]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "llm_trainer.sqlite3"

    @property
    def database(self) -> Path | str:
        """What `make_engine` opens: the configured URL (PostgreSQL for teams), else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.uploads_dir, self.models_dir, self.runs_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)


@lru_cache
def get_settings() -> Settings:
    return Settings()
