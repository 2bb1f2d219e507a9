"""Training through the HTTP API with real worker processes, a tiny local model and a real SQLite file."""

from __future__ import annotations

import json
import os
import signal

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from llm_trainer.db.models import ModelVersion
from llm_trainer.ml.baseline import is_baseline_dir
from llm_trainer.ml.modeling import load_classifier
from llm_trainer.ml.training.trainer import TENSORBOARD_DIR
from tests.helpers.fake_hub import closed_port_endpoint, fake_hub
from tests.helpers.fake_modelscope import fake_modelscope
from tests.helpers.runs import default_answerer, finished, wait_fast_copy, wait_run
from tests.helpers.training_data import insert_dataset, review_rows

# A tiny random-weight model learns at one high rate for every weight (the 1e-2 head default is for pre-trained ones).
FAST = {"epochs": 6, "batch_size": 8, "learning_rate": 5e-3, "head_learning_rate": None, "seed": 1}


@pytest.fixture
def dataset_id(client) -> int:
    return insert_dataset(client.app.state.session_factory, review_rows(80))


def _train(client, dataset_id: int, base_model, **config) -> dict:
    resp = client.post("/train", json={"dataset_id": dataset_id, "base_model": str(base_model), "config": config})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_full_run_yields_a_version_with_metrics_and_files(client, dataset_id, tiny_model_dir, settings):
    created = _train(client, dataset_id, tiny_model_dir, **FAST)
    assert created["status"] == "queued" and created["queue_position"] == 1, created

    run = wait_run(client.get, created["id"], finished, timeout=180)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    assert run["progress"]["step"] == run["progress"]["total_steps"] > 0
    assert run["progress"]["truncation_share"] >= 0 and run["progress"]["max_length"] >= 8

    metrics = client.get(f"/api/runs/{run['id']}/metrics").json()["items"]
    kinds = {m["kind"] for m in metrics}
    assert {"train", "eval"} <= kinds
    assert all("loss" in m["values"] for m in metrics if m["kind"] == "train")

    [version_id] = run["model_version_ids"]
    folder = settings.models_dir / str(version_id)
    meta = json.loads((folder / "llm_trainer.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "transformer" and sorted(meta["labels"]) == ["好评", "差评"]
    assert meta["lineage"]["dataset_id"] == dataset_id and meta["lineage"]["dataset_hash"]
    assert meta["metrics"]["accuracy"] > 0.9  # the two classes use disjoint words: easy to learn
    assert {"macro_f1", "weighted_f1", "per_class", "confusion_matrix", "misclassified"} <= set(meta["metrics"])
    assert 0 < meta["metrics"]["baseline"]["accuracy"] <= 1, "TF-IDF on the same validation split, for comparison"
    base, acc = meta["metrics"]["baseline"]["accuracy"], meta["metrics"]["accuracy"]
    assert (run["progress"]["baseline"], run["progress"]["beats_baseline"]) == (base, acc > base)  # run page verdict
    plan = run["progress"]["time_budget"]  # CPU: the server's default budget, easily met by a tiny model
    assert plan["budget_s"] == settings.cpu_time_budget_minutes * 60 and plan["changed"] == [] and plan["actual_s"] > 0
    assert meta["metrics"]["time_budget"]["message"] == plan["message"]
    config = json.loads((folder / "config.json").read_text())
    assert set(config["id2label"].values()) == {"好评", "差评"}
    assert (folder / "model.safetensors").exists()
    assert not (settings.runs_dir / str(run["id"]) / "checkpoints").exists(), "checkpoints of a finished run go"
    logs = client.get(f"/api/runs/{run['id']}/logs").json()
    assert logs["lines"], "the run's log file is readable through the API"
    _, model = load_classifier(folder, "cpu")  # the serving side's loader reads the version folder
    assert set(model.config.id2label.values()) == {"好评", "差评"}
    assert tensorboard_scalars(settings.runs_dir / str(run["id"]) / TENSORBOARD_DIR) >= {"train/loss", "eval/accuracy"}


def tensorboard_scalars(folder) -> set[str]:
    """Scalar tags in a run's TensorBoard event files, read by TensorBoard's own reader."""
    events = EventAccumulator(str(folder))
    events.Reload()
    return set(events.Tags()["scalars"])


def test_finished_version_answers_with_its_lossless_onnx_copy(client, dataset_id, tiny_model_dir, settings):
    # max_length 8 truncates most texts: the copy must be compared at the version's own length, as it serves.
    created = _train(client, dataset_id, tiny_model_dir, **FAST, max_length=8)
    run = wait_run(client.get, created["id"], finished, timeout=180)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    assert run["progress"]["truncation_share"] > 0.5
    [version_id] = run["model_version_ids"]
    jobs = client.get("/api/jobs", params={"kind": "export"}).json()
    assert [j["params"]["version_id"] for j in jobs] == [version_id], "training queued the copy's export job"
    detail = wait_fast_copy(client.get, version_id)
    onnx = detail["variants"]["onnx"]
    assert detail["serving_variant"] == "onnx", onnx
    assert onnx["status"] == "ready" and onnx["evaluation"]["agreement"] == 1.0
    assert onnx["evaluation"]["max_probability_diff"] < 1e-4
    assert onnx["evaluation"]["samples"] == 16 and onnx["accuracy_delta"] == 0  # the whole validation split
    on_disk = sum(f.stat().st_size for f in (settings.models_dir / str(version_id)).rglob("*") if f.is_file())
    assert detail["size_bytes"] + onnx["size_bytes"] == on_disk, "model and copy sized apart"
    text = "菜很好吃，服务也不错"
    served = client.post("/predict", json={"text": text, "model_id": version_id}).json()
    plain = client.post("/predict", json={"text": text, "model_id": version_id, "variant": "pytorch"}).json()
    assert served["variant"] == "onnx" and plain["variant"] == "pytorch"
    assert served["label"] == plain["label"] and served["score"] == pytest.approx(plain["score"], abs=1e-5)

    off = wait_run(client.get, _train(client, dataset_id, tiny_model_dir, **FAST, fast_serving=False)["id"], finished)
    [plain_id] = off["model_version_ids"]
    plain_detail = client.get(f"/api/models/{plain_id}").json()
    assert plain_detail["serving_variant"] == default_answerer(plain_detail, "pytorch")
    assert not (settings.models_dir / str(plain_id) / "exports").exists(), "no copy built when switched off"
    assert len(client.get("/api/jobs", params={"kind": "export"}).json()) == 1, "and no export job queued"


def test_invalid_requests_answer_422_with_field(client, dataset_id, tiny_model_dir):
    cases = [
        ({"dataset_id": 999, "base_model": str(tiny_model_dir)}, "dataset_id"),
        ({"dataset_id": dataset_id, "base_model": str(tiny_model_dir), "learning_rate": -1}, "learning_rate"),
        ({"dataset_id": dataset_id, "base_model": str(tiny_model_dir), "config": {"epochs": 0}}, "epochs"),
        ({"dataset_id": dataset_id, "base_model": "/no/such/folder"}, "base_model"),
        ({"dataset_id": dataset_id, "base_model": "not a model!"}, "base_model"),
        (
            {"dataset_id": dataset_id, "base_model": str(tiny_model_dir), "early_stopping_patience": 2,
             "save_strategy": "no"},
            "early_stopping_patience",
        ),
    ]  # fmt: skip
    for body, field in cases:
        resp = client.post("/train", json=body)
        assert resp.status_code == 422, (body, resp.text)
        assert field in json.dumps(resp.json()), resp.json()
    one_label = insert_dataset(client.app.state.session_factory, [("好吃", "好评")] * 5, name="单一")
    resp = client.post("/train", json={"dataset_id": one_label, "base_model": str(tiny_model_dir)})
    assert resp.status_code == 422 and resp.json()["code"] == "too_few_labels"
    assert client.get("/api/runs").json()["total"] == 0, "nothing is queued by a refused request"


def test_config_schema_has_help_for_every_field(client):
    schema = client.get("/api/training/config-schema").json()
    assert schema["properties"]
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name


def test_stop_gives_usable_stopped_version_and_resume_continues(client, dataset_id, tiny_model_dir, settings):
    created = _train(client, dataset_id, tiny_model_dir, epochs=100, batch_size=2, save_strategy="no", seed=2)
    wait_run(client.get, created["id"], lambda r: (r["progress"].get("step") or 0) >= 5, timeout=180)
    # The timeout covers reaching a step boundary, not the evaluation and saving that follow an acknowledged stop.
    client.app.state.jobs.settings.stop_timeout_s = 3
    resp = client.post("/train/stop")
    assert resp.status_code == 200 and resp.json()["status"] == "stopping"

    run = wait_run(client.get, created["id"], finished, timeout=120)
    assert run["status"] == "stopped", run["error_message"] + run["log_tail"]
    total = run["progress"]["total_steps"]
    [version_id] = run["model_version_ids"]
    meta = json.loads((settings.models_dir / str(version_id) / "llm_trainer.json").read_text(encoding="utf-8"))
    stopped_step = meta["metrics"]["global_step"]
    assert 5 <= stopped_step < total
    with client.app.state.session_factory() as session:
        version = session.get(ModelVersion, version_id)
        assert version.status == "stopped" and 0 <= version.metrics["accuracy"] <= 1 and version.size_bytes > 0
        assert not version.exports, "a stopped run ends without building the fast-serving copy"

    resp = client.post(f"/api/runs/{run['id']}/resume")
    assert resp.status_code == 200 and resp.json()["status"] == "queued"
    wait_run(client.get, run["id"], lambda r: r["status"] == "running" and r["progress"]["step"] > stopped_step)
    client.post(f"/api/runs/{run['id']}/stop")
    resumed = wait_run(client.get, run["id"], finished, timeout=120)
    assert resumed["status"] == "stopped", resumed["error_message"] + resumed["log_tail"]
    second = max(resumed["model_version_ids"])
    meta2 = json.loads((settings.models_dir / str(second) / "llm_trainer.json").read_text(encoding="utf-8"))
    assert meta2["metrics"]["resumed_from_step"] == stopped_step
    assert meta2["metrics"]["global_step"] > stopped_step


def test_kill_9_marks_run_interrupted_and_server_keeps_answering(client, dataset_id, tiny_model_dir):
    created = _train(client, dataset_id, tiny_model_dir, epochs=100, batch_size=2, seed=3)
    run = wait_run(client.get, created["id"], lambda r: (r["progress"].get("step") or 0) >= 2, timeout=180)
    os.killpg(run["pid"], signal.SIGKILL)
    run = wait_run(client.get, created["id"], finished, timeout=30)
    assert run["status"] == "interrupted" and "killed" in run["error_message"]
    assert client.get("/api/health").status_code == 200
    assert client.post(f"/api/runs/{run['id']}/resume").json()["status"] == "queued"
    wait_run(client.get, run["id"], lambda r: r["status"] == "running" and r["pid"], timeout=60)
    assert client.post(f"/api/runs/{run['id']}/stop").json()["status"] == "stopping"
    client.post(f"/api/runs/{run['id']}/stop")  # a second stop kills the process group at once
    run = wait_run(client.get, run["id"], finished, timeout=30)
    assert run["status"] in ("interrupted", "stopped")


def test_runs_queue_in_order_and_queued_run_can_be_cancelled(client, dataset_id, tiny_model_dir):
    first = _train(client, dataset_id, tiny_model_dir, epochs=1, batch_size=16, class_weighting="auto")
    second = _train(client, dataset_id, tiny_model_dir, epochs=2, batch_size=16, early_stopping_patience=1)
    third = _train(client, dataset_id, tiny_model_dir, epochs=1, batch_size=16)
    status = client.get("/train/status").json()
    assert [r["id"] for r in status["queue"]] + ([status["current"]["id"]] if status["current"] else []) != []
    assert client.post(f"/api/runs/{third['id']}/cancel").json()["status"] == "cancelled"
    assert client.post(f"/api/runs/{third['id']}/cancel").status_code == 409

    a = wait_run(client.get, first["id"], finished, timeout=180)
    b = wait_run(client.get, second["id"], finished, timeout=180)
    assert a["status"] == b["status"] == "succeeded", a["log_tail"] + b["log_tail"]
    assert a["finished_at"] <= b["started_at"], "one run at a time, first in first out"
    assert client.get(f"/api/runs/{third['id']}").json()["started_at"] is None


@pytest.mark.parametrize(
    ("source", "hub_files", "status", "code"),
    [
        ("someone/huge-model", {"config.json": 700, "model.safetensors": 30_000_000_000}, 422, "model_too_large"),
        ("someone/no-such-model", None, 422, "hub_model_not_found"),
        ("hfl/rbt3", "closed", 503, "hub_unreachable"),
    ],
)
def test_a_hub_model_that_cannot_be_had_is_refused_before_anything_is_queued(
    client, dataset_id, monkeypatch, source, hub_files, status, code
):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    files = hub_files if isinstance(hub_files, dict) else {}
    with fake_hub(files, models={"someone/huge-model"}) as (endpoint, _):
        closed = closed_port_endpoint()
        monkeypatch.setenv("HF_ENDPOINT", closed if hub_files == "closed" else endpoint)
        resp = client.post("/train", json={"dataset_id": dataset_id, "base_model": source})
    assert resp.status_code == status and resp.json()["code"] == code, resp.text
    assert client.get("/api/runs").json()["total"] == 0


def test_a_modelscope_model_is_downloaded_by_the_worker_and_trained(
    client, dataset_id, tiny_model_dir, tmp_path, monkeypatch
):
    monkeypatch.delenv("MODELSCOPE_OFFLINE")
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "modelscope-cache"))
    with fake_modelscope("owner/tiny", tiny_model_dir) as (endpoint, requested):
        monkeypatch.setenv("MODELSCOPE_ENDPOINT", endpoint)  # the worker process inherits it
        created = _train(client, dataset_id, "modelscope:owner/tiny", **FAST)
        run = wait_run(client.get, created["id"], finished, timeout=180)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    assert run["base_model"] == "modelscope:owner/tiny"
    assert any("FilePath=config.json" in path for path in requested), "the weights came from ModelScope"


