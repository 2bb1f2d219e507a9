"""`llm-trainer predict`: classify texts or a whole file with a trained version, without starting the server."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from llm_trainer.cli.common import add_data_dir, settings_from_args
from llm_trainer.core.variants import ServingVariant

UNFINISHED = ("queued", "running")


BASELINE_NAMES = {"tfidf": "TF-IDF", "crf": "CRF"}  # how the ensemble line names what it blended


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="Classify or tag texts (or sentence pairs), or a CSV/TSV/XLSX/JSONL file, with a trained model version.",
        description='Examples: llm-trainer predict --model 3 "这家店的菜很好吃"   |   '
        'llm-trainer predict --model 4 "花呗怎么还款" --text-b "花呗可以用银行卡还吗"   |   '
        "llm-trainer predict --model 3 --file in.csv --out out.csv",
    )
    p.add_argument("texts", nargs="*", help="Texts to classify or tag (sentence pairs: the first texts).")
    p.add_argument(
        "--text-b", action="append", default=[], help="Sentence-pair versions: the second text, once per text."
    )
    p.add_argument("--model", type=int, default=None, help="Model version id (default: the default version).")
    p.add_argument("--variant", choices=[v.value for v in ServingVariant], default=None, help="Serving variant.")
    p.add_argument("--file", type=Path, default=None, help="CSV/TSV/XLSX/JSONL file to predict instead of texts.")
    p.add_argument("--out", type=Path, default=None, help="Where to write the predictions CSV (with --file).")
    p.add_argument("--text-column", default=None, help="Column holding the texts (default: guessed).")
    p.add_argument(
        "--text-b-column", default=None, help="Sentence-pair versions: the second text's column (default: guessed)."
    )
    p.add_argument(
        "--label-column", default=None, help="Column with true labels, to report accuracy (default: guessed)."
    )
    p.add_argument("--json", action="store_true", help="Print the full answer as JSON.")
    add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llm_trainer.core.errors import AppError

    if bool(args.texts) == bool(args.file):
        print('Give either texts ("...") or --file, not both.', file=sys.stderr)
        return 2
    if args.file and not args.out:
        print("--file needs --out (where the predictions CSV goes).", file=sys.stderr)
        return 2
    if args.file:
        from llm_trainer.cli.server import open_server

        server = open_server(settings_from_args(args))
        if server is not None:  # the server's dispatcher runs the job: this process claims nothing
            try:
                return _predict_file_on_server(server, args)
            finally:
                server.close()
    serving = open_serving(args)
    try:
        return _predict_file(serving, args) if args.file else _predict_texts(serving, args)
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        serving.close()


def open_serving(args: argparse.Namespace):  # noqa: ANN202
    from llm_trainer.db.base import make_engine, make_session_factory
    from llm_trainer.db.migrate import upgrade_to_head
    from llm_trainer.services.serving import Serving

    settings = settings_from_args(args)
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    return Serving(settings, make_session_factory(engine))


def _fields(args: argparse.Namespace) -> dict:
    """The request fields: texts, or (text, --text-b) pairs for sentence-pair versions."""
    if args.text_b:
        if len(args.text_b) != len(args.texts):
            raise SystemExit(f"{len(args.texts)} text(s) but {len(args.text_b)} --text-b: give one --text-b per text.")
        return {"pairs": [{"text_a": a, "text_b": b} for a, b in zip(args.texts, args.text_b, strict=True)]}
    return {"texts": list(args.texts)}


def _details(answer: dict) -> str:
    """What follows the label on a line: entities (NER) or every class with its probability."""
    if answer.get("entities") is not None:
        return ", ".join(
            f"{e['text']}/{e['label']} [{e['start']},{e['end']}) {e['score']:.3f}" for e in answer["entities"]
        )
    return ", ".join(f"{p['label']} {p['probability']:.3f}" for p in answer.get("probabilities") or [])


def _predict_texts(serving, args: argparse.Namespace) -> int:  # noqa: ANN001
    from llm_trainer.services.prediction import predict_fields, public_answers

    result = predict_fields(serving, _fields(args), args.model, args.variant)
    answers = public_answers(result)
    if args.json:
        for a in answers:  # the CLI's JSON has always mapped label -> probability
            a["probabilities"] = {p["label"]: p["probability"] for p in a.get("probabilities") or []}
        out = {
            "task": result.task,
            "model_id": result.model_id,
            "variant": result.variant,
            **({"ensemble": result.served} if result.served else {}),
            "latency_ms": round(result.latency_ms, 2),
            "predictions": answers,
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    served = result.variant
    if result.served:
        parts = result.served
        baseline = BASELINE_NAMES.get(parts["baseline"], parts["baseline"])
        served += f" ({parts['model_variant']} + {baseline}, weight {parts['baseline_weight']:g})"
    print(f"model {result.model_id} ({result.model_name}), {served}, {result.latency_ms:.1f} ms")
    for i, (text, a) in enumerate(zip(args.texts, answers, strict=True)):
        shown = f"{text} ‖ {args.text_b[i]}" if args.text_b else text
        cut = " [truncated]" if a.get("truncated") else ""
        print(f"{a['label'] or '—'}\t{a['score']:.3f}\t{shown[:60]}{cut}\t({_details(a)})")
    return 0


def _predict_file(serving, args: argparse.Namespace) -> int:  # noqa: ANN001
    from llm_trainer.services import batch_jobs

    if not args.file.is_file():
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 1
    columns = {"text": args.text_column, "text_b": args.text_b_column, "label": args.label_column}
    job = batch_jobs.start_job(serving, args.file, args.file.name, args.model, args.variant, columns, keep_source=True)
    batch_jobs.run_here(serving, job.id)
    while (job := batch_jobs.get_job(serving, job.id)).status in UNFINISHED:
        time.sleep(1)  # a server started meanwhile claimed it first: its answer is awaited, not an error
    if job.status == "succeeded":
        shutil.copyfile(job.output_path, args.out)
    return _report(job.status, job.error_message, job.total, args.out, (job.metrics or {}).get("evaluation"))


def _predict_file_on_server(server, args: argparse.Namespace) -> int:  # noqa: ANN001
    from llm_trainer.cli.server import ServerError

    if not args.file.is_file():
        print(f"error: no such file: {args.file}", file=sys.stderr)
        return 1
    fields = {"model_id": args.model, "variant": args.variant, "text_column": args.text_column,
              "text_b_column": args.text_b_column, "label_column": args.label_column}  # fmt: skip
    try:
        with args.file.open("rb") as f:
            data = {k: str(v) for k, v in fields.items() if v is not None}
            job = server.call("POST", "/api/predict/batch", files={"file": (args.file.name, f)}, data=data)
        print(f"batch job {job['id']}: submitted to the server at {server.url}")
        while job["status"] in UNFINISHED:
            time.sleep(1)
            job = server.call("GET", f"/api/predict/batch/{job['id']}")
        if job["status"] == "succeeded":
            server.download(f"/api/predict/batch/{job['id']}/download", args.out)
    except ServerError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return _report(job["status"], job["error_message"], job["total"], args.out, job.get("evaluation"))


def _report(status: str, error: str, total: int, out: Path, evaluation: dict | None) -> int:
    if status != "succeeded":
        print(f"error: {error or 'the batch job ended ' + status}", file=sys.stderr)
        return 1
    print(f"{total} rows -> {out}")
    if evaluation:
        print(
            f"accuracy {evaluation['accuracy']:.4f}, macro-F1 {evaluation['macro_f1']:.4f} ({evaluation['count']} rows)"
        )
    return 0
