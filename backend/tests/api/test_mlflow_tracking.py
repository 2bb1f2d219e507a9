"""MLflow tracking through a real local MLflow store (SQLite, MLflow's recommended local backend): params, curves,
final metrics and the version's files."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

from tests.helpers.runs import finished, wait_run
from tests.helpers.training_data import insert_dataset, review_rows


def test_run_with_mlflow_uri_logs_params_curves_metrics_and_version_files(
    client, tiny_model_dir, tmp_path, monkeypatch, settings
):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # the worker inherits the server's environment
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "reviews")
    dataset_id = insert_dataset(client.app.state.session_factory, review_rows(80))
    body = {
        "dataset_id": dataset_id,
        "base_model": str(tiny_model_dir),
        "config": {"epochs": 3, "batch_size": 8, "learning_rate": 5e-3},
    }
    created = client.post("/train", json=body).json()
    run = wait_run(client.get, created["id"], finished, timeout=180)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    [version_id] = run["model_version_ids"]

    mlflow = MlflowClient(tracking_uri=store)
    experiment = mlflow.get_experiment_by_name("reviews")
    [tracked] = mlflow.search_runs([experiment.experiment_id])
    assert tracked.info.status == "FINISHED" and tracked.info.run_name == f"run-{run['id']}"
    assert tracked.data.tags["llm_trainer.version_id"] == str(version_id)
    params = tracked.data.params
    assert params["llm_trainer.task"] == "classification" and float(params["llm_trainer.epochs"]) == 3
    assert "learning_rate" in params, "the Trainer's own integration logged its arguments into the same run"
    assert len(mlflow.get_metric_history(tracked.info.run_id, "loss")) >= 2, "a training-loss curve, not one point"
    assert 0 <= tracked.data.metrics["final.accuracy"] <= 1
    assert 0 <= tracked.data.metrics["final.baseline.accuracy"] <= 1
    files = {f.path for f in mlflow.list_artifacts(tracked.info.run_id, "version")}
    assert {"version/llm_trainer.json", "version/model.safetensors"} <= files
    assert list((settings.data_dir / "mlflow-artifacts" / "reviews").rglob("model.safetensors")), "under the data dir"
