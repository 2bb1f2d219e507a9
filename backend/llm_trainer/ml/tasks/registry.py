"""TaskKind -> TaskSpec. Task folders register themselves at import; `get_spec` imports them on first use."""

from __future__ import annotations

import importlib
from pathlib import Path

from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.tasks import TaskDetection, TaskKind
from llm_trainer.datafiles.sample import sample_file
from llm_trainer.ml.tasks.spec import TaskSpec

# One line per task folder (import registers the spec); heavy libraries stay inside the methods.
TASK_MODULES = (
    "llm_trainer.ml.tasks.classification",
    "llm_trainer.ml.tasks.multi_label",
    "llm_trainer.ml.tasks.pair",
    "llm_trainer.ml.tasks.ner",
    "llm_trainer.ml.tasks.generation",
)

# Most specific layouts first: chat and entity records also hold a text, a pair file also a label column.
DETECTION_ORDER = (TaskKind.GENERATION, TaskKind.NER, TaskKind.PAIR, TaskKind.MULTI_LABEL, TaskKind.CLASSIFICATION)

_SPECS: dict[TaskKind, TaskSpec] = {}
_loaded = False


def register(spec: TaskSpec) -> TaskSpec:
    _SPECS[spec.kind] = spec
    return spec


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for module in TASK_MODULES:
            importlib.import_module(module)
        _loaded = True


def available_tasks() -> list[TaskKind]:
    """Tasks that can be trained in this build, in TaskKind order."""
    _load_all()
    return [k for k in TaskKind if k in _SPECS]


def get_spec(task: str | TaskKind | None) -> TaskSpec:
    """The spec of `task` (None = classification, what rows from before tasks existed are)."""
    _load_all()
    try:
        kind = TaskKind(task or TaskKind.CLASSIFICATION)
    except ValueError:
        kind = None
    if kind is None or kind not in _SPECS:
        names = ", ".join(k.value for k in available_tasks())
        raise InvalidInput(
            f"Unknown or unavailable task '{task}'. Choose one of: {names}.",
            code="unknown_task",
            details={"task": str(task), "available": [k.value for k in available_tasks()]},
        )
    return _SPECS[kind]


def detect_task(path: Path, filename: str) -> TaskDetection:
    """The task whose layout an upload is in, from its first records (task None when no task recognises it)."""
    _load_all()
    sample = sample_file(path, filename)
    for kind in DETECTION_ORDER:
        if kind in _SPECS and (evidence := _SPECS[kind].recognise(sample)):
            return TaskDetection(task=kind, evidence=evidence)
    return TaskDetection()
