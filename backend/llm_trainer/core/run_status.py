"""Training-run lifecycle: the status enum and the only transitions allowed between its values, and the phases a
running run reports in its progress (what it is doing now)."""

from __future__ import annotations

from enum import StrEnum


class RunPhase(StrEnum):
    STARTING = "starting"
    LOADING_MODEL = "loading_model"
    MEASURING = "measuring"  # the time budget times real steps
    TRAINING = "training"
    EVALUATING = "evaluating"
    BASELINE = "baseline"
    SAVING = "saving"
    DONE = "done"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    STOPPING = "stopping"
    SUCCEEDED = "succeeded"
    STOPPED = "stopped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_resumable(self) -> bool:
        return self in (RunStatus.STOPPED, RunStatus.INTERRUPTED)


TERMINAL = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.STOPPED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED}
)

ALLOWED_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED}),
    RunStatus.RUNNING: frozenset({RunStatus.STOPPING, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.INTERRUPTED}),
    RunStatus.STOPPING: frozenset({RunStatus.STOPPED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.INTERRUPTED}),
    # Resume puts a stopped/interrupted run back in the queue.
    RunStatus.STOPPED: frozenset({RunStatus.QUEUED}),
    RunStatus.INTERRUPTED: frozenset({RunStatus.QUEUED}),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


class InvalidTransition(ValueError):
    pass


def check_transition(current: RunStatus | str, new: RunStatus | str) -> RunStatus:
    """Return `new` as a RunStatus, or raise InvalidTransition when the lifecycle forbids the move."""
    cur, nxt = RunStatus(current), RunStatus(new)
    if nxt not in ALLOWED_TRANSITIONS[cur]:
        raise InvalidTransition(f"run cannot go from {cur.value} to {nxt.value}")
    return nxt
