"""MLflow tracking, off unless a tracking URI is set: one MLflow run per training run, on the main rank only.

The run's own parameters (task, base model, dataset, every config field, prefixed `llm_trainer.`), its final metrics
and the saved version's files are logged here; the Trainer's `MLflowCallback` adds the per-step curves and the
TrainingArguments into the same MLflow run (it reuses an active run instead of starting its own).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llm_trainer.ml.version_store import EXPORTS_DIR

log = logging.getLogger(__name__)
PARAM_PREFIX = "llm_trainer."
EXPERIMENT = "llm-trainer"


def flat_numbers(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested metrics dict as `a.b` keys (MLflow metrics are flat floats)."""
    out: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_numbers(value, name + "."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


class MlflowRun:
    """The active MLflow run of one training run: what the worker logs once the version exists."""

    def __init__(self, mlflow: Any) -> None:
        self._mlflow = mlflow
        self.status = "FINISHED"

    @property
    def run_id(self) -> str:
        return self._mlflow.active_run().info.run_id

    def log_version(self, version_id: int, folder: Path, metrics: dict[str, Any], stopped: bool) -> None:
        self._mlflow.set_tag("llm_trainer.version_id", str(version_id))
        self._mlflow.log_metrics(flat_numbers(metrics, "final."))
        # Not exports/: the server's export job may be building the fast copy in it while this runs.
        for entry in sorted(folder.iterdir()):
            if entry.is_dir() and entry.name != EXPORTS_DIR:
                self._mlflow.log_artifacts(str(entry), artifact_path=f"version/{entry.name}")
            elif entry.is_file():
                self._mlflow.log_artifact(str(entry), artifact_path="version")
        self.status = "KILLED" if stopped else "FINISHED"


@contextmanager
def mlflow_run(
    tracking_uri: str,
    experiment: str,
    artifact_root: Path,
    run_name: str,
    params: dict[str, Any],
    tags: dict[str, str],
) -> Iterator[MlflowRun | None]:
    """Start an MLflow run around training when `tracking_uri` is set (else yield None); a crash ends it FAILED.
    A new experiment in a local store (sqlite:, file:) keeps its artifacts under `artifact_root`, not the cwd."""
    if not tracking_uri:
        yield None
        return
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    name = experiment or EXPERIMENT
    if mlflow.get_experiment_by_name(name) is None and not tracking_uri.startswith(("http://", "https://")):
        mlflow.create_experiment(name, artifact_location=(artifact_root / name).as_uri())
    mlflow.set_experiment(name)
    active = mlflow.start_run(run_name=run_name, tags=tags)
    tracked = MlflowRun(mlflow)
    try:
        mlflow.log_params({f"{PARAM_PREFIX}{k}": v for k, v in params.items()})
        log.info("MLflow run %s at %s", active.info.run_id, tracking_uri)
        yield tracked
    except BaseException:
        tracked.status = "FAILED"
        raise
    finally:
        mlflow.flush_async_logging()  # the Trainer callback logs asynchronously
        mlflow.end_run(status=tracked.status)


def trainer_callbacks(enabled: bool) -> list[Any]:
    """The Trainer's own MLflow integration, on the rank that owns the MLflow run."""
    if not enabled:
        return []
    from transformers.integrations import MLflowCallback

    return [MLflowCallback()]
