"""Fault tests of the job system with real processes and a real SQLite file: a hung worker (SIGSTOP), a killed
worker (kill -9), a killed server (kill -9 of uvicorn) during a run and a batch job, while a version is saved and
while an export runs (the windows held open by test-only sitecustomize hooks), and a model deleted while requests and
a batch job use it. Each ends with PRAGMA integrity_check = ok and no job left running. Also: a full disk while saving
a version, a database locked by a long write, two clients queueing runs at the same instant."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, text

from llm_trainer.core.config import Settings
from llm_trainer.core.jobs import JobKind
from llm_trainer.core.run_status import RunStatus
from llm_trainer.db.base import make_engine, make_session_factory, session_scope
from llm_trainer.db.models import Job, ModelVersion, Run
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.db.repositories import runs as runs_repo
from llm_trainer.ml.training.config import TrainingConfig
from llm_trainer.services import training
from llm_trainer.worker.launch import worker_env
from llm_trainer.worker.reporter import DbReporter
from tests.conftest import run_server, start_server
from tests.helpers.runs import default_answerer, finished, wait_run
from tests.helpers.training_data import insert_dataset, review_rows
from tests.helpers.versions import make_version, review_texts

# These runs must stay long: on a loaded machine the CPU time budget would cut their epochs.
NO_BUDGET = {"time_budget_minutes": 0}


def _factory(data_dir: Path):
    return make_session_factory(make_engine(Settings(data_dir=data_dir).db_path))


def _assert_healthy(factory) -> dict[int, Job]:
    """Integrity ok, nothing stuck in running; returns the jobs by id."""
    with session_scope(factory) as session:
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        assert not jobs_repo.running(session), "no job is left running"
        return {job.id: job for job in jobs_repo.list_jobs(session)}


def _train_job(jobs: dict[int, Job], run_id: int) -> Job:
    [job] = [j for j in jobs.values() if j.kind == "train" and j.params["run_id"] == run_id]
    return job


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def test_sigstop_of_a_worker_times_out_as_interrupted_and_the_next_run_starts(data_dir, tiny_model_dir, tmp_path):
    env = {"LLM_TRAINER_JOB_HEARTBEAT_TIMEOUT_S": "8", "LLM_TRAINER_JOB_HEARTBEAT_SLOW_TIMEOUT_S": "20"}
    with run_server(data_dir, tmp_path / "server.log", env) as url, httpx.Client(base_url=url) as http:
        factory = _factory(data_dir)
        dataset_id = insert_dataset(factory, review_rows(40))
        body = {"dataset_id": dataset_id, "base_model": str(tiny_model_dir)}
        hung = http.post("/train", json={**body, "config": {"epochs": 100, "batch_size": 2, **NO_BUDGET}}).json()
        after = http.post("/train", json={**body, "config": {"epochs": 1, "batch_size": 16}}).json()
        run = wait_run(http.get, hung["id"], lambda r: (r["progress"].get("step") or 0) >= 3, timeout=180)
        os.killpg(run["pid"], signal.SIGSTOP)  # a hang: alive, silent
        stopped_at = time.monotonic()
        run = wait_run(http.get, hung["id"], finished, timeout=90)
        assert run["status"] == "interrupted" and "No heartbeat" in run["error_message"], run
        assert time.monotonic() - stopped_at >= 8
        assert _gone(run["pid"]), "its process group was killed"
        nxt = wait_run(http.get, after["id"], finished, timeout=240)
        assert nxt["status"] == "succeeded", nxt["error_message"] + nxt["log_tail"]
        # The first answer loads the version (and, where its blend answers, the baseline's libraries) while its export
        # traces the graph on the same cores: seconds, more than the client's default 5 s timeout on a busy machine.
        answer = http.post("/predict", json={"text": "好吃", "model_id": nxt["model_version_ids"][0]}, timeout=60)
        assert answer.status_code == 200  # the finished version loads and answers
        _wait_copy(http, nxt["model_version_ids"][0])  # its fast-serving export job ends too
        jobs = _assert_healthy(factory)
        assert _train_job(jobs, hung["id"]).status == "interrupted"
        assert "No heartbeat" in _train_job(jobs, hung["id"]).error_message
        assert _train_job(jobs, after["id"]).status == "succeeded"


def test_kill_9_of_a_worker_interrupts_it_and_resume_continues_from_its_checkpoint(data_dir, tiny_model_dir, tmp_path):
    with run_server(data_dir, tmp_path / "server.log") as url, httpx.Client(base_url=url) as http:
        factory = _factory(data_dir)
        # Long epochs: progress (written about once a second) must be seen past a checkpoint before the next one.
        dataset_id = insert_dataset(factory, review_rows(2000))
        config = {"epochs": 3, "batch_size": 2, "save_strategy": "epoch", "seed": 5, **NO_BUDGET}
        created = http.post("/train", json={"dataset_id": dataset_id, "base_model": str(tiny_model_dir),
                                            "config": config}).json()  # fmt: skip
        checkpoints = data_dir / "runs" / str(created["id"]) / "checkpoints"

        def past_a_checkpoint(r: dict) -> bool:
            saved = (
                [int(p.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*")] if checkpoints.exists() else []
            )
            return bool(saved) and (r["progress"].get("step") or 0) > max(saved) + 1

        run = wait_run(http.get, created["id"], past_a_checkpoint, timeout=240)
        saved = max(int(p.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*"))
        os.killpg(run["pid"], signal.SIGKILL)
        run = wait_run(http.get, created["id"], finished, timeout=30)
        assert run["status"] == "interrupted" and "killed" in run["error_message"]
        assert "Resume" in run["error_message"]
        assert http.post(f"/api/runs/{run['id']}/resume").json()["status"] == "queued"
        done = wait_run(http.get, run["id"], finished, timeout=300)
        assert done["status"] == "succeeded", done["error_message"] + done["log_tail"]
        version = http.get(f"/api/models/{done['model_version_ids'][0]}").json()
        assert version["metrics"]["resumed_from_step"] >= saved  # it continued from the checkpoint, not from 0
        assert http.post("/predict", json={"text": "好吃", "model_id": version["id"]}).status_code == 200
        _wait_copy(http, version["id"])  # its fast-serving export job ends too
        jobs = _assert_healthy(factory)
        job = _train_job(jobs, run["id"])
        assert (job.status, job.attempts, job.result["version_id"]) == ("succeeded", 2, version["id"])


def test_kill_9_of_the_server_during_a_run_and_a_batch_job_is_reconciled_at_start(data_dir, tiny_model_dir, tmp_path):
    settings = Settings(data_dir=data_dir)
    settings.ensure_dirs()
    factory = _factory(data_dir)
    log = tmp_path / "server.log"
    server, url = start_server(data_dir, log)
    try:
        version_id = make_version(settings)
        dataset_id = insert_dataset(factory, review_rows(40))
        rows = "\n".join(t for t, _ in review_texts(40, seed=3))
        big = ("评论\n" + "\n".join([rows] * 500) + "\n").encode("utf-8")  # 20 000 rows: seconds of work
        with httpx.Client(base_url=url, timeout=60) as http:
            body = {"dataset_id": dataset_id, "base_model": str(tiny_model_dir), "config": {"epochs": 100, **NO_BUDGET}}
            run_id = http.post("/train", json=body).json()["id"]
            batch = http.post("/api/predict/batch", files={"file": ("big.csv", big)}, data={"model_id": version_id})
            batch_id = batch.json()["id"]
            run = wait_run(http.get, run_id, lambda r: (r["progress"].get("step") or 0) >= 2, timeout=180)
            deadline = time.monotonic() + 120
            while http.get(f"/api/predict/batch/{batch_id}").json()["done"] == 0:
                assert time.monotonic() < deadline, "the batch job never started"
                time.sleep(0.2)
        server.kill()  # kill -9: no shutdown hook runs
        server.wait()
        assert _gone(run["pid"]), "the worker does not keep training without its server"
    finally:
        if server.poll() is None:
            server.kill()
    with session_scope(factory) as session:
        left = {job.kind: job.status for job in jobs_repo.list_jobs(session)}
    assert left["batch_predict"] == "running", "the dead server left its batch job running"
    with run_server(data_dir, log) as url, httpx.Client(base_url=url) as http:
        run = wait_run(http.get, run_id, finished, timeout=60)
        assert run["status"] == "interrupted" and "resume" in run["error_message"].lower()
        deadline = time.monotonic() + 300
        while (job := http.get(f"/api/predict/batch/{batch_id}").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
        assert (job["status"], job["done"], job["total"]) == ("succeeded", 20_000, 20_000), job
        jobs = _assert_healthy(factory)
        assert _train_job(jobs, run_id).status == "interrupted"
        [batch_job] = [j for j in jobs.values() if j.kind == "batch_predict"]
        assert batch_job.attempts == 2  # claimed by the dead server, re-queued, claimed again
    assert "re-queued" in log.read_text(encoding="utf-8") or "queued again" in log.read_text(encoding="utf-8")


def test_stopping_the_server_during_a_batch_job_queues_it_again_leaving_no_half_file_and_the_next_start_finishes_it(
    data_dir, tmp_path
):
    settings = Settings(data_dir=data_dir)
    settings.ensure_dirs()
    log = tmp_path / "server.log"
    rows = "\n".join(t for t, _ in review_texts(40, seed=3))
    big = ("评论\n" + "\n".join([rows] * 1500) + "\n").encode("utf-8")  # 60 000 rows: many seconds of work
    server, url = start_server(data_dir, log)
    try:
        version_id = make_version(settings)
        with httpx.Client(base_url=url, timeout=60) as http:
            batch_id = http.post("/api/predict/batch", files={"file": ("big.csv", big)}, data={"model_id": version_id})
            batch_id = batch_id.json()["id"]
            deadline = time.monotonic() + 120
            while (job := http.get(f"/api/predict/batch/{batch_id}").json())["done"] == 0:
                assert time.monotonic() < deadline, "the batch job never started"
                time.sleep(0.2)
        server.terminate()  # SIGTERM, as Ctrl-C on `make run`
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    text = log.read_text(encoding="utf-8")
    assert "Application shutdown complete" in text and "the server is stopping; queued again" in text
    with session_scope(_factory(data_dir)) as session:
        [queued] = jobs_repo.list_jobs(session, JobKind.BATCH_PREDICT)
    assert (queued.status, queued.owner, queued.attempts) == ("queued", "", 0), "given back, not failed"
    assert not [*data_dir.rglob("predictions.*")], "no half-written predictions file is left"
    with run_server(data_dir, log) as url, httpx.Client(base_url=url, timeout=60) as http:
        assert http.get(f"/api/predict/batch/{batch_id}").json()["done"] == 0, "a queued job starts from row 0"
        deadline = time.monotonic() + 300
        while (job := http.get(f"/api/predict/batch/{batch_id}").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
        assert (job["status"], job["done"], job["total"]) == ("succeeded", 60_000, 60_000), job
        _assert_healthy(_factory(data_dir))


DISK_FULL_HOOK = """
import errno

