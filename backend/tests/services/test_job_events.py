"""The live job stream's poller on a real SQLite file: what it sends each tick."""

from __future__ import annotations

from llm_trainer.core.jobs import ExportParams, JobKind, JobStatus
from llm_trainer.db.base import session_scope
from llm_trainer.db.repositories import jobs as jobs_repo
from llm_trainer.services.job_events import JobEventHub


def _export_job(factory, status: JobStatus | None = None) -> int:
    with session_scope(factory) as session:
        job = jobs_repo.submit(session, JobKind.EXPORT, ExportParams(version_id=1, variant="onnx"))
        if status is not None:
            jobs_repo.transition(session, job.id, JobStatus.QUEUED, status)
        return job.id


def test_a_job_that_ends_between_two_ticks_is_still_sent_once(factory):
    hub = JobEventHub(factory)
    old = _export_job(factory, JobStatus.CANCELLED)
    assert hub._changes() == []  # finished before anyone watched: not news
    queued = _export_job(factory)
    quick = _export_job(factory, JobStatus.CANCELLED)  # created and ended within one tick
    sent = hub._changes()
    assert sorted((s["id"], s["status"]) for s in sent) == [(queued, "queued"), (quick, "cancelled")]
    assert old not in [s["id"] for s in sent]
    assert hub._changes() == []  # nothing changed: nothing sent, the ended job is not sent again
    with session_scope(factory) as session:
        jobs_repo.transition(session, queued, JobStatus.QUEUED, JobStatus.CANCELLED)
    assert [(s["id"], s["status"]) for s in hub._changes()] == [(queued, "cancelled")]
    assert hub._changes() == [] and hub.last == {}
