"""The jobs API: one public shape and one SSE stream for every kind (a real training run and a real batch prediction
on a real uvicorn server), unknown ids, and a log tail that stays bounded however big the log grows."""

from __future__ import annotations

import json

import httpx
import pytest

from llm_trainer.core.jobs import ExportParams, JobKind, JobStatus
from llm_trainer.core.run_status import RunStatus
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.services import job_events
from llm_trainer.services.job_records import move_run, submit_run
from llm_trainer.worker.launch import log_path
from tests.helpers.training_data import insert_dataset, review_rows
from tests.helpers.versions import make_version, review_texts


def _read_stream(url: str, job_id: int) -> tuple[list[dict], list[str]]:
    snaps, names = [], []
    with httpx.stream("GET", f"{url}/api/jobs/{job_id}/events", timeout=180) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():  # ends only when the server closes the stream
            if line.startswith("event:"):
                names.append(line[6:].strip())
            elif line.startswith("data:"):
                snaps.append(json.loads(line[5:]))
    return snaps, names


def _job_of(url: str, kind: str, key: str, value: int) -> dict:
    jobs = httpx.get(f"{url}/api/jobs", params={"kind": kind}, timeout=30).json()
    return next(job for job in jobs if job["params"][key] == value)


def test_train_and_batch_jobs_stream_one_shape_and_the_stream_ends_at_the_terminal_status(
    live_server, settings, tiny_model_dir
):
    engine = make_engine(settings.database)  # the live server's database, migrated when it started
    # 200 steps: a run of a few steps could end between two of the stream's one-second ticks on a fast machine.
    dataset = insert_dataset(make_session_factory(engine), review_rows(200))
    engine.dispose()
    config = {"epochs": 2, "batch_size": 2, "time_budget_minutes": 0}
    body = {"dataset_id": dataset, "base_model": str(tiny_model_dir), "config": config}
    run_id = httpx.post(f"{live_server}/train", json=body, timeout=30).json()["id"]
    train_job = _job_of(live_server, "train", "run_id", run_id)

    snaps, names = _read_stream(live_server, train_job["id"])
    assert set(names) == {"job"}
    run = httpx.get(f"{live_server}/api/runs/{run_id}").json()
    assert [s["status"] for s in snaps][-1] == "succeeded", (snaps[-1], run["error_message"], run["progress"])
    assert "running" in [s["status"] for s in snaps]
    assert all(s["id"] == train_job["id"] and s["kind"] == "train" for s in snaps)
    running = [s for s in snaps if s["status"] == "running" and s["progress"]["total"]]
    assert running, "a running snapshot carries the step count"
    fractions = [s["progress"]["fraction"] for s in running]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    last = snaps[-1]
    assert last["progress"]["fraction"] == 1.0 and last["finished_at"] and last["duration_s"] > 0
    assert last["subject"] and last["owner"] and last["attempts"] == 1
    assert httpx.get(f"{live_server}/api/jobs/{train_job['id']}").json()["status"] == "succeeded"

    # A batch prediction streams the same shape, and a stream opened after the end sends the end and closes.
    make_version(settings)
    data = ("评论\n" + "\n".join(t for t, _ in review_texts(30, seed=3)) + "\n").encode("utf-8")
    batch = httpx.post(f"{live_server}/api/predict/batch", files={"file": ("评论.csv", data)}, timeout=60).json()
    batch_job = _job_of(live_server, "batch_predict", "batch_job_id", batch["id"])
    snaps, _ = _read_stream(live_server, batch_job["id"])
    assert snaps[-1]["status"] == "succeeded" and snaps[-1]["subject"] == "评论.csv"
    assert snaps[-1]["progress"]["total"] == 30 and snaps[-1]["progress"]["fraction"] == 1.0
    assert set(snaps[-1]) == set(last), "every kind has the same fields"
    again, _ = _read_stream(live_server, batch_job["id"])
    assert [s["status"] for s in again] == ["succeeded"]


