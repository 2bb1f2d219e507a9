"""A training reporter for tests that call a task's trainer directly: keeps evaluations and log lines, never stops."""

from __future__ import annotations


class Recorder:
    def __init__(self) -> None:
        self.evals: list[dict] = []
        self.lines: list[str] = []

    def progress(self, snapshot: dict) -> None:
        pass

    def metric(self, kind: str, step: int, epoch: float, values: dict) -> None:
        if kind == "eval":
            self.evals.append(values)

    def stop_requested(self) -> bool:
        return False

    def info(self, message: str) -> None:
        self.lines.append(message)
