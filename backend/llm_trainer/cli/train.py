"""`llm-trainer train`: queue a run (dataset id or CSV file); with --wait, train it here and show progress."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
import typing
from pathlib import Path
from typing import Any

from llm_trainer.cli.common import add_data_dir, settings_from_args
from llm_trainer.core.tasks import TaskDetection, TaskKind
from llm_trainer.ml.training.config import TrainingConfig

TERMINAL = {"succeeded", "stopped", "failed", "cancelled", "interrupted"}


# On the command line a nullable field is emptied with this word (e.g. --head-learning-rate none).
EMPTY_WORD = "none"
_EMPTY = object()


def _or_empty(kind: Any) -> Any:
    def parse(text: str) -> Any:
        return _EMPTY if text.strip().lower() == EMPTY_WORD else kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in its "invalid value" errors
    return parse


def _flag_kwargs(annotation: Any) -> dict[str, Any]:
    """argparse options for one TrainingConfig field type."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {"choices": list(args)}
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is list:
        return {"type": args[0], "nargs": "*"}
    if args:  # Optional[X]: a plain value may also be emptied
        inner = _flag_kwargs(args[0])
        return {"type": _or_empty(inner["type"]), "metavar": "VALUE|none"} if set(inner) == {"type"} else inner
    return {"type": annotation}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainingConfig field (same names, help and choices as the API/UI)."""
    group = parser.add_argument_group("training config")
    for name, field in TrainingConfig.model_fields.items():
        flag = "--" + name.replace("_", "-")
        group.add_argument(
            flag, dest=f"cfg_{name}", default=None, help=field.description, **_flag_kwargs(field.annotation)
        )


def config_from_args(args: argparse.Namespace) -> TrainingConfig:
    values = {name: getattr(args, f"cfg_{name}") for name in TrainingConfig.model_fields}
    return TrainingConfig.model_validate({k: (None if v is _EMPTY else v) for k, v in values.items() if v is not None})


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="Queue a training run; with --wait, train it now and show progress.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", type=int, help="Id of a dataset already uploaded.")
    source.add_argument("--file", type=Path, help="CSV/XLSX/TSV file with text and label columns to import first.")
    p.add_argument(
        "--base-model",
        default=None,
        help="Hub id (bert-base-chinese, Qwen/Qwen2.5-0.5B-Instruct), absolute folder, an embedded model or tfidf "
        "(default: the task's offline model: embedded:multilingual-e5-small, generation embedded:gemma-3-270m).",
    )
    p.add_argument(
        "--task",
        choices=[k.value for k in TaskKind],
        default=None,
        help="Task of the --file being imported (default: the one its layout shows, e.g. text_a,text_b columns are "
        "pairs, instruction/output records generation; else classification); a --dataset keeps its own task.",
    )
    p.add_argument("--text-column", default=None, help="With --file: column of the text (pairs: the first text).")
    p.add_argument("--text-b-column", default=None, help="With --file and --task pair: column of the second text.")
    p.add_argument("--label-column", default=None, help="With --file: column of the label(s).")
    p.add_argument(
        "--wait",
        action="store_true",
        help="Print progress until the run ends: a server running on this data dir trains it (the run is submitted "
        "to it over HTTP, with LLM_TRAINER_TOKEN when set); without one it trains in this process.",
    )
    add_data_dir(p)
    add_config_flags(p)
    p.set_defaults(func=run)


def _import_file(session: Any, settings: Any, path: Path, args: argparse.Namespace) -> int:
    from llm_trainer.services.datasets import create_from_upload, incoming_dir

    staged = incoming_dir(settings) / f"cli-{time.time_ns()}{path.suffix}"
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, staged)  # the dataset service takes ownership of (moves) the staged copy
    dataset = create_from_upload(
        session, settings, staged, path.name, task=args.task, text_column=args.text_column,
        label_column=args.label_column, columns={"text_b": args.text_b_column},
    )  # fmt: skip
    summary = f"{dataset.row_count} rows, labels {dataset.labels}"
    print(f"imported {path.name} as dataset {dataset.id} ({dataset.task}, {summary})")
    detection = TaskDetection.model_validate(dataset.report.get("task_detection") or {})
    if detection.task and detection.asked is None:
        print(f"task {detection.task}: recognised from {', '.join(detection.evidence)} (choose another with --task)")
    for warning in dataset.report.get("warnings", []):
        if warning["code"] == "task_looks_different":
            print(f"warning: {warning['message']}", file=sys.stderr)
    return dataset.id


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from llm_trainer.cli.server import ServerError, open_server
    from llm_trainer.core.errors import AppError
    from llm_trainer.db.base import make_engine, make_session_factory, session_scope
    from llm_trainer.db.migrate import upgrade_to_head
    from llm_trainer.services import training

    settings = settings_from_args(args)
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    server = open_server(settings)  # a server on this data dir gets the run over HTTP: its queue, its limits
    try:
        config = config_from_args(args)
        with session_scope(factory) as session:
            dataset_id = args.dataset if args.dataset is not None else _import_file(session, settings, args.file, args)
            base_model = args.base_model or training.default_base_model(session, dataset_id)
            if server is None:
                run_ = training.create_run(
                    session, settings, dataset_id=dataset_id, base_model=base_model, config=config
                )
                run_id = run_.id
        if server is not None:
            body = {"dataset_id": dataset_id, "base_model": base_model, "config": config.model_dump(mode="json")}
            run_id = server.call("POST", "/train", json=body)["id"]
    except ValidationError as exc:
        print(f"invalid training config: {exc}", file=sys.stderr)
        return 2
    except (AppError, ServerError) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    if server is not None:
        print(f"queued run {run_id}: submitted to the server at {server.url}, which trains it")
    else:
        print(f"queued run {run_id}")
    if not args.wait:
        if server is None:
            print("a running `llm-trainer serve` on this data dir will start it (or run again with --wait)")
        return 0
    if server is not None:
        try:
            return _follow_on_server(server, run_id)
        finally:
            server.close()
    return _train_here(settings, factory, run_id)


def _follow_on_server(server: Any, run_id: int) -> int:
    """Print the server's progress of the run; Ctrl-C asks the server to stop it (twice: kill)."""
    from llm_trainer.cli.server import ServerError

    def fetch() -> tuple[str, dict[str, Any], str]:
        run = server.call("GET", f"/api/runs/{run_id}")
        return run["status"], dict(run.get("progress") or {}), run.get("error_message") or ""

    def stop() -> str:
        return server.call("POST", f"/api/runs/{run_id}/stop")["status"]

    try:
        return _follow(fetch, stop)
    except ServerError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