def test_unknown_job_is_404_with_a_message_naming_the_id(client):
    for path in ("/api/jobs/424242", "/api/jobs/424242/log", "/api/jobs/424242/events"):
        r = client.get(path)
        assert r.status_code == 404, path
        body = r.json()
        assert body["code"] == "job_not_found" and "424242" in body["message"] and "GET /api/jobs" in body["message"]


def _ended_train_job(factory) -> tuple[int, int]:
    """A cancelled run and its train job, so no dispatcher starts a worker for it: (run id, job id)."""
    with session_scope(factory) as session:
        run = runs_repo.create_run(session, base_model="tiny")
        job = submit_run(session, run)
        assert move_run(session, run.id, RunStatus.CANCELLED)
        return run.id, job.id


def test_log_tail_is_bounded_however_big_the_log_and_its_lines(client, settings):
    run_id, job_id = _ended_train_job(client.app.state.session_factory)
    path = log_path(settings.runs_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        f.writelines(f"第 {i} 步 loss=0.{i % 97:02d}\n" for i in range(200_000))  # ~4 MB
        f.write("最后一行\n")
    size = path.stat().st_size

    body = client.get(f"/api/jobs/{job_id}/log", params={"lines": 50}).json()
    assert body["has_log"] and body["size_bytes"] == size
    assert len(body["lines"]) == 50 and body["lines"][-1] == "最后一行" and body["lines"][-2].startswith("第 199999 步")

    most = client.get(f"/api/jobs/{job_id}/log", params={"lines": job_events.LOG_MAX_LINES})
    assert len(most.json()["lines"]) == job_events.LOG_MAX_LINES
    assert client.get(f"/api/jobs/{job_id}/log", params={"lines": job_events.LOG_MAX_LINES + 1}).status_code == 422

    with path.open("a", encoding="utf-8") as f:
        f.write("长" * 3_000_000 + "\n")  # one 9 MB line: the answer still reads at most LOG_MAX_BYTES of it
    r = client.get(f"/api/jobs/{job_id}/log", params={"lines": 5})
    assert r.status_code == 200 and len(r.content) < job_events.LOG_MAX_BYTES + 1000


def test_a_run_whose_worker_wrote_no_log_yet_answers_no_lines(client):
    _, job_id = _ended_train_job(client.app.state.session_factory)
    assert client.get(f"/api/jobs/{job_id}/log").json() == {
        "job_id": job_id, "lines": [], "size_bytes": 0, "has_log": True,
    }  # fmt: skip


@pytest.mark.parametrize("outside", [True, False])
def test_a_light_job_log_path_is_read_only_inside_the_data_dir(client, settings, tmp_path, outside):
    folder = tmp_path if outside else settings.data_dir
    secret = folder / "export.log"
    secret.write_text("secret line\n", encoding="utf-8")
    with session_scope(client.app.state.session_factory) as session:
        job = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=1, variant="onnx"), str(secret))
        jobs_repo.transition(session, job.id, JobStatus.QUEUED, JobStatus.CANCELLED)
        job_id = job.id
    body = client.get(f"/api/jobs/{job_id}/log").json()
    assert body["lines"] == ([] if outside else ["secret line"]) and body["has_log"] is not outside


def test_jobs_of_one_run_are_listed_by_belongs_to_which_needs_a_kind(client):
    factory = client.app.state.session_factory
    (run_a, job_a), _ = _ended_train_job(factory), _ended_train_job(factory)
    listed = client.get("/api/jobs", params={"kind": "train", "belongs_to": run_a}).json()
    assert [(j["id"], j["params"]["run_id"], j["status"]) for j in listed] == [(job_a, run_a, "cancelled")]
    assert len(client.get("/api/jobs", params={"kind": "train"}).json()) == 2
    r = client.get("/api/jobs", params={"belongs_to": run_a})
    assert r.status_code == 422 and r.json()["code"] == "belongs_to_needs_kind"
