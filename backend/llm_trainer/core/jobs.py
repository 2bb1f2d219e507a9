"""A job: every long piece of background work (training, batch prediction, export, model preparation).

The kinds, the one status lifecycle, the typed params/result per kind and each kind's restart policy live here.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from llm_trainer.core.run_status import RunPhase


class JobKind(StrEnum):
    TRAIN = "train"
    BATCH_PREDICT = "batch_predict"
    EXPORT = "export"
    PREPARE_MODEL = "prepare_model"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELLED, JobStatus.INTERRUPTED}
)

ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.INTERRUPTED, JobStatus.QUEUED}
    ),
    # Resume / retry puts a stopped or interrupted job back in the queue.
    JobStatus.STOPPED: frozenset({JobStatus.QUEUED}),
    JobStatus.INTERRUPTED: frozenset({JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class InvalidJobTransition(ValueError):
    pass


def check_transition(current: JobStatus | str, new: JobStatus | str) -> JobStatus:
    """Return `new` as a JobStatus, or raise InvalidJobTransition when the lifecycle forbids the move."""
    cur, nxt = JobStatus(current), JobStatus(new)
    if nxt not in ALLOWED_TRANSITIONS[cur]:
        raise InvalidJobTransition(f"job cannot go from {cur.value} to {nxt.value}")
    return nxt


class RestartPolicy(StrEnum):
    """What start-up does with a job left `running` by a process that died."""

    INTERRUPT = "interrupt"  # marked interrupted; the user resumes it (training resumes from its last checkpoint)
    REQUEUE_IF_INPUT = "requeue_if_input"  # queued again while its input file exists, else failed with a message
    REQUEUE_ONCE = "requeue_once"  # queued again once; a second death fails it


RESTART_POLICY: dict[JobKind, RestartPolicy] = {
    JobKind.TRAIN: RestartPolicy.INTERRUPT,
    JobKind.BATCH_PREDICT: RestartPolicy.REQUEUE_IF_INPUT,
    JobKind.EXPORT: RestartPolicy.REQUEUE_ONCE,
    JobKind.PREPARE_MODEL: RestartPolicy.REQUEUE_ONCE,
}


# Phases (progress.message) that may stay silent long: the slow heartbeat timeout applies while a job is in one
# ("measuring": the time budget times whole steps of the longest texts, minutes on a busy CPU).
SLOW_PHASES = frozenset(
    {
        RunPhase.STARTING,
        RunPhase.LOADING_MODEL,
        RunPhase.MEASURING,
        RunPhase.EVALUATING,
        RunPhase.BASELINE,
        RunPhase.SAVING,
    }
)
# Light jobs run in the server's bounded pool; training runs in its own worker process.
LIGHT_KINDS = (JobKind.BATCH_PREDICT, JobKind.EXPORT, JobKind.PREPARE_MODEL)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainParams(_Params):
    run_id: int = Field(description="The training run (runs table) this job executes.")


class BatchPredictParams(_Params):
    batch_job_id: int = Field(description="The batch_jobs row holding the file names and counters.")
    model_id: int | None = Field(default=None, description="Model version that predicts; None once it is deleted.")
    input_path: str = Field(default="", description="Kept upload the job reads (needed to re-queue after a restart).")


class ExportParams(_Params):
    version_id: int = Field(description="Model version to export.")
    variant: str = Field(description="Variant name, e.g. onnx or onnx_int8.")
    fast_serving: bool = Field(
        default=False,
        description="Queued by training: the version answers with the copy once it matches PyTorch on the "
        "validation split (PyTorch answers until then).",
    )


class PrepareModelParams(_Params):
    base_model: str = Field(
        description="Canonical source to download (hub, modelscope:) or convert (embedded:) into the model cache."
    )


PARAMS_BY_KIND: dict[JobKind, type[_Params]] = {
    JobKind.TRAIN: TrainParams,
    JobKind.BATCH_PREDICT: BatchPredictParams,
    JobKind.EXPORT: ExportParams,
    JobKind.PREPARE_MODEL: PrepareModelParams,
}


class JobResult(BaseModel):
    """What a finished job reports back; kinds fill the fields that apply to them."""

    model_config = ConfigDict(extra="forbid")

    version_id: int | None = Field(default=None, description="Version produced (train) or exported (export).")
    output_path: str = Field(default="", description="File written (batch_predict), relative to the data dir.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Summary numbers of the job.")


class JobProgress(BaseModel):
    """The one progress shape every job kind streams (SSE and polling)."""

    done: int = Field(default=0, description="Units finished (steps, rows, files).")
    total: int = Field(default=0, description="Units overall; 0 while unknown.")
    message: str = Field(default="", description="Short human-readable phase, e.g. 'loading model'.")


def parse_params(kind: JobKind | str, params: dict[str, object]) -> _Params:
    """Validate stored params against the model of the job's kind."""
    return PARAMS_BY_KIND[JobKind(kind)].model_validate(params)