def _train_here(settings: Any, factory: Any, run_id: int) -> int:
    """Wait for the run and print progress: a server on this data dir that did not announce an address trains it
    (its dispatcher claims it, within its concurrency limit); without one, a dispatcher here claims this run's job
    and no other. Ctrl-C stops gracefully, a second Ctrl-C kills."""
    from llm_trainer.db.base import session_scope
    from llm_trainer.services import training
    from llm_trainer.services.jobs import JobDispatcher, server_dispatcher

    scheduler = None
    if server_dispatcher(settings):
        print("a server runs on this data dir: it trains the run (queued behind its others)")
    else:
        scheduler = JobDispatcher(settings, factory, only_runs={run_id})
        scheduler.start()

    def fetch() -> tuple[str, dict[str, Any], str]:
        with session_scope(factory) as session:
            run = training.get_run(session, run_id)
            return run.status, dict(run.progress or {}), run.error_message

    def stop() -> str:
        with session_scope(factory) as session:
            return training.stop_run(session, run_id).status

    code = _follow(fetch, stop)
    if scheduler is not None:
        with session_scope(factory) as session:
            run = training.get_run(session, run_id)
            status, version_id = run.status, (run.progress or {}).get("model_version_id")
        if status == "succeeded" and version_id:
            _build_fast_copy(settings, factory, scheduler, version_id)
        scheduler.shutdown()
    return code


def _follow(fetch: Any, stop: Any) -> int:
    """Print a progress line whenever it changes until the run ends; Ctrl-C calls `stop`."""

    def _stop(_sig: int, _frame: Any) -> None:
        status = stop()
        print(f"\nstop requested (run is {status}); press Ctrl-C again to kill it", file=sys.stderr)

    signal.signal(signal.SIGINT, _stop)
    last = ""
    while True:
        status, progress, error = fetch()
        line = _progress_line(status, progress)
        if line != last:
            print(line, flush=True)
            last = line
        if status in TERMINAL:
            break
        time.sleep(2)
    if error:
        print(f"error: {error}", file=sys.stderr)
    if progress.get("model_version_id"):
        metric = progress.get("metric", "accuracy")
        print(f"model version {progress['model_version_id']}: {metric} {progress.get(metric) or 0:.4f}")
    if isinstance(progress.get("ensemble_value"), (int, float)):
        how = "it answers by default" if progress.get("ensemble_default") else "serve it with --variant ensemble"
        print(f"blended with its baseline (weight {progress.get('ensemble_weight')}): "
              f"{metric} {progress['ensemble_value']:.4f}; {how}")  # fmt: skip
    if progress.get("one_answer") is not None:
        print(f"warning: the model answers {progress['one_answer']!r} for {progress['one_answer_share']:.0%} of the "
              "validation texts: it has not learned to tell the labels apart (always answering the most common label "
              f"scores accuracy {progress['majority_accuracy']:.4f}); train more epochs, raise the learning rate or "
              "add data")  # fmt: skip
    return 0 if status in ("succeeded", "stopped") else 1


def _build_fast_copy(settings: Any, factory: Any, dispatcher: Any, version_id: int) -> None:
    """Without a server nobody else runs the version's fast-serving export job: it runs here, as a server would."""
    from functools import partial

    from llm_trainer.core.jobs import JobKind
    from llm_trainer.db.base import session_scope
    from llm_trainer.services import models as models_service
    from llm_trainer.services.serving import Serving, serving_variant

    with session_scope(factory) as session:
        job_ids = models_service.queued_exports(session, version_id)
    if not job_ids:
        return
    print(f"building the fast ONNX copy of version {version_id} (checked against PyTorch on the validation split)")
    serving = Serving(settings, factory)
    try:
        dispatcher.register(JobKind.EXPORT, partial(models_service.run_export, serving))
        for job_id in job_ids:
            dispatcher.run_now(job_id)
        with session_scope(factory) as session:
            print(f"version {version_id} answers with {serving_variant(models_service.get_model(session, version_id))}")
    finally:
        serving.close()


def _progress_line(status: str, p: dict[str, Any]) -> str:
    parts = [f"[{status}]", p.get("phase", "")]
    if p.get("total_steps"):
        parts.append(f"step {p.get('step', 0)}/{p['total_steps']}")
    for key, fmt in (("epoch", "epoch {:.2f}"), ("loss", "loss {:.4f}"), ("samples_per_s", "{:.1f} samples/s")):
        if isinstance(p.get(key), (int, float)):
            parts.append(fmt.format(p[key]))
    if isinstance(p.get("eta_s"), (int, float)):
        parts.append(f"ETA {p['eta_s'] / 60:.1f} min")
    return "  ".join(x for x in parts if x)
