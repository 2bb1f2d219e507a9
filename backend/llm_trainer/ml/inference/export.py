"""Build ONNX Runtime variants of a saved version (fp32 graph, dynamic int8) and measure what they cost in accuracy."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llm_trainer.core.errors import Stopping
from llm_trainer.ml.inference.loading import ONNX, ONNX_INT8, load_predictor
from llm_trainer.ml.inference.predictor import Predictor
from llm_trainer.ml.inference.runtime import import_transformers
from llm_trainer.ml.tasks.registry import get_spec
from llm_trainer.ml.version_store import PARTIAL_SUFFIX, export_path, publish, read_manifest

EVAL_SAMPLE_CAP = 2000  # validation texts scored per export: enough for a stable delta, bounded time
# An export is served without being asked for only when it answers like PyTorch: the same label on (nearly) every
# validation text and probabilities equal up to float rounding (ONNX fp32 measured 4e-6 apart).
LOSSLESS_AGREEMENT = 0.999
LOSSLESS_MAX_PROBABILITY_DIFF = 1e-3

EXPORT_TIMEOUT_S = 1800  # a base-size encoder traces in about a minute here; a hung exporter must not hold the job
STOP_POLL_S = 0.5  # how soon a stopping server kills its tracing process
# Two texts of different lengths: batch and sequence axes must not be specialised to 1 while tracing.
TRACE_TEXTS = ["这家店的菜很好吃，送餐也快", "服务一般"]


def build_export(version_dir: Path, variant: str, stop: threading.Event | None = None) -> Path:
    """Write `exports/<variant>/model.onnx` (int8 builds on the fp32 graph, building it first if needed); `stop` set
    (the server shutting down) ends the tracing process and raises `Stopping`, nothing published."""
    if variant not in (ONNX, ONNX_INT8):
        raise ValueError(f"unknown export variant {variant!r}")
    fp32 = export_path(version_dir, ONNX)
    if not fp32.is_file():
        _publish(version_dir, ONNX, lambda folder, out: _export_fp32_in_child(folder, out, stop))
    if variant == ONNX_INT8:
        _publish(version_dir, ONNX_INT8, lambda d, out: _quantize_int8(fp32, out))
    return export_path(version_dir, variant)


def _publish(version_dir: Path, variant: str, build: Any) -> None:
    """Build into a .partial folder, then publish it whole, so a failed or interrupted export never looks usable."""
    final = export_path(version_dir, variant).parent
    tmp = final.with_name(final.name + PARTIAL_SUFFIX)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        build(version_dir, tmp / "model.onnx")
        publish(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _export_fp32_in_child(version_dir: Path, out: Path, stop: threading.Event | None = None) -> None:
    """Trace in a child process (see export_process): the exporter's global state is not safe beside a model load
    in another thread of a serving process. Raises with the child's last lines when it fails."""
    cmd = [sys.executable, "-m", "llm_trainer.ml.inference.export_process", str(version_dir), str(out)]
    with tempfile.TemporaryFile() as output:
        # stdin stays open and unwritten while we live: the child exits when it reads end of file.
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT)
        try:
            code = _wait_child(proc, stop)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
        if code != 0:
            output.seek(0)
            lines = output.read().decode("utf-8", "replace").strip().splitlines()
            detail = next((line for line in reversed(lines) if line.strip()), f"exit status {code}")
            raise RuntimeError(f"The ONNX export stopped: {detail}")


def _wait_child(proc: subprocess.Popen[bytes], stop: threading.Event | None) -> int:
    """The child's exit status; `Stopping` as soon as `stop` is set, TimeoutExpired after EXPORT_TIMEOUT_S."""
    deadline = time.monotonic() + EXPORT_TIMEOUT_S
    while True:
        try:
            return proc.wait(STOP_POLL_S)
        except subprocess.TimeoutExpired:
            if stop is not None and stop.is_set():
                raise Stopping("the server is stopping: the export runs again when it starts") from None
            if time.monotonic() > deadline:
                raise


def _export_fp32(version_dir: Path, out: Path) -> None:
    import onnx
    import torch

    model, encoded = get_spec(read_manifest(version_dir).get("task")).traceable(version_dir, TRACE_TEXTS)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    raw = out.with_name("raw.onnx")
    with warnings.catch_warnings():
        # Every input shares the batch/sequence dims on purpose; the exporter warns once per input that it merged
        # the names, which only cluttered the run log users read.
        warnings.filterwarnings("ignore", message=r"# The axis name: .* will not be used", category=UserWarning)
        torch.onnx.export(
            model,
            (),
            kwargs=encoded,
            f=str(raw),
            dynamo=True,
            input_names=list(encoded),
            output_names=["logits"],
            dynamic_shapes={name: {0: batch, 1: seq} for name in encoded},
            verbose=False,
        )
    graph = onnx.load(str(raw))
    # The exporter's recorded intermediate shapes trip ONNX shape inference in the quantiser; ORT re-infers them.
    del graph.graph.value_info[:]
    onnx.save(graph, str(out), save_as_external_data=False)
    for leftover in out.parent.glob("raw.onnx*"):
        leftover.unlink()


