"""One Settings object for paths, limits and host/port, read from env (LLM_TRAINER_*) or `.env`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as LLM_TRAINER_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="LLM_TRAINER_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Where uploads, models and the SQLite file live.")
    host: str = Field("127.0.0.1", description="Interface the server listens on.")
    port: int = Field(8000, description="Port the server listens on.")
    max_upload_mb: int = Field(200, description="Largest dataset/prediction file accepted, in MB.")
    insert_batch_size: int = Field(5000, description="Rows per INSERT batch when storing a dataset.")
    max_concurrent_runs: int = Field(1, description="Training runs allowed at the same time.")
    stop_timeout_s: float = Field(120.0, description="Seconds a stopping worker gets before it is killed.")
    predict_max_texts: int = Field(256, description="Most texts in one /predict request.")
    predict_max_chars: int = Field(2000, description="Longer texts are truncated (and flagged) before prediction.")
    model_cache_size: int = Field(3, description="Model versions kept loaded in memory (LRU).")
    frontend_dist: Path = Field(REPO_ROOT / "frontend" / "dist", description="Built web UI served at /.")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "llm_trainer.sqlite3"

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