from llm_trainer.ml import version_store


def _disk_full(path):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


version_store._fsync = _disk_full  # the version writer's fsync: the real write path fails as on a full disk
"""


def test_disk_full_while_saving_leaves_no_half_version_and_the_run_resumes(factory, settings, tiny_model_dir, tmp_path):
    dataset_id = insert_dataset(factory, review_rows(40))
    config = TrainingConfig(epochs=2, batch_size=8, save_strategy="epoch").model_dump()
    with session_scope(factory) as session:
        run = runs_repo.create_run(session, dataset_id=dataset_id, base_model=str(tiny_model_dir), config=config)
        run.status = RunStatus.RUNNING.value
        run_id = run.id
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(DISK_FULL_HOOK, encoding="utf-8")

    def worker(extra_path: str = "") -> int:
        env = worker_env({}, settings.data_dir)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, os.environ.get("PYTHONPATH", "")) if p)
        log = settings.runs_dir / str(run_id) / "train.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            cmd = [sys.executable, "-m", "llm_trainer.worker", str(run_id)]
            return subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300).returncode

    assert worker(str(hook)) == 1
    with session_scope(factory) as session:
        run = session.get(Run, run_id)
        assert run.status == "interrupted" and "disk is full" in run.error_message, run.error_message
        assert session.query(ModelVersion).count() == 0, "no version row without its files"
    models = settings.models_dir
    assert not [p for p in models.iterdir()], "no half-written version folder, no staging folder left"
    assert list((settings.runs_dir / str(run_id) / "checkpoints").glob("checkpoint-*")), "checkpoints kept"

    with session_scope(factory) as session:  # space freed: resume, as the dispatcher would start it
        assert training.resume_run(session, run_id).status == "queued"
        assert runs_repo.transition(session, run_id, RunStatus.RUNNING)
    assert worker() == 0
    with session_scope(factory) as session:
        run = session.get(Run, run_id)
        [version] = session.query(ModelVersion).all()
        assert run.status == "succeeded" and version.metrics["resumed_from_step"] > 0
        assert (Path(version.path) / "llm_trainer.json").is_file()
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"


@pytest.fixture
def locked(factory, settings) -> Iterator[tuple[int, DbReporter, Any]]:
    """(run id, its reporter, a connection holding the write lock as a long upload would)."""
    dataset_id = insert_dataset(factory, review_rows(10))
    with session_scope(factory) as session:
        run_id = runs_repo.create_run(session, dataset_id=dataset_id, base_model="tfidf").id
    # The worker's real SQLite file, with a short lock wait so the test need not sit out the 30 s busy timeout.
    impatient = create_engine(f"sqlite:///{settings.db_path}", connect_args={"timeout": 0.5})
    blocker = make_engine(settings.db_path).raw_connection()
    blocker.execute("BEGIN IMMEDIATE")
    yield run_id, DbReporter(make_session_factory(impatient), run_id), blocker
    impatient.dispose()


def test_a_locked_database_delays_progress_writes_without_failing_the_run(factory, locked, caplog):
    run_id, reporter, blocker = locked
    reporter.progress({"phase": "training", "step": 1})
    reporter.metric("train", 1, 0.1, {"loss": 0.9})
    with caplog.at_level("WARNING", logger="llm_trainer.worker"):
        reporter.flush(force=True)  # waits, gives up for now, keeps the points
    assert "database is locked" in caplog.text
    blocker.rollback()
    blocker.close()
    reporter.progress({"phase": "training", "step": 2})
    reporter.flush(force=True)
    with session_scope(factory) as session:
        run = session.get(Run, run_id)
        assert run.progress["step"] == 2
        assert [m.values["loss"] for m in runs_repo.list_metrics(session, run_id)] == [0.9], "no point lost"
        assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def test_a_runs_last_progress_lost_to_a_locked_database_is_written_with_its_final_status(factory, locked, caplog):
    run_id, reporter, blocker = locked
    reporter.progress({"phase": "done", "model_version_id": 7})  # the version id the run page links to
    with caplog.at_level("WARNING", logger="llm_trainer.worker"):
        reporter.flush(force=True)
    assert "database is locked" in caplog.text
    blocker.rollback()
    blocker.close()
    with session_scope(factory) as session:  # the worker's final transaction (runner._finish_status)
        reporter.write_pending(session)
    with session_scope(factory) as session:
        assert session.get(Run, run_id).progress["model_version_id"] == 7


def test_two_clients_posting_train_at_the_same_instant_never_run_beyond_the_limit(data_dir, tiny_model_dir, tmp_path):
    with run_server(data_dir, tmp_path / "server.log") as url, httpx.Client(base_url=url) as http:
        factory = _factory(data_dir)
        dataset_id = insert_dataset(factory, review_rows(40))
        body = {"dataset_id": dataset_id, "base_model": str(tiny_model_dir), "config": {"epochs": 3, "batch_size": 8}}
        barrier = threading.Barrier(2)

        def post(_: int) -> dict:
            with httpx.Client(base_url=url) as client:
                barrier.wait()
                return client.post("/train", json=body).json()

        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(post, range(2))
        runs = [wait_run(http.get, r["id"], finished, timeout=240) for r in (a, b)]
        assert [r["status"] for r in runs] == ["succeeded", "succeeded"], [r["log_tail"] for r in runs]
        first, second = sorted(runs, key=lambda r: r["started_at"])
        assert first["finished_at"] <= second["started_at"], "one run at a time (LLM_TRAINER_MAX_CONCURRENT_RUNS=1)"
        for r in runs:
            _wait_copy(http, r["model_version_ids"][0])  # their fast-serving export jobs end too
        jobs = _assert_healthy(factory)
        assert all(_train_job(jobs, r["id"]).attempts == 1 for r in runs), "no job was started twice"


SAVE_PAUSE_HOOK = """
import os
import time
from pathlib import Path

