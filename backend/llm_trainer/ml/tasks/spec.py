"""What a task is to the rest of the product: the `TaskSpec` every task folder implements and registers.

A task (core/tasks.py `TaskKind`) lives in `ml/tasks/<task>/` and is found through `ml/tasks/registry.py`; services,
the worker, the API and the CLI only ever call `get_spec(kind)` and these methods, never `if task == ...`.

How to add a task (what the `ner` and `generation` folders do):

1. `ml/tasks/<task>/__init__.py` defines `class <Task>Spec(TaskSpec)` and calls `register(<Task>Spec())` at import;
   add the module to `registry.TASK_MODULES` (one line).
2. Data (`open_ingest`): read the uploaded file and return an `Ingest`: a stream of raw records, a `RowValidator`
   that turns each record into a stored row and, at the end, the validation report, plus the chosen columns.
   The default reads CSV/TSV/XLSX/JSONL through `datafiles.reader.open_table` and resolves `column_roles` with
   `datafiles.columns`; override it for non-tabular files (CoNLL, Label Studio JSON). A stored row is either
   `(idx, text, label, split, conflict)` or `(idx, text, label, split, conflict, text_b, annotation_json)`:
   `label` is a short string for display and filtering (e.g. "外观|动力" or "PER×2,ORG"), `text_b` the second
   text of a pair, `annotation_json` the task's structured target as a JSON string (label list, character spans
   with exclusive end, chat turns). The report must be JSON; `rows_read`, `rows_kept`, `label_counts`,
   `text_length` and `warnings` (list of `{code, message, details}`) are read by every page; add your own keys.
   Bad input raises `core.errors.InvalidInput(message, code=...)` with a message saying how to fix it.
   `recognise(sample)` names what marks a file as the task's own layout, so uploads without a task find it.
3. Training (`check_trainable`, `prepare`, `train_baseline`, `train_model`), called by the worker in that order:
   `prepare(rows, config)` gets every non-conflict `TaskRow` in file order and returns the task's split object
   (whatever the task needs; it must expose `labels` and `val_size`). `train_model(data, job, reporter)` builds the
   model head, collator and loss for the task (sequence classification, token classification with offsets and
   windows, a causal LM with LoRA...), trains with live `reporter` progress and graceful stop, evaluates on the
   validation split and returns a `TrainedVersion` whose `write_files(folder)` writes the servable files (the
   manifest `llm_trainer.json` is already there and gets `manifest_extra` merged in). `train_baseline` does the
   same for the classical model (`base_model == "tfidf"`: TF-IDF+LR, one-vs-rest, pair features, a CRF...).
   `metrics` must hold `primary_metric`; put the baseline's summary under `metrics["baseline"]`.
4. Serving (`variants`, `load_predictor`, `clean_inputs`, `to_public`): `load_predictor(folder, kind, variant)`
   returns an object with `predict(inputs) -> list[answer]` and `warm_up()` (an `ml.inference.predictor.Predictor`
   for classification-like tasks; a streaming generator may add `stream(input)`); `clean_inputs(request)` turns
   the prediction request's fields (`text`/`texts`, `text_a`/`text_b`/`pairs`, `messages`...) into inputs;
   `to_public(answer)` gives the JSON one input answers with (the API documents `response_example`).
   `version_settings` / `update_version_settings`: optional per-version settings a user edits after training
   (multi-label thresholds), stored in the version folder.
5. File prediction (`file_columns`, `file_input`, `file_output_columns`, `file_cells`): which columns of an
   uploaded file a row's input comes from (role -> column; a `label` role is scored against `answer.label`), the
   input itself, and the cells appended to each row of the result CSV. The defaults read one text column and write
   `predicted_label` + `probability`; `services/batch_jobs.py` only ever calls these.
6. UI: `frontend/src/components/tasks/<task>/` and one entry in `frontend/src/components/tasks/registry.ts`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from llm_trainer.core.errors import InvalidInput
from llm_trainer.core.tasks import TaskKind
from llm_trainer.core.variants import ServingVariant, is_offered
from llm_trainer.datafiles.sample import FileSample

# A stored row: (idx, text, label, split, conflict) or the same + (text_b, annotation JSON string).
StoredRow = tuple


class RowValidator(Protocol):
    """Cleans records one at a time and summarises them; see `datafiles.validate.DatasetValidator`."""

    rows_read: int

    def add(self, record: Any) -> StoredRow | None:
        """The row to store, or None when the record is dropped (counted in the report)."""

    def finish(self) -> dict[str, Any]:
        """The validation report; raises InvalidInput when the data cannot train a model of this task."""

    def label_counts(self) -> dict[str, int]:
        """Trainable examples per label (per entity type for NER), most frequent first."""

    @property
    def content_hash(self) -> str: ...

    @property
    def conflict_first_idxs(self) -> list[int]: ...


@dataclass
class Ingest:
    """An opened upload: raw records, their validator, and what to record about the source."""

    records: Iterator[Any]
    validator: RowValidator
    columns: dict[str, str | None]  # role -> chosen column ("text", "label", "text_b", "split"...)
    source: dict[str, Any]  # format, encoding, delimiter, columns, guessed_columns... (merged into report["source"])
    file_format: str = ""
    encoding: str = ""


@dataclass
class TaskRow:
    """One trainable stored row as the worker reads it."""

    text: str
    label: str
    split: str | None
    text_b: str | None = None
    annotation: Any = None


@dataclass
class ModelJob:
    """What `train_model` needs besides the data: base model, config, folders, resume flag."""

    base_model: str
    config: Any  # ml.training.config.TrainingConfig
    work_dir: Path
    cache_dir: Path
    resume: bool = False
    mlflow: bool = False  # an MLflow run is active: the Trainer logs its curves into it


@dataclass(frozen=True)
class ExportCheck:
    """What an exported graph is compared with PyTorch on: validation inputs, their labels (None: sets or unknown),
    PyTorch's saved probabilities and their classes (None: run PyTorch now), whether long texts read in windows."""

    texts: Sequence[Any]
    labels: Sequence[str] | None = None
    reference: tuple[Any, Sequence[str]] | None = None
    windowed: bool = True


