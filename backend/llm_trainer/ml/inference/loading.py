"""Load a saved version folder as a Predictor for a chosen serving variant (PyTorch, ONNX, ONNX int8, TF-IDF, and
the ensemble of the transformer with its TF-IDF baseline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llm_trainer.ml.ensemble import ENSEMBLE, load_ensemble
from llm_trainer.ml.inference.predictor import OnnxPredictor, Predictor, SklearnPredictor, TorchPredictor
from llm_trainer.ml.inference.runtime import cpu_threads, import_transformers, on_torch_thread
from llm_trainer.ml.version_store import export_path, read_manifest

PYTORCH = "pytorch"
ONNX = "onnx"
ONNX_INT8 = "onnx_int8"
TFIDF = "tfidf"
EXPORT_VARIANTS = (ONNX, ONNX_INT8)
DEFAULT_MAX_LENGTH = 512


def variants_for(kind: str) -> tuple[str, ...]:
    return (TFIDF,) if kind == TFIDF else (PYTORCH, *EXPORT_VARIANTS)


def load_predictor(version_dir: Path, kind: str, variant: str, warm_up: bool = True) -> Predictor:
    """Load (and by default warm up) one variant of a version; raises FileNotFoundError if it was not built."""
    if kind != TFIDF:
        import_transformers()  # loads also start in request, export and batch threads
    if kind == TFIDF:
        predictor: Predictor = SklearnPredictor(_load_tfidf(version_dir))
    elif variant == PYTORCH:
        predictor = _load_torch(version_dir)
    elif variant in EXPORT_VARIANTS:
        predictor = _load_onnx(version_dir, variant)
    elif variant == ENSEMBLE:
        predictor = _load_ensemble(version_dir)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    if warm_up:
        predictor.warm_up()
    return predictor


def _labels_from_config(id2label: dict) -> list[str]:
    by_id = {int(k): str(v) for k, v in id2label.items()}
    return [by_id[i] for i in sorted(by_id)]


def max_length_for(version_dir: Path, tokenizer: Any, max_positions: int | None) -> int:
    """Training's max length when recorded, else the longest input both tokenizer and positions allow."""
    recorded = read_manifest(version_dir).get("max_length")
    if recorded:
        return int(recorded)
    limits = [DEFAULT_MAX_LENGTH, int(getattr(tokenizer, "model_max_length", DEFAULT_MAX_LENGTH) or DEFAULT_MAX_LENGTH)]
    if max_positions:
        limits.append(int(max_positions))
    return min(limits)


def truncation_for(version_dir: Path) -> str:
    """The cut rule the version was trained with (versions from before the setting existed kept the head)."""
    return str((read_manifest(version_dir).get("training_config") or {}).get("truncation", "head"))


def _load_torch(version_dir: Path) -> Predictor:
    return on_torch_thread(_load_torch_here, version_dir)


def _load_torch_here(version_dir: Path) -> Predictor:
    """Loading runs parallel tensor copies too: it belongs on the torch thread (see runtime.on_torch_thread)."""
    from llm_trainer.ml.modeling import load_classifier

    tokenizer, model = load_classifier(version_dir, "cpu")
    labels = _labels_from_config(model.config.id2label)
    max_length = max_length_for(version_dir, tokenizer, getattr(model.config, "max_position_embeddings", None))
    problem_type = getattr(model.config, "problem_type", None)
    return TorchPredictor(
        tokenizer, model, labels, max_length, problem_type=problem_type, truncation=truncation_for(version_dir)
    )


def onnx_session(version_dir: Path, variant: str) -> Any:
    """An ONNX Runtime session on the version's exported graph; FileNotFoundError when it was not built."""
    path = export_path(version_dir, variant)
    if not path.is_file():
        raise FileNotFoundError(path)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ORT's pool threads spin briefly between operators (its default): measured int8 single text p50 5.5 ms vs
    # 7.9 ms without spinning; next to a busy process 15.5 vs 14.4 ms, so spinning costs little when shared.
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _load_onnx(version_dir: Path, variant: str) -> Predictor:
    session = onnx_session(version_dir, variant)
    tokenizer = tokenizer_without_torch(version_dir)
    # config.json read as plain JSON: custom heads (model_type bert_mean_pool) need no registration, and the
    # ONNX path never imports torch.
    config = json.loads((version_dir / "config.json").read_text(encoding="utf-8"))
    labels = _labels_from_config(config["id2label"])
    max_length = max_length_for(version_dir, tokenizer, config.get("max_position_embeddings"))
    return OnnxPredictor(
        tokenizer, session, labels, max_length, variant, problem_type=config.get("problem_type"),
        truncation=truncation_for(version_dir),
    )  # fmt: skip


def blended_variant(version_dir: Path) -> str:
    """The transformer variant an ensemble blends: the one that answers fastest here, the ONNX copy once it is built."""
    return ONNX if export_path(version_dir, ONNX).is_file() else PYTORCH


def _load_ensemble(version_dir: Path) -> Predictor:
    if blended_variant(version_dir) == ONNX:
        return load_ensemble(version_dir, lambda: _load_onnx(version_dir, ONNX))
    return load_ensemble(version_dir, lambda: _load_torch(version_dir))


def tokenizer_without_torch(version_dir: Path) -> Any:
    """The version's tokenizer.json through the generic fast class: unlike AutoTokenizer it imports neither torch nor
    model code, which made a one-shot `llm-trainer predict` on an ONNX variant ~3 s slower. The export's comparison
    with PyTorch (its own tokenizer) would catch any difference."""
    from transformers import PreTrainedTokenizerFast

    if (version_dir / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(version_dir)
    from transformers import AutoTokenizer

    import llm_trainer.ml.base_models.heads  # noqa: F401 - AutoTokenizer reads config.json; custom heads must be known

    return AutoTokenizer.from_pretrained(version_dir)


def _load_tfidf(version_dir: Path) -> Any:
    from llm_trainer.ml.baseline import load_baseline

    return load_baseline(version_dir)