def test_unknown_run_is_404(client):
    assert client.get("/api/runs/12345").status_code == 404
    assert client.post("/api/runs/12345/stop").status_code == 404
    assert client.post("/train/stop").status_code == 409


def test_live_server_streams_run_events_until_the_end(live_server, settings, tiny_model_dir):
    import httpx

    from llm_trainer.db.base import make_engine, make_session_factory

    engine = make_engine(settings.database)  # the live server's database, migrated when it started
    dataset = insert_dataset(make_session_factory(engine), review_rows(40))
    engine.dispose()
    body = {"dataset_id": dataset, "base_model": str(tiny_model_dir), "config": {"epochs": 2, "batch_size": 8}}
    run_id = httpx.post(f"{live_server}/train", json=body, timeout=30).json()["id"]
    statuses, steps = [], []
    with httpx.stream("GET", f"{live_server}/api/runs/{run_id}/events", timeout=120) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if not line.startswith("data:"):
                continue
            snap = json.loads(line[5:])
            statuses.append(snap["status"])
            steps.append(snap["progress"].get("step") or 0)
            if finished(snap):
                break
    assert statuses[-1] == "succeeded" and "running" in statuses
    assert steps == sorted(steps) and steps[-1] > 0, "progress only moves forward"


def test_tfidf_baseline_trains_as_a_version(client, dataset_id, settings):
    run = wait_run(client.get, _train(client, dataset_id, "tfidf")["id"], finished, timeout=120)
    assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
    folder = settings.models_dir / str(run["model_version_ids"][0])
    meta = json.loads((folder / "llm_trainer.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "tfidf" and meta["metrics"]["accuracy"] > 0.9 and meta["metrics"]["confusion_matrix"]
    assert is_baseline_dir(folder)


def test_training_request_paths_never_import_torch(tmp_path):
    """The web server stays light: queueing, status, runs and the schema answer without loading torch."""
    import subprocess
    import sys

    code = """
import sys
from fastapi.testclient import TestClient
from llm_trainer.api.app import create_app
from llm_trainer.core.config import Settings
from tests.helpers.training_data import insert_dataset, review_rows
app = create_app(Settings(data_dir=sys.argv[1]))
ds = insert_dataset(app.state.session_factory, review_rows(20))
with TestClient(app, base_url="http://127.0.0.1") as c:
    app.state.jobs.shutdown()  # only the request paths are under test here, not the worker
    assert c.post("/train", json={"dataset_id": ds, "base_model": "tfidf"}).status_code == 201
    for path in ("/train/status", "/api/runs", "/api/runs/1", "/api/runs/1/metrics", "/api/runs/1/logs",
                 "/api/training/config-schema"):
        assert c.get(path).status_code == 200, path
    assert c.post("/api/runs/1/cancel").status_code == 200
print("torch" in sys.modules, "transformers" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