Reports = dict[str, dict[str, Any]]  # built graph -> its comparison with PyTorch


@dataclass
class TrainedVersion:
    """A trained model ready to become a version: the worker writes the folder and the DB row atomically."""

    kind: str  # "transformer" | "tfidf" | task-specific classical kind ("crf")
    labels: list[str]
    metrics: dict[str, Any]
    write_files: Callable[[Path], dict[str, Any] | None]  # writes model files; returns the `exports` record
    max_length: int | None = None
    device: str = "cpu"
    stopped: bool = False
    is_main: bool = True  # False on non-zero data-parallel ranks: nothing is saved
    manifest_extra: dict[str, Any] = field(default_factory=dict)  # e.g. multi-label thresholds
    fast_serving: bool = False  # queue the ONNX export job after the save (the folder keeps its validation reference)


class TaskSpec(ABC):
    """One NLP task end to end. Subclasses set the class attributes and implement the abstract methods."""

    kind: TaskKind
    # Column roles of the tabular form, in order; "text" and "label" map onto Dataset.text_column/label_column.
    column_roles: tuple[str, ...] = ("text", "label")
    primary_metric: str = "accuracy"  # what comparisons, best-checkpoint choice and the bench table read
    primary_higher_is_better: bool = True  # False for losses and perplexity
    headline_metrics: tuple[str, ...] = ("accuracy", "macro_f1")  # shown in version lists
    response_example: dict[str, Any] = {}
    file_prediction: bool = True  # POST /api/predict/batch: a task whose answers do not fit table cells sets False
    default_base_model: str = "embedded:multilingual-e5-small"  # the offline model a run uses when none is named
    has_baseline: bool = True  # base model `tfidf` trains the task's classical model (train_baseline)
    generates_text: bool = False  # a chat model: served by /v1/chat/completions and /api/generate (`stream`)
    # The transformer blended with the task's baseline is a serving variant (ml/ensemble.py): `variants` offers
    # "ensemble" and `train_model` records the blend chosen on validation (`attach_ensemble`).
    ensemble: bool = False

    # --- data -------------------------------------------------------------------------------------------------
    def recognise(self, sample: FileSample) -> list[str] | None:
        """The columns, JSON keys or tag scheme that mark an upload as this task's own layout; None when they are
        absent. Uploads without a task ask the tasks in `registry.DETECTION_ORDER`, the first answer wins."""
        return None

    @abstractmethod
    def open_ingest(self, path: Path, filename: str, columns: dict[str, str | None]) -> Ingest:
        """Open an upload; `columns` holds the user's explicit role -> column choices (None = guess)."""

    # --- training ---------------------------------------------------------------------------------------------
    def base_model_problem(self, source: str, architectures: list[str] | None) -> str | None:
        """Why `source` (whose config names `architectures`, None when not known before it is loaded) cannot be
        trained for this task, checked before the run is queued; None when it can or cannot be told yet."""
        return None

    @abstractmethod
    def check_trainable(self, label_counts: dict[str, int], validation_rows: int, config: Any) -> None:
        """Refuse (InvalidInput with `details.field`) a run that cannot train, before it is queued."""

    @abstractmethod
    def prepare(self, rows: Sequence[TaskRow], config: Any) -> Any:
        """Split rows into training and validation data (the task's own object, with `labels` and `val_size`)."""

    @abstractmethod
    def train_baseline(self, data: Any, reporter: Any) -> TrainedVersion:
        """Train the classical model (base model `tfidf`) as a version."""

    @abstractmethod
    def train_model(self, data: Any, job: ModelJob, reporter: Any) -> TrainedVersion:
        """Fine-tune a transformer for this task (head, collator, loss, metrics, fast-serving export)."""

    # --- serving ----------------------------------------------------------------------------------------------
    @abstractmethod
    def variants(self, kind: str) -> tuple[str, ...]:
        """Serving variants a version of `kind` offers (first = always available)."""

    def default_variant(self, kind: str, metrics: dict[str, Any]) -> str:
        """The variant a version serves until the user picks one: the ensemble with its classical baseline where
        training found it better on validation (it reads the fast copy once built), else the first offered (the
        fast copy once built becomes the user's pick, see services/models.py)."""
        offered = self.variants(kind)
        if ServingVariant.ENSEMBLE in offered and is_offered(metrics):
            return ServingVariant.ENSEMBLE.value
        return offered[0]

    @abstractmethod
    def load_predictor(self, version_dir: Path, kind: str, variant: str, warm_up: bool = True) -> Any:
        """A loaded predictor for one variant; FileNotFoundError when that variant was not built."""

    def traceable(self, version_dir: Path, texts: list[str]) -> tuple[Any, dict[str, Any]]:
        """The version's PyTorch model and `texts` encoded as it is served: what the ONNX exporter traces."""
        from llm_trainer.ml.modeling import load_classifier

        tokenizer, model = load_classifier(version_dir, "cpu")
        return model, dict(tokenizer(texts, padding=True, return_tensors="pt"))

    def export_and_compare(self, version_dir: Path, variant: str, check: ExportCheck, stop: Any = None) -> Reports:
        """Build an ONNX variant and score each graph built against PyTorch on `check`'s validation texts (see
        `ml.inference.export.export_and_compare`): {graph: report with agreement and max_probability_diff}."""
        from llm_trainer.ml.inference.export import export_and_compare

        return export_and_compare(
            version_dir, variant, check.texts, check.labels, check.reference, stop, check.windowed
        )

    @abstractmethod
    def clean_inputs(self, fields: dict[str, Any], max_inputs: int, max_chars: int) -> tuple[list[Any], list[bool]]:
        """(inputs, cut-to-max_chars flags) from the request fields; InvalidInput when they do not fit the task."""

    @abstractmethod
    def to_public(self, answer: Any) -> dict[str, Any]:
        """The JSON one input's answer is given as."""

    # --- file prediction: a table in, the same rows plus the task's answer cells out ------------------------------
    def file_columns(self, columns: list[str], chosen: dict[str, str | None]) -> dict[str, str | None]:
        """Role -> column of a file to predict; `chosen` holds the user's explicit names (None = guess)."""
        from llm_trainer.datafiles.columns import choose_columns

        return {"text": choose_columns(columns, chosen.get("text"), None, require_label=False).text}

    def file_input(self, cells: dict[str, str], max_chars: int) -> Any | None:
        """One row's input (cells by role) for the predictor; None for a blank row, which gets blank cells."""
        text = cells["text"]
        return text[:max_chars] if text.strip() else None

    def file_output_columns(self, labels: Sequence[str]) -> list[str]:
        """Names of the columns appended to every row (`labels`: the version's labels)."""
        return ["predicted_label", "probability"]

    def file_cells(self, answer: Any, labels: Sequence[str]) -> list[str]:
        """One answer as the appended cells, in `file_output_columns` order."""
        return [answer.label, f"{answer.score:.6f}"]

    # --- per-version settings a user may edit after training (multi-label thresholds); none by default ---------
    def version_settings(self, version_dir: Path, variant: str) -> dict[str, Any]:
        """Editable settings stored with a version (shown on the model page) for `variant`, the one that answers by
        default: a variant may keep its own (the ensemble's multi-label thresholds were tuned on the blend)."""
        return {}

    def update_version_settings(self, version_dir: Path, variant: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Validate and store new settings (the caller drops loaded predictors); returns what is stored now."""
        raise InvalidInput(
            f"Versions of task '{self.kind.value}' have no editable settings.", code="no_version_settings"
        )