def _quantize_int8(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Dynamic quantisation: int8 weights, activations quantised on the fly; no calibration data needed.
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)


def compare_to_reference(
    ref_probs: np.ndarray,
    ref_classes: Sequence[str],
    candidate: Predictor,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    windowed: bool = True,
) -> dict[str, Any]:
    """Score a variant against reference probabilities (columns in `ref_classes` order) on the same texts: accuracy
    of both on labelled texts (delta = candidate - reference), agreement and the largest probability gap. The
    candidate reads long texts as the reference did: in windows as served (`windowed`), or cut (older references)."""
    cand_probs = candidate.scored(texts)[0] if windowed else candidate.probabilities(texts)[0]
    if list(ref_classes) != list(candidate.labels):  # same classes, maybe another column order
        ref_probs = ref_probs[:, [list(ref_classes).index(c) for c in candidate.labels]]
    ref_pred = [candidate.labels[i] for i in ref_probs.argmax(axis=1)] if texts else []
    cand_pred = [candidate.labels[i] for i in cand_probs.argmax(axis=1)] if texts else []
    report: dict[str, Any] = {
        "samples": len(texts),
        "agreement": float(np.mean([a == b for a, b in zip(ref_pred, cand_pred, strict=True)])) if texts else None,
        "max_probability_diff": float(np.abs(ref_probs - cand_probs).max()) if texts else None,
    }
    if labels is not None and texts:
        ref_acc = float(np.mean([p == t for p, t in zip(ref_pred, labels, strict=True)]))
        cand_acc = float(np.mean([p == t for p, t in zip(cand_pred, labels, strict=True)]))
        report.update(accuracy_reference=ref_acc, accuracy=cand_acc, accuracy_delta=cand_acc - ref_acc)
    return report


def built_by(variant: str) -> tuple[str, ...]:
    """The graphs one export job builds and scores: int8 is quantised from the fp32 graph, built on the way."""
    return (ONNX, ONNX_INT8) if variant == ONNX_INT8 else (variant,)


def export_and_compare(
    version_dir: Path,
    variant: str,
    texts: Sequence[str],
    labels: Sequence[str] | None,
    reference: tuple[np.ndarray, Sequence[str]] | None = None,
    stop: threading.Event | None = None,
    windowed: bool = True,
) -> dict[str, dict[str, Any]]:
    """Build the variant, then score each graph it built against PyTorch: `reference` (probabilities, their classes;
    long texts read in windows unless `windowed` is False) when the caller has them, as training does, else the
    version's PyTorch model run on `texts` as it serves them."""
    import_transformers()  # an export job's thread may start beside a model load
    build_export(version_dir, variant, stop)
    if reference is None:
        predictor = load_predictor(version_dir, "transformer", "pytorch", warm_up=False)
        reference, windowed = (predictor.scored(texts)[0], predictor.labels), True
    ref_probs, ref_classes = reference
    return {
        name: compare_to_reference(
            ref_probs,
            ref_classes,
            load_predictor(version_dir, "transformer", name, warm_up=False),
            texts,
            labels,
            windowed,
        )  # fmt: skip
        for name in built_by(variant)
    }


def ready_record(version_dir: Path, variant: str, report: dict[str, Any]) -> dict[str, Any]:
    """What a version stores about a built variant: size and how it compares with PyTorch."""
    return {
        "status": "ready",
        "size_bytes": export_path(version_dir, variant).stat().st_size,
        "accuracy_delta": report.get("accuracy_delta"),
        "evaluation": report,
    }


def failed_record(exc: BaseException) -> dict[str, Any]:
    """What a version stores about a variant whose build failed: the error, readable by the user."""
    return {"status": "failed", "error": f"{exc.__class__.__name__}: {exc}"}


def is_lossless(report: dict[str, Any]) -> bool:
    """True when the variant may replace PyTorch without the user noticing anything but speed."""
    agreement, gap = report.get("agreement"), report.get("max_probability_diff")
    return (
        agreement is not None
        and gap is not None
        and (agreement >= LOSSLESS_AGREEMENT and gap <= LOSSLESS_MAX_PROBABILITY_DIFF)
    )