from llm_trainer.worker import runner

_publish = runner.publish


def _published_then_paused(staged, final):
    published = _publish(staged, final)
    Path(os.environ["SAVE_PAUSE_MARKER"]).write_text(str(published), encoding="utf-8")
    time.sleep(600)  # the test kills the server here: the version folder is in place, its row not committed
    return published


runner.publish = _published_then_paused
"""

EXPORT_PAUSE_HOOK = """
import os
import time
from pathlib import Path

from llm_trainer.ml.inference import export

_build = export._export_fp32


def _paused_build(version_dir, out):
    Path(os.environ["EXPORT_PAUSE_MARKER"] + ".pid").write_text(str(os.getpid()), encoding="utf-8")
    Path(os.environ["EXPORT_PAUSE_MARKER"]).write_text(str(out), encoding="utf-8")
    time.sleep(600)  # the test kills the server here, in the middle of the export job
    _build(version_dir, out)


export._export_fp32 = _paused_build
"""


def _hooked_env(tmp_path: Path, hook: str, marker: str) -> tuple[dict[str, str], Path]:
    """Environment that loads `hook` (a sitecustomize) in the server and its workers, and the marker it writes."""
    folder = tmp_path / "hook"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(hook, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    signal_file = tmp_path / "paused"
    return {"PYTHONPATH": path, marker: str(signal_file)}, signal_file


def _wait_file(path: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.2)
    return path.read_text(encoding="utf-8")


def _wait_copy(http: httpx.Client, version_id: int, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while (detail := http.get(f"/api/models/{version_id}").json())["variants"]["onnx"]["status"] == "building":
        assert time.monotonic() < deadline, detail
        time.sleep(0.3)
    return detail


def test_kill_9_of_the_server_while_a_version_is_saved_leaves_no_half_version_and_the_run_resumes(
    data_dir, tiny_model_dir, tmp_path
):
    factory = _factory(data_dir)
    log = tmp_path / "server.log"
    env, paused = _hooked_env(tmp_path, SAVE_PAUSE_HOOK, "SAVE_PAUSE_MARKER")
    server, url = start_server(data_dir, log, env)
    try:
        dataset_id = insert_dataset(factory, review_rows(40))
        config = {"epochs": 2, "batch_size": 8, "save_strategy": "epoch", "seed": 3}
        with httpx.Client(base_url=url, timeout=60) as http:
            run_id = http.post("/train", json={"dataset_id": dataset_id, "base_model": str(tiny_model_dir),
                                               "config": config}).json()["id"]  # fmt: skip
            published = Path(_wait_file(paused, timeout=240))
            pid = http.get(f"/api/runs/{run_id}").json()["pid"]
        assert published.is_dir() and published.parent == data_dir / "models", "renamed into place, row pending"
        server.kill()  # kill -9 between the folder's rename and its row's commit
        server.wait()
        assert _gone(pid), "the worker does not keep saving without its server"
    finally:
        if server.poll() is None:
            server.kill()
    with session_scope(factory) as session:
        assert session.query(ModelVersion).count() == 0, "the row never committed"
    with run_server(data_dir, log) as url, httpx.Client(base_url=url, timeout=60) as http:
        run = wait_run(http.get, run_id, finished, timeout=60)
        assert run["status"] == "interrupted" and "resume" in run["error_message"].lower(), run
        assert not published.exists(), "the folder without a row was swept at start"
        assert not list((data_dir / "models").glob(".tmp-run*")), "no staging folder left"
        assert list((data_dir / "runs" / str(run_id) / "checkpoints").glob("checkpoint-*")), "checkpoints kept"
        assert http.post(f"/api/runs/{run_id}/resume").json()["status"] == "queued"
        done = wait_run(http.get, run_id, finished, timeout=300)
        assert done["status"] == "succeeded", done["error_message"] + done["log_tail"]
        [version_id] = done["model_version_ids"]
        assert http.get(f"/api/models/{version_id}").json()["metrics"]["resumed_from_step"] > 0
        assert http.post("/predict", json={"text": "好吃", "model_id": version_id}).status_code == 200
        _wait_copy(http, version_id)  # its fast-serving export job ends too: nothing left running
        jobs = _assert_healthy(factory)
        assert (_train_job(jobs, run_id).status, _train_job(jobs, run_id).attempts) == ("succeeded", 2)
    assert "removed orphan" in log.read_text(encoding="utf-8")


def _server_paused_in_an_export(data_dir, tiny_model_dir, tmp_path) -> tuple[subprocess.Popen, int, Path, int]:
    """A server whose fast-serving export (queued by a tiny run) is paused inside its tracing process:
    (the server, the version, the export's .partial folder, the tracer's pid)."""
    env, paused = _hooked_env(tmp_path, EXPORT_PAUSE_HOOK, "EXPORT_PAUSE_MARKER")
    server, url = start_server(data_dir, tmp_path / "server.log", env)
    try:
        dataset_id = insert_dataset(_factory(data_dir), review_rows(40))
        config = {"epochs": 2, "batch_size": 8, "learning_rate": 5e-3}
        with httpx.Client(base_url=url, timeout=60) as http:
            run_id = http.post("/train", json={"dataset_id": dataset_id, "base_model": str(tiny_model_dir),
                                               "config": config}).json()["id"]  # fmt: skip
            run = wait_run(http.get, run_id, finished, timeout=240)
            assert run["status"] == "succeeded", run["error_message"] + run["log_tail"]
            [version_id] = run["model_version_ids"]
            partial = Path(_wait_file(paused, timeout=120)).parent  # the fast-serving export job is building
            detail = http.get(f"/api/models/{version_id}").json()
            answerer = default_answerer(detail, "pytorch")  # until the copy is built
            assert detail["serving_variant"] == answerer
            answer = http.post("/predict", json={"text": "好吃", "model_id": version_id}).json()
            assert (
                answer["variant"] == answerer
                and (answer["ensemble"] or {}).get("model_variant", "pytorch") == "pytorch"
            )
        tracer = int(Path(f"{paused}.pid").read_text(encoding="utf-8"))
        assert tracer != server.pid, "the graph is traced in a process of its own"
        return server, version_id, partial, tracer
    except BaseException:
        server.kill()
        raise


def _export_job(factory) -> Job:
    with session_scope(factory) as session:
        [export] = jobs_repo.list_jobs(session, JobKind.EXPORT)
        return export


def _restart_builds_the_copy(data_dir, log: Path, version_id: int, attempts: int) -> None:
    with run_server(data_dir, log) as url, httpx.Client(base_url=url, timeout=60) as http:
        detail = _wait_copy(http, version_id)
        answerer = default_answerer(detail, "onnx")  # the copy answers, alone or inside the blend
        assert detail["variants"]["onnx"]["status"] == "ready" and detail["serving_variant"] == answerer, detail
        answer = http.post("/predict", json={"text": "好吃", "model_id": version_id}).json()
        assert answer["variant"] == answerer and (answer["ensemble"] or {}).get("model_variant", "onnx") == "onnx"
        jobs = _assert_healthy(_factory(data_dir))
        [export] = [job for job in jobs.values() if job.kind == "export"]
        assert (export.status, export.attempts) == ("succeeded", attempts)


def test_kill_9_of_the_server_during_an_export_ends_its_tracing_process_requeues_it_once_and_it_then_succeeds(
    data_dir, tiny_model_dir, tmp_path
):
    server, version_id, partial, tracer = _server_paused_in_an_export(data_dir, tiny_model_dir, tmp_path)
    server.kill()
    server.wait()
    assert _gone(tracer, timeout=10), "the tracing process does not outlive its server"
    export = _export_job(_factory(data_dir))
    assert (export.status, export.attempts) == ("running", 1), "the dead server left its export running"
    assert partial.is_dir() and partial.name.endswith(".partial")
    log = tmp_path / "server.log"
    _restart_builds_the_copy(data_dir, log, version_id, attempts=2)  # re-queued once, then built
    assert not partial.exists(), "the cut-short build was swept"
    assert "queued again" in log.read_text(encoding="utf-8")


def test_stopping_the_server_during_an_export_ends_its_tracing_process_and_queues_the_export_for_the_next_start(
    data_dir, tiny_model_dir, tmp_path
):
    server, version_id, partial, tracer = _server_paused_in_an_export(data_dir, tiny_model_dir, tmp_path)
    server.terminate()  # SIGTERM: uvicorn's graceful shutdown, as Ctrl-C on `make run` (it then re-raises the signal)
    server.wait(timeout=30)
    log = tmp_path / "server.log"
    assert "Application shutdown complete" in log.read_text(encoding="utf-8")
    assert _gone(tracer, timeout=1), "the server stopped its tracing process before it exited"
    export = _export_job(_factory(data_dir))
    assert (export.status, export.owner, export.error_message) == ("queued", "", ""), "not failed: queued again"
    assert export.attempts == 0, "a stop on purpose is not one of the deaths the restart policy counts"
    assert not partial.exists(), "the stopped build left nothing half-written"
    assert "the server is stopping; queued again" in log.read_text(encoding="utf-8")
    _restart_builds_the_copy(data_dir, log, version_id, attempts=1)


def test_deleting_a_model_while_requests_and_a_batch_job_use_it_is_refused_then_clean_and_its_id_never_returns(
    data_dir, tmp_path
):
    settings = Settings(data_dir=data_dir)
    settings.ensure_dirs()
    factory = _factory(data_dir)
    with run_server(data_dir, tmp_path / "server.log") as url, httpx.Client(base_url=url, timeout=60) as http:
        doomed = make_version(settings, "to delete")
        rows = "\n".join(t for t, _ in review_texts(40, seed=3))
        big = ("评论\n" + "\n".join([rows] * 250) + "\n").encode("utf-8")  # 10 000 rows: seconds of work
        batch_id = http.post("/api/predict/batch", files={"file": ("big.csv", big)}, data={"model_id": doomed}).json()[
            "id"
        ]
        answers: list[tuple[float, int, str]] = []
        stop = threading.Event()

        def keep_asking() -> None:
            with httpx.Client(base_url=url, timeout=60) as own:
                while not stop.is_set():
                    resp = own.post("/predict", json={"text": "菜很好吃", "model_id": doomed})
                    answers.append((time.monotonic(), resp.status_code, resp.json().get("label") or resp.text))

        with ThreadPoolExecutor(2) as pool:
            for _ in range(2):
                pool.submit(keep_asking)
            refused = http.delete(f"/api/models/{doomed}")
            assert refused.status_code == 409 and refused.json()["code"] == "model_in_use", refused.text
            assert "batch prediction" in refused.json()["message"] and "Wait" in refused.json()["message"]
            deadline = time.monotonic() + 300
            while (job := http.get(f"/api/predict/batch/{batch_id}").json())["status"] in ("queued", "running"):
                assert time.monotonic() < deadline, job
                time.sleep(0.3)
            assert (job["status"], job["done"]) == ("succeeded", 10_000), job
            deleted = http.delete(f"/api/models/{doomed}")
            deleted_at = time.monotonic()
            assert deleted.status_code == 204, deleted.text
            time.sleep(1.0)  # requests keep coming after the delete
            stop.set()
        codes = {code for _, code, _ in answers}
        assert codes <= {200, 404}, [a for a in answers if a[1] not in (200, 404)][:3]
        assert all(label == "好评" for _, code, label in answers if code == 200), "answered by the right model"
        assert any(code == 200 for _, code, _ in answers)
        late = [a for a in answers if a[0] > deleted_at + 0.5]
        assert late and all(code == 404 and "does not exist" in text for _, code, text in late), late[:3]
        assert not (data_dir / "models" / str(doomed)).exists()

        newer = make_version(settings, "after the delete")
        assert newer > doomed, "a deleted id is never handed out again"
        gone = http.post("/predict", json={"text": "好吃", "model_id": doomed})
        assert gone.status_code == 404, "the deleted id is not answered by the new version"
        assert http.post("/predict", json={"text": "好吃", "model_id": newer}).status_code == 200
        _assert_healthy(factory)
